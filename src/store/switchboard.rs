//! The store's switchboard lists, operators only: missed calls and night service (shared by
//! every operator, live) and the operator's own calls of today (asked for when shown).

use leptos::prelude::*;
use switchboard_protocol::{
    CallId, ClientFrame, HandledCall, MAX_MISSED_LISTED, MissedCall, NightService,
};

use super::Store;

impl Store {
    /// Callers who hung up while queued and are not done yet, newest first.
    pub fn missed_calls(&self) -> ReadSignal<Vec<MissedCall>> {
        self.missed.read_only()
    }

    /// Whether the switchboard is closed, once the server said.
    pub fn night_service(&self) -> ReadSignal<Option<NightService>> {
        self.night.read_only()
    }

    /// The operator's calls of today as last asked for; `None` while the answer is on its way.
    pub fn todays_calls(&self) -> ReadSignal<Option<Vec<HandledCall>>> {
        self.todays_calls.read_only()
    }

    /// Calls a missed caller back through the telephone system.
    pub fn call_back(&self, call: CallId) {
        self.send_call_action(ClientFrame::CallBack { call });
    }

    /// A missed call needs nothing more: it leaves every operator's list.
    pub fn missed_done(&self, call: CallId) {
        self.send_call_action(ClientFrame::MissedDone { call });
    }

    /// Closes the switchboard (night service) or opens it.
    pub fn set_night_service(&self, closed: bool) {
        self.send_call_action(ClientFrame::SetNightService { closed });
    }

    /// Asks the server for the operator's calls of today; `false` when there is no
    /// connection to ask through.
    pub fn ask_todays_calls(&self) -> bool {
        self.todays_calls.set(None);
        self.send(ClientFrame::TodaysCalls)
    }

    pub(super) fn update_missed(&self, missed: Vec<MissedCall>, done: Vec<CallId>, snapshot: bool) {
        self.missed.update(|list| {
            if snapshot {
                list.clear();
            }
            list.retain(|held| {
                !done.contains(&held.call) && !missed.iter().any(|new| new.call == held.call)
            });
            list.extend(missed);
            list.sort_by_key(|missed| std::cmp::Reverse((missed.missed_at_ms, missed.call)));
            list.truncate(MAX_MISSED_LISTED);
        });
    }
}
