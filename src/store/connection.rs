//! The store's link to the server: the connection state shown to the operator, the frames
//! that make a connection trustworthy, and sending intents on the current socket.

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::logging::warn;
use leptos::prelude::*;
use switchboard_protocol::{ClientConfig, ClientFrame, Mode, Role, User};

use super::{Store, set_if_changed};

/// What the operator is told about the link to the server (docs/design.md: honest connection state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected yet since signing in.
    Offline,
    /// The link was lost (or its snapshots are not all in yet); the client is retrying.
    Reconnecting,
    /// Welcome and every snapshot arrived on the current socket: what is shown is fresh.
    Connected,
}

impl ConnectionState {
    /// The text of the status line; part of the UI contract (docs/design.md).
    pub fn label(self) -> &'static str {
        match self {
            ConnectionState::Offline => "Offline",
            ConnectionState::Reconnecting => "Reconnecting…",
            ConnectionState::Connected => "Connected",
        }
    }
}

/// Adds a snapshot `page` to those kept in `pages`; after the last one (`more` false), all of
/// them, and `pages` is empty again.
pub(super) fn whole_snapshot<T: Send + Sync + 'static>(
    pages: StoredValue<Vec<T>>,
    page: Vec<T>,
    more: bool,
) -> Option<Vec<T>> {
    pages.update_value(|pages| pages.extend(page));
    (!more).then(|| pages.try_update_value(std::mem::take).unwrap_or_default())
}

/// Which of the frames that make a connection trustworthy have arrived on the current socket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Handshake {
    pub(super) welcome: bool,
    pub(super) directory: bool,
    pub(super) presence: bool,
    pub(super) calls: bool,
    pub(super) conversations: bool,
}

impl Handshake {
    fn is_complete(self) -> bool {
        self.welcome && self.directory && self.presence && self.calls && self.conversations
    }
}

impl Store {
    /// The state of the link to the server.
    pub fn connection(&self) -> ReadSignal<ConnectionState> {
        self.connection.read_only()
    }

    /// A new socket is open: intents go to it, and the console stays not-connected until its
    /// welcome and snapshots are all in.
    pub(crate) fn socket_opened(&self, intents: UnboundedSender<ClientFrame>) {
        self.intents.set_value(Some(intents));
        self.handshake.set_value(Handshake::default());
        // A new connection follows everyone's presence until it is told otherwise.
        self.watch_sent.set_value(None);
        // Pages of a snapshot cut short by the last socket's end are of no use.
        self.directory_pages.set_value(Vec::new());
        self.presence_pages.set_value(Vec::new());
    }

    /// The socket is gone: say so, and stop accepting intents until the next one.
    pub(crate) fn connection_lost(&self) {
        self.intents.set_value(None);
        self.handshake.set_value(Handshake::default());
        self.connection.set(ConnectionState::Reconnecting);
    }

    /// Hands an intent to the current socket; tells whether there was one to take it.
    pub(crate) fn send(&self, frame: ClientFrame) -> bool {
        let sent = self.intents.with_value(|intents| {
            intents
                .as_ref()
                .is_some_and(|intents| intents.unbounded_send(frame).is_ok())
        });
        if !sent {
            warn!("not connected: intent dropped");
        }
        sent
    }

    pub(super) fn welcome(&self, me: User, role: Role, mode: Mode, config: ClientConfig) {
        self.me.set(me);
        set_if_changed(&self.role, role);
        if !role.handles_calls() {
            // No calls come to this console: nothing to wait for, and nothing to show.
            self.calls.update(HashMap::clear);
            self.notes.update(HashMap::clear);
            self.handshake_step(|handshake| handshake.calls = true);
        }
        self.mode.set(Some(mode));
        self.config.set(Some(config));
        self.handshake_step(|handshake| handshake.welcome = true);
    }

    pub(super) fn handshake_step(&self, step: impl FnOnce(&mut Handshake)) {
        self.handshake.update_value(step);
        if self
            .handshake
            .with_value(|handshake| handshake.is_complete())
        {
            set_if_changed(&self.connection, ConnectionState::Connected);
            self.send_watch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_completes_only_with_all_five_frames_in_any_order() {
        let mut handshake = Handshake {
            presence: true,
            ..Handshake::default()
        };
        assert!(!handshake.is_complete());
        handshake.calls = true;
        handshake.conversations = true;
        assert!(!handshake.is_complete());
        handshake.welcome = true;
        assert!(!handshake.is_complete());
        handshake.directory = true;
        assert!(handshake.is_complete());
    }
}
