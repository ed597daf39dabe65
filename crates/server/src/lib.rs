//! Switchboard server: serves the console, the WebSocket hub and the HTTP API.
//!
//! `main` parses the configuration, opens the database and hands [`run`] a bound listener;
//! tests do the same with `127.0.0.1:0` and an in-memory database.
//!
//! * [`config`]: flags, environment and the TOML file
//! * [`storage`]: the database pool and migrations
//! * [`auth`]: passwords, sessions, the session cookie
//! * [`accounts`]: accounts and roles; [`admin`]: the Administration view's API;
//!   [`cli`]: `user ...` and `directory ...` subcommands; [`audit`]: the audit log and the
//!   change feed every server follows; [`settings`]: chat settings changed live
//! * [`presence`]: the hub (connections, presence, fan-out)
//! * [`directory`]: the company directory, its snapshot and deltas, CSV import, LDAP sync,
//!   operator notes
//! * [`clock`]: wall-clock milliseconds, as stored and sent
//! * [`chat`]: messages (one group-committing writer), history, the chat list, user search
//! * [`federation`]: chat with people on the company's XMPP server (an XMPP component)
//! * [`cluster`]: several nodes on one PostgreSQL database, joined by NATS
//! * [`calls`]: the queue, the active call, transfers; the call-control adapter and ingest API
//! * [`ws`]: the per-connection WebSocket loop
//! * [`http`]: the router; [`openapi`]: its OpenAPI document; [`headers`]: security headers;
//!   [`metrics`]: counts for monitoring
//! * [`tls`]: HTTPS with the server's own certificate
//! * [`bucket`]: the token bucket behind rate limits
//! * [`demo`]: the demo company and its bots

pub mod absence;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod bucket;
pub mod calls;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod directory;
pub mod error;
pub mod federation;
pub mod headers;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod presence;
pub mod settings;
pub mod state;
pub mod storage;
pub mod tls;
pub mod ws;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Extension,
    body::Body,
    extract::{ConnectInfo, Request},
    serve::Listener,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub use config::Config;
pub use state::AppState;

/// Opens the database, seeds the demo if asked, and loads the state the server runs on.
pub async fn prepare(
    config: Config,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<AppState> {
    let db = storage::open(&config.database_url).await?;
    if config.demo {
        demo::seed(&db).await?;
    }
    if config.bench_users > 0 {
        demo::seed_bench_users(&db, config.bench_users).await?;
    }
    if accounts::count(&db).await? == 0 {
        tracing::warn!(
            "there are no accounts yet: add the first administrator with \
             `switchboard-server user add NAME --role admin` (same --data-dir or \
             --database-url as this server)"
        );
    }
    // Follow the audit log from here: what happened before is in what we load now.
    let seen = audit::head(&db).await?;
    let state = AppState::load(db, config, shutdown).await?;
    tokio::spawn(audit::follow(state.clone(), seen));
    tokio::spawn(absence::sweep(state.clone()));
    if let Some(ldap) = state.config.ldap.clone() {
        tokio::spawn(directory::ldap::run(
            state.db.clone(),
            ldap,
            state.sync_now.clone(),
            state.shutdown.clone(),
        ));
    }
    if let Some(url) = state.config.nats_url.clone() {
        cluster::join(state.clone(), &url).await?;
    }
    if let Some(xmpp) = state.config.xmpp.clone() {
        tokio::spawn(federation::run(state.clone(), xmpp));
    }
    if state.config.demo_bots {
        tokio::spawn(demo::bots::run(state.clone()));
    }
    if let Some(pbx) = state.asterisk.clone() {
        tokio::spawn(calls::asterisk::run(state.clone(), pbx));
        tokio::spawn(
            state
                .calls
                .lamps
                .clone()
                .run(state.hub.clone(), state.shutdown.clone()),
        );
    }
    // The demo's simulated calls only without a real telephone system: Asterisk could not
    // carry out a command on a call it never had.
    if state.config.simulator_calls_per_minute > 0 && state.asterisk.is_none() {
        let rate = state.config.simulator_calls_per_minute;
        tokio::spawn(calls::simulator::run(state.clone(), rate));
    }
    if let Some(hours) = state.config.opening_hours.clone() {
        tokio::spawn(calls::night::follow(state.clone(), hours));
    }
    Ok(state)
}

/// Serves until `state.shutdown` is cancelled, then lets open requests finish. Speaks HTTPS
/// when the configuration has a certificate, plain HTTP otherwise.
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    match state.config.tls.clone() {
        Some(tls) => serve(tls::TlsListener::new(listener, &tls), state).await,
        None => serve(listener, state).await,
    }
}

/// Accepts connections until `state.shutdown` is cancelled and serves each with hyper's HTTP/1
/// (upgrades to WebSocket included). At most `limits.max_connections` HTTP connections are
/// served at once (past it, new ones wait in the listen backlog); a WebSocket leaves that count
/// once upgraded (each account holds at most `connections_per_user` of those). A client gets
/// `limits.header_read_secs` to send a request's headers, idle keep-alive included: a trickle
/// of bytes (slowloris) or a silent socket cannot hold a connection.
async fn serve<L>(mut listener: L, state: AppState) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: tls::OverTcp,
{
    let shutdown = state.shutdown.clone();
    let limits = state.config.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_secs));
    let app = http::router(state);
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            () = shutdown.cancelled() => break,
        };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        // Small frames (an ack, a presence change) leave at once: with Nagle's algorithm a
        // second small write waits for the first to be acknowledged, up to the peer's 40 ms
        // delayed ACK.
        if let Err(err) = tls::OverTcp::tcp(&io).set_nodelay(true) {
            tracing::warn!(%err, "could not set TCP_NODELAY");
        }
        // Peer addresses are needed for sign-in throttling per address.
        let app = app.clone().layer(Extension(ConnectInfo(peer)));
        let service =
            TowerToHyperService::new(app.map_request(|req: Request<Incoming>| req.map(Body::new)));
        let connection = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    // Open requests may finish; WebSockets close themselves on the same signal.
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still open at shutdown");
    }
    Ok(())
}

/// How long open HTTP requests may take to finish once the server shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
