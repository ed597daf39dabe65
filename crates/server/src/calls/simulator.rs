//! The demo's simulated exchange: queues calls from colleagues and outside numbers now and
//! then (not while the switchboard is closed), and lets callers who waited too long hang up.

use std::{sync::Arc, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sqlx::{AnyPool, Row};
use switchboard_protocol::{CallAction, CallState, NewCall, UserId};

use super::{Calls, Source};
use crate::state::AppState;

/// Outside callers: (name as the network reports it, number).
const OUTSIDE: [(&str, &str); 8] = [
    ("Jane Doe", "+1 555 0100"),
    ("", "+44 20 7946 0018"),
    ("Northwind Traders", "+1 555 0147"),
    ("Contoso Ltd", "+1 555 0163"),
    ("M. Okonkwo", "+234 1 555 0199"),
    ("", "+33 1 99 00 12 34"),
    ("Fabrikam Inc", "+1 555 0182"),
    ("R. Svensson", "+46 8 555 0123"),
];
/// The company's lines callers dial.
const LINES: [&str; 3] = ["+1 555 2000", "+1 555 2100", "+1 555 2200"];
/// The simulator stops queuing while this many calls wait.
const MAX_QUEUED: usize = 6;
/// A queued caller may hang up after waiting this long.
const PATIENCE_MS: i64 = 45_000;

/// An internal caller: a colleague with an account (their presence shows in the queue).
struct Colleague {
    name: String,
    number: String,
    user: UserId,
}

async fn colleagues(db: &AnyPool) -> Result<Vec<Colleague>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT d.name, d.numbers, u.id FROM directory_entries d \
         JOIN users u ON u.id = d.user_id WHERE u.password_hash IS NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let numbers: Vec<String> = serde_json::from_str(row.get("numbers")).ok()?;
            Some(Colleague {
                name: row.get("name"),
                number: numbers.into_iter().next()?,
                user: row.get("id"),
            })
        })
        .collect())
}

/// Runs the simulator until the server shuts down.
pub async fn run(state: AppState, calls_per_minute: u32) {
    let colleagues = match colleagues(&state.db).await {
        Ok(colleagues) => colleagues,
        Err(err) => {
            tracing::error!(%err, "the call simulator cannot start");
            return;
        }
    };
    let mut rng = StdRng::from_os_rng();
    let mean_ms = 60_000 / u64::from(calls_per_minute.max(1));
    loop {
        let pause = Duration::from_millis(rng.random_range(mean_ms / 2..=mean_ms * 3 / 2));
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
        abandon_some(&state.calls, &mut rng).await;
        let queued = state.calls.list().await;
        if queued
            .iter()
            .filter(|c| c.state == CallState::Queued)
            .count()
            >= MAX_QUEUED
        {
            continue;
        }
        // At night the exchange sends callers elsewhere.
        if state
            .calls
            .night_service()
            .await
            .is_ok_and(|night| night.closed)
        {
            continue;
        }
        let call = next_caller(&colleagues, &mut rng);
        if let Err(err) = state.calls.queue(call).await {
            tracing::warn!(%err, "the simulator could not queue a call");
        }
    }
}

fn next_caller(colleagues: &[Colleague], rng: &mut StdRng) -> NewCall {
    let dialled = LINES.choose(rng).copied().unwrap_or(LINES[0]).to_owned();
    match colleagues.choose(rng).filter(|_| rng.random_ratio(1, 2)) {
        Some(colleague) => NewCall {
            caller_name: colleague.name.clone(),
            caller_number: colleague.number.clone(),
            dialled,
            caller_user: Some(colleague.user),
        },
        None => {
            let (name, number) = OUTSIDE.choose(rng).copied().unwrap_or(OUTSIDE[0]);
            NewCall {
                caller_name: name.to_owned(),
                caller_number: number.to_owned(),
                dialled,
                caller_user: None,
            }
        }
    }
}

/// Callers who waited past their patience hang up, some of them.
async fn abandon_some(calls: &Arc<Calls>, rng: &mut StdRng) {
    let now = crate::clock::now_ms();
    for call in calls.list().await {
        if call.state == CallState::Queued
            && now - call.queued_at_ms > PATIENCE_MS
            && rng.random_ratio(1, 3)
        {
            // The operator may have answered it meanwhile: then the move is refused, rightly.
            let _ = calls
                .act(call.id, CallAction::Clear, Source::Telephony)
                .await;
        }
    }
}
