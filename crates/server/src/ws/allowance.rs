//! Allowances per user and kind of frame. Every frame a console can send in a loop costs the
//! server something (a write and an fsync, a broadcast to every console, a query), so each
//! kind has a token bucket per user, shared by all the user's connections: opening more
//! sockets buys nothing. Chat sends have their own allowance (`limits.messages_per_second`,
//! see `crate::chat`). A frame past its allowance is refused with `rate_limited`, which
//! counts as a bad frame: a console that keeps going is closed with 1008.

use switchboard_protocol::{ClientFrame, UserId};

use crate::bucket::Buckets;

/// What a frame costs the server, for its allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A new WebSocket connection (the `hello` snapshots: the whole directory).
    Connect,
    Presence,
    Read,
    History,
    Search,
    Typing,
    Call,
    Note,
    Ping,
    Watch,
}

impl FrameKind {
    const ALL: [FrameKind; 10] = [
        FrameKind::Connect,
        FrameKind::Presence,
        FrameKind::Read,
        FrameKind::History,
        FrameKind::Search,
        FrameKind::Typing,
        FrameKind::Call,
        FrameKind::Note,
        FrameKind::Ping,
        FrameKind::Watch,
    ];

    /// The kind of a frame; `None` for `hello` (one per connection, counted as `Connect`)
    /// and chat sends (their own allowance).
    pub fn of(frame: &ClientFrame) -> Option<Self> {
        Some(match frame {
            ClientFrame::Hello { .. } | ClientFrame::ChatSend { .. } => return None,
            ClientFrame::SetPresence { .. } | ClientFrame::SetAbsence { .. } => FrameKind::Presence,
            ClientFrame::ChatRead { .. } => FrameKind::Read,
            ClientFrame::History { .. } => FrameKind::History,
            ClientFrame::SearchUsers { .. } => FrameKind::Search,
            ClientFrame::Typing { .. } => FrameKind::Typing,
            ClientFrame::AnswerCall { .. }
            | ClientFrame::HoldCall { .. }
            | ClientFrame::TransferCall { .. }
            | ClientFrame::ClearCall { .. }
            | ClientFrame::CallBack { .. }
            | ClientFrame::MissedDone { .. }
            | ClientFrame::SetNightService { .. } => FrameKind::Call,
            ClientFrame::TodaysCalls => FrameKind::History,
            ClientFrame::SetNote { .. } => FrameKind::Note,
            ClientFrame::Ping => FrameKind::Ping,
            ClientFrame::Watch { .. } => FrameKind::Watch,
        })
    }

    /// (frames a second on average, frames at once) per user. Far above what a person does
    /// at a console with a few tabs open (the console pings every few seconds per tab, reads
    /// a conversation as messages arrive, pages history as the log scrolls), far below what
    /// a loop sends.
    fn allowance(self) -> (f64, f64) {
        match self {
            // A burst of tabs reconnecting after a restart, then about one a second.
            FrameKind::Connect => (1.0, 30.0),
            FrameKind::Presence => (1.0, 10.0),
            FrameKind::Read => (10.0, 60.0),
            FrameKind::History | FrameKind::Search => (5.0, 30.0),
            FrameKind::Typing | FrameKind::Call => (5.0, 30.0),
            FrameKind::Note => (2.0, 20.0),
            FrameKind::Ping => (5.0, 40.0),
            // A console sends its set as the directory scrolls, at most every half second.
            FrameKind::Watch => (4.0, 20.0),
        }
    }

    /// How the refusal names the frames.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Connect => "connections",
            FrameKind::Presence => "presence changes",
            FrameKind::Read => "read markers",
            FrameKind::History => "history requests",
            FrameKind::Search => "searches",
            FrameKind::Typing => "typing notices",
            FrameKind::Call => "call actions",
            FrameKind::Note => "note changes",
            FrameKind::Ping => "pings",
            FrameKind::Watch => "watch sets",
        }
    }
}

/// A bucket per user for each kind, in the order of [`FrameKind::ALL`].
pub struct Allowances {
    kinds: [Buckets<UserId>; FrameKind::ALL.len()],
}

impl Default for Allowances {
    fn default() -> Self {
        Allowances {
            kinds: FrameKind::ALL.map(|kind| {
                let (rate, burst) = kind.allowance();
                Buckets::new(rate, burst)
            }),
        }
    }
}

impl Allowances {
    /// Takes one frame of `kind` from `user`'s allowance; false when it is used up.
    pub fn take(&self, user: UserId, kind: FrameKind) -> bool {
        self.kinds[kind as usize].take(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_and_kind_has_its_own_allowance() {
        let allowances = Allowances::default();
        let (_, burst) = FrameKind::Presence.allowance();
        let taken = (0..100)
            .take_while(|_| allowances.take(1, FrameKind::Presence))
            .count();
        // The bucket refills at one a second: at most one more while the loop runs.
        assert!(
            (burst as usize..=burst as usize + 1).contains(&taken),
            "{taken}"
        );
        assert!(allowances.take(2, FrameKind::Presence), "another user");
        assert!(allowances.take(1, FrameKind::Read), "another kind");
    }

    #[test]
    fn each_kind_has_its_own_place() {
        for kind in FrameKind::ALL {
            assert_eq!(FrameKind::ALL[kind as usize], kind);
        }
    }

    #[test]
    fn every_frame_but_hello_and_chat_has_a_kind() {
        assert_eq!(FrameKind::of(&ClientFrame::Hello { version: 1 }), None);
        assert_eq!(
            FrameKind::of(&ClientFrame::Typing { to: 2 }),
            Some(FrameKind::Typing)
        );
        assert_eq!(
            FrameKind::of(&ClientFrame::ClearCall { call: 1 }),
            Some(FrameKind::Call)
        );
    }
}
