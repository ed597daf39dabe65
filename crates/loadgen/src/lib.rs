//! Load and fault tools for Switchboard: a protocol client that speaks to a real server over
//! 127.0.0.1, and the programs built on it (`chaos`, `bench`).
//!
//! * [`asterisk`]: a real Asterisk PBX, for the call-control tests and benchmarks
//! * [`client`]: sign in, open `/ws`, send and receive frames (the chaos test's console)
//! * [`cluster`]: PostgreSQL and nats-server, for several nodes
//! * [`server`]: a real server process with its own data directory
//! * [`harness`]: the benchmark scenarios, run alike against the server and the relay
//! * [`relay`]: the bare WebSocket relay the benchmarks compare against
//! * [`import`]: the directory import benchmark (the server's `directory import` command)
//! * [`saturation`]: the chat saturation curve (offered load stepped up, Switchboard and relay)
//! * [`storm`]: the reconnect storm (consoles coming back after a server restart)
//! * [`crowd`]: connections held, stepped to 100,000 on one server
//! * [`churn`]: a company's presence churn, everyone's presence against interest only
//! * [`flood`]: the presence flood benchmark (chat latency while one user floods presence)
//! * [`federation`]: the XMPP bridge benchmark (chat both ways, presence fan-out)
//! * [`nodes`]: the several-nodes benchmark (SQLite, PostgreSQL, two nodes with NATS)
//! * [`pbx`]: the Asterisk benchmark (click → confirmed, the busy lamp field under load)
//! * [`xmpp`]: Prosody and scripted XMPP users (the federation tests and chaos test)
//! * [`console`]: the load of the console benchmark (tests/bench) and its results
//! * [`report`]: BENCHMARKS.md from the runs' figures
//! * [`stats`], [`system`]: percentiles and medians; what Linux tells about the machine

pub mod asterisk;
pub mod churn;
pub mod client;
pub mod cluster;
pub mod console;
pub mod crowd;
pub mod federation;
pub mod flood;
pub mod harness;
pub mod import;
pub mod nodes;
pub mod pbx;
pub mod relay;
pub mod report;
pub mod saturation;
pub mod server;
pub mod stats;
pub mod storm;
pub mod system;
pub mod xmpp;

/// A connection pool to a server's database, SQLite or PostgreSQL (for the checks after a
/// run).
pub async fn database(url: &str) -> Result<sqlx::AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await
}
