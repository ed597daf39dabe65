//! The store's calls: queued and answered calls (a signal each), the operator's commands,
//! refusals shown briefly, the server clock, and the busy lamp field.

use std::collections::HashMap;
use std::time::Duration;

use leptos::logging::{error, warn};
use leptos::prelude::*;
use switchboard_protocol::{
    Call, CallId, CallState, ClientFrame, DEFAULT_HOLD_RECALL_SECS, EntryId, ErrorCode, Line,
    LineLamp, LineState,
};

use super::{ConnectionState, Store, browser_now_ms, set_if_changed};
use crate::calls::Recall;

/// How long a refused call action stays on screen: long enough to read, short enough not to
/// linger over the next call.
const NOTICE_MS: u64 = 6_000;

impl Store {
    /// The line a caller dialled, if the configuration names it; follows the configuration.
    pub fn line(&self, dialled: &str) -> Option<Line> {
        self.config.with(|config| {
            let lines = config.as_ref().map_or(&[][..], |config| &config.lines);
            crate::calls::line_of(lines, dialled).cloned()
        })
    }

    /// Seconds on hold before a call is recalled, as the server configured it; tracked.
    pub fn hold_recall_secs(&self) -> u32 {
        self.config.with(|config| {
            config
                .as_ref()
                .map_or(DEFAULT_HOLD_RECALL_SECS, |config| config.hold_recall_secs)
        })
    }

    /// Why the operator must come back to `call`, in their words ("On hold too long", "Bob
    /// Baker did not answer"); follows the clock.
    pub fn recalled(&self, call: Signal<Call>) -> Memo<Option<String>> {
        let store = *self;
        Memo::new(move |_| {
            let secs = store.hold_recall_secs();
            let recall = call.with(|call| crate::calls::recall(call, store.now.get(), secs))?;
            Some(match recall {
                Recall::HeldTooLong => "On hold too long".to_owned(),
                Recall::Unanswered(entry) => {
                    let name = store
                        .directory
                        .with(|directory| directory.find(entry).map(|entry| entry.name.clone()));
                    format!(
                        "{} did not answer",
                        name.as_deref().unwrap_or("The transfer target")
                    )
                }
            })
        })
    }

    /// Whether the telephone system answers (`true` while nothing says otherwise).
    pub fn telephony_up(&self) -> ReadSignal<bool> {
        self.telephony_up.read_only()
    }

    /// The line state of entry `id`'s extension, tracking it; `None` when none is known.
    pub fn lamp(&self, id: EntryId) -> Option<LineState> {
        self.lamps.with(|lamps| lamps.get(&id).copied())
    }

    /// Ids of the queued calls, oldest first.
    pub fn queued_calls(&self) -> Memo<Vec<CallId>> {
        self.queue
    }

    /// Ids of the answered calls (active, transferring, held), the current call first.
    pub fn answered_calls(&self) -> Memo<Vec<CallId>> {
        self.answered
    }

    /// The call the operator is dealing with: active, else transferring, else the most recently
    /// answered held call.
    pub fn current_call(&self) -> Memo<Option<CallId>> {
        self.current_call
    }

    /// One call, changing with it; `None` once it left the store. Rows keyed by call id read
    /// their call through this, so an update redraws only them.
    pub fn call(&self, id: CallId) -> Option<Signal<Call>> {
        self.calls
            .with_untracked(|calls| calls.get(&id).map(|call| call.read_only().into()))
    }

    /// Reads one call, tracking it; `None` once it left the store. For memos that follow the
    /// call without holding a signal of their own.
    pub fn with_call<T>(&self, id: CallId, read: impl FnOnce(&Call) -> T) -> Option<T> {
        let call = self.calls.with_untracked(|calls| calls.get(&id).cloned())?;
        Some(call.with(read))
    }

    /// Server time in ms, ticking once a second (after [`Store::start_clock`]).
    pub fn now(&self) -> ReadSignal<i64> {
        self.now.read_only()
    }

    /// The last refused call action in the server's words, for a few seconds.
    pub fn call_notice(&self) -> ReadSignal<Option<String>> {
        self.call_notice.read_only()
    }

    /// Starts the one clock every waiting time and call duration ticks with, until the signed-in
    /// view goes away. One interval for the whole console, not one per row.
    pub fn start_clock(&self) {
        let store = *self;
        store.tick();
        match set_interval_with_handle(move || store.tick(), Duration::from_secs(1)) {
            Ok(interval) => on_cleanup(move || interval.clear()),
            Err(error) => warn!("cannot start the clock: {error:?}"),
        }
    }

    /// Takes a queued call, retrieves a held call, or cancels a transfer.
    pub fn answer_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::AnswerCall { call });
    }

    /// Puts the active call on hold.
    pub fn hold_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::HoldCall { call });
    }

    /// Transfers an answered call to a directory entry: talking to them first, or at once
    /// when `blind`.
    pub fn transfer_call(&self, call: CallId, target: EntryId, blind: bool) {
        self.send_call_action(ClientFrame::TransferCall {
            call,
            target,
            blind,
        });
    }

    /// Releases a call, or completes its transfer.
    pub fn clear_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::ClearCall { call });
    }

    pub(super) fn update_lamps(&self, lamps: Vec<LineLamp>, snapshot: bool) {
        self.lamps.update(|held| {
            if snapshot {
                held.clear();
            }
            held.extend(lamps.into_iter().map(|lamp| (lamp.entry, lamp.state)));
        });
    }

    /// A call action the operator must not believe was done: say so when it could not be sent.
    /// Until the connection is back with fresh snapshots the calls shown may be stale, so
    /// nothing is sent before then (docs/design.md, honest connection state).
    pub(super) fn send_call_action(&self, frame: ClientFrame) {
        let connected = self.connection.get_untracked() == ConnectionState::Connected;
        if !(connected && self.send(frame)) {
            self.notify("Not connected to the server: nothing was changed.".to_owned());
        }
    }

    /// Shows `message` in the call panes for [`NOTICE_MS`].
    pub(crate) fn notify(&self, message: String) {
        self.notices.update_value(|count| *count += 1);
        let notice = self.notices.get_value();
        self.call_notice.set(Some(message));
        let store = *self;
        set_timeout(
            move || {
                if store.notices.get_value() == notice {
                    store.call_notice.set(None);
                }
            },
            Duration::from_millis(NOTICE_MS),
        );
    }

    /// Moves the clock to the server's time, and keeps the offset for the ticks that follow.
    fn set_clock(&self, server_now_ms: i64) {
        self.clock_offset
            .set_value(server_now_ms - browser_now_ms());
        self.tick();
    }

    fn tick(&self) {
        let now = browser_now_ms() + self.clock_offset.get_value();
        self.now.set(now);
        self.end_absences(now);
        self.send_watch();
    }

    pub(super) fn replace_calls(&self, calls: Vec<Call>, now_ms: i64) {
        self.set_clock(now_ms);
        let mut incoming: HashMap<CallId, Call> = calls
            .into_iter()
            .filter(|call| call.state != CallState::Cleared)
            .map(|call| (call.id, call))
            .collect();
        // Calls the console already shows keep their signal, so their rows stay put.
        self.calls.update(|signals| {
            signals.retain(|id, signal| match incoming.remove(id) {
                Some(call) => {
                    set_if_changed(signal, call);
                    true
                }
                None => false,
            });
            for (id, call) in incoming {
                signals.insert(id, ArcRwSignal::new(call));
            }
        });
        self.handshake_step(|handshake| handshake.calls = true);
    }

    pub(super) fn update_call(&self, call: Call) {
        if call.state == CallState::Cleared {
            self.calls
                .maybe_update(|signals| signals.remove(&call.id).is_some());
            return;
        }
        let known = self
            .calls
            .with_untracked(|signals| signals.get(&call.id).cloned());
        match known {
            Some(signal) => set_if_changed(&signal, call),
            None => self.calls.update(|signals| {
                signals.insert(call.id, ArcRwSignal::new(call));
            }),
        }
    }

    pub(super) fn refused(&self, code: ErrorCode, message: String) {
        error!("server refused a frame ({code:?}): {message}");
        if code == ErrorCode::RateLimited {
            // Perhaps the last `watch` (its allowance is shared by the user's tabs): sent
            // again at the next tick.
            self.watch_sent.set_value(None);
        }
        if matches!(
            code,
            ErrorCode::NotFound
                | ErrorCode::IllegalMove
                | ErrorCode::Forbidden
                | ErrorCode::Telephony
        ) {
            self.notify(message);
        }
    }
}
