//! The several-nodes benchmark: the same chat (at an offered load and at saturation) against
//! one node on SQLite, one node on PostgreSQL and two nodes on PostgreSQL joined by NATS (every
//! pair chatting across the two), and presence fan-out to watchers spread over the two nodes.
//! PostgreSQL and nats-server are throwaway servers ([`crate::cluster`]). Only 127.0.0.1 is
//! spoken to; every scenario is bounded in time.

use std::{net::SocketAddr, path::Path, time::Duration};

use anyhow::Context;

use crate::{
    cluster::{Nats, Postgres},
    harness::{self, ChatPlan, ChatRun, HoldPlan, HoldRun, Peer},
    server::ServerProcess,
};

/// How the benchmark runs.
#[derive(Debug, Clone)]
pub struct NodesPlan {
    /// Chatting pairs (one connection per user).
    pub pairs: usize,
    /// Messages per second offered in the ordinary case, in total.
    pub offered: u32,
    /// Messages per second offered to find the ceiling, in total.
    pub saturation: u32,
    /// Seconds measured per chat scenario (after one second of warm-up).
    pub seconds: u64,
    /// Connections watching one user's presence, spread over the nodes.
    pub watchers: usize,
    /// Users those connections belong to.
    pub watcher_users: usize,
    /// Presence changes fanned out.
    pub changes: usize,
}

impl NodesPlan {
    fn chat(&self, rate: u32) -> ChatPlan {
        ChatPlan {
            rate,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(self.seconds),
            drain: Duration::from_secs(5),
        }
    }

    pub fn hold(&self) -> HoldPlan {
        HoldPlan {
            connections: self.watchers,
            concurrency: 200,
            changes: self.changes,
            change_limit: Duration::from_secs(10),
            open_limit: Duration::from_secs(120),
        }
    }

    fn users(&self) -> usize {
        self.watcher_users + 1 + 2 * self.pairs
    }
}

/// Where the server keeps its data and how many nodes serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    SqliteOne,
    PostgresOne,
    PostgresTwo,
}

impl Topology {
    pub const ALL: [Topology; 3] = [
        Topology::SqliteOne,
        Topology::PostgresOne,
        Topology::PostgresTwo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topology::SqliteOne => "1 node, SQLite",
            Topology::PostgresOne => "1 node, PostgreSQL",
            Topology::PostgresTwo => "2 nodes, PostgreSQL + NATS",
        }
    }
}

/// What one topology measured.
#[derive(Debug, Clone, Default)]
pub struct TopologyRun {
    pub offered: ChatRun,
    pub saturated: ChatRun,
    /// Presence fan-out to the watchers (two nodes only).
    pub fan_out: Option<HoldRun>,
}

/// The chat scenarios (and, with `fan_out`, the presence fan-out) against `addrs`.
pub async fn scenarios(
    addrs: &[SocketAddr],
    pid: u32,
    peers: &[Peer],
    plan: &NodesPlan,
    fan_out: bool,
) -> anyhow::Result<TopologyRun> {
    let w = plan.watcher_users;
    let chatters = &peers[w + 1..];
    let offered = harness::chat(addrs, chatters, &plan.chat(plan.offered)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let saturated = harness::chat(addrs, chatters, &plan.chat(plan.saturation)).await?;
    let fan_out = if fan_out {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(harness::hold(addrs, pid, &peers[..w], &peers[w], &plan.hold()).await?)
    } else {
        None
    };
    Ok(TopologyRun {
        offered,
        saturated,
        fan_out,
    })
}

/// Runs every scenario once against a fresh `topology`.
pub async fn run(
    server_bin: &Path,
    topology: Topology,
    plan: &NodesPlan,
) -> anyhow::Result<TopologyRun> {
    let dir = tempfile::tempdir()?;
    let connections = plan.watchers / plan.watcher_users.max(1) + 2;
    let config = crate::server::bench_config(dir.path(), plan.saturation, connections)?;
    let users = plan.users().to_string();
    let config_arg = config.display().to_string();
    let mut args = vec!["--bench-users", &users, "--config", &config_arg];
    let (mut postgres, mut nats) = (None, None);
    let (database_url, nats_url);
    if topology != Topology::SqliteOne {
        let cluster = Postgres::start().await;
        database_url = cluster.create_database("bench").await;
        args.extend(["--database-url", &database_url]);
        postgres = Some(cluster);
    }
    if topology == Topology::PostgresTwo {
        let bus = Nats::start().await;
        nats_url = bus.url();
        args.extend(["--nats-url", &nats_url]);
        nats = Some(bus);
    }
    let nodes = if topology == Topology::PostgresTwo {
        2
    } else {
        1
    };
    let mut servers = Vec::new();
    for node in 0..nodes {
        let data = dir.path().join(format!("node{node}"));
        servers.push(ServerProcess::launch(server_bin.to_path_buf(), data, &args).await?);
    }
    let ids = servers[0].bench_user_ids().await?;
    anyhow::ensure!(
        ids.len() == plan.users(),
        "expected {} bench users",
        plan.users()
    );
    let addrs: Vec<SocketAddr> = servers.iter().map(|server| server.addr).collect();
    // Sessions live in the database: a cookie from one node works on the other.
    let peers = harness::sign_in_bench_users(addrs[0], &ids).await?;
    let pid = servers[0].pid().context("the server is not running")?;
    let measured = scenarios(&addrs, pid, &peers, plan, nodes > 1).await;
    for server in &mut servers {
        server.kill().await?;
    }
    drop((nats, postgres));
    measured
}
