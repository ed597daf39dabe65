//! Absences: a user says they are away until a time ("On leave until 3 Dec, ask Bob Baker").
//! Stored, sent to every console on every node as it changes and at hello; consoles show the
//! user away with the text beside their presence until it ends (the chosen presence is kept
//! underneath and shows again then). Ended absences are removed here now and then.

use std::time::Duration;

use sqlx::{AnyPool, Row};
use switchboard_protocol::{Absence, MAX_ABSENCE_CHARS, MAX_ABSENCE_MS, ServerFrame, UserId};

use crate::{clock::now_ms, state::AppState};

/// How often ended absences are removed.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Why an absence was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum AbsenceError {
    #[error("{0}")]
    Invalid(String),
    #[error("storing the absence failed")]
    Database(#[from] sqlx::Error),
}

/// Every absence that has not ended.
pub async fn active(db: &AnyPool) -> Result<Vec<Absence>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id, text, until_ms FROM absences WHERE until_ms > $1")
        .bind(now_ms())
        .fetch_all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|row| Absence {
            user: row.get("user_id"),
            text: row.get("text"),
            until_ms: row.get("until_ms"),
        })
        .collect())
}

/// The `absences` snapshot for a console that just joined.
pub async fn snapshot(db: &AnyPool) -> Result<ServerFrame, sqlx::Error> {
    Ok(ServerFrame::Absences {
        absences: active(db).await?,
        ended: Vec::new(),
        snapshot: true,
    })
}

/// Checks what a user asked for: `None` ends the absence.
fn check(text: &str, until_ms: i64, now: i64) -> Result<Option<(String, i64)>, AbsenceError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_ABSENCE_CHARS {
        return Err(AbsenceError::Invalid(format!(
            "an absence text has at most {MAX_ABSENCE_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(AbsenceError::Invalid(
            "an absence text is one line without control characters".into(),
        ));
    }
    if until_ms <= now || until_ms > now + MAX_ABSENCE_MS {
        return Err(AbsenceError::Invalid(
            "an absence ends in the future, within a year".into(),
        ));
    }
    Ok(Some((text.to_owned(), until_ms)))
}

/// Sets (or, with an empty text, ends) `user`'s absence and tells every console.
pub async fn set(
    state: &AppState,
    user: UserId,
    text: &str,
    until_ms: i64,
) -> Result<(), AbsenceError> {
    let frame = match check(text, until_ms, now_ms())? {
        Some((text, until_ms)) => {
            let mut tx = crate::storage::begin_write(&state.db).await?;
            sqlx::query(
                "INSERT INTO absences (user_id, text, until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET text = excluded.text, until_ms = excluded.until_ms",
            )
            .bind(user)
            .bind(&text)
            .bind(until_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            ServerFrame::Absences {
                absences: vec![Absence {
                    user,
                    text,
                    until_ms,
                }],
                ended: Vec::new(),
                snapshot: false,
            }
        }
        None => {
            let mut tx = crate::storage::begin_write(&state.db).await?;
            sqlx::query("DELETE FROM absences WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            ended(vec![user])
        }
    };
    state.hub.broadcast_everywhere(frame.encode().into());
    Ok(())
}

fn ended(users: Vec<UserId>) -> ServerFrame {
    ServerFrame::Absences {
        absences: Vec::new(),
        ended: users,
        snapshot: false,
    }
}

/// Removes ended absences until shutdown, telling every console (they also stop showing an
/// absence by their own clock).
pub async fn sweep(state: AppState) {
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if let Err(err) = sweep_once(&state).await {
            tracing::warn!(%err, "removing ended absences");
        }
    }
}

/// Removes the absences that have ended and tells every console; the users whose ended.
pub async fn sweep_once(state: &AppState) -> Result<Vec<UserId>, sqlx::Error> {
    let mut tx = crate::storage::begin_write(&state.db).await?;
    let users: Vec<UserId> =
        sqlx::query_scalar("DELETE FROM absences WHERE until_ms <= $1 RETURNING user_id")
            .bind(now_ms())
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    if !users.is_empty() {
        state
            .hub
            .broadcast_everywhere(ended(users.clone()).encode().into());
    }
    Ok(users)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absence_is_one_bounded_line_that_ends_within_a_year() {
        let now = 1_700_000_000_000;
        let day = 86_400_000;
        assert_eq!(
            check(" On leave ", now + day, now).unwrap(),
            Some(("On leave".to_owned(), now + day))
        );
        assert_eq!(check("  ", now - day, now).unwrap(), None, "empty ends it");
        for (text, until) in [
            ("On leave", now),
            ("On leave", now + 400 * day),
            ("Line\nbreak", now + day),
        ] {
            assert!(check(text, until, now).is_err(), "{text:?} until {until}");
        }
        let long = "x".repeat(MAX_ABSENCE_CHARS + 1);
        assert!(check(&long, now + day, now).is_err());
    }
}
