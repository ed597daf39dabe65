//! Queued calls pane: waiting calls by their line's priority, then oldest first, each answered
//! by button, double-click or Enter; night service is switched and shown here.

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::prelude::*;
use switchboard_protocol::CallId;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::{CallButton, CallParty, Elapsed, LineLabel, entry_menu_key, on_entry_contextmenu};
use crate::calls::pending_label;
use crate::chat::time::{clock, local};
use crate::store::Store;

/// The calls waiting for the operator. Rows are keyed by call id: a new call adds a row, an
/// answered or abandoned one removes its row, and nothing else is redrawn.
#[component]
pub fn QueuedCalls() -> impl IntoView {
    let store = expect_context::<Store>();
    let queue = store.queued_calls();
    let telephony_up = store.telephony_up();
    let count = move || queue.with(Vec::len);
    let any_waiting = move || queue.with(|queue| !queue.is_empty());
    let night = store.night_service();
    let closed = move || night.with(|night| night.as_ref().is_some_and(|night| night.closed));
    let closed_since = move || {
        night.with(|night| {
            let night = night.as_ref()?;
            let since = local(night.since_ms).map(clock).unwrap_or_default();
            Some(format!(
                "Closed (night service) since {since}, by {}: calls go where the telephone system sends them at night.",
                night.by
            ))
        })
    };
    view! {
        <section class="pane queued-calls" aria-label="Queued calls">
            <header class="pane-header">
                <h2>"Queued calls"</h2>
                <span class="pane-count" class:waiting=any_waiting>
                    {move || format!("{} waiting", count())}
                </span>
                <span class="toolbar-spacer"></span>
                // Off until the server said whether the switchboard is closed.
                <CallButton
                    class="night-service"
                    legal=Signal::derive(move || night.with(Option::is_some))
                    on_press=move |_| store.set_night_service(!closed())
                >
                    {move || if closed() { "Open switchboard" } else { "Close switchboard" }}
                </CallButton>
            </header>
            <Show when=closed>
                <p class="night-notice" role="status">
                    {closed_since}
                </p>
            </Show>
            <Show when=move || !telephony_up.get()>
                <p class="call-notice" role="alert">
                    "Telephone system unavailable: calls cannot be handled until it is back (chat works)."
                </p>
            </Show>
            <Show
                when=any_waiting
                fallback=|| view! { <p class="pane-empty">"No calls waiting"</p> }
            >
                <ul class="call-list" role="list" aria-label="Queued calls list">
                    <For
                        each=move || queue.get()
                        key=|id| *id
                        children=|id| view! { <QueuedCallRow id /> }
                    />
                </ul>
            </Show>
        </section>
    }
}

/// One waiting call: caller, what they dialled, time waiting and an Answer button.
#[component]
fn QueuedCallRow(
    /// The call shown; the row lives as long as the call is queued.
    id: CallId,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let call = store.call(id)?;
    let dialled = call.with_untracked(|call| call.dialled.clone());
    let pending = Memo::new(move |_| call.with(pending_label));
    let since = Signal::derive(move || call.with(|call| call.queued_at_ms));
    // A colleague's call offers the same IM menu as their directory entry; others keep none.
    let chat = store.chat();
    let caller = call.with_untracked(|call| {
        call.caller_user
            .map(|user| (user, call.caller_name.clone()))
    });
    let open_menu = caller
        .clone()
        .map(|(user, name)| on_entry_contextmenu(chat, Some(user), name));
    let on_contextmenu = move |event: MouseEvent| {
        if let Some(open_menu) = &open_menu {
            open_menu(event);
        }
    };
    // The button and the row both answer; one double-click on the button answers once.
    let on_button = move |event: MouseEvent| {
        if event.detail() < 2 {
            store.answer_call(id);
        }
    };
    let on_double_click = move |event: MouseEvent| {
        if !inside_button(&event) {
            store.answer_call(id);
        }
    };
    let on_keydown = move |event: KeyboardEvent| {
        if let Some((user, name)) = &caller
            && entry_menu_key(chat, Some(*user), name, &event)
        {
            return;
        }
        // Enter on the button is its own click; only Enter on the row itself answers here.
        if event.key() == "Enter" && event.target() == event.current_target() {
            event.prevent_default();
            store.answer_call(id);
        }
    };
    Some(view! {
        <li
            class="call-row queued-call"
            tabindex="0"
            title="Double-click or press Enter to answer"
            on:dblclick=on_double_click
            on:contextmenu=on_contextmenu
            on:keydown=on_keydown
        >
            <CallParty call />
            <LineLabel dialled />
            <Elapsed since label="Waiting" />
            {move || pending.get().map(|label| view! { <span class="call-pending">{label}</span> })}
            <CallButton
                class="answer"
                legal=Signal::derive(move || pending.get().is_none())
                on_press=on_button
            >
                "Answer"
            </CallButton>
        </li>
    })
}

/// Whether a mouse event happened on a button inside the row (which acts on its own).
fn inside_button(event: &MouseEvent) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<Element>().ok())
        .and_then(|element| element.closest("button").ok().flatten())
        .is_some()
}
