//! The store's presence: one signal per user, from snapshots and deltas.

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::{ClientFrame, PresenceState, PresenceUpdate, UserId};

use super::connection::whole_snapshot;
use super::{Store, set_if_changed};

impl Store {
    /// The presence of `user`: a signal that changes only when that user's presence does.
    pub fn presence(&self, user: UserId) -> Signal<PresenceState> {
        self.presence_signal(user).read_only().into()
    }

    /// Asks the server to set the signed-in user's presence; the server's delta updates the store.
    pub fn set_my_presence(&self, state: PresenceState) {
        self.send(ClientFrame::SetPresence { state });
    }

    /// One page of the presence snapshot, like [`Store::directory_page`].
    pub(super) fn presence_page(&self, presence: Vec<PresenceUpdate>, more: bool) {
        if let Some(presence) = whole_snapshot(self.presence_pages, presence, more) {
            self.replace_presence(presence);
        }
    }

    pub(super) fn replace_presence(&self, presence: Vec<PresenceUpdate>) {
        let mut states: HashMap<UserId, PresenceState> = presence
            .into_iter()
            .map(|update| (update.user, update.state))
            .collect();
        self.presence.update_value(|signals| {
            for (user, signal) in signals.iter() {
                let state = states.remove(user).unwrap_or(PresenceState::Offline);
                set_if_changed(signal, state);
            }
            for (user, state) in states {
                signals.insert(user, ArcRwSignal::new(state));
            }
        });
        self.handshake_step(|handshake| handshake.presence = true);
    }

    pub(super) fn update_presence(&self, update: PresenceUpdate) {
        set_if_changed(&self.presence_signal(update.user), update.state);
    }

    pub(super) fn presence_signal(&self, user: UserId) -> ArcRwSignal<PresenceState> {
        self.presence
            .write_value()
            .entry(user)
            .or_insert_with(|| ArcRwSignal::new(PresenceState::Offline))
            .clone()
    }
}
