//! The federation benchmark: chat across the XMPP bridge (console → XMPP user and back)
//! against the same chat console → console on the same server, and one XMPP user's presence
//! changes fanned out to many consoles. The XMPP side is Debian's Prosody and scripted slixmpp
//! users ([`crate::xmpp`]). Only 127.0.0.1 is spoken to; every loop is bounded in time.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use rand::{SeedableRng, rngs::StdRng};
use switchboard_protocol::{ClientFrame, PresenceState, ServerFrame, UserId};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, Connection},
    console::BENCH_PASSWORD,
    harness::{self, ChatPlan, ChatRun, PRESENCE},
    stats::Latency,
    xmpp::{Federation, XmppClient, switchboard_user},
};

/// How the benchmark runs.
#[derive(Debug, Clone)]
pub struct XmppPlan {
    /// Pairs (a console and an XMPP user; for the comparison, two consoles).
    pub pairs: u32,
    /// Messages per second offered in each direction, in total.
    pub rate: u32,
    /// Seconds measured per direction.
    pub seconds: u64,
    /// Consoles that watch one XMPP user's presence.
    pub watchers: u32,
    /// Presence changes that XMPP user makes, 500 ms apart.
    pub changes: u32,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct XmppRun {
    /// Console → console on the same server: send → the recipient's console has it.
    pub local: ChatRun,
    /// Console → XMPP user: send → the XMPP client has it.
    pub to_xmpp: Latency,
    pub to_xmpp_per_sec: f64,
    /// XMPP user → console: sent by the XMPP client → the console has it.
    pub from_xmpp: Latency,
    pub from_xmpp_per_sec: f64,
    /// Undelivered after the drain, both directions.
    pub undelivered: u64,
    /// One XMPP user's presence change → each watching console has it.
    pub fanout: Latency,
}

/// Time left after a direction's window for late deliveries.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs the benchmark once against a fresh server and Prosody.
pub async fn run(server_bin: &std::path::Path, plan: &XmppPlan) -> anyhow::Result<XmppRun> {
    let consoles = 2 * plan.pairs + plan.watchers;
    let federation = Federation::start(server_bin, consoles, plan.pairs).await?;
    let addr = federation.server.addr;
    let ids = federation.server.bench_user_ids().await?;
    let peers = harness::sign_in_bench_users(addr, &ids).await?;
    let pairs = plan.pairs as usize;

    let local = harness::chat(
        &[addr],
        &peers[..2 * pairs],
        &ChatPlan {
            rate: plan.rate,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(plan.seconds),
            drain: DRAIN,
        },
    )
    .await?;

    let mut run = XmppRun {
        local,
        ..XmppRun::default()
    };
    let mut clients = Vec::with_capacity(pairs);
    for n in 1..=pairs {
        clients.push(
            XmppClient::connect(federation.prosody.c2s_port, &format!("x{n}"))
                .await
                .map_err(anyhow::Error::msg)?,
        );
    }
    let epoch = Instant::now();
    let period = Duration::from_secs_f64(plan.pairs as f64 / f64::from(plan.rate.max(1)));
    let until = epoch + Duration::from_secs(plan.seconds);
    let samples = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let mut tasks = Vec::new();
    for (n, client) in clients.into_iter().enumerate() {
        let cookie = client::sign_in(addr, &format!("bench{}", n + 1), BENCH_PASSWORD).await?;
        let (console, _) = Connection::open(addr, &cookie).await?;
        let contact = federation.contacts[n];
        let me = switchboard_user(&format!("bench{}", n + 1));
        tasks.push(tokio::spawn(pair(
            Pair {
                console,
                client,
                contact,
                me,
            },
            epoch,
            period,
            until,
            samples.clone(),
        )));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await??;
    }
    let (mut to_xmpp, mut from_xmpp) = std::mem::take(&mut *samples.lock().unwrap());
    let seconds = plan.seconds as f64;
    run.to_xmpp_per_sec = to_xmpp.len() as f64 / seconds;
    run.from_xmpp_per_sec = from_xmpp.len() as f64 / seconds;
    run.undelivered = sent.saturating_sub((to_xmpp.len() + from_xmpp.len()) as u64);
    run.to_xmpp = Latency::of_micros(&mut to_xmpp);
    run.from_xmpp = Latency::of_micros(&mut from_xmpp);
    run.fanout = fanout(&federation, &peers[2 * pairs..], plan).await?;
    Ok(run)
}

struct Pair {
    console: Connection,
    client: XmppClient,
    contact: UserId,
    me: String,
}

/// Microseconds since `epoch`, the body of every measured message.
fn stamp(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// One pair: the console and the XMPP user write to each other in turns on a fixed period
/// until `until`, then read until the drain ends; every arrival is a latency sample. Returns
/// the messages sent.
async fn pair(
    mut pair: Pair,
    epoch: Instant,
    period: Duration,
    until: Instant,
    samples: Arc<Mutex<(Vec<u64>, Vec<u64>)>>,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::from_os_rng();
    let mut tick = tokio::time::interval(period / 2);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sent = 0u64;
    let end = until + DRAIN;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = tick.tick(), if Instant::now() < until => {
                sent += 1;
                let body = stamp(epoch).to_string();
                if sent.is_multiple_of(2) {
                    let frame = ClientFrame::ChatSend {
                        client_msg_id: client::message_id(&mut rng),
                        to: pair.contact,
                        body,
                    };
                    pair.console.send(&frame).await?;
                } else {
                    pair.client.say(&pair.me, &format!("m{sent}"), &body).await;
                }
            }
            frame = pair.console.recv(Duration::from_secs(3600)) => match frame? {
                Some(ServerFrame::ChatMessage(message)) if message.from == pair.contact => {
                    if let Ok(at) = message.body.parse::<u64>() {
                        samples.lock().unwrap().1.push(stamp(epoch).saturating_sub(at));
                    }
                }
                Some(_) => {}
                None => anyhow::bail!("the console's socket closed"),
            },
            message = pair.client.next_message(Duration::from_secs(3600)) => {
                if let Some(at) = message.and_then(|m| m.body).and_then(|b| b.parse::<u64>().ok()) {
                    samples.lock().unwrap().0.push(stamp(epoch).saturating_sub(at));
                }
            }
        }
    }
    pair.client.quit().await;
    Ok(sent)
}

/// `watchers` consoles watch XMPP user x1 change presence `plan.changes` times; a sample per
/// console and change: the change written to x1's client → the console has it.
async fn fanout(
    federation: &Federation,
    watchers: &[harness::Peer],
    plan: &XmppPlan,
) -> anyhow::Result<Latency> {
    let addr = federation.server.addr;
    let contact = federation.contacts[0];
    let mut sockets = Vec::with_capacity(watchers.len());
    for chunk in watchers.chunks(64) {
        let opening = chunk.iter().map(|peer| harness::open(addr, peer));
        for socket in futures_util::future::join_all(opening).await {
            sockets.push(socket?);
        }
    }
    let mut x1 = XmppClient::connect(federation.prosody.c2s_port, "x1")
        .await
        .map_err(anyhow::Error::msg)?;
    // Each change: its state and when it was written (µs since `epoch`).
    let epoch = Instant::now();
    let changes: Arc<Mutex<Vec<(PresenceState, u64)>>> = Arc::default();
    let end = epoch + Duration::from_millis(500) * (plan.changes + 1) + DRAIN;
    let mut readers = Vec::with_capacity(sockets.len());
    for mut socket in sockets {
        let changes = changes.clone();
        readers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while let Ok(Some(Ok(message))) = tokio::time::timeout_at(end, socket.next()).await {
                let Message::Text(text) = message else {
                    continue;
                };
                if !text.starts_with(PRESENCE) {
                    continue;
                }
                if let Ok(ServerFrame::Presence(update)) = ServerFrame::decode(&text)
                    && update.user == contact
                {
                    let now = stamp(epoch);
                    let changes = changes.lock().unwrap();
                    if let Some(&(_, at)) =
                        changes.last().filter(|(state, _)| *state == update.state)
                    {
                        samples.push(now.saturating_sub(at));
                    }
                }
            }
            samples
        }));
    }
    for n in 0..plan.changes {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (show, state) = if n.is_multiple_of(2) {
            (Some("dnd"), PresenceState::Dnd)
        } else {
            (None, PresenceState::Available)
        };
        changes.lock().unwrap().push((state, stamp(epoch)));
        x1.presence(show).await;
    }
    let mut samples = Vec::new();
    for reader in readers {
        samples.extend(reader.await?);
    }
    x1.quit().await;
    Ok(Latency::of_micros(&mut samples))
}
