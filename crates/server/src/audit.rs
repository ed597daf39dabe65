//! The audit log (who did what, when) and the change feed built on it.
//!
//! Every administrative change (from the Administration view, the command line or the LDAP
//! sync) commits an audit row in the same transaction as the change. Each running server
//! follows the log ([`follow`]) and applies what a row implies to its consoles: a new
//! directory as deltas, a deactivated user's consoles closed, new chat settings. So a
//! `switchboard-server user deactivate` run beside a live server takes effect within a second.

use std::time::Duration;

use sqlx::{Any, AnyPool, Executor, Row};
use switchboard_protocol::{AuditEntry, UserId};

use crate::{clock::now_ms, state::AppState};

/// How often a server looks for new audit rows.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);
/// Most audit rows the Administration view gets.
pub const RECENT: i64 = 200;

/// Writes one audit row; call it in the transaction of the change it records.
pub async fn record(
    db: impl Executor<'_, Database = Any>,
    actor: &str,
    action: &str,
    detail: &str,
    user: Option<UserId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at_ms, actor, action, detail, user_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now_ms())
    .bind(actor)
    .bind(action)
    .bind(detail)
    .bind(user)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest audit rows, newest first.
pub async fn recent(db: &AnyPool) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at_ms, actor, action, detail FROM audit_log ORDER BY seq DESC LIMIT $1",
    )
    .bind(RECENT)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|row| AuditEntry {
            seq: row.get("seq"),
            at_ms: row.get("at_ms"),
            actor: row.get("actor"),
            action: row.get("action"),
            detail: row.get("detail"),
        })
        .collect())
}

/// The newest audit row's seq (0 for none): where a starting server begins to follow.
pub async fn head(db: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
        .fetch_one(db)
        .await
}

/// Follows the audit log until shutdown, applying each new row to this server's consoles.
pub async fn follow(state: AppState, mut seen: i64) {
    let mut tick = tokio::time::interval(FOLLOW_EVERY);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let rows =
            sqlx::query("SELECT seq, action, user_id FROM audit_log WHERE seq > $1 ORDER BY seq")
                .bind(seen)
                .fetch_all(&state.db)
                .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(%err, "reading the audit log");
                continue;
            }
        };
        let mut directory = false;
        let mut settings = false;
        for row in &rows {
            seen = row.get("seq");
            let action: String = row.get("action");
            let user: Option<UserId> = row.get("user_id");
            match (action.as_str(), user) {
                ("user.add", Some(user)) => state.hub.add_user(user),
                ("user.federate", Some(user)) => state.hub.federate(&[user]),
                // A new role, a deactivation or a new password: the account's open consoles
                // close; they reconnect with the new role, or find their session gone.
                (_, Some(user)) if action.starts_with("user.") => state.hub.close_user(user),
                _ if action.starts_with("directory.") => directory = true,
                _ if action.starts_with("settings.") => settings = true,
                _ => {}
            }
        }
        // Once per batch: an import and a sync a moment apart make one delta.
        if directory {
            match state.directory.reload(&state.db).await {
                Ok(Some(frame)) => state.hub.broadcast(frame),
                Ok(None) => {}
                Err(err) => tracing::error!(%err, "reloading the directory"),
            }
        }
        if settings {
            match crate::settings::load(&state.db, &state.config).await {
                Ok(client) => state.publish_settings(client),
                Err(err) => tracing::error!(%err, "reloading the chat settings"),
            }
        }
    }
}
