//! Demo bots: the demo's colleagues (accounts nobody signs in to, federated contacts aside)
//! come and go and change their presence now and then, so that the directory of the demo
//! looks like a working company.

use std::{collections::HashMap, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use switchboard_protocol::{PresenceState, UserId};

use crate::{presence::ConnId, state::AppState};

/// Session name of the bots' connections in the hub; never a real session (those are hex).
const BOT_SESSION: &str = "demo-bot";

/// States a bot picks, weighted like an ordinary office day.
const MOODS: [(PresenceState, u32); 4] = [
    (PresenceState::Available, 50),
    (PresenceState::Busy, 25),
    (PresenceState::Away, 15),
    (PresenceState::Dnd, 10),
];

/// Runs the bots until the server shuts down.
pub async fn run(state: AppState) {
    let bots: Vec<UserId> = match sqlx::query_scalar(
        "SELECT id FROM users WHERE password_hash IS NULL AND xmpp IS NULL",
    )
    .fetch_all(&state.db)
    .await
    {
        Ok(bots) => bots,
        Err(err) => {
            tracing::error!(%err, "demo bots cannot start");
            return;
        }
    };
    let mut rng = StdRng::from_os_rng();
    let mut online: HashMap<UserId, ConnId> = HashMap::new();
    // A third of the company is at work when the demo starts.
    for &bot in &bots {
        if rng.random_ratio(1, 3) {
            online.insert(bot, state.hub.open_and_join(bot, BOT_SESSION).0);
            state.hub.choose(bot, mood(&mut rng));
        }
    }
    loop {
        let pause = Duration::from_millis(rng.random_range(300..1500));
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
        let Some(&bot) = bots.choose(&mut rng) else {
            break;
        };
        match online.get(&bot) {
            Some(&conn) if rng.random_ratio(1, 4) => {
                state.hub.leave(conn);
                online.remove(&bot);
            }
            Some(_) => {
                state.hub.choose(bot, mood(&mut rng));
            }
            None => {
                online.insert(bot, state.hub.open_and_join(bot, BOT_SESSION).0);
            }
        }
    }
}

fn mood(rng: &mut impl Rng) -> PresenceState {
    MOODS
        .choose_weighted(rng, |(_, weight)| *weight)
        .map_or(PresenceState::Available, |(state, _)| *state)
}
