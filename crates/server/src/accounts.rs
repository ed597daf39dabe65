//! Accounts and roles: what `switchboard-server user ...` and the Administration view do.
//! Every change commits its audit row with it (see [`crate::audit`]).

use sqlx::{AnyPool, Row, any::AnyRow};
use switchboard_protocol::{Account, AccountChange, NewAccount, Role, UserId};

use crate::{audit, auth::hash_password_off_thread, error::AppError};

/// Shortest password an administrator may set.
pub const MIN_PASSWORD_CHARS: usize = 8;

fn account(row: &AnyRow) -> Account {
    let role: String = row.get("role");
    Account {
        id: row.get("id"),
        username: row.get("username"),
        display_name: row.get("display_name"),
        role: Role::parse(&role).unwrap_or_default(),
        active: row.get::<i64, _>("active") != 0,
    }
}

const SELECT: &str = "SELECT id, username, display_name, role, active FROM users";

/// Every account, by username.
pub async fn list(db: &AnyPool) -> Result<Vec<Account>, sqlx::Error> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY username"))
        .fetch_all(db)
        .await?;
    Ok(rows.iter().map(account).collect())
}

/// Number of accounts: a server with none tells how to add the first administrator.
pub async fn count(db: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
}

async fn find(db: &AnyPool, username: &str) -> Result<Account, AppError> {
    sqlx::query(&format!("{SELECT} WHERE username = $1"))
        .bind(username)
        .fetch_optional(db)
        .await?
        .map(|row| account(&row))
        .ok_or_else(|| AppError::NotFound(format!("There is no account named {username:?}.")))
}

/// Ends every session of `user` (deactivated, new password); the audit row recorded with it
/// makes running servers close the account's open consoles.
pub(crate) async fn end_sessions(
    tx: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(tx)
        .await?;
    Ok(())
}

/// A username people type to sign in: 1 to 64 of a-z, 0-9, `.`, `_`, `-`.
pub fn check_username(username: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{username:?} is not a valid username: use 1 to 64 of a-z, 0-9, '.', '_' and '-'"
        ))
    }
}

fn check_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::Invalid(format!(
            "The password must have at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

/// Creates an account. `actor` is the admin's username or `cli`.
pub async fn add(db: &AnyPool, actor: &str, new: NewAccount) -> Result<Account, AppError> {
    check_username(&new.username).map_err(AppError::Invalid)?;
    let display_name = new.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 200 {
        return Err(AppError::Invalid(
            "The display name must have 1 to 200 characters.".into(),
        ));
    }
    check_password(&new.password)?;
    let hash = hash_password_off_thread(new.password).await?;
    let mut tx = crate::storage::begin_write(db).await?;
    let inserted = sqlx::query(
        "INSERT INTO users (username, display_name, password_hash, role) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(&new.username)
    .bind(display_name)
    .bind(hash)
    .bind(new.role.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = inserted else {
        return Err(AppError::Conflict(format!(
            "An account named {:?} exists already.",
            new.username
        )));
    };
    let id: UserId = row.get("id");
    let detail = format!("{} ({})", new.username, new.role.as_str());
    audit::record(&mut *tx, actor, "user.add", &detail, Some(id)).await?;
    tx.commit().await?;
    find(db, &new.username).await
}

/// Changes an account's role or deactivates / reactivates it. The last active admin can be
/// neither demoted nor deactivated: nobody could administer the installation any more.
pub async fn change(
    db: &AnyPool,
    actor: &str,
    username: &str,
    change: AccountChange,
) -> Result<Account, AppError> {
    let current = find(db, username).await?;
    let mut tx = crate::storage::begin_write(db).await?;
    let loses_admin = current.role == Role::Admin
        && current.active
        && (change.role.is_some_and(|role| role != Role::Admin) || change.active == Some(false));
    if loses_admin {
        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1")
                .fetch_one(&mut *tx)
                .await?;
        if admins <= 1 {
            return Err(AppError::Conflict(format!(
                "{username} is the last active administrator; make another account admin first."
            )));
        }
    }
    if let Some(role) = change.role.filter(|role| *role != current.role) {
        sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        let detail = format!("{username}: {} -> {}", current.role.as_str(), role.as_str());
        audit::record(&mut *tx, actor, "user.role", &detail, Some(current.id)).await?;
    }
    if let Some(active) = change.active.filter(|active| *active != current.active) {
        sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        if !active {
            end_sessions(&mut tx, current.id).await?;
        }
        let action = if active {
            "user.activate"
        } else {
            "user.deactivate"
        };
        audit::record(&mut *tx, actor, action, username, Some(current.id)).await?;
    }
    tx.commit().await?;
    find(db, username).await
}

/// Sets a new password; the account's other sessions end (whoever knew the old one is out).
pub async fn reset_password(
    db: &AnyPool,
    actor: &str,
    username: &str,
    password: String,
) -> Result<(), AppError> {
    let account = find(db, username).await?;
    check_password(&password)?;
    let hash = hash_password_off_thread(password).await?;
    let mut tx = crate::storage::begin_write(db).await?;
    let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND xmpp IS NULL")
        .bind(hash)
        .bind(account.id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::Invalid(format!(
            "{username} is a contact on the XMPP server: they sign in there, not to Switchboard"
        )));
    }
    end_sessions(&mut tx, account.id).await?;
    audit::record(&mut *tx, actor, "user.password", username, Some(account.id)).await?;
    tx.commit().await?;
    Ok(())
}
