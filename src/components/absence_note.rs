//! An absence beside a person's presence ("On leave until 3 Dec, ask Bob Baker"), wherever the
//! operator looks for them: directory, queued calls, transfer assistant. Nothing when they are
//! not absent.

use leptos::prelude::*;
use switchboard_protocol::UserId;

use crate::chat::time::day_and_clock;
use crate::store::Store;

#[component]
pub fn AbsenceNote(
    /// The person's user; entries without one are never absent. A directory row hands the
    /// note another person as the list scrolls.
    #[prop(into)]
    user: Signal<Option<UserId>>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    move || {
        let absence = store.absence_of(user.get()?)?;
        let until = format!(
            "{} (absent until {})",
            absence.text,
            day_and_clock(absence.until_ms)
        );
        Some(view! {
            <span class="absence-note" title=until>
                {absence.text}
            </span>
        })
    }
}
