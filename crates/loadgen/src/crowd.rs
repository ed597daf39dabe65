//! Connections held, stepped up to 100,000 on one server: at each step the server's memory per
//! connection, the time the step took to open, what one more console's hello costs with that
//! many held, and how long a presence change takes to reach them all. Both ends live on this
//! machine, so the bench raises its own open-files limit (the server inherits it) and spreads
//! the connections over several 127.0.0.x source addresses (one address has about 28,000
//! ephemeral ports). Only 127.0.0.0/8 is spoken to; every step is bounded in time.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::Path,
    time::Duration,
};

use anyhow::Context;
use tokio::time::Instant;

use crate::{
    harness::{self, Crowd},
    report::{Figure, Goal, Section},
    server::{self, ServerProcess},
    stats::{Latency, median},
    system,
};

/// Source addresses 127.0.0.2 ..= 127.0.0.(1 + SOURCES).
const SOURCES: u8 = 8;
/// Fresh consoles opened one after another at each step to time the hello.
const HELLOS: usize = 5;
/// Open files the bench and the server need beside the held connections.
const SPARE_FILES: u64 = 1_000;

/// How the crowd grows.
#[derive(Debug, Clone)]
pub struct CrowdPlan {
    /// Connections held at each step, increasing.
    pub steps: Vec<usize>,
    /// Users the connections belong to (each holds up to steps.last() / users).
    pub users: usize,
    /// Connections opened at once.
    pub concurrency: usize,
    /// Presence changes fanned out at each step.
    pub changes: usize,
}

/// What one step measured.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Connections held after the step.
    pub held: usize,
    /// Seconds the step's new connections took to open, and how many opened a second.
    pub open_secs: f64,
    pub opened_per_sec: f64,
    /// Server resident memory now, and what it gained per held connection since before the
    /// first one.
    pub rss_mib: f64,
    pub kib_per_connection: f64,
    /// One more console's connect + hello with this many held (median), and its bytes.
    pub hello_ms: f64,
    /// A presence change until every held connection had it: median, max.
    pub fan_out_p50_ms: f64,
    pub fan_out_max_ms: f64,
    /// Changes that did not reach every connection within 10 s.
    pub incomplete: usize,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct CrowdRun {
    pub steps: Vec<Step>,
    /// Connections that could not be opened, and the first reason.
    pub failed: usize,
    pub first_error: Option<String>,
}

/// The source addresses connections are spread over.
pub fn sources() -> Vec<IpAddr> {
    (2..2 + SOURCES)
        .map(|host| IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
        .collect()
}

/// Raises the open-files limit for the largest step and returns the steps that fit under it:
/// where it cannot be raised enough (the hard limit, without the right to raise it), the steps
/// above it give way to one step at the limit, and a sentence says so.
pub fn fitting_steps(steps: &[usize]) -> anyhow::Result<(Vec<usize>, Option<String>)> {
    let largest = steps.iter().copied().max().unwrap_or(0) as u64;
    let limit = system::raise_open_files_limit(largest + SPARE_FILES)?;
    let most = limit.saturating_sub(SPARE_FILES) as usize;
    let mut fitting: Vec<usize> = steps.iter().copied().filter(|&s| s <= most).collect();
    if fitting.len() == steps.len() {
        return Ok((fitting, None));
    }
    if !fitting.contains(&most) {
        fitting.push(most);
    }
    let why = format!(
        "this machine allows a process {limit} open files and the bench may not raise it, so \
         the steps above {most} connections could not be run (each end of a connection is a \
         file: the server's and the bench's)"
    );
    eprintln!("bench: {why}");
    Ok((fitting, Some(why)))
}

/// Times `HELLOS` fresh consoles' connect + hello, one after another, and closes them.
async fn hello_ms(addr: std::net::SocketAddr, peer: &harness::Peer) -> anyhow::Result<f64> {
    let mut micros = Vec::with_capacity(HELLOS);
    for _ in 0..HELLOS {
        let started = Instant::now();
        let socket = harness::open(addr, peer).await?;
        micros.push(started.elapsed().as_micros() as u64);
        drop(socket);
    }
    Ok(crate::stats::ms(Latency::of_micros(&mut micros).p50))
}

/// Grows a crowd on a fresh server through `steps` (those that fit the open-files limit).
pub async fn run(server_bin: &Path, plan: &CrowdPlan, steps: &[usize]) -> anyhow::Result<CrowdRun> {
    let largest = steps.iter().copied().max().context("no step fits")?;
    let dir = tempfile::tempdir()?;
    let per_user = largest.div_ceil(plan.users.max(1));
    let config = server::bench_config(dir.path(), 100, per_user + HELLOS + 1)?;
    let users = (plan.users + 1).to_string();
    let config_arg = config.display().to_string();
    let args = ["--bench-users", &users, "--config", &config_arg];
    let mut process =
        ServerProcess::launch(server_bin.to_path_buf(), dir.path().join("data"), &args).await?;
    let addr = process.addr;
    let pid = process.pid().context("the server is not running")?;
    let ids = process.bench_user_ids().await?;
    let peers = harness::sign_in_bench_users(addr, &ids).await?;
    let (changer, watchers) = peers.split_first().context("no bench users")?;

    let mut crowd = Crowd::new(addr, changer, plan.concurrency).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = system::rss_kib(pid)?;
    let sources = sources();
    let mut run = CrowdRun::default();
    for &target in steps {
        let more = target.saturating_sub(crowd.held());
        let limit = Duration::from_secs(30 + more as u64 / 500);
        let opening = crowd.open(&[addr], &sources, watchers, more, limit).await?;
        run.failed += opening.failed;
        // Let the joins' presence fan-out settle before memory and changes are measured.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = system::rss_kib(pid)?;
        let held = crowd.held();
        let hello_ms = hello_ms(addr, &watchers[0]).await?;
        let (fan_out, incomplete) = crowd.fan_out(plan.changes, Duration::from_secs(10)).await?;
        let mut fan_out_sorted = fan_out.clone();
        fan_out_sorted.sort_by(f64::total_cmp);
        run.steps.push(Step {
            held,
            open_secs: opening.secs,
            opened_per_sec: opening.opened as f64 / opening.secs.max(1e-9),
            rss_mib: rss as f64 / 1024.0,
            kib_per_connection: rss.saturating_sub(rss_before) as f64 / held.max(1) as f64,
            hello_ms,
            fan_out_p50_ms: median(&fan_out),
            fan_out_max_ms: fan_out_sorted.last().copied().unwrap_or(f64::NAN),
            incomplete,
        });
        println!("crowd: {:?}", run.steps.last());
        if opening.failed > 0 {
            break;
        }
    }
    run.first_error = crowd.first_error();
    crowd.close().await;
    process.kill().await.context("stopping the server")?;
    Ok(run)
}

/// The crowd's figures (Switchboard only).
pub fn section(plan: &CrowdPlan, steps: &[usize], cut: Option<&str>, runs: &[CrowdRun]) -> Section {
    type Take = fn(&Step) -> f64;
    let rows: [(&str, &str, Option<Goal>, Take); 7] = [
        ("opened a second", "conns/s", None, |s| s.opened_per_sec),
        ("server resident memory", "MiB", None, |s| s.rss_mib),
        (
            "server memory per connection",
            "KiB",
            Some(Goal::Below(12.0)),
            |s| s.kib_per_connection,
        ),
        ("one more console: connect + hello", "ms", None, |s| {
            s.hello_ms
        }),
        ("presence change → all held: median", "ms", None, |s| {
            s.fan_out_p50_ms
        }),
        ("presence change → all held: max", "ms", None, |s| {
            s.fan_out_max_ms
        }),
        ("changes that did not reach all", "count", None, |s| {
            s.incomplete as f64
        }),
    ];
    let mut figures = Vec::new();
    for (at, &held) in steps.iter().enumerate() {
        for (name, unit, goal, take) in rows {
            let mut figure = Figure::new(format!("{held} held: {name}"), unit, goal);
            figure.switchboard = runs
                .iter()
                .map(|run| run.steps.get(at).map_or(f64::NAN, take))
                .collect();
            figures.push(figure);
        }
    }
    let mut failed = Figure::new("connections that could not be opened", "count", None);
    failed.switchboard = runs.iter().map(|run| run.failed as f64).collect();
    figures.push(failed);
    Section {
        title: "Connections to 100,000".into(),
        about: format!(
            "One server (SQLite) holds consoles stepped to {} ({} at once being opened, over \
             {} users, from {} source addresses 127.0.0.x); each console says hello and reads \
             every frame. At each step: memory (VmRSS gained since before the first \
             connection, per connection), a fresh console's connect + hello (median of {}), \
             and {} presence changes fanned out to every held console.{}",
            steps.last().copied().unwrap_or(0),
            plan.concurrency,
            plan.users,
            SOURCES,
            HELLOS,
            plan.changes,
            cut.map(|why| format!(
                " Planned up to {}, but {why}.",
                plan.steps.iter().max().unwrap_or(&0)
            ))
            .unwrap_or_default()
        ),
        figures,
    }
}
