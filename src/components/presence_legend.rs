//! Legend of the presence colours, shown under the directory.

use leptos::prelude::*;
use switchboard_protocol::PresenceState;

/// What each presence colour means.
#[component]
pub fn PresenceLegend() -> impl IntoView {
    let items = PresenceState::SELECTABLE
        .into_iter()
        .chain([PresenceState::Offline])
        .map(|state| {
            view! {
                <span class="legend-item">
                    <span class=format!("presence-dot {}", state.as_str())></span>
                    {state.label()}
                </span>
            }
        })
        .collect_view();
    // Not a list: the directory's list items are what tests and screen readers count there.
    view! { <div class="presence-legend">{items}</div> }
}
