//! A ticking time span (time waiting, call duration), driven by the console's one clock.

use leptos::prelude::*;

use crate::calls::format_duration;
use crate::store::Store;

/// Time since `since` on the server clock, as "m:ss" or "h:mm:ss", labelled for the operator.
/// Every instance follows the store's one ticking clock, so a full queue runs no extra timers.
#[component]
pub fn Elapsed(
    /// Start of the span, ms since the Unix epoch on the server clock.
    #[prop(into)]
    since: Signal<i64>,
    /// What the span is ("Waiting", "Duration"), shown before it.
    label: &'static str,
) -> impl IntoView {
    let now = expect_context::<Store>().now();
    view! {
        <span class="elapsed">
            <span class="elapsed-label">{label}</span>
            " "
            <span class="elapsed-time">{move || format_duration(now.get() - since.get())}</span>
        </span>
    }
}
