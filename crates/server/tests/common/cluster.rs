//! Several nodes: a throwaway PostgreSQL cluster and nats-server (the load generator's
//! [`switchboard_loadgen::cluster`]), installed from Debian when missing, and nodes on them.

use std::time::{Duration, Instant};

use switchboard_loadgen::cluster::{NATS_SERVER, POSTGRES_BIN};
pub use switchboard_loadgen::cluster::{Nats, Postgres};
use switchboard_server::cluster::BUS;

use super::TestServer;

/// A database and a bus for nodes.
pub struct Shared {
    pub postgres: Postgres,
    pub nats: Nats,
    pub database_url: String,
}

/// Starts PostgreSQL with an empty database and nats-server, after installing them with
/// apt-get when missing.
pub async fn start() -> Shared {
    tokio::task::spawn_blocking(|| {
        let postgres = format!("{POSTGRES_BIN}/postgres");
        super::debian::ensure_installed(&["postgresql", "nats-server"], &[&postgres, NATS_SERVER]);
    })
    .await
    .unwrap();
    let postgres = Postgres::start().await;
    let nats = Nats::start().await;
    let database_url = postgres.create_database("switchboard").await;
    Shared {
        postgres,
        nats,
        database_url,
    }
}

impl Shared {
    /// Starts a node (with the demo company) on the shared database and bus, and waits until
    /// it is on the bus.
    pub async fn node(&self) -> TestServer {
        let nats_url = self.nats.url();
        let node = TestServer::start_node(self.database_url.clone(), |config| {
            config.nats_url = Some(nats_url);
        })
        .await;
        wait_for_bus(&node, "up").await;
        node
    }
}

/// Waits (at most 15 s) until `node`'s bus is in `state` ("up", or "down: …").
pub async fn wait_for_bus(node: &TestServer, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = node.state.health.link_state(BUS).unwrap_or_default();
        if now.starts_with(state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bus is {now:?}, not {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
