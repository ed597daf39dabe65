//! Errors of the HTTP API and how each maps to a status code and an `ApiError` body.

use axum::{
    Json,
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use switchboard_protocol::ApiError;

/// Why an HTTP request failed. Mapped to a response in one place ([`IntoResponse`]).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401 `invalid_credentials`: wrong username or password (never says which).
    #[error("Wrong username or password.")]
    InvalidCredentials,
    /// 400 `bad_request`: the body is not the JSON the endpoint takes; the message says why.
    #[error("{}", .0.body_text())]
    BadRequest(#[from] JsonRejection),
    /// 401 `unauthenticated`: no valid session cookie.
    #[error("Sign in first.")]
    Unauthenticated,
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
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::ForbiddenOrigin => (StatusCode::FORBIDDEN, "forbidden_origin"),
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
            _ => {}
        }
        let body = ApiError {
            error: code.into(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
