//! The reconnect storm: consoles held on one server, the server SIGKILLed and started again on
//! the same port and data, and every console reconnecting as the console does (its backoff,
//! `switchboard_protocol::backoff`, first wait included) until its hello snapshots are all in;
//! meanwhile pairs chat through the restarted server. Only 127.0.0.1 is spoken to; every
//! console gives up after the plan's limit.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use futures_util::StreamExt;
use switchboard_protocol::backoff::Backoff;
use tokio::{sync::Semaphore, time::Instant};

use crate::{
    harness::{self, ChatPlan, ChatRun, Peer},
    server::{self, ServerProcess},
    stats::Latency,
};

/// How the storm runs.
#[derive(Debug, Clone)]
pub struct StormPlan {
    /// Consoles held, then reconnecting.
    pub consoles: usize,
    /// Users they belong to (each holds consoles / users, within the connect allowance).
    pub users: usize,
    /// Pairs chatting during the storm, and their messages/s in total.
    pub chat_pairs: usize,
    pub chat_rate: u32,
    /// Longest a console keeps trying.
    pub limit: Duration,
}

/// What one storm measured.
#[derive(Debug, Clone, Default)]
pub struct StormRun {
    /// Consoles back with their snapshots within the limit.
    pub back: usize,
    /// From the kill: the server ready again, half of the consoles back, all of them back.
    pub ready_secs: f64,
    pub half_back_secs: f64,
    pub all_back_secs: f64,
    /// Connection attempts that failed (refused, closed, timed out) before succeeding.
    pub failed_attempts: u64,
    /// The chat during the storm (connections opened once the server is ready).
    pub chat: ChatRun,
}

/// One console after the kill: waits as the console does, reconnects until its hello is done;
/// returns the time from `killed` to its hello done, with its socket (`None` past the limit).
async fn reconnect(
    addr: std::net::SocketAddr,
    peer: Peer,
    killed: Instant,
    limit: Duration,
    failed: Arc<AtomicU64>,
) -> Option<(Duration, harness::Socket)> {
    let mut backoff = Backoff::default();
    loop {
        let delay = backoff.next_delay_ms(rand::random::<f64>());
        tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
        if killed.elapsed() > limit {
            return None;
        }
        match harness::open(addr, &peer).await {
            Ok(socket) => return Some((killed.elapsed(), socket)),
            Err(_) => {
                failed.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Runs one storm against a fresh server.
pub async fn run(server_bin: &Path, plan: &StormPlan) -> anyhow::Result<StormRun> {
    let dir = tempfile::tempdir()?;
    let per_user = plan.consoles.div_ceil(plan.users.max(1));
    let config = server::bench_config(dir.path(), plan.chat_rate, per_user + 1)?;
    let users = (plan.users + 2 * plan.chat_pairs).to_string();
    let config_arg = config.display().to_string();
    let args = ["--bench-users", &users, "--config", &config_arg];
    let data = dir.path().join("data");
    let mut process = ServerProcess::launch(server_bin.to_path_buf(), data, &args).await?;
    let addr = process.addr;
    let ids = process.bench_user_ids().await?;
    // Sessions live in the database: the cookies stay good across the restart.
    let peers = harness::sign_in_bench_users(addr, &ids).await?;
    let (watchers, chatters) = peers.split_at(plan.users);

    let gate = Arc::new(Semaphore::new(200));
    let mut opening = Vec::with_capacity(plan.consoles);
    for n in 0..plan.consoles {
        let peer = watchers[n % watchers.len()].clone();
        let gate = gate.clone();
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            harness::open(addr, &peer)
                .await
                .ok()
                .map(|socket| (peer, socket))
        }));
    }
    let mut held = Vec::with_capacity(plan.consoles);
    for task in opening {
        held.extend(task.await?);
    }
    anyhow::ensure!(
        held.len() == plan.consoles,
        "opened {} of {} consoles",
        held.len(),
        plan.consoles
    );

    process.kill().await?;
    let killed = Instant::now();
    let failed = Arc::new(AtomicU64::new(0));
    let mut consoles = Vec::with_capacity(held.len());
    for (peer, mut socket) in held {
        let failed = failed.clone();
        let limit = plan.limit;
        consoles.push(tokio::spawn(async move {
            // The console notices the loss when its socket ends.
            while let Some(Ok(_)) = socket.next().await {}
            drop(socket);
            reconnect(addr, peer, killed, limit, failed).await
        }));
    }
    process.start().await?;
    let ready_secs = killed.elapsed().as_secs_f64();
    let chat_plan = ChatPlan {
        rate: plan.chat_rate,
        warmup: Duration::from_millis(500),
        measure: Duration::from_secs(5),
        drain: Duration::from_secs(5),
    };
    let chat = harness::chat(&[addr], chatters, &chat_plan).await?;
    let mut micros = Vec::with_capacity(consoles.len());
    let mut sockets = Vec::with_capacity(consoles.len());
    for console in consoles {
        if let Some((back, socket)) = console.await? {
            micros.push(back.as_micros() as u64);
            sockets.push(socket);
        }
    }
    let back = Latency::of_micros(&mut micros);
    let run = StormRun {
        back: back.count,
        ready_secs,
        half_back_secs: if back.count > 0 {
            back.p50.as_secs_f64()
        } else {
            f64::NAN
        },
        all_back_secs: if back.count == plan.consoles {
            back.max.as_secs_f64()
        } else {
            f64::NAN
        },
        failed_attempts: failed.load(Ordering::Acquire),
        chat,
    };
    drop(sockets);
    process.kill().await.context("stopping the server")?;
    Ok(run)
}
