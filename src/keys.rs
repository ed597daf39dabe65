//! Keyboard shortcuts: the keys the server configured (`ClientConfig::keys`, the README's
//! operator guide lists the defaults), what each does in the console, and when a key press
//! counts: never while typing in a text field, unless it is a function key.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::keys::{KeyChord, Keys, is_function_key};
use switchboard_protocol::{CallId, CallState};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};

use crate::calls::{ANY_TRANSFER, can};
use crate::store::Store;

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    Help,
    AnswerNext,
    Hold,
    Release,
    Transfer,
    CompleteTransfer,
    CancelTransfer,
    SearchDirectory,
    NextCall,
    PreviousCall,
}

impl Shortcut {
    /// Every shortcut, in the order the help dialog lists them.
    pub const ALL: [Shortcut; 10] = [
        Shortcut::Help,
        Shortcut::AnswerNext,
        Shortcut::Hold,
        Shortcut::Release,
        Shortcut::Transfer,
        Shortcut::CompleteTransfer,
        Shortcut::CancelTransfer,
        Shortcut::SearchDirectory,
        Shortcut::NextCall,
        Shortcut::PreviousCall,
    ];

    /// What it does, in the operator's words.
    pub fn label(self) -> &'static str {
        match self {
            Shortcut::Help => "Keyboard shortcuts",
            Shortcut::AnswerNext => "Answer next call",
            Shortcut::Hold => "Hold / Retrieve",
            Shortcut::Release => "Release",
            Shortcut::Transfer => "Transfer (to \"Transfer to\")",
            Shortcut::CompleteTransfer => "Complete transfer",
            Shortcut::CancelTransfer => "Cancel transfer",
            Shortcut::SearchDirectory => "Search directory",
            Shortcut::NextCall => "Next queued call",
            Shortcut::PreviousCall => "Previous queued call",
        }
    }

    /// Its key in `keys`.
    pub fn key(self, keys: &Keys) -> &str {
        match self {
            Shortcut::Help => &keys.help,
            Shortcut::AnswerNext => &keys.answer_next,
            Shortcut::Hold => &keys.hold,
            Shortcut::Release => &keys.release,
            Shortcut::Transfer => &keys.transfer,
            Shortcut::CompleteTransfer => &keys.complete_transfer,
            Shortcut::CancelTransfer => &keys.cancel_transfer,
            Shortcut::SearchDirectory => &keys.search_directory,
            Shortcut::NextCall => &keys.next_call,
            Shortcut::PreviousCall => &keys.previous_call,
        }
    }

    /// Whether it acts on calls (operators only).
    fn is_call_control(self) -> bool {
        !matches!(self, Shortcut::Help | Shortcut::SearchDirectory)
    }
}

/// The shortcut a key press is, if any: a configured key, or "?" for the help.
pub fn shortcut_of(keys: &Keys, key: &str, event: &KeyboardEvent) -> Option<Shortcut> {
    let (ctrl, alt, shift, meta) = (
        event.ctrl_key(),
        event.alt_key(),
        event.shift_key(),
        event.meta_key(),
    );
    Shortcut::ALL
        .into_iter()
        .find(|shortcut| {
            KeyChord::parse(shortcut.key(keys))
                .is_ok_and(|chord| chord.matches(key, ctrl, alt, shift, meta))
        })
        .or_else(|| (key == "?" && !ctrl && !alt && !meta).then_some(Shortcut::Help))
}

/// Whether the key press happened while typing: in a text field, a text area or editable text.
fn typing(event: &KeyboardEvent) -> bool {
    let Some(element) = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlElement>().ok())
    else {
        return false;
    };
    match element.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => true,
        "INPUT" => !matches!(
            element.get_attribute("type").as_deref(),
            Some("button" | "checkbox" | "radio" | "submit" | "reset")
        ),
        _ => element.is_content_editable(),
    }
}

/// Where the shortcuts send the keyboard, and the help dialog's state.
#[derive(Clone, Copy)]
pub struct Targets {
    pub transfer_search: NodeRef<html::Input>,
    pub directory_search: NodeRef<html::Input>,
    pub help_open: RwSignal<bool>,
}

/// Listens to key presses on the whole console while it is shown.
pub fn listen(store: Store, targets: Targets) {
    let handle = window_event_listener(ev::keydown, move |event: KeyboardEvent| {
        if event.default_prevented() || event.repeat() {
            return;
        }
        let key = event.key();
        if typing(&event) && !is_function_key(&key) {
            return;
        }
        let shortcut = store.config().with_untracked(|config| {
            config
                .as_ref()
                .and_then(|config| shortcut_of(&config.keys, &key, &event))
        });
        let Some(shortcut) = shortcut else {
            return;
        };
        // The help dialog is modal: only its own key (and Escape, its own) act while it is open.
        if targets.help_open.get_untracked() && shortcut != Shortcut::Help {
            return;
        }
        if shortcut.is_call_control() && !store.role().get_untracked().handles_calls() {
            return;
        }
        event.prevent_default();
        perform(store, targets, shortcut);
    });
    on_cleanup(move || handle.remove());
}

fn perform(store: Store, targets: Targets, shortcut: Shortcut) {
    let current = store.current_call().get_untracked();
    let state = current.and_then(|id| store.with_call(id, |call| call.state));
    let focus = |input: NodeRef<html::Input>| {
        if let Some(input) = input.get_untracked() {
            let _ = input.focus();
        }
    };
    match shortcut {
        Shortcut::Help => targets.help_open.update(|open| *open = !*open),
        Shortcut::SearchDirectory => focus(targets.directory_search),
        Shortcut::AnswerNext => match store.queued_calls().get_untracked().first() {
            Some(&call) => store.answer_call(call),
            None => store.notify("No call is waiting.".to_owned()),
        },
        Shortcut::Hold => match (current, state) {
            (Some(call), Some(CallState::Active)) => store.hold_call(call),
            (Some(call), Some(CallState::Held)) => store.answer_call(call),
            _ => store.notify("No call to hold or retrieve.".to_owned()),
        },
        Shortcut::Release => match (current, state) {
            (Some(call), Some(CallState::Active | CallState::Held)) => store.clear_call(call),
            _ => store.notify("No call to release.".to_owned()),
        },
        Shortcut::Transfer => match state {
            Some(state) if can(ANY_TRANSFER, state) => focus(targets.transfer_search),
            _ => store.notify("No call to transfer.".to_owned()),
        },
        Shortcut::CompleteTransfer | Shortcut::CancelTransfer => {
            match transferring(current, state) {
                Some(call) if shortcut == Shortcut::CompleteTransfer => store.clear_call(call),
                Some(call) => store.answer_call(call),
                None => store.notify("No transfer in progress.".to_owned()),
            }
        }
        Shortcut::NextCall => focus_queued_call(1),
        Shortcut::PreviousCall => focus_queued_call(-1),
    }
}

/// The current call if it is being transferred.
fn transferring(current: Option<CallId>, state: Option<CallState>) -> Option<CallId> {
    current.filter(|_| state == Some(CallState::Transferring))
}

/// Moves the keyboard `step` calls down (or up) the queue from the focused one; from outside
/// the queue, to its first (or last) call.
fn focus_queued_call(step: isize) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let Ok(rows) = document.query_selector_all(".queued-call") else {
        return;
    };
    let rows: Vec<HtmlElement> = (0..rows.length())
        .filter_map(|index| rows.item(index)?.dyn_into::<HtmlElement>().ok())
        .collect();
    let Some(last) = rows.len().checked_sub(1) else {
        return;
    };
    let focused = document.active_element();
    let at = rows.iter().position(|row| {
        focused
            .as_ref()
            .is_some_and(|focused| row.contains(Some(focused)))
    });
    let next = match at {
        Some(at) => at.saturating_add_signed(step).min(last),
        None if step > 0 => 0,
        None => last,
    };
    let _ = rows[next].focus();
}
