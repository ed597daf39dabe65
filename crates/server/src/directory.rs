//! The company directory, loaded once and sent to each console as a pre-encoded snapshot.

use std::collections::HashSet;

use axum::extract::ws::Utf8Bytes;
use sqlx::{Row, SqlitePool};
use switchboard_protocol::{DirectoryEntry, EntryId, ServerFrame};

/// Bytes of entries (as JSON) per snapshot page: a connection's send buffer keeps the size
/// of the largest frame it sent, so this bounds what the snapshot leaves behind per console.
const PAGE_BYTES: usize = 16 * 1024;

/// The directory and its snapshot frames, encoded once and shared by every connection
/// (a 50,000-entry directory is megabytes of JSON: never re-encode it per console).
pub struct Directory {
    snapshot: Vec<Utf8Bytes>,
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
        let snapshot = pages(entries).map(|frame| frame.encode().into()).collect();
        Ok(Directory { snapshot, ids })
    }

    /// The `directory_snapshot` frames (pages), ready to send in order.
    pub fn snapshot(&self) -> &[Utf8Bytes] {
        &self.snapshot
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

/// `entries` cut into `directory_snapshot` pages of about [`PAGE_BYTES`] each (at least one
/// entry per page, and one empty page for an empty directory).
fn pages(entries: Vec<DirectoryEntry>) -> impl Iterator<Item = ServerFrame> {
    let mut pages: Vec<Vec<DirectoryEntry>> = vec![Vec::new()];
    let mut bytes = 0;
    for entry in entries {
        let size = serde_json::to_string(&entry).map_or(0, |json| json.len());
        let page = pages.last_mut().expect("there is always a page");
        if !page.is_empty() && bytes + size > PAGE_BYTES {
            pages.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        pages.last_mut().expect("just pushed").push(entry);
    }
    let last = pages.len() - 1;
    pages
        .into_iter()
        .enumerate()
        .map(move |(index, entries)| ServerFrame::DirectorySnapshot {
            entries,
            more: index < last,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: EntryId) -> DirectoryEntry {
        DirectoryEntry {
            id,
            name: format!("Person {id}"),
            numbers: vec![format!("{}", 1000 + id)],
            department: "Sales".into(),
            title: String::new(),
            location: String::new(),
            user: None,
        }
    }

    #[test]
    fn pages_are_small_ordered_and_only_the_last_says_no_more() {
        let frames: Vec<ServerFrame> = pages((1..=2_000).map(entry).collect()).collect();
        assert!(frames.len() > 1);
        let mut ids = Vec::new();
        for (index, frame) in frames.iter().enumerate() {
            let ServerFrame::DirectorySnapshot { entries, more } = frame else {
                panic!("not a snapshot page: {frame:?}")
            };
            assert_eq!(*more, index + 1 < frames.len());
            assert!(
                frame.encode().len() < PAGE_BYTES + 512,
                "page {index} too big"
            );
            ids.extend(entries.iter().map(|entry| entry.id));
        }
        assert_eq!(ids, (1..=2_000).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_directory_is_one_empty_last_page() {
        let frames: Vec<ServerFrame> = pages(Vec::new()).collect();
        assert!(matches!(
            frames.as_slice(),
            [ServerFrame::DirectorySnapshot { entries, more: false }] if entries.is_empty()
        ));
    }
}
