//! Missed calls pane: callers who hung up while queued, shared by every operator, each with
//! "Call back" (through the telephone system) and "Done". Shown while there are any.

use leptos::prelude::*;
use switchboard_protocol::MissedCall;

use super::{CallButton, LineLabel};
use crate::calls::{caller_label, format_duration};
use crate::chat::time::{clock, local};
use crate::store::Store;

#[component]
pub fn MissedCalls() -> impl IntoView {
    let store = expect_context::<Store>();
    let missed = store.missed_calls();
    let count = move || missed.with(Vec::len);
    view! {
        <Show when=move || { count() > 0 }>
            <section class="pane missed-calls" aria-label="Missed calls">
                <header class="pane-header">
                    <h2>"Missed calls"</h2>
                    <span class="pane-count waiting">
                        {move || format!("{} to call back", count())}
                    </span>
                </header>
                <ul class="call-list" role="list" aria-label="Missed calls list">
                    // A row is redrawn when its call back changes.
                    <For
                        each=move || missed.get()
                        key=|missed| (missed.call, missed.called_back.as_ref().map(|back| back.at_ms))
                        children=|missed| view! { <MissedCallRow missed /> }
                    />
                </ul>
            </section>
        </Show>
    }
}

/// "10:32", the local time of `ms`.
fn time_of(ms: i64) -> String {
    local(ms).map(clock).unwrap_or_default()
}

#[component]
fn MissedCallRow(missed: MissedCall) -> impl IntoView {
    let store = expect_context::<Store>();
    let call = missed.call;
    let dialable = missed.caller_number.chars().any(|c| c.is_ascii_digit());
    let hung_up = format!(
        "Hung up at {} after {}",
        time_of(missed.missed_at_ms),
        format_duration(missed.missed_at_ms - missed.queued_at_ms)
    );
    let called_back = missed.called_back.map(|back| {
        view! {
            <span class="called-back">
                {format!("Called back by {} at {}", back.by, time_of(back.at_ms))}
            </span>
        }
    });
    view! {
        <li class="call-row missed-call">
            <span class="party">
                <span class="party-name">{caller_label(&missed.caller_name).to_owned()}</span>
                <span class="party-number">{missed.caller_number}</span>
            </span>
            <LineLabel dialled=missed.dialled />
            <span class="missed-when">{hung_up}</span>
            {called_back}
            // A caller without a number (withheld) cannot be called back.
            {dialable.then(|| view! {
                <CallButton on_press=move |_| store.call_back(call)>"Call back"</CallButton>
            })}
            <CallButton on_press=move |_| store.missed_done(call)>"Done"</CallButton>
        </li>
    }
}
