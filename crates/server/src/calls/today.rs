//! Today's calls of an operator, read back from the call events: the calls they answered
//! since midnight (server time), when each ended and whom it went to. An answer the telephone
//! system reported for an operator's command counts as that operator's (`Calls::apply`).

use std::collections::HashMap;

use chrono::Local;
use sqlx::Row;
use switchboard_protocol::{CallId, EntryId, HandledCall};

use super::{Calls, Source};

/// The most calls listed: a long day at a busy switchboard.
const MAX_LISTED: i64 = 1_000;

/// Milliseconds since the Unix epoch of the last local midnight.
fn midnight_ms() -> i64 {
    let now = Local::now();
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(Local).earliest())
        .map_or(now.timestamp_millis(), |midnight| {
            midnight.timestamp_millis()
        })
}

impl Calls {
    /// The calls `operator` (username) answered today, the most recent first.
    pub async fn todays_calls(&self, operator: &str) -> Result<Vec<HandledCall>, sqlx::Error> {
        let source = Source::Operator(operator.to_owned()).label();
        let rows = sqlx::query(
            "SELECT c.id, c.caller_name, c.caller_number, c.dialled, MIN(e.at_ms) AS answered \
             FROM call_events e JOIN calls c ON c.id = e.call_id \
             WHERE e.source = $1 AND e.action = 'answer' AND e.command = 0 AND e.at_ms >= $2 \
               AND c.answered_at_ms IS NOT NULL \
             GROUP BY c.id, c.caller_name, c.caller_number, c.dialled \
             ORDER BY answered DESC LIMIT $3",
        )
        .bind(&source)
        .bind(midnight_ms())
        .bind(MAX_LISTED)
        .fetch_all(&self.db)
        .await?;
        let mut calls: Vec<HandledCall> = rows
            .iter()
            .map(|row| HandledCall {
                call: row.get("id"),
                caller_name: row.get("caller_name"),
                caller_number: row.get("caller_number"),
                dialled: row.get("dialled"),
                answered_at_ms: row.get("answered"),
                ended_at_ms: None,
                transferred_to: None,
            })
            .collect();
        let Some(oldest) = calls.last().map(|call| call.answered_at_ms) else {
            return Ok(calls);
        };
        // How each ended: the moves (not commands) of these calls, in order.
        let events = sqlx::query(
            "SELECT call_id, action, target, at_ms FROM call_events \
             WHERE at_ms >= $1 AND command = 0 AND call_id IN \
               (SELECT call_id FROM call_events WHERE source = $2 AND action = 'answer' \
                AND command = 0 AND at_ms >= $1) \
             ORDER BY seq",
        )
        .bind(oldest)
        .bind(&source)
        .fetch_all(&self.db)
        .await?;
        let mut endings: HashMap<CallId, (Option<i64>, Option<EntryId>)> = HashMap::new();
        for event in &events {
            let ending = endings.entry(event.get("call_id")).or_default();
            let target: Option<EntryId> = event.get("target");
            match event.get::<String, _>("action").as_str() {
                "transfer" => ending.1 = target,
                // Completing a transfer clears the call; cancelling it answers it again, and
                // a target who did not answer sends it back.
                "answer" | "recall" => ending.1 = None,
                "blind_transfer" => *ending = (Some(event.get("at_ms")), target),
                "clear" => ending.0 = Some(event.get("at_ms")),
                _ => {}
            }
        }
        for call in &mut calls {
            if let Some((ended, target)) = endings.get(&call.call) {
                call.ended_at_ms = *ended;
                call.transferred_to = ended
                    .and(*target)
                    .map(|entry| self.directory.name_of(entry));
            }
        }
        Ok(calls)
    }
}
