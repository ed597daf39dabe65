//! The compose box at the lower right: "Message", "Send" and "Cancel".

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::{Mode, UserId};

use super::EmojiPicker;
use crate::chat::draft::{DraftError, call_prefix, splice};
use crate::chat::emoji::Emoji;
use crate::store::Store;

/// Writes to `partner`. Enter sends, Shift+Enter starts a new line; in a call a new message
/// starts with the source party's name and number. Disabled, saying why, when chat with the
/// partner is unavailable (micollab, partner offline).
#[component]
pub fn ComposeBox(
    /// Who the message goes to.
    partner: UserId,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let call = chat.call_context();
    let name = StoredValue::new(store.name_of(partner));
    let unavailable =
        Memo::new(move |_| name.with_value(|name| store.chat_unavailable(partner, name)));
    let fresh = move || call.with_untracked(|call| call_prefix(call.as_ref()));
    let draft = RwSignal::new(fresh());
    let problem = RwSignal::new(None::<String>);
    let field = NodeRef::<html::Textarea>::new();

    // Focus with the cursor at the end, after any call prefix.
    let focus = move || {
        if let Some(field) = field.get_untracked() {
            let _ = field.focus();
            let end = u32::try_from(field.value().encode_utf16().count()).unwrap_or(u32::MAX);
            let _ = field.set_selection_range(end, end);
        }
    };
    let focus_requests = chat.focus_compose();
    Effect::new(move || {
        focus_requests.track();
        if field.get().is_some() {
            request_animation_frame(focus);
        }
    });

    let submit = move || {
        match draft.with_untracked(|text| store.send_chat(partner, text)) {
            Ok(()) => {
                draft.set(fresh());
                problem.set(None);
            }
            Err(DraftError::Empty) => {}
            Err(DraftError::Refused(sentence)) => problem.set(Some(sentence)),
        }
        focus();
    };
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit();
        }
    };
    let input = move |event| {
        draft.set(event_target_value(&event));
        problem.set(None);
        store.typing_to(partner);
    };
    let disabled = move || unavailable.with(Option::is_some);
    // A chosen emoji goes in at the cursor (replacing any selection); the cursor follows it.
    let emoji_done = Callback::new(move |chosen: Option<&'static Emoji>| {
        let Some(field) = field.get_untracked() else {
            return;
        };
        let _ = field.focus();
        let Some(chosen) = chosen else { return };
        let start = field.selection_start().ok().flatten().unwrap_or(u32::MAX);
        let end = field.selection_end().ok().flatten().unwrap_or(start);
        let (text, cursor) = splice(&field.value(), start, end, chosen.text);
        field.set_value(&text);
        let _ = field.set_selection_range(cursor, cursor);
        draft.set(text);
        problem.set(None);
    });
    let mode = store.mode();

    view! {
        <div class="chat-compose">
            <textarea
                class="chat-compose-text"
                aria-label="Message"
                rows="3"
                placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
                aria-describedby="chat-compose-problem"
                disabled=disabled
                node_ref=field
                prop:value=move || draft.get()
                on:input=input
                on:keydown=keydown
            ></textarea>
            <div class="chat-compose-buttons">
                {move || {
                    (mode.get() == Some(Mode::Cloudlink))
                        .then(|| view! { <EmojiPicker on_done=emoji_done disabled=Signal::derive(disabled) /> })
                }}
                <button type="button" class="send" disabled=disabled on:click=move |_| submit()>
                    "Send"
                </button>
                <button
                    type="button"
                    disabled=disabled
                    on:click=move |_| {
                        draft.set(String::new());
                        problem.set(None);
                        focus();
                    }
                >
                    "Cancel"
                </button>
            </div>
            <p class="chat-compose-problem" id="chat-compose-problem" role="alert">
                {move || unavailable.get().or_else(|| problem.get())}
            </p>
        </div>
    }
}
