//! Chat settings: the predefined messages and the chat key, live on every open console once
//! saved; the chat mode, which changes by restart only, is shown as text.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use switchboard_protocol::{ChatSettings, Mode, SettingsInForce};

use super::{Actions, Feedback, Latest, Outcome, act};
use crate::admin_api;

/// The chat settings form.
#[component]
pub fn ChatSettingsForm(
    /// Told of each save, whatever its outcome.
    actions: Actions,
) -> impl IntoView {
    let mode = RwSignal::new(None);
    let messages = RwSignal::new(String::new());
    let chat_key = RwSignal::new(String::new());
    // Saving before the settings in force arrived would replace them with blanks.
    let loaded = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let feedback = Feedback::new();
    Latest::new().load(admin_api::chat_settings(), move |answer| match answer {
        Ok(SettingsInForce {
            chat,
            mode: running,
        }) => {
            messages.set(chat.predefined_messages.join("\n"));
            chat_key.set(chat.chat_key);
            mode.set(Some(running));
            loaded.set(true);
        }
        Err(error) => feedback.refuse(error.to_string()),
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() || !loaded.get_untracked() {
            return;
        }
        pending.set(true);
        let settings = ChatSettings {
            predefined_messages: messages.with_untracked(|text| lines(text)),
            chat_key: chat_key.get_untracked().trim().to_owned(),
        };
        let saved = settings.predefined_messages.join("\n");
        act(
            feedback,
            async move { admin_api::save_chat_settings(&settings).await },
            move |()| {
                // What was saved, without the blank lines left out.
                messages.set(saved);
                Some("Settings saved: every open console uses them now.".to_owned())
            },
            move || {
                pending.set(false);
                actions.taken();
            },
        );
    };

    view! {
        <section class="admin-card admin-chat" aria-labelledby="admin-chat-heading">
            <h2 id="admin-chat-heading">"Chat settings"</h2>
            <p class="admin-mode">{move || mode_text(mode.get())}</p>
            <form class="admin-form" on:submit=submit>
                <label for="admin-predefined">"Predefined messages"</label>
                <textarea
                    id="admin-predefined"
                    rows="5"
                    aria-describedby="admin-predefined-hint"
                    bind:value=messages
                ></textarea>
                <p class="admin-hint" id="admin-predefined-hint">
                    "One message per line; blank lines are left out."
                </p>
                <label for="admin-chat-key">"Chat key"</label>
                <input
                    id="admin-chat-key"
                    class="admin-key"
                    autocomplete="off"
                    spellcheck="false"
                    aria-describedby="admin-chat-key-hint"
                    required
                    bind:value=chat_key
                />
                <p class="admin-hint" id="admin-chat-key-hint">
                    "The key that opens the chat window: a function key (F1 to F24) or a single character."
                </p>
                <button type="submit" class="primary" disabled=move || pending.get() || !loaded.get()>
                    "Save settings"
                </button>
            </form>
            <Outcome feedback />
        </section>
    }
}

/// The predefined messages of the textarea: one per line, trimmed, blank lines left out.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// "Chat mode: cloudlink — changes by restart".
fn mode_text(mode: Option<Mode>) -> String {
    let name = match mode {
        Some(Mode::Cloudlink) => "cloudlink",
        Some(Mode::Micollab) => "micollab",
        None => "…",
    };
    format!("Chat mode: {name} — changes by restart")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_line_without_blanks() {
        assert_eq!(
            lines("  Your caller is holding \n\n\r\nBack at 2\n"),
            vec!["Your caller is holding", "Back at 2"]
        );
        assert!(lines("").is_empty());
    }

    #[test]
    fn the_mode_is_named_as_on_the_command_line() {
        assert_eq!(
            mode_text(Some(Mode::Cloudlink)),
            "Chat mode: cloudlink — changes by restart"
        );
        assert_eq!(
            mode_text(Some(Mode::Micollab)),
            "Chat mode: micollab — changes by restart"
        );
    }
}
