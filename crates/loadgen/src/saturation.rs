//! The chat saturation curve: the 1:1 chat of the server section with its offered load stepped
//! up (open loop), against one Switchboard node on SQLite and the relay in the same run. Per
//! step: what was acknowledged and how fast, what the server refused as busy (past what its
//! writer commits: README, "Data, backups and delivery guarantees"), the CPU of the target and of the load generator, and
//! after the step the database checked: every acknowledged message stored once. Only
//! 127.0.0.1 is spoken to; every step is bounded in time.

use std::{path::Path, time::Duration};

use anyhow::Context;
use switchboard_protocol::UserId;

use crate::{
    harness::{self, ChatPlan, ChatRun, Peer},
    relay::RelayProcess,
    report::{Figure, Goal, Section},
    server::{self, ServerProcess},
    stats::{median, ms},
    system::cpu_seconds,
};

/// How the curve is measured.
#[derive(Debug, Clone)]
pub struct SaturationPlan {
    /// Chatting pairs (one connection per user).
    pub pairs: usize,
    /// Offered loads, messages/s in total, in increasing order.
    pub steps: Vec<u32>,
    /// Seconds measured per step (after one second of warm-up).
    pub seconds: u64,
}

impl SaturationPlan {
    fn chat(&self, rate: u32) -> ChatPlan {
        ChatPlan {
            rate,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(self.seconds),
            drain: Duration::from_secs(3),
        }
    }
}

/// One offered load on one target.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub offered: u32,
    pub chat: ChatRun,
    /// CPU of the target and of this load generator over the step, % of one core.
    pub target_cpu: f64,
    pub loadgen_cpu: f64,
    /// Switchboard only: acknowledged but not in the database, and stored more than once.
    pub lost: u64,
    pub duplicated: u64,
}

impl Step {
    /// Whether the target kept up with the step (99 % acknowledged) within `p99_ms`.
    fn held(&self, p99_ms: f64) -> bool {
        self.chat.acked_per_sec >= 0.99 * f64::from(self.offered) && ms(self.chat.ack.p99) <= p99_ms
    }
}

/// Every step of one target in one run.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    pub steps: Vec<Step>,
}

impl Curve {
    /// The highest offered load held with an ack p99 within `p99_ms` (0 if none).
    pub fn highest_held(&self, p99_ms: f64) -> f64 {
        self.steps
            .iter()
            .filter(|step| step.held(p99_ms))
            .map(|step| f64::from(step.offered))
            .fold(0.0, f64::max)
    }

    pub fn summary(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                format!(
                    "{}/s: {:.0} acked/s p50 {:.1} p99 {:.1} max {:.1} ms, {} busy, {} unacked, cpu {:.0}% (loadgen {:.0}%), lost {} dup {}",
                    s.offered,
                    s.chat.acked_per_sec,
                    ms(s.chat.ack.p50),
                    ms(s.chat.ack.p99),
                    ms(s.chat.ack.max),
                    s.chat.nacks,
                    s.chat.unacked,
                    s.target_cpu,
                    s.loadgen_cpu,
                    s.lost,
                    s.duplicated
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Messages in the database, and how many of them are stored more than once.
async fn stored(db: &sqlx::AnyPool) -> anyhow::Result<(u64, u64)> {
    let (stored, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT sender || ':' || client_msg_id) FROM messages",
    )
    .fetch_one(db)
    .await?;
    Ok((stored as u64, (stored - distinct) as u64))
}

/// Runs the steps against `addr` (served by process `pid`); with `db` (Switchboard's), checks
/// after each step that every acknowledged message is stored once.
async fn steps(
    addr: std::net::SocketAddr,
    pid: u32,
    peers: &[Peer],
    plan: &SaturationPlan,
    db: Option<&sqlx::AnyPool>,
) -> anyhow::Result<Curve> {
    let mut curve = Curve::default();
    let mut stored_before = match db {
        Some(db) => stored(db).await?.0,
        None => 0,
    };
    for &offered in &plan.steps {
        let (target_before, own_before) = (cpu_seconds(pid)?, cpu_seconds(std::process::id())?);
        let started = std::time::Instant::now();
        let chat = harness::chat(&[addr], peers, &plan.chat(offered)).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let target_cpu = (cpu_seconds(pid)? - target_before) / elapsed * 100.0;
        let loadgen_cpu = (cpu_seconds(std::process::id())? - own_before) / elapsed * 100.0;
        let mut step = Step {
            offered,
            target_cpu,
            loadgen_cpu,
            ..Step::default()
        };
        if let Some(db) = db {
            let (now_stored, duplicated) = stored(db).await?;
            let acked = chat.sent - chat.unacked;
            step.lost = acked.saturating_sub(now_stored - stored_before);
            step.duplicated = duplicated;
            stored_before = now_stored;
        }
        step.chat = chat;
        curve.steps.push(step);
        // Let the target settle before the next step.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(curve)
}

/// The curve of one fresh Switchboard node on SQLite.
pub async fn switchboard(server_bin: &Path, plan: &SaturationPlan) -> anyhow::Result<Curve> {
    let dir = tempfile::tempdir()?;
    let top = plan.steps.iter().copied().max().unwrap_or(1);
    let config = server::bench_config(dir.path(), top, 2)?;
    let users = (2 * plan.pairs).to_string();
    let config_arg = config.display().to_string();
    let data = dir.path().join("data");
    let args = ["--bench-users", &users, "--config", &config_arg];
    let process = ServerProcess::launch(server_bin.to_path_buf(), data, &args).await?;
    let ids = process.bench_user_ids().await?;
    let peers = harness::sign_in_bench_users(process.addr, &ids).await?;
    let pid = process.pid().context("the server is not running")?;
    let db = crate::database(&process.database_url()).await?;
    let curve = steps(process.addr, pid, &peers, plan, Some(&db)).await;
    db.close().await;
    curve
}

/// The curve of a fresh relay process.
pub async fn relay(plan: &SaturationPlan) -> anyhow::Result<Curve> {
    let relay = RelayProcess::launch(std::env::current_exe()?).await?;
    let peers: Vec<Peer> = (1..=(2 * plan.pairs) as UserId)
        .map(|id| Peer { id, cookie: None })
        .collect();
    let pid = relay.pid().context("the relay is not running")?;
    steps(relay.addr, pid, &peers, plan, None).await
}

/// The section: per step, Switchboard against the relay.
pub fn section(plan: &SaturationPlan, switchboard: &[Curve], relay: &[Curve]) -> Section {
    type Take = fn(&Step) -> f64;
    let mut figures = Vec::new();
    let mut summary = |name: &str, goal, take: &dyn Fn(&Curve) -> f64| {
        let mut figure = Figure::new(name, "msgs/s", goal);
        figure.switchboard = switchboard.iter().map(take).collect();
        figure.relay = relay.iter().map(take).collect();
        figures.push(figure);
    };
    summary(
        "highest offered load held with ack p99 ≤ 5 ms",
        None,
        &|curve| curve.highest_held(5.0),
    );
    summary(
        "highest offered load held with ack p99 ≤ 50 ms",
        Some(Goal::AtLeast(20_000.0)),
        &|curve| curve.highest_held(50.0),
    );
    let rows: [(&str, &str, Take); 8] = [
        ("acknowledged", "msgs/s", |s| s.chat.acked_per_sec),
        ("send → ack p50", "ms", |s| ms(s.chat.ack.p50)),
        ("send → ack p99", "ms", |s| ms(s.chat.ack.p99)),
        ("send → ack max", "ms", |s| ms(s.chat.ack.max)),
        ("refused as busy (each resend counted)", "msgs", |s| {
            s.chat.nacks as f64
        }),
        ("acknowledged after a resend", "msgs", |s| {
            s.chat.acked_after_resend as f64
        }),
        ("target CPU", "% of a core", |s| s.target_cpu),
        ("load generator CPU", "% of a core", |s| s.loadgen_cpu),
    ];
    for (at, &offered) in plan.steps.iter().enumerate() {
        for (name, unit, take) in rows {
            let pick = |curves: &[Curve]| -> Vec<f64> {
                curves
                    .iter()
                    .map(|curve| curve.steps.get(at).map_or(f64::NAN, take))
                    .collect()
            };
            let mut figure = Figure::new(format!("{offered} offered: {name}"), unit, None);
            figure.switchboard = pick(switchboard);
            figure.relay = pick(relay);
            figures.push(figure);
        }
    }
    let mut lost = Figure::new(
        "acknowledged but not stored, or stored twice (all steps)",
        "msgs",
        Some(Goal::Below(1.0)),
    );
    lost.switchboard = switchboard
        .iter()
        .map(|curve| {
            curve
                .steps
                .iter()
                .map(|s| (s.lost + s.duplicated) as f64)
                .sum()
        })
        .collect();
    figures.push(lost);
    let ceiling = median(&figures[1].switchboard);
    Section {
        title: "Chat saturation".into(),
        about: format!(
            "The 1:1 chat of the section above ({} pairs, open loop) with the offered load \
             stepped up ({}) against one fresh Switchboard node on SQLite, and the relay, each \
             step {} s measured after 1 s of warm-up and drained for 3 s. A load is held when 99 \
             % of it is acknowledged within the window with the ack p99 given. Past what its \
             writer commits, Switchboard refuses a message as `busy` rather than queueing it, \
             and holds its conversation back until it comes again; each connection resends \
             what was refused, in order, before its next message, as the console does. The \
             latencies are of the messages acknowledged at the first try. CPU is the process's user + system time over the step; the load \
             generator shares the 2 cores. After each step the database is checked: every \
             acknowledged message stored, none twice. Median ceiling this run: {} msgs/s.",
            plan.pairs,
            plan.steps
                .iter()
                .map(|s| crate::report::number(f64::from(*s)))
                .collect::<Vec<_>>()
                .join(", "),
            plan.seconds,
            crate::report::number(ceiling),
        ),
        figures,
    }
}
