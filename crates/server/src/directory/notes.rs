//! Operators' notes on directory entries: written by operators, shown to operators (the
//! directory row's details, the transfer assistant), never touched by an import or a sync.

use sqlx::{AnyPool, Row};
use switchboard_protocol::{EntryId, EntryNote};

use crate::clock::now_ms;

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Every note, for an operator's console after `hello`.
pub async fn all(db: &AnyPool) -> Result<Vec<EntryNote>, sqlx::Error> {
    let rows = sqlx::query("SELECT entry_id, text, author, updated_at_ms FROM entry_notes")
        .fetch_all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|row| EntryNote {
            entry: row.get("entry_id"),
            text: row.get("text"),
            author: row.get("author"),
            updated_at_ms: row.get("updated_at_ms"),
        })
        .collect())
}

/// Stores (or, for an empty text, removes) the note on `entry`; the caller has checked that
/// the entry exists and the text's length.
pub async fn set(
    db: &AnyPool,
    author: &str,
    entry: EntryId,
    text: &str,
) -> Result<EntryNote, sqlx::Error> {
    let text = text.trim();
    let now = now_ms();
    if text.is_empty() {
        sqlx::query("DELETE FROM entry_notes WHERE entry_id = $1")
            .bind(entry)
            .execute(db)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO entry_notes (entry_id, text, author, updated_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (entry_id) DO UPDATE SET text = excluded.text, \
             author = excluded.author, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(entry)
        .bind(text)
        .bind(author)
        .bind(now)
        .execute(db)
        .await?;
    }
    Ok(EntryNote {
        entry,
        text: text.to_owned(),
        author: author.to_owned(),
        updated_at_ms: now,
    })
}
