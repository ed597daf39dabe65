//! The "Absence" dialog: the signed-in user says they are away until a time, with a text
//! every console shows beside their presence ("On leave until 3 Dec, ask Bob Baker"), or
//! ends their absence.

use leptos::prelude::*;
use switchboard_protocol::{MAX_ABSENCE_CHARS, MAX_ABSENCE_MS};

use super::Dialog;
use crate::chat::time::{day_and_clock, from_input, to_input};
use crate::store::Store;

#[component]
pub fn AbsenceDialog(open: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let me = store.me().with_untracked(|me| me.id);
    let current = store.absence(me);
    let text = RwSignal::new(String::new());
    let until = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    // Opened on the absence as it stands, or an empty one ending tomorrow at this time.
    Effect::new(move || {
        if open.get() {
            let now = store.now().get_untracked();
            match current.get_untracked() {
                Some(absence) => {
                    text.set(absence.text);
                    until.set(to_input(absence.until_ms));
                }
                None => {
                    text.set(String::new());
                    until.set(to_input(now + 24 * 3_600_000));
                }
            }
            problem.set(None);
        }
    });
    let send = move |written: String, end: i64| {
        if store.set_my_absence(written, end) {
            open.set(false);
        } else {
            problem.set(Some("Not connected to the server: try again.".into()));
        }
    };
    let save = move |_| {
        let now = store.now().get_untracked();
        let checked = match (
            text.get_untracked().trim(),
            from_input(&until.get_untracked()),
        ) {
            ("", _) => Err("Write what callers should be told, e.g. who stands in."),
            (_, None) => Err("Say until when, as a date and time."),
            (_, Some(end)) if end <= now || end > now + MAX_ABSENCE_MS => {
                Err("An absence ends in the future, within a year.")
            }
            (written, Some(end)) => Ok((written.to_owned(), end)),
        };
        match checked {
            Ok((written, end)) => send(written, end),
            Err(message) => problem.set(Some(message.into())),
        }
    };
    view! {
        <Dialog open title="Absence" title_id="absence-title">
            <p>
                {move || match current.get() {
                    Some(absence) => {
                        format!(
                            "You show as away until {}: \"{}\".",
                            day_and_clock(absence.until_ms),
                            absence.text,
                        )
                    }
                    None => "Everyone sees you away, with this note beside your presence.".into(),
                }}
            </p>
            <label class="field">
                "Absence note"
                <input
                    type="text"
                    maxlength=MAX_ABSENCE_CHARS
                    placeholder="On leave, ask Bob Baker"
                    bind:value=text
                />
            </label>
            <label class="field">
                "Until"
                <input type="datetime-local" bind:value=until />
            </label>
            {move || problem.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <div class="dialog-actions">
                <button type="button" class="primary" on:click=save>
                    "Save absence"
                </button>
                <Show when=move || current.with(Option::is_some)>
                    <button type="button" on:click=move |_| send(String::new(), 0)>
                        "End absence"
                    </button>
                </Show>
            </div>
        </Dialog>
    }
}
