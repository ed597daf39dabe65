//! The source party of a call: presence field, name (or "Unknown caller") and number.

use leptos::prelude::*;
use switchboard_protocol::Call;

use super::{AbsenceNote, PresenceField};
use crate::calls::caller_label;

/// Who is calling, the same way in the queue, the active call and the list of held calls.
/// The caller of a call never changes, so it is read once; the presence field stays live.
#[component]
pub fn CallParty(
    /// The call whose caller is shown.
    call: Signal<Call>,
) -> impl IntoView {
    let (name, number, user) = call.with_untracked(|call| {
        (
            caller_label(&call.caller_name).to_owned(),
            call.caller_number.clone(),
            call.caller_user,
        )
    });
    view! {
        <PresenceField name=name.clone() user />
        <span class="party">
            <span class="party-name">{name}</span>
            <span class="party-number">{number}</span>
            <AbsenceNote user />
        </span>
    }
}
