//! The Administration view's HTTP calls (`/api/admin/...`): accounts, directory import and
//! sync, chat settings, audit log. Every call needs an admin's session; a refusal carries the
//! server's sentence (see [`RequestError`]).

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use switchboard_protocol::{
    Account, AccountChange, AuditEntry, ChatSettings, DirectoryDiff, NewAccount, PasswordReset,
    SettingsInForce, SyncStatus,
};

use crate::api::{RequestError, refusal};

const USERS: &str = "/api/admin/users";
const IMPORT: &str = "/api/admin/directory/import";
const SYNC: &str = "/api/admin/directory/sync";
const SETTINGS: &str = "/api/admin/settings";
const AUDIT: &str = "/api/admin/audit";

/// Every account, by username.
pub async fn accounts() -> Result<Vec<Account>, RequestError> {
    json(Request::get(USERS).send().await?).await
}

/// Creates an account; the server refuses an invalid name, a short password or a taken name.
pub async fn add_account(account: &NewAccount) -> Result<Account, RequestError> {
    json(Request::post(USERS).json(account)?.send().await?).await
}

/// Changes an account's role, or deactivates or reactivates it.
pub async fn change_account(
    username: &str,
    change: &AccountChange,
) -> Result<Account, RequestError> {
    let url = format!("{USERS}/{}", path_segment(username));
    json(Request::patch(&url).json(change)?.send().await?).await
}

/// Sets a new password for an account (its sessions end).
pub async fn reset_password(username: &str, reset: &PasswordReset) -> Result<(), RequestError> {
    let url = format!("{USERS}/{}/password", path_segment(username));
    done(Request::post(&url).json(reset)?.send().await?).await
}

/// Sends the text of a CSV file to replace the directory; with
/// `dry_run` the server only reports what would change. A bad row changes nothing and comes
/// back as a refusal naming its line, column and reason.
pub async fn import_directory(csv: String, dry_run: bool) -> Result<DirectoryDiff, RequestError> {
    let url = format!("{IMPORT}?dry_run={dry_run}");
    let request = Request::post(&url)
        .header("Content-Type", "text/csv")
        .body(csv)?;
    json(request.send().await?).await
}

/// The last directory sync from LDAP (or that none is configured).
pub async fn sync_status() -> Result<SyncStatus, RequestError> {
    json(Request::get(SYNC).send().await?).await
}

/// Starts a directory sync from LDAP; it runs in the background (see [`sync_status`]).
pub async fn sync_now() -> Result<(), RequestError> {
    done(Request::post(SYNC).send().await?).await
}

/// The chat settings in force, and the chat mode.
pub async fn chat_settings() -> Result<SettingsInForce, RequestError> {
    json(Request::get(SETTINGS).send().await?).await
}

/// Stores new chat settings; every open console gets them at once.
pub async fn save_chat_settings(settings: &ChatSettings) -> Result<(), RequestError> {
    done(Request::put(SETTINGS).json(settings)?.send().await?).await
}

/// The newest audit entries, newest first.
pub async fn audit_log() -> Result<Vec<AuditEntry>, RequestError> {
    json(Request::get(AUDIT).send().await?).await
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T, RequestError> {
    if response.ok() {
        Ok(response.json().await?)
    } else {
        Err(refusal(response).await)
    }
}

async fn done(response: Response) -> Result<(), RequestError> {
    if response.ok() {
        Ok(())
    } else {
        Err(refusal(response).await)
    }
}

/// A username as one path segment: usernames are plain today, but a name from anywhere must
/// never reach another route.
fn path_segment(username: &str) -> String {
    String::from(js_sys::encode_uri_component(username))
}
