//! The company directory, loaded once and sent to each console as one pre-encoded snapshot.

use std::collections::HashSet;

use axum::extract::ws::Utf8Bytes;
use sqlx::{Row, SqlitePool};
use switchboard_protocol::{DirectoryEntry, EntryId, ServerFrame};

/// The directory and its snapshot frame, encoded once and shared by every connection
/// (a 50,000-entry directory is megabytes of JSON: never re-encode it per console).
pub struct Directory {
    snapshot: Utf8Bytes,
    ids: HashSet<EntryId>,
}

impl Directory {
    /// Reads every entry, sorted by name.
    pub async fn load(db: &SqlitePool) -> Result<Self, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, name, numbers, department, title, location, user_id \
             FROM directory_entries ORDER BY name COLLATE NOCASE, id",
        )
        .fetch_all(db)
        .await?;
        let entries: Vec<DirectoryEntry> = rows
            .iter()
            .map(|row| {
                let numbers: String = row.get("numbers");
                DirectoryEntry {
                    id: row.get("id"),
                    name: row.get("name"),
                    numbers: serde_json::from_str(&numbers).unwrap_or_else(|err| {
                        tracing::warn!(%err, numbers, "directory entry has unreadable numbers");
                        Vec::new()
                    }),
                    department: row.get("department"),
                    title: row.get("title"),
                    location: row.get("location"),
                    user: row.get("user_id"),
                }
            })
            .collect();
        let ids = entries.iter().map(|entry| entry.id).collect();
        let snapshot = ServerFrame::DirectorySnapshot { entries }.encode().into();
        Ok(Directory { snapshot, ids })
    }

    /// The `directory_snapshot` frame, ready to send.
    pub fn snapshot(&self) -> Utf8Bytes {
        self.snapshot.clone()
    }

    /// Number of entries, for the start-up log.
    pub fn entry_count(&self) -> usize {
        self.ids.len()
    }

    /// Whether an entry exists (a transfer target must).
    pub fn contains(&self, id: EntryId) -> bool {
        self.ids.contains(&id)
    }
}
