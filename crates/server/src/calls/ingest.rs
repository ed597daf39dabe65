//! The call ingest API: how a PBX integration (or a test) queues calls, moves them and follows
//! what operators did. Every route needs `Authorization: Bearer <token>`, the token of
//! `--ingest-token-file` or SWITCHBOARD_INGEST_TOKEN.

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, Query, State},
    http::{StatusCode, header, request::Parts},
    routing::{get, post},
};
use axum_extra::extract::WithRejection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use switchboard_protocol::{Call, CallAction, CallId, NewCall, NightService, TransferRequest};
use utoipa::{IntoParams, ToSchema};

use super::{CallError, Source};
use crate::{directory::dialable, error::AppError, state::AppState};

/// Proof that a request carries the ingest token. Rejects with 401.
pub struct IngestToken;

impl FromRequestParts<AppState> for IngestToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let expected = state
            .config
            .ingest_token
            .as_deref()
            .ok_or(AppError::IngestDisabled)?;
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AppError::BadIngestToken)?;
        // Comparing digests: equal-length inputs, so the time taken says nothing of the token.
        if Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes()) {
            Ok(IngestToken)
        } else {
            Err(AppError::BadIngestToken)
        }
    }
}

/// Body of `GET /api/calls`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallList {
    /// Every open call, oldest first.
    pub calls: Vec<Call>,
}

/// One entry of the call event feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallEvent {
    /// Position in the feed; ask for `after` the last one you saw.
    pub seq: i64,
    #[schema(value_type = i64)]
    pub call: CallId,
    /// `queue`, `answer`, `hold`, `transfer`, `blind_transfer`, `clear`, `recall`, or the command
    /// `call_back` (dial `target_number` for the operator).
    pub action: String,
    /// The transfer target (a directory entry), for `transfer` and `blind_transfer`.
    pub target: Option<i64>,
    /// The number a PBX dials: the target's extension, else its first number; for
    /// `call_back`, the caller's.
    pub target_number: Option<String>,
    /// State of the call after the event.
    pub state: String,
    /// `telephony`, or `operator:<username>` for what an operator did.
    pub source: String,
    /// An operator's command for the integration to carry out on the PBX (`state` is the
    /// call's state now); report the move with the matching `POST`, and the call moves.
    pub command: bool,
    pub at_ms: i64,
}

/// Body of `GET /api/calls/events`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallEventList {
    pub events: Vec<CallEvent>,
}

/// Query of `GET /api/calls/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events after this position (0 for the start).
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

type CallPath = WithRejection<Path<CallId>, AppError>;

/// Queues a call for the operators.
#[utoipa::path(post, path = "/api/calls", tag = "calls", request_body = NewCall,
    security(("ingest_token" = [])),
    responses(
        (status = 201, description = "Queued", body = Call),
        (status = 400, description = "A field is wrong; the message names it", body = switchboard_protocol::ApiError),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "caller_user names no user", body = switchboard_protocol::ApiError),
    ))]
pub async fn queue(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Json(call), _): WithRejection<Json<NewCall>, AppError>,
) -> Result<(StatusCode, Json<Call>), AppError> {
    Ok((StatusCode::CREATED, Json(state.calls.queue(call).await?)))
}

/// Lists every open call, oldest first.
#[utoipa::path(get, path = "/api/calls", tag = "calls", security(("ingest_token" = [])),
    responses(
        (status = 200, description = "Open calls", body = CallList),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
    ))]
pub async fn list(_: IngestToken, State(state): State<AppState>) -> Json<CallList> {
    Json(CallList {
        calls: state.calls.list().await,
    })
}

async fn act(state: &AppState, id: CallId, action: CallAction) -> Result<Json<Call>, AppError> {
    Ok(Json(state.calls.act(id, action, Source::Telephony).await?))
}

/// The call was answered (a queued call), retrieved (a held call) or its transfer cancelled.
#[utoipa::path(post, path = "/api/calls/{id}/answer", tag = "calls", security(("ingest_token" = [])),
    params(("id" = i64, Path, description = "Call id")),
    responses(
        (status = 400, description = "The id is not a number", body = switchboard_protocol::ApiError),
        (status = 200, description = "The call, now active", body = Call),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such open call", body = switchboard_protocol::ApiError),
        (status = 409, description = "Not allowed in the call's state", body = switchboard_protocol::ApiError),
    ))]
pub async fn answer(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Path(id), _): CallPath,
) -> Result<Json<Call>, AppError> {
    act(&state, id, CallAction::Answer).await
}

/// The active call was put on hold.
#[utoipa::path(post, path = "/api/calls/{id}/hold", tag = "calls", security(("ingest_token" = [])),
    params(("id" = i64, Path, description = "Call id")),
    responses(
        (status = 400, description = "The id is not a number", body = switchboard_protocol::ApiError),
        (status = 200, description = "The call, now held", body = Call),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such open call", body = switchboard_protocol::ApiError),
        (status = 409, description = "Not allowed in the call's state", body = switchboard_protocol::ApiError),
    ))]
pub async fn hold(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Path(id), _): CallPath,
) -> Result<Json<Call>, AppError> {
    act(&state, id, CallAction::Hold).await
}

/// A transfer of the call to a directory entry started.
#[utoipa::path(post, path = "/api/calls/{id}/transfer", tag = "calls", request_body = TransferRequest,
    security(("ingest_token" = [])),
    params(("id" = i64, Path, description = "Call id")),
    responses(
        (status = 200, description = "The call, now transferring", body = Call),
        (status = 400, description = "The id or the body is malformed", body = switchboard_protocol::ApiError),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such open call, or no such target entry", body = switchboard_protocol::ApiError),
        (status = 409, description = "Not allowed in the call's state", body = switchboard_protocol::ApiError),
    ))]
pub async fn transfer(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Path(id), _): CallPath,
    WithRejection(Json(body), _): WithRejection<Json<TransferRequest>, AppError>,
) -> Result<Json<Call>, AppError> {
    let target = match (body.target, body.number.as_deref()) {
        (Some(target), None) => target,
        (None, Some(number)) => {
            let entry = state.directory.by_number(number).ok_or_else(|| {
                AppError::Call(CallError::UnknownReference {
                    field: "number",
                    message: format!("no directory entry has the number {number:?}"),
                })
            })?;
            entry.id
        }
        _ => {
            return Err(AppError::Call(CallError::Invalid {
                field: "target",
                message: "give the target entry or its number, one of the two".into(),
            }));
        }
    };
    act(&state, id, CallAction::Transfer { target }).await
}

/// The transfer target did not answer: the call comes back on hold, and the operators'
/// consoles recall it.
#[utoipa::path(post, path = "/api/calls/{id}/recall", tag = "calls", security(("ingest_token" = [])),
    params(("id" = i64, Path, description = "Call id")),
    responses(
        (status = 400, description = "The id is not a number", body = switchboard_protocol::ApiError),
        (status = 200, description = "The call, now held with the target who did not answer", body = Call),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such open call", body = switchboard_protocol::ApiError),
        (status = 409, description = "The call is not being transferred", body = switchboard_protocol::ApiError),
    ))]
pub async fn recall(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Path(id), _): CallPath,
) -> Result<Json<Call>, AppError> {
    act(&state, id, CallAction::Recall).await
}

/// The call ended: abandoned, released, or transferred.
#[utoipa::path(post, path = "/api/calls/{id}/clear", tag = "calls", security(("ingest_token" = [])),
    params(("id" = i64, Path, description = "Call id")),
    responses(
        (status = 400, description = "The id is not a number", body = switchboard_protocol::ApiError),
        (status = 200, description = "The call, now cleared", body = Call),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such open call", body = switchboard_protocol::ApiError),
    ))]
pub async fn clear(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Path(id), _): CallPath,
) -> Result<Json<Call>, AppError> {
    act(&state, id, CallAction::Clear).await
}

/// The call event feed: everything that happened to calls, operators' actions included, in
/// order. A PBX integration follows it to carry out what operators asked for.
#[utoipa::path(get, path = "/api/calls/events", tag = "calls", security(("ingest_token" = [])),
    params(EventQuery),
    responses(
        (status = 200, description = "Events after `after`", body = CallEventList),
        (status = 400, description = "Bad query", body = switchboard_protocol::ApiError),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
    ))]
pub async fn events(
    _: IngestToken,
    State(state): State<AppState>,
    WithRejection(Query(query), _): WithRejection<Query<EventQuery>, AppError>,
) -> Result<Json<CallEventList>, AppError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || query.after < 0 {
        return Err(AppError::InvalidQuery(
            "limit must be 1 to 1000 and after at least 0".into(),
        ));
    }
    let rows = sqlx::query(
        "SELECT e.seq, e.call_id, e.action, e.target, e.state, e.source, e.at_ms, e.command, \
         c.caller_number FROM call_events e JOIN calls c ON c.id = e.call_id \
         WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
    )
    .bind(query.after)
    .bind(i64::from(limit))
    .fetch_all(&state.db)
    .await?;
    let events = rows
        .iter()
        .map(|row| CallEvent {
            seq: row.get("seq"),
            call: row.get("call_id"),
            action: row.get("action"),
            target: row.get("target"),
            target_number: match row.get::<Option<i64>, _>("target") {
                Some(target) => state.directory.dial_number(target),
                // A call back dials the caller.
                None if row.get::<String, _>("action") == "call_back" => {
                    dialable(&row.get::<String, _>("caller_number"))
                }
                None => None,
            },
            state: row.get("state"),
            source: row.get("source"),
            command: row.get::<i64, _>("command") != 0,
            at_ms: row.get("at_ms"),
        })
        .collect();
    Ok(Json(CallEventList { events }))
}

/// Whether the switchboard is closed (night service): an integration routes calls elsewhere
/// while it is.
#[utoipa::path(get, path = "/api/night-service", tag = "calls", security(("ingest_token" = [])),
    responses(
        (status = 200, description = "Night service now", body = NightService),
        (status = 401, description = "Missing or wrong token", body = switchboard_protocol::ApiError),
    ))]
pub async fn night_service(
    _: IngestToken,
    State(state): State<AppState>,
) -> Result<Json<NightService>, AppError> {
    Ok(Json(state.calls.night_service().await?))
}

/// Routes of `/api/calls` and `/api/night-service`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/night-service", get(night_service))
        .route("/api/calls", get(list).post(queue))
        .route("/api/calls/events", get(events))
        .route("/api/calls/{id}/answer", post(answer))
        .route("/api/calls/{id}/hold", post(hold))
        .route("/api/calls/{id}/transfer", post(transfer))
        .route("/api/calls/{id}/clear", post(clear))
        .route("/api/calls/{id}/recall", post(recall))
}
