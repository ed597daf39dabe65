//! Pure call logic the store and the call panes share: queue order, the current call, durations.

use std::cmp::Reverse;

use switchboard_protocol::{Call, CallAction, CallId, CallState, EntryId, HandledCall, Line};

/// Ids of the queued calls, those to the highest priority line first, then oldest first;
/// calls queued in the same millisecond keep id order, so every tab of the operator shows the
/// same order.
pub fn queue_order<'a>(calls: impl IntoIterator<Item = &'a Call>, lines: &[Line]) -> Vec<CallId> {
    let mut queued: Vec<(Reverse<u8>, i64, CallId)> = calls
        .into_iter()
        .filter(|call| call.state == CallState::Queued)
        .map(|call| {
            let priority = line_of(lines, &call.dialled).map_or(0, |line| line.priority);
            (Reverse(priority), call.queued_at_ms, call.id)
        })
        .collect();
    queued.sort_unstable();
    queued.into_iter().map(|(_, _, id)| id).collect()
}

/// The line a caller dialled, if the configuration names it.
pub fn line_of<'a>(lines: &'a [Line], dialled: &str) -> Option<&'a Line> {
    lines.iter().find(|line| line.number == dialled)
}

/// Ids of the answered calls (active, transferring or held), the current call first.
///
/// The current call is the one the operator is talking on, else the one being transferred
/// (so its transfer can be completed or cancelled), else a held one. Among calls in the same
/// state the most recently answered comes first: that is the one the operator last dealt with.
pub fn answered_order<'a>(calls: impl IntoIterator<Item = &'a Call>) -> Vec<CallId> {
    let mut answered: Vec<(u8, Reverse<i64>, Reverse<CallId>)> = calls
        .into_iter()
        .filter_map(|call| {
            let rank = match call.state {
                CallState::Active => 0,
                CallState::Transferring => 1,
                CallState::Held => 2,
                CallState::Queued | CallState::Cleared => return None,
            };
            Some((
                rank,
                Reverse(call.answered_at_ms.unwrap_or(call.queued_at_ms)),
                Reverse(call.id),
            ))
        })
        .collect();
    answered.sort_unstable();
    answered.into_iter().map(|(_, _, Reverse(id))| id).collect()
}

/// `others` (answered calls besides the current one, in [`answered_order`]) with the calls
/// recalled at `now_ms` first, the longest held first; the rest keep their order. The current
/// call never moves: a key acts on the call the operator sees.
pub fn recalled_first(others: &[&Call], now_ms: i64, recall_secs: u32) -> Vec<CallId> {
    let (mut recalled, rest): (Vec<&Call>, Vec<&Call>) = others
        .iter()
        .partition(|call| recalled(call, now_ms, recall_secs));
    recalled.sort_by_key(|call| (call.held_at_ms, call.id));
    recalled.iter().chain(&rest).map(|call| call.id).collect()
}

/// Why the operator must come back to a call on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recall {
    /// The telephone system brought it back: this transfer target did not answer.
    Unanswered(EntryId),
    /// On hold for the configured recall time or longer.
    HeldTooLong,
}

/// Why the operator must come back to `call` at `now_ms` (server clock), if they must.
pub fn recall(call: &Call, now_ms: i64, recall_secs: u32) -> Option<Recall> {
    if call.state != CallState::Held {
        return None;
    }
    if let Some(target) = call.unanswered_by {
        return Some(Recall::Unanswered(target));
    }
    call.held_at_ms
        .is_some_and(|since| now_ms - since >= i64::from(recall_secs) * 1_000)
        .then_some(Recall::HeldTooLong)
}

/// Whether the operator must come back to `call` at `now_ms` (see [`recall`]).
pub fn recalled(call: &Call, now_ms: i64, recall_secs: u32) -> bool {
    recall(call, now_ms, recall_secs).is_some()
}

/// A transfer to no one in particular: whether a transfer is legal does not depend on its target.
pub const ANY_TRANSFER: CallAction = CallAction::Transfer { target: 0 };

/// Whether `action` is a legal move for a call in `state`, by the protocol's own table; the
/// panes enable a button only when the server would accept it.
pub fn can(action: CallAction, state: CallState) -> bool {
    action.next(state).is_some()
}

/// The caller as the operator reads it: the reported name, or "Unknown caller" when the
/// telephone system gave none.
pub fn caller_label(caller_name: &str) -> &str {
    if caller_name.trim().is_empty() {
        "Unknown caller"
    } else {
        caller_name
    }
}

/// Whether a handled call matches what the operator typed: part of the caller's name (any
/// case) or of their number's digits. Everything matches an empty query.
pub fn handled_matches(call: &HandledCall, query: &str) -> bool {
    let query = query.trim();
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    query.is_empty()
        || call
            .caller_name
            .to_lowercase()
            .contains(&query.to_lowercase())
        || (!digits.is_empty()
            && call
                .caller_number
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .contains(&digits))
}

/// A call's state in the operator's words, as the call panes show it.
pub fn state_label(state: CallState) -> &'static str {
    match state {
        CallState::Queued => "Waiting",
        CallState::Active => "Active",
        CallState::Held => "On hold",
        CallState::Transferring => "Transferring",
        CallState::Cleared => "Cleared",
    }
}

/// What the call is waiting for while an operator's command is on its way to the telephone
/// system ("Answering…"); `None` when nothing is pending.
pub fn pending_label(call: &Call) -> Option<String> {
    let doing = call.pending.as_ref()?.command.doing(call.state);
    let mut label: String = doing[..1].to_uppercase();
    label.push_str(&doing[1..]);
    label.push('…');
    Some(label)
}

/// A waiting time or call duration as a clock reads: "0:07", "12:45", "1:02:03". A negative
/// span (clocks a little apart) reads "0:00" rather than a nonsense value.
pub fn format_duration(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: CallId, state: CallState, queued_at_ms: i64, answered_at_ms: Option<i64>) -> Call {
        Call {
            id,
            caller_name: format!("Caller {id}"),
            caller_number: "+1 555 0100".into(),
            dialled: "+1 555 2000".into(),
            caller_user: None,
            state,
            queued_at_ms,
            answered_at_ms,
            held_at_ms: None,
            transfer_target: None,
            unanswered_by: None,
            caller_entry: None,
            pending: None,
        }
    }

    #[test]
    fn todays_calls_are_found_by_part_of_the_name_or_the_number() {
        let handled = HandledCall {
            call: 1,
            caller_name: "John Smith".into(),
            caller_number: "+44 20 7946 0018".into(),
            dialled: "2000".into(),
            answered_at_ms: 0,
            ended_at_ms: None,
            transferred_to: None,
        };
        for query in ["", "smith", "SMITH ", "7946-0018", "20 7946"] {
            assert!(handled_matches(&handled, query), "{query:?}");
        }
        for query in ["Smyth", "555", "-"] {
            assert!(!handled_matches(&handled, query), "{query:?}");
        }
    }

    #[test]
    fn the_queue_is_oldest_first_then_by_id() {
        let calls = [
            call(1, CallState::Queued, 3_000, None),
            call(2, CallState::Active, 1_000, Some(2_000)),
            call(4, CallState::Queued, 2_000, None),
            call(3, CallState::Queued, 2_000, None),
        ];
        assert_eq!(queue_order(&calls, &[]), [3, 4, 1]);
        assert!(queue_order(&[], &[]).is_empty());
    }

    #[test]
    fn calls_to_a_higher_priority_line_are_answered_first() {
        let line = |number: &str, priority| Line {
            number: number.into(),
            name: format!("Line {number}"),
            priority,
            colour: String::new(),
            greeting: String::new(),
        };
        let lines = [line("2000", 1), line("2999", 9)];
        let mut calls = [
            call(1, CallState::Queued, 1_000, None),
            call(2, CallState::Queued, 2_000, None),
            call(3, CallState::Queued, 3_000, None),
            call(4, CallState::Queued, 4_000, None),
        ];
        calls[0].dialled = "7777".into();
        calls[1].dialled = "2000".into();
        calls[2].dialled = "2999".into();
        calls[3].dialled = "2000".into();
        // Emergency, then the main line oldest first, then a number without a line.
        assert_eq!(queue_order(&calls, &lines), [3, 2, 4, 1]);
        assert_eq!(line_of(&lines, "2999").map(|l| l.priority), Some(9));
        assert!(line_of(&lines, "7777").is_none());
    }

    #[test]
    fn the_active_call_is_current_before_transferring_and_held_ones() {
        let calls = [
            call(1, CallState::Held, 0, Some(5_000)),
            call(2, CallState::Queued, 0, None),
            call(3, CallState::Transferring, 0, Some(1_000)),
            call(4, CallState::Active, 0, Some(500)),
        ];
        assert_eq!(answered_order(&calls), [4, 3, 1]);
        assert_eq!(answered_order(&calls[..3]), [3, 1]);
        assert_eq!(answered_order(&calls[..2]), [1]);
        assert!(answered_order(&calls[1..2]).is_empty());
    }

    #[test]
    fn among_held_calls_the_most_recently_answered_is_current() {
        let calls = [
            call(1, CallState::Held, 0, Some(1_000)),
            call(2, CallState::Held, 0, Some(3_000)),
            call(3, CallState::Held, 0, Some(2_000)),
            call(4, CallState::Held, 0, Some(3_000)),
        ];
        assert_eq!(answered_order(&calls), [4, 2, 3, 1]);
    }

    #[test]
    fn a_call_held_too_long_is_recalled_and_comes_first_among_the_others() {
        let mut calls = [
            call(1, CallState::Held, 0, Some(1_000)),
            call(2, CallState::Held, 0, Some(5_000)),
            call(3, CallState::Transferring, 0, Some(9_000)),
        ];
        calls[0].held_at_ms = Some(10_000);
        calls[1].held_at_ms = Some(50_000);
        let others: Vec<&Call> = calls.iter().collect();
        // At 60 s neither held call has been held a minute: the order stands.
        assert_eq!(recalled_first(&others, 60_000, 60), [1, 2, 3]);
        assert!(!recalled(&calls[0], 60_000, 60));
        // At 70 s call 1 has: it stays first; at 110 s both have, the longest held first,
        // before the transfer that is not on hold.
        assert!(recalled(&calls[0], 70_000, 60));
        let reversed: Vec<&Call> = calls.iter().rev().collect();
        assert_eq!(recalled_first(&reversed, 70_000, 60), [1, 3, 2]);
        assert_eq!(recalled_first(&reversed, 110_000, 60), [1, 2, 3]);
        assert!(
            !recalled(&calls[2], 1_000_000, 60),
            "only a held call is recalled"
        );
    }

    #[test]
    fn a_transfer_nobody_answered_is_recalled_at_once_and_says_who() {
        let mut back = call(1, CallState::Held, 0, Some(1_000));
        back.held_at_ms = Some(50_000);
        back.unanswered_by = Some(7);
        let mut held = call(2, CallState::Held, 0, Some(1_000));
        held.held_at_ms = Some(10_000);
        assert_eq!(recall(&back, 50_000, 60), Some(Recall::Unanswered(7)));
        assert_eq!(recall(&held, 50_000, 60), None);
        assert_eq!(recalled_first(&[&held, &back], 50_000, 60), [1, 2]);
        back.state = CallState::Active;
        assert_eq!(recall(&back, 50_000, 60), None, "answered again");
    }

    #[test]
    fn buttons_follow_the_protocols_legal_moves() {
        assert!(can(CallAction::Hold, CallState::Active));
        assert!(!can(CallAction::Hold, CallState::Held));
        assert!(can(ANY_TRANSFER, CallState::Held));
        assert!(!can(ANY_TRANSFER, CallState::Transferring));
        assert!(can(CallAction::Answer, CallState::Transferring));
    }

    #[test]
    fn a_caller_without_a_name_is_unknown() {
        let mut anonymous = call(1, CallState::Queued, 0, None);
        assert_eq!(caller_label(&anonymous.caller_name), "Caller 1");
        anonymous.caller_name = "  ".into();
        assert_eq!(caller_label(&anonymous.caller_name), "Unknown caller");
    }

    #[test]
    fn a_pending_command_reads_as_what_the_call_waits_for() {
        let mut queued = call(1, CallState::Queued, 0, None);
        assert_eq!(pending_label(&queued), None);
        queued.pending = Some(switchboard_protocol::PendingCommand {
            command: CallAction::Answer,
            operator: "operator".into(),
        });
        assert_eq!(pending_label(&queued).as_deref(), Some("Answering…"));
        queued.state = CallState::Held;
        assert_eq!(pending_label(&queued).as_deref(), Some("Retrieving…"));
        queued.state = CallState::Transferring;
        queued.pending.as_mut().unwrap().command = CallAction::Clear;
        assert_eq!(pending_label(&queued).as_deref(), Some("Transferring…"));
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(format_duration(0), "0:00");
        assert_eq!(format_duration(7_999), "0:07");
        assert_eq!(format_duration(765_000), "12:45");
        assert_eq!(format_duration(3_723_000), "1:02:03");
        assert_eq!(format_duration(36_000_000), "10:00:00");
        assert_eq!(format_duration(-1_500), "0:00");
    }
}
