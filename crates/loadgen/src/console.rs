//! The console benchmark's side in Rust (the browser side is tests/bench): load it puts on a
//! real server while Chromium watches (a presence storm, a long conversation), and the
//! figures it measured, read back for BENCHMARKS.md. Only 127.0.0.1 is spoken to; every loop
//! is bounded in count and time.

use std::{net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use switchboard_protocol::{ClientFrame, PresenceState, ServerFrame, UserId};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, Connection},
    harness::{self, Peer},
    report::{Figure, Goal, Section},
};

/// Password of the server's `--bench-users` accounts.
pub const BENCH_PASSWORD: &str = "bench";

/// `users` change their presence `rate` times per second in total for `seconds`, each over
/// its own connection (whose incoming frames are read and dropped). Every connection is
/// open before the first change, and all start at once. Returns the changes sent.
pub async fn presence_storm(
    addr: SocketAddr,
    users: &[String],
    rate: u32,
    seconds: u64,
) -> anyhow::Result<u64> {
    anyhow::ensure!(!users.is_empty() && rate > 0, "need users and a rate");
    let mut sinks = Vec::new();
    for username in users {
        let cookie = client::sign_in(addr, username, BENCH_PASSWORD).await?;
        let peer = Peer {
            id: 0,
            cookie: Some(cookie),
        };
        let (sink, mut stream) = harness::open(addr, &peer).await?.split();
        // The storm's own echoes: read so that the server never sees this client lag.
        tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        sinks.push(sink);
    }
    let every = Duration::from_secs_f64(users.len() as f64 / f64::from(rate));
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (index, mut sink) in sinks.into_iter().enumerate() {
        // Spread over the first period, so the changes come evenly, not in bursts of all users.
        let first = start + every.mul_f64(index as f64 / users.len() as f64);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(first, every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let mut sent = 0u64;
            while tick.tick().await < end {
                let state = PresenceState::SELECTABLE[sent as usize % 4];
                let frame = ClientFrame::SetPresence { state };
                sink.send(Message::text(frame.encode())).await?;
                sent += 1;
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await??;
    }
    Ok(sent)
}

/// `from` sends `count` messages ("message 1" ... ) to `to`, keeping at most `window`
/// unacknowledged; returns once every one is acknowledged (stored).
pub async fn conversation(
    addr: SocketAddr,
    from: &str,
    to: &str,
    count: u32,
    window: u32,
) -> anyhow::Result<()> {
    let cookie = client::sign_in(addr, from, BENCH_PASSWORD).await?;
    let (mut connection, _) = Connection::open(addr, &cookie).await?;
    let to = recipient(&mut connection, to).await?;
    let wait = Duration::from_secs(30);
    let (mut sent, mut acked) = (0u32, 0u32);
    while acked < count {
        while sent < count && sent - acked < window.max(1) {
            sent += 1;
            let frame = ClientFrame::ChatSend {
                client_msg_id: format!("00000000-0000-4000-8000-{sent:012x}"),
                to,
                body: format!("message {sent}"),
            };
            connection.send(&frame).await?;
        }
        match connection.recv(wait).await?.context("the server closed")? {
            ServerFrame::ChatAck { .. } => acked += 1,
            ServerFrame::ChatNack { reason, .. } => bail!("message refused: {reason:?}"),
            _ => {}
        }
    }
    Ok(())
}

/// The user id of `username`, found with the console's own user search.
async fn recipient(connection: &mut Connection, username: &str) -> anyhow::Result<UserId> {
    connection
        .send(&ClientFrame::SearchUsers {
            query: username.into(),
        })
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(ServerFrame::UserResults { users, .. }) =
            connection.recv(Duration::from_secs(10)).await?
        {
            return users
                .into_iter()
                .find(|user| user.username == username)
                .map(|user| user.id)
                .with_context(|| format!("no user {username}"));
        }
    }
    bail!("no answer to the search for {username}")
}

/// What the browser benchmark wrote: sections of figures, each with its runs.
#[derive(Debug, Deserialize)]
pub struct Results {
    pub notes: Vec<String>,
    pub sections: Vec<ResultSection>,
}

#[derive(Debug, Deserialize)]
pub struct ResultSection {
    pub title: String,
    pub about: String,
    pub figures: Vec<ResultFigure>,
}

#[derive(Debug, Deserialize)]
pub struct ResultFigure {
    pub name: String,
    pub unit: String,
    pub runs: Vec<f64>,
    /// The figure must stay below this.
    pub below: Option<f64>,
    /// The figure must reach at least this.
    pub at_least: Option<f64>,
    /// The plain page's runs of the same figure (its limit), when it has one.
    #[serde(default)]
    pub limit: Vec<f64>,
}

impl Results {
    /// Reads the browser benchmark's results file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the console results {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("decoding the console results {}", path.display()))
    }

    /// The report's sections, with the plain page as the limit where it was measured.
    pub fn sections(&self) -> Vec<Section> {
        self.sections
            .iter()
            .map(|section| Section {
                title: section.title.clone(),
                about: section.about.clone(),
                figures: section
                    .figures
                    .iter()
                    .map(|figure| {
                        let goal = match (figure.below, figure.at_least) {
                            (Some(below), _) => Some(Goal::Below(below)),
                            (None, Some(at_least)) => Some(Goal::AtLeast(at_least)),
                            (None, None) => None,
                        };
                        let mut row = Figure::new(figure.name.clone(), figure.unit.clone(), goal);
                        row.switchboard = figure.runs.clone();
                        row.relay = figure.limit.clone();
                        row
                    })
                    .collect(),
            })
            .collect()
    }
}
