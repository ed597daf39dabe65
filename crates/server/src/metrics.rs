//! `GET /metrics`: what a soak run or a monitoring scraper watches for leaks, in Prometheus'
//! text format. Counts only, and only to the machine itself (a scraper beside the server, or
//! through the reverse proxy's own rules): other addresses get 404.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};

use crate::state::AppState;

/// The live task count of the runtime and the hub's connections.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let (connections, online) = state.hub.counts();
    let text = format!(
        "# TYPE switchboard_tasks gauge\nswitchboard_tasks {tasks}\n\
         # TYPE switchboard_connections gauge\nswitchboard_connections {connections}\n\
         # TYPE switchboard_users_online gauge\nswitchboard_users_online {online}\n"
    );
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
