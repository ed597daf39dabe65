//! The Asterisk benchmark: how long an operator's click takes to be confirmed through a real
//! Asterisk (answer, hold, transfer), and what the busy lamp field costs the server when every
//! extension of a large directory changes its line state each second while calls wait. Only
//! 127.0.0.1 is spoken to; every loop is bounded in count and time.

use std::{path::Path, time::Duration};

use anyhow::Context;
use futures_util::StreamExt;
use switchboard_protocol::{Call, CallState, ClientFrame, ServerFrame};
use tokio::time::Instant;

use crate::{
    asterisk::{self, Asterisk},
    client::{self, Connection},
    server::ServerProcess,
    stats::Latency,
    system::cpu_seconds,
};

/// How the benchmark runs.
#[derive(Debug, Clone)]
pub struct PbxPlan {
    /// Calls answered, held, retrieved and transferred one after another.
    pub calls: usize,
    /// Calls waiting in the queue during the lamp storm.
    pub queued: usize,
    /// Extensions (bench users' entries) whose lamps change.
    pub extensions: u32,
    /// Seconds of the lamp storm (each extension changes once a second).
    pub seconds: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct PbxRun {
    /// Click → confirmed, one sample per call.
    pub answer: Latency,
    pub hold: Latency,
    pub transfer: Latency,
    /// Lamp changes Asterisk was told of during the storm, per second.
    pub lamp_changes_per_s: f64,
    /// Lamps frames the operator's console received per second during the storm.
    pub lamp_frames_per_s: f64,
    /// Server CPU during the storm, percent of one core.
    pub storm_cpu_percent: f64,
}

/// The next call frame that moved (pending versions skipped) within 10 s.
async fn moved(console: &mut Connection) -> anyhow::Result<Call> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match console.recv(left).await?.context("the server closed")? {
            ServerFrame::Call(call) if call.pending.is_none() => return Ok(call),
            ServerFrame::Error { message, .. } => anyhow::bail!("refused: {message}"),
            _ => {}
        }
    }
}

/// Time between two commands: an operator's allowance of call actions is 5 per second.
const PACE: Duration = Duration::from_millis(210);

/// Sends `command` (at most one per [`PACE`]) and returns the µs until the call is confirmed
/// in `state`.
async fn timed(
    console: &mut Connection,
    command: ClientFrame,
    state: CallState,
) -> anyhow::Result<u64> {
    tokio::time::sleep(PACE).await;
    let start = Instant::now();
    console.send(&command).await?;
    let call = moved(console).await?;
    anyhow::ensure!(
        call.state == state,
        "call {} is {:?}, not {state:?}",
        call.id,
        call.state
    );
    Ok(u64::try_from(start.elapsed().as_micros())?)
}

/// One run: a fresh Asterisk and a fresh server (new database).
pub async fn run(server_bin: &Path, plan: &PbxPlan) -> anyhow::Result<PbxRun> {
    let pbx = Asterisk::start().await;
    let dir = tempfile::tempdir()?;
    let password = dir.path().join("ari-password");
    std::fs::write(&password, asterisk::PASSWORD)?;
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[pbx.asterisk]\nurl = \"{}\"\nuser = \"{}\"\npassword_file = \"{}\"\n\
             context = \"internal\"\ndevice = \"Stasis:{{extension}}\"\n\
             [pbx.asterisk.operators]\noperator = \"Local/200@operators\"\n",
            pbx.url(),
            asterisk::USER,
            password.display()
        ),
    )?;
    let extensions = plan.extensions.to_string();
    let config_arg = config.to_string_lossy().into_owned();
    let args = [
        "--demo",
        "--demo-bots",
        "false",
        "--simulator-calls-per-minute",
        "0",
        "--bench-users",
        &extensions,
        "--config",
        &config_arg,
    ];
    let server =
        ServerProcess::launch(server_bin.to_path_buf(), dir.path().join("data"), &args).await?;
    let pid = server.pid().context("the server is not running")?;
    let cookie = client::sign_in(server.addr, "operator", "operator").await?;
    let (mut console, frames) = Connection::open(server.addr, &cookie).await?;
    let alice = frames
        .iter()
        .find_map(|frame| match frame {
            ServerFrame::DirectorySnapshot { entries, .. } => entries
                .iter()
                .find(|entry| entry.name == "Alice Archer")
                .map(|entry| entry.id),
            _ => None,
        })
        .context("no Alice Archer in the directory")?;
    let mut available = frames
        .iter()
        .any(|frame| matches!(frame, ServerFrame::Telephony { available: true }));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !available {
        let left = deadline.saturating_duration_since(Instant::now());
        available = matches!(
            console.recv(left).await?,
            Some(ServerFrame::Telephony { available: true })
        );
    }

    let mut figures = PbxRun::default();
    let (mut answer, mut hold, mut transfer) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..plan.calls {
        pbx.call("2000", &format!("Bench Caller <555{n:04}>")).await;
        let call = moved(&mut console).await?;
        let id = call.id;
        let take = ClientFrame::AnswerCall { call: id };
        answer.push(timed(&mut console, take.clone(), CallState::Active).await?);
        let put_on_hold = ClientFrame::HoldCall { call: id };
        hold.push(timed(&mut console, put_on_hold, CallState::Held).await?);
        timed(&mut console, take.clone(), CallState::Active).await?;
        let to_alice = ClientFrame::TransferCall {
            call: id,
            target: alice,
            blind: false,
        };
        transfer.push(timed(&mut console, to_alice, CallState::Transferring).await?);
        // Cancel, then release: the next call starts from a quiet exchange.
        timed(&mut console, take, CallState::Active).await?;
        let release = ClientFrame::ClearCall { call: id };
        timed(&mut console, release, CallState::Cleared).await?;
    }
    figures.answer = Latency::of_micros(&mut answer);
    figures.hold = Latency::of_micros(&mut hold);
    figures.transfer = Latency::of_micros(&mut transfer);

    // The storm: calls wait while every extension's lamp changes once a second.
    for n in 0..plan.queued {
        pbx.call("2100", &format!("Waiting Caller <556{n:04}>"))
            .await;
    }
    let queued_by = Instant::now() + Duration::from_secs(30);
    let mut queued = 0;
    while queued < plan.queued && Instant::now() < queued_by {
        if let Some(ServerFrame::Call(call)) = console.recv(Duration::from_secs(10)).await?
            && call.state == CallState::Queued
        {
            queued += 1;
        }
    }
    anyhow::ensure!(
        queued == plan.queued,
        "only {queued} of {} calls queued",
        plan.queued
    );
    let cpu_before = cpu_seconds(pid)?;
    let start = Instant::now();
    let ari = pbx.url();
    let storm = lamp_storm(&ari, plan.extensions, plan.seconds);
    let watch = async {
        let mut frames = 0u64;
        let end = start + Duration::from_secs(plan.seconds);
        while Instant::now() < end {
            let left = end.saturating_duration_since(Instant::now());
            match console.recv(left).await {
                Ok(Some(ServerFrame::Lamps { .. })) => frames += 1,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        frames
    };
    let (changes, frames) = tokio::join!(storm, watch);
    let changes = changes?;
    let elapsed = start.elapsed().as_secs_f64();
    figures.storm_cpu_percent = (cpu_seconds(pid)? - cpu_before) / elapsed * 100.0;
    figures.lamp_changes_per_s = changes as f64 / elapsed;
    figures.lamp_frames_per_s = frames as f64 / elapsed;
    drop(server);
    drop(pbx);
    Ok(figures)
}

/// Each of `extensions` devices `Stasis:100001`… changes its state once a second for `seconds`
/// (all through ARI, 32 requests at a time); returns the changes Asterisk accepted.
pub async fn lamp_storm(ari: &str, extensions: u32, seconds: u64) -> anyhow::Result<u64> {
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut changes = 0u64;
    for second in 0..seconds {
        let state = if second % 2 == 0 {
            "INUSE"
        } else {
            "NOT_INUSE"
        };
        tokio::time::sleep_until(start + Duration::from_secs(second)).await;
        let accepted: Vec<bool> = futures_util::stream::iter(1..=extensions)
            .map(|n| {
                let url = format!(
                    "{ari}/ari/deviceStates/Stasis:{}?deviceState={state}",
                    100_000 + n
                );
                let request = http
                    .put(url)
                    .basic_auth(asterisk::USER, Some(asterisk::PASSWORD));
                async move { request.send().await.is_ok_and(|r| r.status().is_success()) }
            })
            .buffer_unordered(32)
            .collect()
            .await;
        changes += accepted.into_iter().filter(|ok| *ok).count() as u64;
    }
    anyhow::ensure!(changes > 0, "Asterisk accepted no lamp change at {ari}");
    Ok(changes)
}
