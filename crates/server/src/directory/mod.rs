//! The company directory, sent to each console as a pre-encoded snapshot and kept current
//! with deltas. [`import`] fills it from a CSV file, [`ldap`] from LDAP / Active Directory;
//! [`notes`] holds the operators' notes on its entries.

pub mod import;
pub mod ldap;
pub mod notes;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::extract::ws::Utf8Bytes;
use sqlx::{AnyPool, Row, any::AnyRow};
use switchboard_protocol::{DirectoryEntry, EntryId, ServerFrame};

/// Bytes of entries (as JSON) per snapshot page: a connection's send buffer keeps the size
/// of the largest frame it sent (with what was waiting before it, up to the writer's buffer,
/// `ws::WRITE_BUFFER`), so this bounds what the snapshot leaves behind per console.
const PAGE_BYTES: usize = 8 * 1024;

/// One version of the directory: its entries and its snapshot frames.
struct Loaded {
    entries: HashMap<EntryId, DirectoryEntry>,
    /// Entries by the digits of each of their numbers (the first entry wins a shared one).
    by_number: HashMap<String, EntryId>,
    snapshot: Arc<[Utf8Bytes]>,
}

/// Longest number that counts as an internal extension (dialled as it is, with a line
/// state): digits only, at most this many.
const EXTENSION_DIGITS: usize = 6;

/// A number as telephone systems compare them: its digits ("+1 555-0100" is "15550100").
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// `number` as a telephone system dials it: its digits, with the leading `+` of an
/// international one; `None` without digits.
pub fn dialable(number: &str) -> Option<String> {
    let plus = if number.trim_start().starts_with('+') {
        "+"
    } else {
        ""
    };
    Some(format!("{plus}{}", digits(number))).filter(|dialled| dialled.len() > plus.len())
}

/// The entry's internal extension: its first number made of at most [`EXTENSION_DIGITS`]
/// digits and nothing else.
pub fn extension(entry: &DirectoryEntry) -> Option<&str> {
    entry.numbers.iter().map(String::as_str).find(|number| {
        !number.is_empty()
            && number.len() <= EXTENSION_DIGITS
            && number.bytes().all(|byte| byte.is_ascii_digit())
    })
}

/// The directory and its snapshot frames, encoded once and shared by every connection
/// (a 50,000-entry directory is megabytes of JSON: never re-encode it per console).
pub struct Directory {
    loaded: RwLock<Arc<Loaded>>,
}

/// A directory entry as stored (numbers are a JSON array, first the main one).
pub(crate) fn entry_from_row(row: &AnyRow) -> DirectoryEntry {
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
        email: row.get("email"),
        xmpp: row.get("xmpp"),
    }
}

/// The columns [`entry_from_row`] reads.
pub(crate) const ENTRY_COLUMNS: &str =
    "id, name, numbers, department, title, location, user_id, email, xmpp";

impl Directory {
    /// Reads every entry that is not removed.
    pub async fn load(db: &AnyPool) -> Result<Self, sqlx::Error> {
        let loaded = Self::read(db).await?;
        Ok(Directory {
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    async fn read(db: &AnyPool) -> Result<Loaded, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM directory_entries WHERE removed_at_ms IS NULL \
             ORDER BY lower(name), id"
        ))
        .fetch_all(db)
        .await?;
        let entries: Vec<DirectoryEntry> = rows.iter().map(entry_from_row).collect();
        let snapshot = pages(entries.clone())
            .map(|frame| frame.encode().into())
            .collect();
        let mut by_number = HashMap::new();
        for entry in &entries {
            for number in &entry.numbers {
                let digits = digits(number);
                if !digits.is_empty() {
                    by_number.entry(digits).or_insert(entry.id);
                }
            }
        }
        let entries = entries.into_iter().map(|entry| (entry.id, entry)).collect();
        Ok(Loaded {
            entries,
            by_number,
            snapshot,
        })
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the directory again and returns the `directory_changed` frame that brings a
    /// console from the old version to the new one (`None` when nothing changed). The new
    /// snapshot is in place before the frame is returned: a console that joins after the
    /// frame went out gets the new snapshot, one that joined before gets the frame
    /// (possibly both, which is harmless: deltas are idempotent).
    pub async fn reload(&self, db: &AnyPool) -> Result<Option<Utf8Bytes>, sqlx::Error> {
        let new = Self::read(db).await?;
        let old = self.current();
        let mut upserted: Vec<DirectoryEntry> = new
            .entries
            .values()
            .filter(|entry| old.entries.get(&entry.id) != Some(entry))
            .cloned()
            .collect();
        upserted.sort_by_key(|entry| entry.id);
        let mut removed: Vec<EntryId> = old
            .entries
            .keys()
            .filter(|id| !new.entries.contains_key(id))
            .copied()
            .collect();
        removed.sort_unstable();
        *self
            .loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(new);
        if upserted.is_empty() && removed.is_empty() {
            return Ok(None);
        }
        let frame = ServerFrame::DirectoryChanged { upserted, removed };
        Ok(Some(frame.encode().into()))
    }

    /// The `directory_snapshot` frames (pages), ready to send in order.
    pub fn snapshot(&self) -> Arc<[Utf8Bytes]> {
        self.current().snapshot.clone()
    }

    /// Number of entries, for the start-up log.
    pub fn entry_count(&self) -> usize {
        self.current().entries.len()
    }

    /// Whether an entry exists (a transfer target must).
    pub fn contains(&self, id: EntryId) -> bool {
        self.current().entries.contains_key(&id)
    }

    /// The name of entry `id`, or "entry N" once it left the directory.
    pub fn name_of(&self, id: EntryId) -> String {
        self.current()
            .entries
            .get(&id)
            .map_or_else(|| format!("entry {id}"), |entry| entry.name.clone())
    }

    /// The entry one of whose numbers has the digits of `number` (a caller's number).
    pub fn by_number(&self, number: &str) -> Option<DirectoryEntry> {
        let loaded = self.current();
        let id = loaded.by_number.get(&digits(number))?;
        loaded.entries.get(id).cloned()
    }

    /// The number a telephone system dials to reach entry `id`: its extension, else its
    /// first number as digits (with the leading `+` of an international one).
    pub fn dial_number(&self, id: EntryId) -> Option<String> {
        let loaded = self.current();
        let entry = loaded.entries.get(&id)?;
        if let Some(extension) = extension(entry) {
            return Some(extension.to_owned());
        }
        dialable(entry.numbers.first()?)
    }

    /// Every entry with an extension: the lines whose state the busy lamp field shows.
    pub fn extensions(&self) -> Vec<(EntryId, String)> {
        self.current()
            .entries
            .values()
            .filter_map(|entry| Some((entry.id, extension(entry)?.to_owned())))
            .collect()
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
            email: String::new(),
            xmpp: String::new(),
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
