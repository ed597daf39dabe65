//! Active call pane: the current call with its controls, other answered calls below it.

use leptos::prelude::*;
use switchboard_protocol::{Call, CallAction, CallId, CallState};

use super::{CallButton, CallParty, Elapsed, LineLabel};
use crate::calls::{ANY_TRANSFER, can, pending_label, recalled, recalled_first, state_label};
use crate::store::Store;

/// The call the operator is dealing with: source party, state, duration, Hold or Retrieve,
/// Transfer and Release. Calls held besides it are listed compactly with a Retrieve button.
#[component]
pub fn ActiveCall(
    /// Starts the transfer flow: the transfer assistant takes the focus.
    #[prop(into)]
    on_transfer: Callback<()>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let current = store.current_call();
    let answered = store.answered_calls();
    // Calls held past the recall time come first among the others, never before the current.
    let others = Memo::new(move |_| {
        let others: Vec<Call> = answered.with(|ids| {
            ids.iter()
                .skip(1)
                .filter_map(|&id| store.call(id).map(|call| call.get()))
                .collect()
        });
        let others: Vec<&Call> = others.iter().collect();
        recalled_first(&others, store.now().get(), store.hold_recall_secs())
    });
    // A sound when another call turns to a recall while the console's tab is hidden.
    let recalls = Memo::new(move |_| {
        let (now, secs) = (store.now().get(), store.hold_recall_secs());
        answered.with(|ids| {
            ids.iter()
                .filter(|&&id| store.with_call(id, |call| recalled(call, now, secs)) == Some(true))
                .count()
        })
    });
    Effect::new(move |before: Option<usize>| {
        let count = recalls.get();
        if before.is_some_and(|before| count > before) && !crate::chat::page_visible() {
            crate::chat::play_sound();
        }
        count
    });
    let notice = store.call_notice();
    view! {
        <section class="pane active-call" aria-label="Active call">
            <header class="pane-header">
                <h2>"Active call"</h2>
            </header>
            {move || {
                notice.get().map(|message| view! { <p class="call-notice" role="alert">{message}</p> })
            }}
            // Redrawn only when another call becomes current; the call's own changes update
            // the fields inside.
            {move || match current.get().and_then(|id| store.call(id)) {
                Some(call) => view! { <CurrentCall call on_transfer /> }.into_any(),
                None => view! { <p class="pane-empty">"No active call"</p> }.into_any(),
            }}
            <Show when=move || others.with(|others: &Vec<CallId>| !others.is_empty())>
                <ul class="other-calls" role="list" aria-label="Other answered calls">
                    <For
                        each=move || others.get()
                        key=|id| *id
                        children=|id| view! { <OtherCall id /> }
                    />
                </ul>
            </Show>
        </section>
    }
}

/// The current call in full.
#[component]
fn CurrentCall(
    /// The current call; this view is replaced when another call becomes current.
    call: Signal<Call>,
    /// Starts the transfer flow.
    on_transfer: Callback<()>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let id = call.with_untracked(|call| call.id);
    let state = Memo::new(move |_| call.with(|call| call.state));
    let pending = Memo::new(move |_| call.with(pending_label));
    let recalled = store.recalled(call);
    // While a command waits for the telephone system, no other is offered.
    let can = move |action| pending.get().is_none() && can(action, state.get());
    let dialled = call.with_untracked(|call| call.dialled.clone());
    // What to say when answering, from the line the caller dialled.
    let greeting = {
        let dialled = dialled.clone();
        Memo::new(move |_| {
            store
                .line(&dialled)
                .map(|line| line.greeting)
                .filter(|greeting| !greeting.is_empty())
        })
    };
    let hold_or_retrieve = move || {
        if state.get() == CallState::Held {
            view! {
                <CallButton
                    class="primary"
                    legal=Signal::derive(move || can(CallAction::Answer))
                    on_press=move |_| store.answer_call(id)
                >
                    "Retrieve"
                </CallButton>
            }
            .into_any()
        } else {
            view! {
                <CallButton
                    legal=Signal::derive(move || can(CallAction::Hold))
                    on_press=move |_| store.hold_call(id)
                >
                    "Hold"
                </CallButton>
            }
            .into_any()
        }
    };
    view! {
        <div
            class="current-call"
            class:recall=move || recalled.with(Option::is_some)
            data-state=move || state.get().as_str()
        >
            <div class="current-party">
                <CallParty call />
            </div>
            <div class="current-details">
                <span class="call-state">
                    {move || pending.get().unwrap_or_else(|| state_label(state.get()).to_owned())}
                </span>
                <Elapsed since=answered_since(call) label="Duration" />
                <LineLabel dialled />
                {recall_alert(recalled)}
            </div>
            {move || {
                greeting
                    .get()
                    .map(|greeting| {
                        view! {
                            <p class="greeting">
                                <span class="greeting-label">"Say: "</span>
                                {greeting}
                            </p>
                        }
                    })
            }}
            <div class="call-controls">
                {hold_or_retrieve}
                <CallButton
                    legal=Signal::derive(move || can(ANY_TRANSFER))
                    on_press=move |_| on_transfer.run(())
                >
                    "Transfer"
                </CallButton>
                <CallButton
                    class="danger"
                    legal=Signal::derive(move || can(CallAction::Clear))
                    on_press=move |_| store.clear_call(id)
                >
                    "Release"
                </CallButton>
            </div>
        </div>
    }
}

/// An answered call that is not the current one (held, or being transferred), in one line.
#[component]
fn OtherCall(
    /// The call shown; the row lives as long as the call is answered but not current.
    id: CallId,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let call = store.call(id)?;
    let state = Memo::new(move |_| call.with(|call| call.state));
    let pending = Memo::new(move |_| call.with(pending_label));
    let recalled = store.recalled(call);
    Some(view! {
        <li class="call-row other-call" class:recall=move || recalled.with(Option::is_some)>
            <CallParty call />
            <span class="call-state">
                {move || pending.get().unwrap_or_else(|| state_label(state.get()).to_owned())}
                {recall_alert(recalled)}
            </span>
            <Elapsed since=answered_since(call) label="Duration" />
            <CallButton
                legal=Signal::derive(move || {
                    pending.get().is_none() && can(CallAction::Answer, state.get())
                })
                on_press=move |_| store.answer_call(id)
            >
                "Retrieve"
            </CallButton>
        </li>
    })
}

/// Why the call is recalled ("On hold too long", "Bob Baker did not answer"), announced as
/// an alert.
fn recall_alert(recalled: Memo<Option<String>>) -> impl IntoView {
    move || {
        recalled
            .get()
            .map(|why| view! { <span class="recall-alert" role="alert">{why}</span> })
    }
}

/// When the call's duration starts: its answer time (the queue time until the server says).
fn answered_since(call: Signal<Call>) -> Signal<i64> {
    Signal::derive(move || call.with(|call| call.answered_at_ms.unwrap_or(call.queued_at_ms)))
}
