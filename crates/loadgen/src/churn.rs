//! A company's presence churn, simulated on one server: consoles held, each standing for one
//! person, while people change presence at an ordinary rate (one change per person per
//! `minutes_per_change`). Run twice per size: every console following everyone's presence (an
//! operator's console, and every console before `watch`), then every console watching the
//! people it shows (`watch` with `watched` people drawn at random from the directory). Counts
//! the presence frames the consoles receive and the server's CPU. docs/performance.md has the
//! model this checks. Only 127.0.0.0/8 is spoken to; every phase is bounded in time.

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use rand::seq::IndexedRandom;
use switchboard_protocol::{ClientFrame, PresenceState, UserId};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    crowd,
    harness::{self, PRESENCE, Peer},
    report::{Figure, Section},
    server::{self, ServerProcess},
    system,
};

/// How the churn runs.
#[derive(Debug, Clone)]
pub struct ChurnPlan {
    /// Consoles held, one size after another.
    pub sizes: Vec<usize>,
    /// People in the directory (bench users): the ones consoles watch and changers are among.
    pub people: usize,
    /// Accounts the consoles sign in as (each holds sizes.last() / accounts).
    pub accounts: usize,
    /// People each watching console shows.
    pub watched: usize,
    /// Accounts that change presence, in turn, at the company's rate.
    pub changers: usize,
    /// One change per person per this many minutes.
    pub minutes_per_change: f64,
    /// Seconds measured per phase.
    pub seconds: u64,
}

impl ChurnPlan {
    /// Presence changes a second for `consoles` people.
    pub fn rate(&self, consoles: usize) -> f64 {
        consoles as f64 / (self.minutes_per_change * 60.0)
    }
}

/// What one phase measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase {
    pub consoles: usize,
    pub changes_per_sec: f64,
    /// Presence frames all consoles received, a second and per change.
    pub frames_per_sec: f64,
    pub frames_per_change: f64,
    pub server_cpu_percent: f64,
}

/// One run: per size, everyone's presence then interest only.
#[derive(Debug, Clone, Default)]
pub struct ChurnRun {
    pub everyone: Vec<Phase>,
    pub interest: Vec<Phase>,
}

/// One console: opens and says what it watches (if it does).
async fn open(
    addr: SocketAddr,
    source: IpAddr,
    peer: &Peer,
    watch: Option<Vec<UserId>>,
) -> anyhow::Result<harness::Socket> {
    let (mut socket, _) = harness::open_measured(addr, peer, Some(source)).await?;
    if let Some(users) = watch {
        let frame = ClientFrame::Watch { users };
        socket.send(Message::text(frame.encode())).await?;
    }
    Ok(socket)
}

/// Counts the presence frames `socket` receives until told to stop.
async fn count(
    mut socket: harness::Socket,
    frames: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if text.starts_with(PRESENCE) {
                        frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// The presence states changers go through, in turn.
const STATES: [PresenceState; 2] = [PresenceState::Away, PresenceState::Available];

/// Holds `consoles` consoles (watching or not), changes presence at the plan's rate for the
/// plan's seconds, and measures.
async fn phase(
    target: &Target<'_>,
    plan: &ChurnPlan,
    consoles: usize,
    changers: &mut [Changer],
    interest: bool,
) -> anyhow::Result<Phase> {
    let frames = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(200));
    let opened = Arc::new(AtomicU64::new(0));
    let sources = crowd::sources();
    let mut tasks: Vec<JoinHandle<()>> = Vec::with_capacity(consoles);
    for n in 0..consoles {
        let peer = target.accounts[n % target.accounts.len()].clone();
        let watch = interest.then(|| {
            target
                .people
                .choose_multiple(&mut rand::rng(), plan.watched)
                .copied()
                .collect()
        });
        let (gate, opened, frames, stop) =
            (gate.clone(), opened.clone(), frames.clone(), stop.clone());
        let (addr, source) = (target.addr, sources[n % sources.len()]);
        tasks.push(tokio::spawn(async move {
            let Ok(permit) = gate.acquire_owned().await else {
                return;
            };
            let socket = open(addr, source, &peer, watch).await;
            drop(permit);
            if let Ok(socket) = socket {
                opened.fetch_add(1, Ordering::AcqRel);
                count(socket, frames, stop).await;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30 + consoles as u64 / 200);
    while (opened.load(Ordering::Acquire) as usize) < consoles && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = opened.load(Ordering::Acquire) as usize;
    anyhow::ensure!(held == consoles, "opened {held} of {consoles} consoles");
    // The joins' and watches' own frames settle before the churn.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let rate = plan.rate(consoles);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let (cpu_before, started) = (system::cpu_seconds(target.pid)?, Instant::now());
    frames.store(0, Ordering::Release);
    let end = started + Duration::from_secs(plan.seconds);
    let mut changes = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        let changer = changes % changers.len();
        let state = STATES[(changes / changers.len()) % STATES.len()];
        let frame = ClientFrame::SetPresence { state };
        changers[changer]
            .send(Message::text(frame.encode()))
            .await?;
        changes += 1;
    }
    // Frames of the last changes still on their way are counted for a second more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = frames.load(Ordering::Acquire) as f64;
    let cpu = system::cpu_seconds(target.pid)? - cpu_before;
    let secs = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let closing = Instant::now() + Duration::from_secs(10);
    for task in tasks {
        if tokio::time::timeout_at(closing, task).await.is_err() {
            break;
        }
    }
    Ok(Phase {
        consoles,
        changes_per_sec: changes as f64 / plan.seconds as f64,
        frames_per_sec: received / secs,
        frames_per_change: received / changes.max(1) as f64,
        server_cpu_percent: cpu / secs * 100.0,
    })
}

/// The sending half of a changer's connection.
type Changer = SplitSink<harness::Socket, Message>;

/// The server the phases run against, and who takes part.
struct Target<'a> {
    addr: SocketAddr,
    pid: u32,
    /// The accounts consoles sign in as.
    accounts: &'a [Peer],
    /// Everyone in the directory, by user id.
    people: &'a [UserId],
}

/// Every size, everyone's presence then interest, against one fresh server.
pub async fn run(server_bin: &Path, plan: &ChurnPlan) -> anyhow::Result<ChurnRun> {
    let largest = plan.sizes.iter().copied().max().context("no size")?;
    anyhow::ensure!(
        plan.accounts + plan.changers <= plan.people && plan.changers > 0,
        "consoles' accounts and changers are people of the directory"
    );
    let dir = tempfile::tempdir()?;
    let per_account = largest.div_ceil(plan.accounts.max(1));
    let config = server::bench_config(dir.path(), 100, per_account + 1)?;
    let people = plan.people.to_string();
    let config_arg = config.display().to_string();
    let args = ["--bench-users", &people, "--config", &config_arg];
    let mut process =
        ServerProcess::launch(server_bin.to_path_buf(), dir.path().join("data"), &args).await?;
    let addr = process.addr;
    let ids = process.bench_user_ids().await?;
    let signed_in = plan.accounts + plan.changers;
    let peers = harness::sign_in_bench_users(addr, &ids[..signed_in]).await?;
    let (accounts, changer_peers) = peers.split_at(plan.accounts);
    // Changers send through their sinks; what they receive is read and dropped.
    let mut changers = Vec::with_capacity(changer_peers.len());
    let mut drains = Vec::with_capacity(changer_peers.len());
    for peer in changer_peers {
        let (sink, mut stream) = harness::open(addr, peer).await?.split();
        changers.push(sink);
        drains.push(tokio::spawn(async move {
            while let Some(Ok(_)) = stream.next().await {}
        }));
    }
    let target = Target {
        addr,
        pid: process.pid().context("the server is not running")?,
        accounts,
        people: &ids,
    };
    let mut run = ChurnRun::default();
    for &size in &plan.sizes {
        for interest in [false, true] {
            let phase = phase(&target, plan, size, &mut changers, interest).await?;
            println!("churn (interest {interest}): {phase:?}");
            if interest {
                run.interest.push(phase);
            } else {
                run.everyone.push(phase);
            }
            // The server lets go of the phase's consoles before the next opens as many again:
            // both at once would pass the open-files limit.
            let settled = Instant::now() + Duration::from_secs(60);
            while system::open_fds(target.pid)? > (plan.changers + 1_000) as u64
                && Instant::now() < settled
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    drop(changers);
    process.kill().await.context("stopping the server")?;
    for drain in drains {
        drain.abort();
    }
    Ok(run)
}

/// The churn's figures (Switchboard only).
pub fn section(plan: &ChurnPlan, cut: Option<&str>, runs: &[ChurnRun]) -> Section {
    type Take = fn(&Phase) -> f64;
    let rows: [(&str, &str, Take); 4] = [
        ("presence changes", "changes/s", |p| p.changes_per_sec),
        ("presence frames received", "frames/s", |p| p.frames_per_sec),
        ("presence frames per change", "frames", |p| {
            p.frames_per_change
        }),
        ("server CPU", "% of a core", |p| p.server_cpu_percent),
    ];
    let mut figures = Vec::new();
    for (at, &size) in plan.sizes.iter().enumerate() {
        for (mode, pick) in [
            (
                "everyone's presence",
                (|run: &ChurnRun| &run.everyone) as fn(&ChurnRun) -> &Vec<Phase>,
            ),
            ("interest only", |run: &ChurnRun| &run.interest),
        ] {
            for (name, unit, take) in rows {
                let mut figure =
                    Figure::new(format!("{size} consoles, {mode}: {name}"), unit, None);
                figure.switchboard = runs
                    .iter()
                    .map(|run| pick(run).get(at).map_or(f64::NAN, take))
                    .collect();
                figures.push(figure);
            }
        }
    }
    Section {
        title: "A company's presence churn".into(),
        about: format!(
            "Consoles held on one server (SQLite), each standing for one person of a {}-person \
             directory (signed in as {} accounts), while {} people change presence in turn at \
             the company's rate: one change per person per {} minutes (consoles / {}). First \
             every console follows everyone's presence (an operator's console does); then \
             every console watches {} people drawn at random from the directory, as an \
             employee's console watches the rows it shows. Measured for {} s per phase: the \
             presence frames all consoles received and the server's CPU. With as many people \
             as consoles a change would reach about {} consoles; here the directory is smaller \
             than the crowd, so each change reaches consoles × {} / {} of them: the interest \
             figures are an upper bound.{}",
            plan.people,
            plan.accounts,
            plan.changers,
            plan.minutes_per_change,
            plan.minutes_per_change * 60.0,
            plan.watched,
            plan.seconds,
            plan.watched,
            plan.watched,
            plan.people,
            cut.map(|why| format!(" Sizes were cut: {why}."))
                .unwrap_or_default(),
        ),
        figures,
    }
}
