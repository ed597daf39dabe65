//! The "Today's calls" dialog: the calls this operator answered today (who, line, when, how
//! long, transferred to whom), newest first, with a search for "did Mr Smith call?". Asked
//! of the server each time it opens.

use leptos::prelude::*;
use switchboard_protocol::HandledCall;

use super::{Dialog, LineLabel};
use crate::calls::{caller_label, format_duration, handled_matches};
use crate::chat::time::{clock, local};
use crate::store::Store;

#[component]
pub fn TodaysCalls(open: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let offline = RwSignal::new(false);
    Effect::new(move || {
        if open.get() {
            offline.set(!store.ask_todays_calls());
        }
    });
    let calls = store.todays_calls();
    let find = RwSignal::new(String::new());
    let list = move || {
        let query = find.get();
        calls.with(|calls| {
            let Some(calls) = calls else {
                let waiting = if offline.get() {
                    "Not connected to the server: close and open again once it is back."
                } else {
                    "Loading…"
                };
                return view! { <p class="pane-empty">{waiting}</p> }.into_any();
            };
            let rows: Vec<HandledCall> = calls
                .iter()
                .filter(|call| handled_matches(call, &query))
                .cloned()
                .collect();
            if rows.is_empty() {
                let empty = if calls.is_empty() {
                    "You have answered no calls today."
                } else {
                    "No call today matches."
                };
                return view! { <p class="pane-empty">{empty}</p> }.into_any();
            }
            view! {
                <table aria-label="Today's calls list">
                    <thead>
                        <tr>
                            <th scope="col">"Answered"</th>
                            <th scope="col">"Caller"</th>
                            <th scope="col">"Line"</th>
                            <th scope="col">"Duration"</th>
                            <th scope="col">"Transferred to"</th>
                        </tr>
                    </thead>
                    <tbody>{rows.into_iter().map(handled_row).collect_view()}</tbody>
                </table>
            }
            .into_any()
        })
    };
    view! {
        <Dialog open title="Today's calls" title_id="todays-calls-title" class="wide">
            <input
                type="search"
                class="todays-calls-search"
                aria-label="Find a caller"
                placeholder="Name or number"
                bind:value=find
            />
            {list}
        </Dialog>
    }
}

fn handled_row(call: HandledCall) -> impl IntoView {
    let answered = local(call.answered_at_ms).map(clock).unwrap_or_default();
    let duration = call.ended_at_ms.map_or_else(
        || "On the line".to_owned(),
        |ended| format_duration(ended - call.answered_at_ms),
    );
    view! {
        <tr>
            <td>{answered}</td>
            <td>
                <span class="party-name">{caller_label(&call.caller_name).to_owned()}</span>
                " "
                <span class="party-number">{call.caller_number}</span>
            </td>
            <td>
                <LineLabel dialled=call.dialled />
            </td>
            <td>{duration}</td>
            <td>{call.transferred_to.unwrap_or_default()}</td>
        </tr>
    }
}
