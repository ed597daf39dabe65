//! The line state of a directory entry's telephone (the busy lamp field), beside its presence.

use leptos::prelude::*;
use switchboard_protocol::EntryId;

use crate::store::Store;

/// A lamp for entry `entry`'s extension, live; nothing while the telephone system has not
/// reported its line (no PBX, or an entry without an extension).
#[component]
pub fn LineLamp(
    /// The directory entry whose line is shown; a directory row hands the lamp another entry
    /// as the list scrolls.
    #[prop(into)]
    entry: Signal<Option<EntryId>>,
    /// Name of the person, for the accessible name.
    #[prop(into)]
    name: Signal<String>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    move || {
        entry
            .get()
            .and_then(|entry| store.lamp(entry))
            .map(|state| {
                let label = name.with(|name| format!("Line of {name}: {}", state.label()));
                let class = format!("line-lamp {}", serde_name(state));
                view! { <span class=class role="img" aria-label=label.clone() title=label></span> }
            })
    }
}

/// The state's wire name, as the stylesheet's class for its colour.
fn serde_name(state: switchboard_protocol::LineState) -> &'static str {
    use switchboard_protocol::LineState::*;
    match state {
        Idle => "idle",
        Ringing => "ringing",
        InUse => "in-use",
        OnHold => "on-hold",
        Unavailable => "unavailable",
    }
}
