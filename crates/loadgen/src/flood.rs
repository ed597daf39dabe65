//! The presence flood benchmark: other users' chat acknowledgement latency while the server
//! is quiet, then, on the same server, while one user floods `set_presence` over many
//! sockets. The server closes a socket that goes past its allowances (`error` frames, then
//! 1008): the flooder reconnects it (bounded) and floods on through the measured window. Only
//! 127.0.0.1 is spoken to; every loop is bounded in count and time.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ClientFrame, PresenceState};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    harness::{self, ChatPlan, ChatRun, Peer},
    server::ServerProcess,
};

/// How the benchmark runs.
#[derive(Debug, Clone)]
pub struct FloodPlan {
    /// Chatting pairs whose latency is measured (one connection per user).
    pub pairs: usize,
    /// The chat, measured once quiet and once under the flood.
    pub chat: ChatPlan,
    /// Sockets the flooding user opens.
    pub sockets: usize,
    /// `set_presence` frames per second the flooder offers over all its sockets.
    pub rate: u32,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct FloodRun {
    pub idle: ChatRun,
    pub flood: ChatRun,
    /// Presence frames the flooder wrote.
    pub sent: u64,
    /// `error` frames it got back.
    pub errors: u64,
    /// Its sockets the server closed.
    pub closed: u64,
    /// Its sockets opened again after a close (or a refused opening).
    pub reopened: u64,
    /// Openings the server refused (too many connections, connecting too often).
    pub refused: u64,
}

impl FloodRun {
    /// p99 acknowledgement latency under the flood over that when quiet.
    pub fn p99_ratio(&self) -> f64 {
        self.flood.ack.p99.as_secs_f64() / self.idle.ack.p99.as_secs_f64()
    }
}

/// The flooder's totals over all its sockets.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    errors: AtomicU64,
    closed: AtomicU64,
    reopened: AtomicU64,
    refused: AtomicU64,
}

/// Wait before a closed or refused socket is opened again.
const REOPEN_AFTER: Duration = Duration::from_millis(250);
/// Openings of one flooding socket, at most (with REOPEN_AFTER between them, the time bound
/// comes first).
const MAX_OPENINGS: u32 = 1_000;

/// One flooding socket: writes `set_presence` every `period` until `until`, reading what
/// comes back; opens the socket again whenever the server closes it or refuses it.
async fn flood_socket(
    addr: std::net::SocketAddr,
    peer: Peer,
    (period, until): (Duration, Instant),
    counts: Arc<Counts>,
) {
    for attempt in 0..MAX_OPENINGS {
        if Instant::now() >= until {
            return;
        }
        if attempt > 0 {
            counts.reopened.fetch_add(1, Ordering::AcqRel);
        }
        let socket = match harness::open(addr, &peer).await {
            Ok(socket) => socket,
            Err(_) => {
                counts.refused.fetch_add(1, Ordering::AcqRel);
                tokio::time::sleep(REOPEN_AFTER).await;
                continue;
            }
        };
        let (mut sink, mut stream) = socket.split();
        let mut ticks = tokio::time::interval(period);
        // A flood has no schedule to catch up with.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut state = 0;
        loop {
            tokio::select! {
                tick = ticks.tick() => {
                    if tick >= until {
                        return;
                    }
                    state = (state + 1) % PresenceState::SELECTABLE.len();
                    let frame = ClientFrame::SetPresence {
                        state: PresenceState::SELECTABLE[state],
                    };
                    if sink.send(Message::text(frame.encode())).await.is_err() {
                        break;
                    }
                    counts.sent.fetch_add(1, Ordering::AcqRel);
                }
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if text.starts_with(harness::ERROR) {
                            counts.errors.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        counts.closed.fetch_add(1, Ordering::AcqRel);
                        break;
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// One run on a fresh server: the pairs chat as `plan.chat` says while nothing else happens,
/// then again while the next bench user floods presence over `plan.sockets` sockets (started
/// a second before the chat and stopped after it).
pub async fn run(server: &Path, plan: &FloodPlan) -> anyhow::Result<FloodRun> {
    let data_dir = std::env::temp_dir().join(format!("switchboard-flood-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    // A chat allowance above what the pairs send, so that only the flood slows them down;
    // every other allowance is the server's default, the one a flooder meets.
    let config = data_dir.join("flood.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmessages_per_second = {rate}\nmessage_burst = {rate}\n",
            rate = plan.chat.rate.max(1)
        ),
    )?;
    let users = (2 * plan.pairs + 1).to_string();
    let config_arg = config.display().to_string();
    let mut process = ServerProcess::launch(
        server.to_path_buf(),
        data_dir.clone(),
        &["--bench-users", &users, "--config", &config_arg],
    )
    .await?;
    let addr = process.addr;
    let ids = process.bench_user_ids().await?;
    let peers = harness::sign_in_bench_users(addr, &ids).await?;
    let (chatters, flooder) = peers.split_at(2 * plan.pairs);
    let flooder = flooder
        .first()
        .ok_or_else(|| anyhow::anyhow!("no flooding user"))?;

    let idle = harness::chat(&[addr], chatters, &plan.chat).await?;
    // Let the quiet run's sockets go before the flood starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let counts = Arc::new(Counts::default());
    let lead = Duration::from_secs(1);
    let until = Instant::now() + lead + plan.chat.warmup + plan.chat.measure;
    let period = Duration::from_secs_f64(plan.sockets as f64 / f64::from(plan.rate.max(1)));
    let flooding: Vec<_> = (0..plan.sockets)
        .map(|_| {
            let timing = (period, until);
            tokio::spawn(flood_socket(addr, flooder.clone(), timing, counts.clone()))
        })
        .collect();
    tokio::time::sleep(lead).await;
    let flood = harness::chat(&[addr], chatters, &plan.chat).await?;
    let stopping = Instant::now() + Duration::from_secs(10);
    for task in flooding {
        if tokio::time::timeout_at(stopping, task).await.is_err() {
            break;
        }
    }
    process.kill().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    let get = |count: &AtomicU64| count.load(Ordering::Acquire);
    Ok(FloodRun {
        idle,
        flood,
        sent: get(&counts.sent),
        errors: get(&counts.errors),
        closed: get(&counts.closed),
        reopened: get(&counts.reopened),
        refused: get(&counts.refused),
    })
}
