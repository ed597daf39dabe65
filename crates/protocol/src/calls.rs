//! Calls as both sides see them, and the one state machine that says which moves are legal.

use serde::{Deserialize, Serialize};

use crate::{EntryId, UserId};

/// Stable numeric id of a call.
pub type CallId = i64;

/// Where a call stands. `Cleared` calls leave every list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Waiting for the operator.
    Queued,
    /// The operator is talking on it.
    Active,
    /// Answered, put on hold by the operator.
    Held,
    /// Being transferred to `transfer_target`.
    Transferring,
    /// Over: abandoned, released or transferred.
    Cleared,
}

impl CallState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Queued => "queued",
            CallState::Active => "active",
            CallState::Held => "held",
            CallState::Transferring => "transferring",
            CallState::Cleared => "cleared",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        [
            CallState::Queued,
            CallState::Active,
            CallState::Held,
            CallState::Transferring,
            CallState::Cleared,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

/// What an operator (or the telephone system) does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallAction {
    /// Take a queued call, retrieve a held one, or cancel a transfer.
    Answer,
    /// Put the active call on hold.
    Hold,
    /// Start transferring an answered call to a directory entry: the operator talks to the
    /// target first, then completes (`Clear`) or cancels (`Answer`).
    Transfer { target: EntryId },
    /// Send an answered call straight to a directory entry, without talking to them first.
    BlindTransfer { target: EntryId },
    /// End the call: abandoned, released, or the transfer completed.
    Clear,
    /// The telephone system brings a transferred call back on hold: the target did not
    /// answer. Only the telephone system reports it; the operator's console recalls the call.
    Recall,
}

impl CallAction {
    /// The state `action` leads to from `state`, or `None` when the move is illegal.
    pub fn next(self, state: CallState) -> Option<CallState> {
        use CallState::*;
        match (self, state) {
            (CallAction::Answer, Queued | Held | Transferring) => Some(Active),
            (CallAction::Hold, Active) => Some(Held),
            (CallAction::Transfer { .. }, Active | Held) => Some(Transferring),
            (CallAction::BlindTransfer { .. }, Active | Held) => Some(Cleared),
            (CallAction::Clear, Queued | Active | Held | Transferring) => Some(Cleared),
            (CallAction::Recall, Transferring) => Some(Held),
            _ => None,
        }
    }

    /// The action as a past participle, for messages to people ("cannot be held now").
    pub fn past(self) -> &'static str {
        match self {
            CallAction::Answer => "answered",
            CallAction::Hold => "held",
            CallAction::Transfer { .. } | CallAction::BlindTransfer { .. } => "transferred",
            CallAction::Clear => "released",
            CallAction::Recall => "recalled",
        }
    }

    /// A short verb for messages and logs.
    pub fn verb(self) -> &'static str {
        match self {
            CallAction::Answer => "answer",
            CallAction::Hold => "hold",
            CallAction::Transfer { .. } => "transfer",
            CallAction::BlindTransfer { .. } => "blind_transfer",
            CallAction::Clear => "clear",
            CallAction::Recall => "recall",
        }
    }

    /// The command being carried out on a call in `state`, as a gerund ("answering"): what
    /// consoles show while it is pending and what a second operator is told.
    pub fn doing(self, state: CallState) -> &'static str {
        match (self, state) {
            (CallAction::Answer, CallState::Queued) => "answering",
            (CallAction::Answer, CallState::Transferring) => "taking back",
            (CallAction::Answer, _) => "retrieving",
            (CallAction::Hold, _) => "holding",
            (CallAction::Transfer { .. } | CallAction::BlindTransfer { .. }, _)
            | (CallAction::Clear, CallState::Transferring) => "transferring",
            (CallAction::Clear, _) => "releasing",
            (CallAction::Recall, _) => "recalling",
        }
    }

    /// The transfer target, for both kinds of transfer.
    pub fn target(self) -> Option<EntryId> {
        match self {
            CallAction::Transfer { target } | CallAction::BlindTransfer { target } => Some(target),
            _ => None,
        }
    }
}

/// An operator's command the telephone system has not confirmed yet. While it is pending
/// the call does not move, and no other command is taken for it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCommand {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub command: CallAction,
    /// Username of the operator who gave it.
    pub operator: String,
}

/// A call the operator handles.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: CallId,
    /// Name of the source party as the telephone system reports it (may be empty).
    pub caller_name: String,
    /// Number of the source party.
    pub caller_number: String,
    /// The number the caller dialled (which line of the company they called).
    pub dialled: String,
    /// The user behind the caller when the call is internal: their presence is shown.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub caller_user: Option<UserId>,
    pub state: CallState,
    /// When the call was queued, milliseconds since the Unix epoch (server clock).
    pub queued_at_ms: i64,
    /// When the operator first answered, milliseconds since the Unix epoch (server clock).
    pub answered_at_ms: Option<i64>,
    /// While the call is on hold: since when (server clock). The console recalls a call held
    /// longer than [`crate::ClientConfig::hold_recall_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_at_ms: Option<i64>,
    /// The directory entry the call is being transferred to.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub transfer_target: Option<EntryId>,
    /// The transfer target who did not answer, while the call waits on hold after coming
    /// back ([`CallAction::Recall`]): the console recalls it at once. Gone once it moves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub unanswered_by: Option<EntryId>,
    /// The directory entry whose number the caller calls from, when there is one: the
    /// console shows who it is (and their presence) without the telephone system knowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub caller_entry: Option<EntryId>,
    /// An operator's command on its way to the telephone system ("Answering…").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingCommand>,
}

/// A line of the company: a number callers dial, named for the operator, with the priority
/// its calls take in the queue and what to say when answering (the server's `[[lines]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The dialled number, as the telephone system reports it in [`Call::dialled`].
    pub number: String,
    /// "Main line", "Reception", "Emergency".
    pub name: String,
    /// Calls to higher priorities are answered first (0 to 9; 0 for numbers without a line).
    #[serde(default)]
    pub priority: u8,
    /// The line's colour in the queue, `#rgb` or `#rrggbb`; empty for none.
    #[serde(default)]
    pub colour: String,
    /// What the operator says when answering ("Good morning, Contoso, how can I help?").
    #[serde(default)]
    pub greeting: String,
}

impl Line {
    /// The colour, if written `#rgb` or `#rrggbb`: the only form that may go into a style.
    pub fn safe_colour(&self) -> Option<&str> {
        is_hex_colour(&self.colour).then_some(self.colour.as_str())
    }
}

/// Whether `text` is a colour written `#rgb` or `#rrggbb`.
pub fn is_hex_colour(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A caller who hung up while queued, kept for the operators to call back until one marks
/// it done; every operator's console shows the same list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedCall {
    /// The call the caller hung up on.
    pub call: CallId,
    pub caller_name: String,
    pub caller_number: String,
    /// The number the caller dialled (their line).
    pub dialled: String,
    /// The directory entry whose number the caller called from, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_entry: Option<EntryId>,
    pub queued_at_ms: i64,
    /// When the caller hung up: they waited from `queued_at_ms` until then.
    pub missed_at_ms: i64,
    /// The last call back: who asked for it, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_back: Option<CalledBack>,
}

/// An operator called a missed caller back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalledBack {
    /// Display name of the operator.
    pub by: String,
    pub at_ms: i64,
}

/// Night service: while the switchboard is closed the telephone system sends calls where it
/// sends them at night, and every operator's queue says so.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightService {
    pub closed: bool,
    /// Who switched last: an operator's display name, or "opening hours".
    pub by: String,
    /// Since when, ms since the Unix epoch (server clock).
    pub since_ms: i64,
}

/// A call an operator handled, for their list of today's calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandledCall {
    pub call: CallId,
    pub caller_name: String,
    pub caller_number: String,
    pub dialled: String,
    /// When this operator first answered it.
    pub answered_at_ms: i64,
    /// When it ended; `None` while it goes on.
    pub ended_at_ms: Option<i64>,
    /// Whom it was transferred to (the entry's name), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_to: Option<String>,
}

/// The line state of a telephone (the busy lamp field), as the telephone system reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    Idle,
    Ringing,
    InUse,
    OnHold,
    Unavailable,
}

impl LineState {
    /// The state in the operator's words.
    pub fn label(self) -> &'static str {
        match self {
            LineState::Idle => "Idle",
            LineState::Ringing => "Ringing",
            LineState::InUse => "On the phone",
            LineState::OnHold => "On hold",
            LineState::Unavailable => "Unavailable",
        }
    }
}

/// The line state of one directory entry's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineLamp {
    pub entry: EntryId,
    pub state: LineState,
}

/// Body of `POST /api/calls`: the telephone system queues a call for the operator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    /// Name of the caller as the network reports it; may be empty.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub caller_name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 128,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub caller_number: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 128,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub dialled: String,
    /// The user behind an internal caller (their presence is shown); must exist.
    #[serde(default, deserialize_with = "optional_integral")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<i64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)
    )]
    pub caller_user: Option<UserId>,
}

/// Body of `POST /api/calls/{id}/transfer`: the target as a directory entry, or as a number
/// (a PBX knows numbers, not entries); exactly one of the two.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The directory entry to transfer to; must exist.
    #[serde(default, deserialize_with = "optional_integral")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<i64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)
    )]
    pub target: Option<EntryId>,
    /// A number of the directory entry to transfer to (its digits are compared).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub number: Option<String>,
}

/// Largest id accepted in a body: ids are exact in every JSON reader (2^53 - 1).
const MAX_ID: i64 = (1 << 53) - 1;

/// A JSON number that is a positive integer id, also when written `7.0` (JSON Schema counts
/// that as an integer); `7.5`, 0 and ids beyond [`MAX_ID`] are refused.
fn integral<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Integer(i64),
        Float(f64),
    }
    let id = match Number::deserialize(deserializer)? {
        Number::Integer(n) => Some(n),
        Number::Float(f) if f.fract() == 0.0 && f.abs() <= MAX_ID as f64 => Some(f as i64),
        Number::Float(_) => None,
    };
    id.filter(|id| (1..=MAX_ID).contains(id)).ok_or_else(|| {
        serde::de::Error::custom(format!("ids are whole numbers from 1 to {MAX_ID}"))
    })
}

/// [`integral`], or `null`.
fn optional_integral<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "integral")] i64);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(n)| n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallState::*;

    const ALL: [CallState; 5] = [Queued, Active, Held, Transferring, Cleared];

    #[test]
    fn only_hex_colours_go_into_a_style() {
        for good in ["#fff", "#1E3a5f"] {
            assert!(is_hex_colour(good), "{good}");
        }
        for bad in ["", "fff", "#ffff", "#ggg", "red", "#fff;background:url(x)"] {
            assert!(!is_hex_colour(bad), "{bad}");
        }
    }

    #[test]
    fn a_call_goes_from_the_queue_through_hold_and_transfer_to_cleared() {
        let mut state = Queued;
        for (action, expected) in [
            (CallAction::Answer, Active),
            (CallAction::Hold, Held),
            (CallAction::Answer, Active),
            (CallAction::Transfer { target: 7 }, Transferring),
            (CallAction::Answer, Active),
            (CallAction::Transfer { target: 7 }, Transferring),
            (CallAction::Recall, Held),
            (CallAction::Transfer { target: 7 }, Transferring),
            (CallAction::Clear, Cleared),
        ] {
            state = action.next(state).unwrap();
            assert_eq!(state, expected);
        }
    }

    #[test]
    fn illegal_moves_are_refused() {
        assert_eq!(CallAction::Hold.next(Queued), None);
        assert_eq!(CallAction::Hold.next(Held), None);
        assert_eq!(CallAction::Transfer { target: 1 }.next(Queued), None);
        assert_eq!(CallAction::Transfer { target: 1 }.next(Transferring), None);
        assert_eq!(CallAction::Answer.next(Active), None);
        assert_eq!(CallAction::Recall.next(Active), None);
        assert_eq!(CallAction::Recall.next(Held), None);
        for action in [
            CallAction::Answer,
            CallAction::Hold,
            CallAction::Transfer { target: 1 },
            CallAction::Clear,
        ] {
            assert_eq!(
                action.next(Cleared),
                None,
                "{action:?} revived a cleared call"
            );
        }
    }

    #[test]
    fn ids_written_as_whole_floats_are_integers() {
        let request: TransferRequest = serde_json::from_str(r#"{"target": 7.0}"#).unwrap();
        assert_eq!(request.target, Some(7));
        assert!(serde_json::from_str::<TransferRequest>(r#"{"target": 7.5}"#).is_err());
        assert!(serde_json::from_str::<TransferRequest>(r#"{"target": "7"}"#).is_err());
        for out_of_range in ["0", "-3", "9007199254740992", "1e300"] {
            let body = format!(r#"{{"target": {out_of_range}}}"#);
            assert!(
                serde_json::from_str::<TransferRequest>(&body).is_err(),
                "{body}"
            );
        }
        let call: NewCall =
            serde_json::from_str(r#"{"caller_number": "1", "dialled": "2", "caller_user": 3.0}"#)
                .unwrap();
        assert_eq!(call.caller_user, Some(3));
        let call: NewCall =
            serde_json::from_str(r#"{"caller_number": "1", "dialled": "2", "caller_user": null}"#)
                .unwrap();
        assert_eq!(call.caller_user, None);
    }

    #[test]
    fn every_state_parses_back() {
        for state in ALL {
            assert_eq!(CallState::parse(state.as_str()), Some(state));
        }
        assert_eq!(CallState::parse("ringing"), None);
    }
}
