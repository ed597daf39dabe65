//! The console's HTTP calls: read, open and close the session (`/api/session`); fetch the
//! emoji picker's table.

use std::fmt;

use gloo_net::http::{Request, Response};
use switchboard_protocol::{ApiError, EMOJI_TABLE_PATH, LoginRequest, SessionInfo};

const SESSION: &str = "/api/session";

/// Why a call to the API did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// 401: no valid session, or wrong credentials; carries the server's sentence.
    Unauthorized(String),
    /// Any other refusal (400, 429, 5xx); carries the server's sentence.
    Refused { status: u16, message: String },
    /// The server could not be reached or its answer could not be read; the detail is for logs.
    Unreachable(String),
}

impl fmt::Display for RequestError {
    /// What to tell the user: the server's own sentence when it gave one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Unauthorized(message) | RequestError::Refused { message, .. } => {
                f.write_str(message)
            }
            RequestError::Unreachable(_) => {
                f.write_str("Cannot reach the server. Check the network and try again.")
            }
        }
    }
}

impl From<gloo_net::Error> for RequestError {
    fn from(error: gloo_net::Error) -> Self {
        RequestError::Unreachable(error.to_string())
    }
}

/// Who is signed in, according to the session cookie.
pub async fn session() -> Result<SessionInfo, RequestError> {
    let response = Request::get(SESSION).send().await?;
    session_info(response).await
}

/// Signs in; on success the server sets the session cookie.
pub async fn sign_in(credentials: &LoginRequest) -> Result<SessionInfo, RequestError> {
    let response = Request::post(SESSION).json(credentials)?.send().await?;
    session_info(response).await
}

/// Signs out; the server forgets the session and closes its sockets.
pub async fn sign_out() -> Result<(), RequestError> {
    let response = Request::delete(SESSION).send().await?;
    if response.ok() {
        Ok(())
    } else {
        Err(refusal(response).await)
    }
}

/// The emoji picker's table, as text (see `switchboard_protocol::emoji`).
pub async fn emoji_table() -> Result<String, RequestError> {
    let response = Request::get(EMOJI_TABLE_PATH).send().await?;
    if response.ok() {
        Ok(response.text().await?)
    } else {
        Err(refusal(response).await)
    }
}

async fn session_info(response: Response) -> Result<SessionInfo, RequestError> {
    if response.ok() {
        Ok(response.json().await?)
    } else {
        Err(refusal(response).await)
    }
}

pub(crate) async fn refusal(response: Response) -> RequestError {
    refusal_of(response.status(), response.json().await.ok())
}

/// Maps a refused request to its error; a body that is not an [`ApiError`] (say, from a proxy)
/// still yields a sentence.
fn refusal_of(status: u16, body: Option<ApiError>) -> RequestError {
    let message = body.map(|body| body.message).unwrap_or_else(|| {
        format!("The server could not handle the request (HTTP {status}). Try again.")
    });
    match status {
        401 => RequestError::Unauthorized(message),
        _ => RequestError::Refused { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(message: &str) -> Option<ApiError> {
        Some(ApiError {
            error: "invalid_credentials".into(),
            message: message.into(),
        })
    }

    #[test]
    fn the_servers_sentence_is_what_the_user_sees() {
        let error = refusal_of(401, body("Wrong username or password."));
        assert_eq!(
            error,
            RequestError::Unauthorized("Wrong username or password.".into())
        );
        assert_eq!(error.to_string(), "Wrong username or password.");
        let error = refusal_of(429, body("Too many attempts."));
        assert_eq!(error.to_string(), "Too many attempts.");
    }

    #[test]
    fn a_refusal_without_an_api_error_body_still_explains() {
        let error = refusal_of(502, None);
        assert!(matches!(error, RequestError::Refused { status: 502, .. }));
        assert!(error.to_string().contains("HTTP 502"));
    }
}
