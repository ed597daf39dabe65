//! The Administration view's HTTP API (`/api/admin/...`): accounts, directory import and
//! sync, chat settings, the audit log. Every route needs an admin's session (403
//! `forbidden` otherwise); every change is audited and reaches open consoles through the
//! change feed (see [`crate::audit`]).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::StatusCode,
    routing::{get, patch, post},
};
use axum_extra::extract::WithRejection;
use serde::Deserialize;
use switchboard_protocol::{
    Account, AccountChange, AuditEntry, ChatSettings, DirectoryDiff, NewAccount, PasswordReset,
    SettingsInForce, SyncStatus,
};
use utoipa::IntoParams;

use crate::{
    accounts, audit,
    auth::AdminSession,
    directory::{
        import::{self, Applier},
        ldap,
    },
    error::AppError,
    settings,
    state::AppState,
};

/// Largest CSV file an import takes (100,000 rows of a dozen fields fit well within it).
const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// `GET /api/admin/users`: every account.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Every account, by username", body = [Account]),
        (status = 401, description = "No valid session", body = switchboard_protocol::ApiError),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: AdminSession,
) -> Result<Json<Vec<Account>>, AppError> {
    Ok(Json(accounts::list(&state.db).await?))
}

/// `POST /api/admin/users`: creates an account.
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", security(("session_cookie" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "Created", body = Account),
        (status = 400, description = "Invalid name or password", body = switchboard_protocol::ApiError),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
        (status = 409, description = "The username is taken", body = switchboard_protocol::ApiError),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    WithRejection(Json(new), _): WithRejection<Json<NewAccount>, AppError>,
) -> Result<(StatusCode, Json<Account>), AppError> {
    let account = accounts::add(&state.db, &admin.user.username, new).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// `PATCH /api/admin/users/{username}`: changes the role, deactivates or reactivates.
#[utoipa::path(patch, path = "/api/admin/users/{username}", tag = "admin",
    security(("session_cookie" = [])), request_body = AccountChange,
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 200, description = "Changed", body = Account),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such account", body = switchboard_protocol::ApiError),
        (status = 409, description = "It is the last active admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn change_user(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    WithRejection(Path(username), _): WithRejection<Path<String>, AppError>,
    WithRejection(Json(change), _): WithRejection<Json<AccountChange>, AppError>,
) -> Result<Json<Account>, AppError> {
    let account = accounts::change(&state.db, &admin.user.username, &username, change).await?;
    Ok(Json(account))
}

/// `POST /api/admin/users/{username}/password`: sets a new password.
#[utoipa::path(post, path = "/api/admin/users/{username}/password", tag = "admin",
    security(("session_cookie" = [])), request_body = PasswordReset,
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 204, description = "Changed; the account's sessions ended"),
        (status = 400, description = "Password too short", body = switchboard_protocol::ApiError),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
        (status = 404, description = "No such account", body = switchboard_protocol::ApiError),
    ))]
pub async fn reset_password(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    WithRejection(Path(username), _): WithRejection<Path<String>, AppError>,
    WithRejection(Json(reset), _): WithRejection<Json<PasswordReset>, AppError>,
) -> Result<StatusCode, AppError> {
    accounts::reset_password(&state.db, &admin.user.username, &username, reset.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `POST /api/admin/directory/import`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/admin/directory/import`: replaces the directory with a CSV file (the body).
#[utoipa::path(post, path = "/api/admin/directory/import", tag = "admin",
    security(("session_cookie" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "What was (or, for a dry run, would be) added, changed and removed", body = DirectoryDiff),
        (status = 400, description = "A bad row: its line, column and reason; nothing changed", body = switchboard_protocol::ApiError),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn import_directory(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    WithRejection(Query(query), _): WithRejection<Query<ImportQuery>, AppError>,
    body: Bytes,
) -> Result<Json<DirectoryDiff>, AppError> {
    let records = tokio::task::spawn_blocking(move || import::parse_csv(&body))
        .await
        .map_err(|err| AppError::Internal(format!("CSV parsing task: {err}")))??;
    let by = Applier {
        actor: &admin.user.username,
        action: "directory.import",
        create_accounts: true,
        deactivate_removed: false,
    };
    let diff = import::apply(&state.db, &records, by, query.dry_run).await?;
    Ok(Json(diff))
}

/// `GET /api/admin/directory/sync`: the last LDAP sync.
#[utoipa::path(get, path = "/api/admin/directory/sync", tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The last sync", body = SyncStatus),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn sync_status(
    State(state): State<AppState>,
    _admin: AdminSession,
) -> Result<Json<SyncStatus>, AppError> {
    let configured = state.config.ldap.is_some();
    Ok(Json(ldap::last_status(&state.db, configured).await?))
}

/// `POST /api/admin/directory/sync`: syncs from LDAP now (in the background).
#[utoipa::path(post, path = "/api/admin/directory/sync", tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 202, description = "The sync started; its status follows"),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
        (status = 409, description = "No LDAP directory is configured", body = switchboard_protocol::ApiError),
    ))]
pub async fn sync_now(
    State(state): State<AppState>,
    _admin: AdminSession,
) -> Result<StatusCode, AppError> {
    if state.config.ldap.is_none() {
        return Err(AppError::Conflict(
            "No LDAP directory is configured ([directory.ldap] in the config file).".into(),
        ));
    }
    state.sync_now.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// `GET /api/admin/settings`: the chat settings in force.
#[utoipa::path(get, path = "/api/admin/settings", tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The chat settings and the chat mode", body = SettingsInForce),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn get_settings(
    State(state): State<AppState>,
    _admin: AdminSession,
) -> Json<SettingsInForce> {
    let client = state.client_config();
    Json(SettingsInForce {
        chat: ChatSettings {
            predefined_messages: client.predefined_messages,
            chat_key: client.chat_key,
        },
        mode: state.config.mode,
    })
}

/// `PUT /api/admin/settings`: new chat settings, live on every open console.
#[utoipa::path(put, path = "/api/admin/settings", tag = "admin",
    security(("session_cookie" = [])), request_body = ChatSettings,
    responses(
        (status = 204, description = "Stored; consoles get them within a second"),
        (status = 400, description = "An empty key or message", body = switchboard_protocol::ApiError),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    WithRejection(Json(new), _): WithRejection<Json<ChatSettings>, AppError>,
) -> Result<StatusCode, AppError> {
    settings::save(&state.db, &state.config, &admin.user.username, new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/audit`: the newest audit entries, newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "At most 200 entries, newest first", body = [AuditEntry]),
        (status = 403, description = "Not an admin", body = switchboard_protocol::ApiError),
    ))]
pub async fn audit_log(
    State(state): State<AppState>,
    _admin: AdminSession,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    Ok(Json(audit::recent(&state.db).await?))
}

/// Routes of `/api/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users).post(add_user))
        .route("/api/admin/users/{username}", patch(change_user))
        .route("/api/admin/users/{username}/password", post(reset_password))
        .route(
            "/api/admin/directory/import",
            post(import_directory).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/admin/directory/sync", get(sync_status).post(sync_now))
        .route("/api/admin/settings", get(get_settings).put(put_settings))
        .route("/api/admin/audit", get(audit_log))
}
