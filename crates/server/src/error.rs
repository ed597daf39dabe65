//! Errors of the HTTP API and how each maps to a status code and an `ApiError` body.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use switchboard_protocol::ApiError;

use crate::calls::CallError;

/// Why an HTTP request failed. Mapped to a response in one place ([`IntoResponse`]).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401 `invalid_credentials`: wrong username or password (never says which).
    #[error("Wrong username or password.")]
    InvalidCredentials,
    /// 400 `bad_request`: the body is not the JSON the endpoint takes; the message says why.
    /// 413 `too_large` when it is over the route's body limit.
    #[error("{}", .0.body_text())]
    BadRequest(#[from] JsonRejection),
    /// 400 `bad_request`: a path parameter is not what the route takes (e.g. a call id).
    #[error("{}", .0.body_text())]
    BadPath(#[from] PathRejection),
    /// 400 `bad_request`: the query string is not what the route takes.
    #[error("{}", .0.body_text())]
    BadQuery(#[from] QueryRejection),
    /// 400 `bad_request`: a query value is out of range; the message says which.
    #[error("{0}")]
    InvalidQuery(String),
    /// 401 `unauthenticated`: the ingest API is off because no token is configured.
    #[error(
        "The call ingest API is off: start the server with --ingest-token-file or SWITCHBOARD_INGEST_TOKEN."
    )]
    IngestDisabled,
    /// 401 `unauthenticated`: a missing or wrong ingest token.
    #[error("Missing or wrong ingest token: send `Authorization: Bearer <token>`.")]
    BadIngestToken,
    /// A call could not change: 404, 409, 400 or 502 by its kind.
    #[error(transparent)]
    Call(#[from] CallError),
    /// 429 `too_many_attempts`: sign-in throttled; the number is the minutes to wait.
    #[error("Too many failed sign-ins; try again in {0} minutes.")]
    TooManyAttempts(u64),
    /// 401 `unauthenticated`: no valid session cookie.
    #[error("Sign in first.")]
    Unauthenticated,
    /// 403 `forbidden`: the user's role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 400 `invalid_request`: the request's values are not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// 400 `invalid_csv`: an import file has a bad row; nothing changed.
    #[error("Nothing was imported: {0}")]
    InvalidCsv(#[from] crate::directory::import::RowError),
    /// 404 `not_found`: the named account or entry does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: the change would break a rule (a duplicate name, the last admin).
    #[error("{0}")]
    Conflict(String),
    /// 403 `forbidden_origin`: a WebSocket upgrade from another site.
    #[error("This origin may not open the console's WebSocket.")]
    ForbiddenOrigin,
    /// 500 `internal`: the database failed; details go to the log only.
    #[error("The server failed; try again.")]
    Database(#[from] sqlx::Error),
    /// 500 `internal`: hashing failed.
    #[error("The server failed; try again.")]
    Internal(String),
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::BadRequest(rejection)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            AppError::BadRequest(_)
            | AppError::BadPath(_)
            | AppError::BadQuery(_)
            | AppError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthenticated | AppError::IngestDisabled | AppError::BadIngestToken => {
                (StatusCode::UNAUTHORIZED, "unauthenticated")
            }
            AppError::Call(err) => match err {
                CallError::UnknownCall(_)
                | CallError::UnknownReference { .. }
                | CallError::NoMissedCall(_) => (StatusCode::NOT_FOUND, "not_found"),
                CallError::IllegalMove { .. } | CallError::Pending { .. } => {
                    (StatusCode::CONFLICT, "illegal_move")
                }
                CallError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
                CallError::Adapter(_) | CallError::Telephony(_) => {
                    (StatusCode::BAD_GATEWAY, "telephony_failed")
                }
                CallError::Unconfirmed(..) => (StatusCode::GATEWAY_TIMEOUT, "telephony_failed"),
                CallError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            AppError::ForbiddenOrigin => (StatusCode::FORBIDDEN, "forbidden_origin"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AppError::InvalidCsv(_) => (StatusCode::BAD_REQUEST, "invalid_csv"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            AppError::Database(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            AppError::Database(err) => tracing::error!(error = %err, "database error"),
            AppError::Internal(err) => tracing::error!(error = %err, "internal error"),
            AppError::Call(CallError::Database(err)) => {
                tracing::error!(error = %err, "database error")
            }
            _ => {}
        }
        let body = ApiError {
            error: code.into(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
