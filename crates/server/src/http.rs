//! The HTTP surface: one router per area, merged here, plus the built console as static files.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{
        StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
    routing::get,
};
use switchboard_protocol::{EMOJI_TABLE_PATH, emoji};
use tower_http::{
    services::{ServeDir, ServeFile},
    trace::TraceLayer,
};

use crate::{admin, auth, calls::ingest, headers, metrics, openapi, state::AppState, ws};

/// Largest request body a route reads, unless it sets its own limit.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let static_dir = &state.config.static_dir;
    // Unknown paths get the console's index.html: the console routes on the client.
    let console = ServeDir::new(static_dir).fallback(ServeFile::new(static_dir.join("index.html")));
    let config = state.config.clone();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/ws", get(ws::upgrade))
        .route("/api/openapi.json", get(openapi::document))
        .route(EMOJI_TABLE_PATH, get(emoji_table))
        .merge(auth::router())
        .merge(admin::router())
        .merge(ingest::router())
        .fallback_service(console)
        // Every body a route reads is small (sign-in, admin forms); the CSV import sets its own.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    headers::secure(router, &config).layer(TraceLayer::new_for_http())
}

/// The emoji picker's table (see `switchboard_protocol::emoji`), made once. The same for
/// every release of the server, so browsers may keep it for a day.
async fn emoji_table() -> impl IntoResponse {
    static TABLE: LazyLock<String> = LazyLock::new(emoji::table);
    (
        [
            (CONTENT_TYPE, "text/tab-separated-values; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        TABLE.as_str(),
    )
}

/// Answers 200 "ok" while the server is serving (the database was opened and migrated
/// before) and every task it needs is up; 503 with a line per task that is down (the chat
/// writer restarting after a panic), saying why.
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses(
        (status = 200, description = "Ready: `ok`, then a line per link to another server \
            (`xmpp link: up`, or down and why): the server works without them", body = String),
        (status = 503, description = "A task the server needs is down: which and why", body = String),
    ))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let down = state.health.down();
    let links = state.health.links();
    if down.is_empty() {
        std::iter::once("ok".to_owned())
            .chain(links)
            .collect::<Vec<_>>()
            .join("\n")
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [down, links].concat().join("\n"),
        )
            .into_response()
    }
}
