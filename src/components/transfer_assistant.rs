//! Transfer assistant pane: find the target in the directory, then complete or cancel the transfer.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::{CallId, CallState, DirectoryEntry, EntryId};

use super::focus::{focus_index, navigation_target};
use super::{
    AbsenceNote, CallButton, LineLamp, PresenceField, entry_menu_key, on_entry_contextmenu,
};
use crate::calls::{ANY_TRANSFER, caller_label, can};
use crate::store::Store;

/// Matches offered at once: enough to pick from, few enough to read at a glance.
const MAX_MATCHES: usize = 8;

/// What the assistant can do for the current call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No answered call: nothing to transfer.
    Idle,
    /// The current call may be transferred: the operator searches for the target.
    Choosing(CallId),
    /// The current call is being transferred to `target`.
    Transferring {
        call: CallId,
        target: Option<EntryId>,
    },
}

/// One offered match, keyed like the directory's rows: a new snapshot or a new place redraws it.
#[derive(Debug, Clone, PartialEq)]
struct Match {
    key: (EntryId, u64, usize),
    position: usize,
    index: usize,
}

/// Search the directory for a transfer target and follow the transfer until it is completed or
/// cancelled; the target's presence tells the operator whether to go ahead.
#[component]
pub fn TransferAssistant(
    /// The "Transfer to" search box, so that the Active call's Transfer button can focus it.
    search: NodeRef<html::Input>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let directory = store.directory();
    let current = store.current_call();
    let stage = Memo::new(move |_| {
        let Some(id) = current.get() else {
            return Stage::Idle;
        };
        store
            .with_call(id, |call| match call.state {
                CallState::Transferring => Stage::Transferring {
                    call: id,
                    target: call.transfer_target,
                },
                state if can(ANY_TRANSFER, state) => Stage::Choosing(id),
                _ => Stage::Idle,
            })
            .unwrap_or(Stage::Idle)
    });
    let choosing = move || matches!(stage.get(), Stage::Choosing(_));

    let query = RwSignal::new(String::new());
    // A memo, so that typing redraws the matches, not the whole pane.
    let searching = Memo::new(move |_| !query.with(|query| query.trim().is_empty()));
    let found = store.directory_matches(query.into(), MAX_MATCHES);
    let shown = Memo::new(move |_| {
        if !choosing() || !searching.get() {
            return Vec::new();
        }
        directory.with(|directory| {
            found.with(|found| {
                found
                    .iter()
                    .enumerate()
                    .filter_map(|(index, &position)| {
                        Some(Match {
                            key: (directory.entry(position)?.id, directory.generation(), index),
                            position,
                            index,
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
    });

    let list = NodeRef::<html::Ul>::new();
    let focus_search = move || {
        if let Some(search) = search.get_untracked() {
            let _ = search.focus();
        }
    };
    let focus_match = move |index| {
        list.get_untracked()
            .is_some_and(|list| focus_index(&list, index, true))
    };
    // Keyboard users keep their place: choosing a target focuses "Complete transfer", and
    // cancelling brings the focus back to the search once the call is transferable again.
    let focus_target = StoredValue::new(false);
    let refocus_search = StoredValue::new(false);
    Effect::new(move || {
        if choosing() && refocus_search.get_value() {
            refocus_search.set_value(false);
            focus_search();
        }
    });

    let choose = Callback::new(move |target: EntryId| {
        if let Stage::Choosing(call) = stage.get_untracked() {
            store.transfer_call(call, target, false);
            query.set(String::new());
            focus_target.set_value(true);
        }
    });
    let blind = Callback::new(move |target: EntryId| {
        if let Stage::Choosing(call) = stage.get_untracked() {
            store.transfer_call(call, target, true);
            query.set(String::new());
        }
    });
    // Enter, like ArrowDown, only moves to the first match: a transfer starts on a match the
    // operator chose (Enter or a click on it), never on whatever the search found first.
    let search_keydown = move |event: KeyboardEvent| {
        if matches!(event.key().as_str(), "ArrowDown" | "Enter") && focus_match(0) {
            event.prevent_default();
        }
    };
    let match_keydown = move |event: KeyboardEvent, index: usize| {
        let key = event.key();
        if key == "Escape" || (key == "ArrowUp" && index == 0) {
            event.prevent_default();
            focus_search();
        } else if let Some(next) = navigation_target(&key, index, shown.with_untracked(Vec::len)) {
            event.prevent_default();
            focus_match(next);
        }
    };
    let cancel = Callback::new(move |call: CallId| {
        refocus_search.set_value(true);
        store.answer_call(call);
    });

    let body = move || {
        match stage.get() {
        Stage::Idle => view! { <p class="pane-empty">"No answered call to transfer"</p> }.into_any(),
        Stage::Choosing(_) if !searching.get() => view! {
            <p class="pane-hint">"Type a name, number or department, then choose the target."</p>
        }
        .into_any(),
        Stage::Choosing(_) => view! {
            <Show when=move || shown.with(|shown| !shown.is_empty()) fallback=|| view! { <p class="pane-hint">"No match"</p> }>
                <ul class="transfer-matches" role="list" aria-label="Transfer matches" node_ref=list>
                    <For
                        each=move || shown.get()
                        key=|row| row.key
                        children=move |row| {
                            // Read once: the key changes whenever this entry could have.
                            let entry = directory.with_untracked(|directory| directory.entry(row.position).cloned());
                            entry.map(|entry| view! {
                                <TransferMatch entry index=row.index on_choose=choose on_blind=blind on_keydown=match_keydown />
                            })
                        }
                    />
                </ul>
            </Show>
        }
        .into_any(),
        Stage::Transferring { call, target } => {
            let take_focus = focus_target.get_value();
            focus_target.set_value(false);
            view! { <TransferTarget call target take_focus on_cancel=cancel /> }.into_any()
        }
    }
    };

    view! {
        <section class="pane transfer-assistant" aria-label="Transfer assistant">
            <header class="pane-header">
                <h2>"Transfer assistant"</h2>
                <input
                    class="transfer-search"
                    type="search"
                    aria-label="Transfer to"
                    placeholder="Name, number or department"
                    autocomplete="off"
                    spellcheck="false"
                    node_ref=search
                    disabled=move || !choosing()
                    bind:value=query
                    on:keydown=search_keydown
                />
            </header>
            <div class="transfer-body">{body}</div>
        </section>
    }
}

/// One offered target: its presence, and a button that chooses it.
#[component]
fn TransferMatch(
    /// The directory entry offered.
    entry: DirectoryEntry,
    /// Place among the matches, for arrow-key navigation; fixed for the row's life (keyed).
    index: usize,
    /// Transfers the current call to this entry, talking to them first.
    on_choose: Callback<EntryId>,
    /// Transfers the current call to this entry at once.
    on_blind: Callback<EntryId>,
    /// Arrow keys and Escape on the button, with this row's index.
    on_keydown: impl Fn(KeyboardEvent, usize) + 'static,
) -> impl IntoView {
    let id = entry.id;
    let details = [entry.department.as_str()]
        .into_iter()
        .chain(entry.numbers.first().map(String::as_str))
        .filter(|detail| !detail.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let blind_label = format!("Blind transfer to {}", entry.name);
    view! {
        <li class="transfer-match">
            <span class="status-cell">
                <PresenceField name=entry.name.clone() user=entry.user />
                <LineLamp entry=Some(id) name=entry.name.clone() />
            </span>
            <CallButton
                class="match-button"
                on_press=move |_| on_choose.run(id)
                attr:data-index=index
                on:keydown=move |event| on_keydown(event, index)
            >
                <span class="match-name">{entry.name.clone()}</span>
                <span class="match-details">{details}</span>
                <AbsenceNote user=entry.user />
            </CallButton>
            <CallButton
                class="blind-button"
                on_press=move |_| on_blind.run(id)
                attr:aria-label=blind_label
                attr:title="Transfer at once, without talking to them first"
            >
                "Blind"
            </CallButton>
        </li>
    }
}

/// The target of the transfer in progress: who, where, how present, and how else to reach them.
#[component]
fn TransferTarget(
    /// The call being transferred.
    call: CallId,
    /// The directory entry it goes to, as the server reported it.
    target: Option<EntryId>,
    /// Focus "Complete transfer" once shown (the operator just chose the target).
    take_focus: bool,
    /// Cancels the transfer of this call.
    on_cancel: Callback<CallId>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let directory = store.directory();
    let caller = store
        .with_call(call, |call| caller_label(&call.caller_name).to_owned())
        .unwrap_or_default();
    let complete = NodeRef::<html::Button>::new();
    if take_focus {
        Effect::new(move || {
            if let Some(button) = complete.get() {
                let _ = button.focus();
            }
        });
    }
    let card = move || {
        let entry = directory.with(|directory| target.and_then(|id| directory.find(id).cloned()));
        match entry {
            Some(entry) => view! { <TargetCard entry /> }.into_any(),
            None => {
                view! { <p class="pane-hint">"The target is not in the directory."</p> }.into_any()
            }
        }
    };
    view! {
        <div class="transfer-target">
            <p class="transfer-caption">"Transferring " <strong>{caller}</strong> " to"</p>
            {card}
            <div class="call-controls">
                <CallButton class="primary" node_ref=complete on_press=move |_| store.clear_call(call)>
                    "Complete transfer"
                </CallButton>
                <CallButton on_press=move |_| on_cancel.run(call)>
                    "Cancel transfer"
                </CallButton>
            </div>
        </div>
    }
}

/// Name, main number, department and presence of the target, and its other numbers.
#[component]
fn TargetCard(
    /// The target's directory entry.
    entry: DirectoryEntry,
) -> impl IntoView {
    let mut numbers = entry.numbers.into_iter();
    let main_number = numbers.next().unwrap_or_default();
    let other_numbers: Vec<String> = numbers.collect();
    let store = expect_context::<Store>();
    let chat = store.chat();
    let (user, name) = (entry.user, entry.name.clone());
    let on_contextmenu = on_entry_contextmenu(chat, user, name.clone());
    let on_keydown = move |event: KeyboardEvent| {
        entry_menu_key(chat, user, &name, &event);
    };
    let id = entry.id;
    // The operators' note ("absent until 3 Dec, calls to Bob Baker"): read before transferring.
    let note = move || {
        store.note(id).map(|note| {
            view! {
                <p class="target-note" role="note" aria-label="Operator note">
                    {note.text}
                </p>
            }
        })
    };
    let role = [entry.department, entry.title]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <div class="target-card" on:contextmenu=on_contextmenu on:keydown=on_keydown>
            <span class="status-cell">
                <PresenceField name=entry.name.clone() user=entry.user />
                <LineLamp entry=Some(id) name=entry.name.clone() />
            </span>
            <div class="target-main">
                <span class="target-name">{entry.name}</span>
                <span class="target-number">{main_number}</span>
                <span class="target-role">{role}</span>
                <AbsenceNote user=entry.user />
            </div>
            {note}
            <div class="target-other">
                <span class="target-other-label">"Other numbers"</span>
                {if other_numbers.is_empty() {
                    view! { <span class="target-none">"None"</span> }.into_any()
                } else {
                    view! {
                        <ul class="target-numbers" role="list" aria-label="Other numbers">
                            {other_numbers.into_iter().map(|number| view! { <li>{number}</li> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
            </div>
        </div>
    }
}
