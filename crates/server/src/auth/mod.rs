//! Sign-in, sessions and the session cookie.
//!
//! Passwords are argon2id hashes. A session is a random token in an HttpOnly,
//! SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database
//! cannot be used to sign in.

pub mod throttle;

use std::{net::SocketAddr, sync::OnceLock};

use tokio::sync::Semaphore;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use axum::{
    Json, Router,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
    routing::get,
};
use axum_extra::extract::{
    CookieJar, WithRejection,
    cookie::{Cookie, SameSite},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use switchboard_protocol::{LoginRequest, Role, SessionInfo, User};

use crate::{error::AppError, state::AppState};

/// Name of the session cookie.
pub const COOKIE: &str = "switchboard_session";

/// Hashes a password for storage (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|err| AppError::Internal(format!("encoding a salt: {err}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| AppError::Internal(format!("hashing a password: {err}")))
}

/// Password hashes computed at once. Each takes tens of milliseconds of CPU and about 19 MiB
/// (argon2's default memory cost): a burst of sign-ins waits here instead of taking the
/// server's memory.
const PASSWORD_WORK_AT_ONCE: usize = 4;
static PASSWORD_WORK: Semaphore = Semaphore::const_new(PASSWORD_WORK_AT_ONCE);

/// Runs password work on a blocking thread (it must not stall the runtime's workers), at
/// most [`PASSWORD_WORK_AT_ONCE`] at a time.
async fn password_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = PASSWORD_WORK
        .acquire()
        .await
        .map_err(|err| AppError::Internal(format!("password work: {err}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| AppError::Internal(format!("password work task: {err}")))
}

/// [`hash_password`] off the runtime's workers, within the bound on password work.
pub async fn hash_password_off_thread(password: String) -> Result<String, AppError> {
    password_work(move || hash_password(&password)).await?
}

/// Checks a password against a stored hash. A missing hash (unknown user, or an account
/// nobody signs in to) is checked against a dummy hash so that the answer takes as long
/// and says nothing about whether the user exists.
fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("dummy").unwrap_or_default());
    let Ok(hash) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
        && stored.is_some()
}

/// Now, in seconds since the Unix epoch: how sessions record their use.
fn now() -> i64 {
    crate::clock::now_ms() / 1000
}

/// SHA-256 of a session token, hex: the key the database and the hub know a session by.
fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lower-case hex of some bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Creates a session for `user` and returns its token (for the cookie).
pub async fn create_session(db: &AnyPool, user: i64) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex(&bytes);
    let now = now();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(user)
    .bind(now)
    .bind(now)
    .execute(db)
    .await?;
    Ok(token)
}

/// The signed-in user of a request, from its session cookie. Rejects with 401.
pub struct CurrentSession {
    pub user: User,
    pub role: Role,
    /// Hash of the session token: how the hub knows which sockets to close at sign-out.
    pub session: String,
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(COOKIE).ok_or(AppError::Unauthenticated)?;
        let session = token_hash(token.value());
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role, s.last_seen FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND u.active = 1",
        )
        .bind(&session)
        .fetch_optional(&state.db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
        let idle = now() - row.get::<i64, _>("last_seen");
        if idle > state.config.session_idle_secs {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(&session)
                .execute(&state.db)
                .await?;
            return Err(AppError::Unauthenticated);
        }
        if idle >= TOUCH_EVERY_SECS {
            touch(&state.db, &session).await?;
        }
        Ok(CurrentSession {
            user: User {
                id: row.get("id"),
                username: row.get("username"),
                display_name: row.get("display_name"),
            },
            role: role_of(&row),
            session,
        })
    }
}

fn role_of(row: &sqlx::any::AnyRow) -> Role {
    Role::parse(row.get("role")).unwrap_or_default()
}

/// The signed-in user of a request if an admin; 403 `forbidden` for anyone else.
pub struct AdminSession(pub CurrentSession);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let current = CurrentSession::from_request_parts(parts, state).await?;
        if !current.role.administers() {
            return Err(AppError::Forbidden("Only administrators may do this."));
        }
        Ok(AdminSession(current))
    }
}

/// A session's last use is written at most this often (not on every request).
pub const TOUCH_EVERY_SECS: i64 = 60;

/// Whether a session (by the hash of its token) has not ended.
pub async fn session_exists(db: &AnyPool, session: &str) -> Result<bool, sqlx::Error> {
    let found = sqlx::query("SELECT 1 FROM sessions WHERE token_hash = $1")
        .bind(session)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Records that a session is in use, so the idle timeout does not end it.
pub async fn touch(db: &AnyPool, session: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2")
        .bind(now())
        .bind(session)
        .execute(db)
        .await?;
    Ok(())
}

fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/")
        .build()
}

/// `POST /api/session`: signs in and sets the session cookie (a new one at every sign-in).
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 400, description = "The body is not a LoginRequest", body = switchboard_protocol::ApiError),
        (status = 401, description = "Wrong username or password", body = switchboard_protocol::ApiError),
        (status = 429, description = "Too many failed sign-ins for this name or address", body = switchboard_protocol::ApiError),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    WithRejection(Json(login), _): WithRejection<Json<LoginRequest>, AppError>,
) -> Result<impl IntoResponse, AppError> {
    let username = login.username.trim();
    if let Err(wait) = state.throttle.attempt(username, peer.ip()) {
        return Err(AppError::TooManyAttempts(wait.as_secs().div_ceil(60)));
    }
    let row = sqlx::query(
        "SELECT id, username, display_name, role, password_hash FROM users \
         WHERE username = $1 AND active = 1 AND xmpp IS NULL",
    )
    .bind(username)
    .fetch_optional(&state.db)
    .await?;
    let stored: Option<String> = row.as_ref().and_then(|row| row.get("password_hash"));
    let password = login.password;
    let valid = password_work(move || verify_password(&password, stored.as_deref())).await?;
    let Some(row) = row.filter(|_| valid) else {
        tracing::info!(%username, address = %peer.ip(), "failed sign-in");
        return Err(AppError::InvalidCredentials);
    };
    state.throttle.succeeded(username, peer.ip());
    let user = User {
        id: row.get("id"),
        username: row.get("username"),
        display_name: row.get("display_name"),
    };
    let role = role_of(&row);
    // A new token at every sign-in: a session fixed before sign-in is never reused.
    let token = create_session(&state.db, user.id).await?;
    tracing::info!(username = %user.username, "signed in");
    let cookie = session_cookie(token, state.config.https());
    Ok((jar.add(cookie), Json(SessionInfo { user, role })))
}

/// `GET /api/session`: who is signed in.
#[utoipa::path(get, path = "/api/session", tag = "session", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = SessionInfo),
        (status = 401, description = "No valid session", body = switchboard_protocol::ApiError),
    ))]
pub async fn whoami(current: CurrentSession) -> Json<SessionInfo> {
    Json(SessionInfo {
        user: current.user,
        role: current.role,
    })
}

/// `DELETE /api/session`: ends the session and closes its sockets.
#[utoipa::path(delete, path = "/api/session", tag = "session", security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Signed out; the session's sockets are closed"),
        (status = 401, description = "No valid session", body = switchboard_protocol::ApiError),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    current: CurrentSession,
) -> Result<impl IntoResponse, AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(&current.session)
        .execute(&state.db)
        .await?;
    state.hub.close_session(&current.session);
    tracing::info!(username = %current.user.username, "signed out");
    Ok((
        jar.remove(Cookie::build(COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

/// Routes of `/api/session`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", get(whoami).post(sign_in).delete(sign_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("alice").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("alice", Some(&hash)));
        assert!(!verify_password("Alice", Some(&hash)));
        assert!(!verify_password("alice", None), "no user, no sign-in");
        assert!(!verify_password("alice", Some("not a hash")));
    }

    #[test]
    fn tokens_are_stored_hashed() {
        let hash = token_hash("abc");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, token_hash("abd"));
    }
}
