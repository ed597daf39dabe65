//! An absence beside a person's presence ("On leave until 3 Dec, ask Bob Baker"), wherever the
//! operator looks for them: directory, queued calls, transfer assistant. Nothing when they are
//! not absent.

use leptos::prelude::*;
use switchboard_protocol::UserId;

use crate::chat::time::day_and_clock;
use crate::store::Store;

#[component]
pub fn AbsenceNote(
    /// The person's user; entries without one are never absent.
    user: Option<UserId>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    user.map(|user| {
        let absence = store.absence(user);
        move || {
            absence.get().map(|absence| {
                let until = format!(
                    "{} (absent until {})",
                    absence.text,
                    day_and_clock(absence.until_ms)
                );
                view! {
                    <span class="absence-note" title=until>
                        {absence.text}
                    </span>
                }
            })
        }
    })
}
