//! The store's directory: entries sorted and indexed for search, applied from snapshots and
//! deltas, and the operators' notes on entries.

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::{ClientFrame, DirectoryEntry, EntryId, EntryNote};

use super::Store;
use super::connection::whole_snapshot;

/// One directory entry with its search text, lowercased once per snapshot, not per keystroke.
#[derive(Debug)]
struct Row {
    entry: DirectoryEntry,
    /// Lowercase name, numbers and department, one per line so that a search term never
    /// matches across two fields. The lowercase name comes first: it is also the sort key.
    haystack: String,
    name_len: usize,
}

impl Row {
    fn new(entry: DirectoryEntry) -> Self {
        let mut haystack = entry.name.to_lowercase();
        let name_len = haystack.len();
        for field in entry.numbers.iter().chain([&entry.department]) {
            haystack.push('\n');
            haystack.push_str(&field.to_lowercase());
        }
        Row {
            entry,
            haystack,
            name_len,
        }
    }

    fn sort_key(&self) -> (&str, EntryId) {
        (&self.haystack[..self.name_len], self.entry.id)
    }
}

/// The company directory in one vector sorted by name; everything else refers to an entry by its
/// position here, so filtering and virtualized rendering never copy entries (docs/design.md, figures).
#[derive(Debug, Default)]
pub struct Directory {
    rows: Vec<Row>,
    /// Position of every entry by id, so a call's transfer target is found without a scan.
    positions: HashMap<EntryId, usize>,
    generation: u64,
}

impl Directory {
    /// Builds the directory of one snapshot; `generation` tells rows of two snapshots apart.
    pub(super) fn new(entries: Vec<DirectoryEntry>, generation: u64) -> Self {
        let mut rows: Vec<Row> = entries.into_iter().map(Row::new).collect();
        rows.sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut directory = Directory {
            rows,
            positions: HashMap::new(),
            generation,
        };
        directory.index_positions();
        directory
    }

    /// Records where each entry stands in `rows` (after they were sorted).
    fn index_positions(&mut self) {
        self.positions.clear();
        self.positions.extend(
            self.rows
                .iter()
                .enumerate()
                .map(|(position, row)| (row.entry.id, position)),
        );
    }

    /// What to show while a snapshot's pages arrive, given this page: its entries when this
    /// directory comes from no snapshot yet and more pages follow (the server sends entries in
    /// name order, so they are the first rows); otherwise nothing changes until the last page.
    fn while_arriving(&self, page: &[DirectoryEntry], more: bool) -> Option<Directory> {
        (more && self.generation == 0).then(|| Directory::new(page.to_vec(), 1))
    }

    /// Applies a `directory_changed` delta in place: `upserted` entries added or replaced,
    /// `removed` ones gone. The other rows keep their search text; the new ones go at the end
    /// and one stable sort merges them in (the rest is already in order).
    fn change(&mut self, upserted: Vec<DirectoryEntry>, removed: &[EntryId], generation: u64) {
        let replaced: std::collections::HashSet<EntryId> = upserted
            .iter()
            .map(|entry| entry.id)
            .chain(removed.iter().copied())
            .collect();
        self.rows.retain(|row| !replaced.contains(&row.entry.id));
        self.rows.extend(upserted.into_iter().map(Row::new));
        self.rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.index_positions();
        self.generation = generation;
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the directory holds no entry (before the first snapshot, or an empty company).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The entry at `position` in name order.
    pub fn entry(&self, position: usize) -> Option<&DirectoryEntry> {
        self.rows.get(position).map(|row| &row.entry)
    }

    /// The entry with this id, if the directory has it.
    pub fn find(&self, id: EntryId) -> Option<&DirectoryEntry> {
        self.positions
            .get(&id)
            .and_then(|&position| self.entry(position))
    }

    /// Increases with every snapshot, so views keyed by it redraw rows whose content may differ.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Positions of the entries matching `query`, in name order. Every whitespace-separated term
    /// must occur, case-insensitively, in the name, a number or the department; an empty query
    /// matches everything.
    pub fn filter(&self, query: &str) -> Vec<usize> {
        self.search(query, usize::MAX)
    }

    /// Like [`Directory::filter`], but stops after `limit` matches: a picker that shows a few
    /// names does not walk tens of thousands of entries per keystroke.
    pub fn search(&self, query: &str, limit: usize) -> Vec<usize> {
        self.matching(query, 0..self.rows.len())
            .take(limit)
            .collect()
    }

    /// [`Directory::filter`] for a query that extends one whose matches were `previous`
    /// (typing on): only those can still match, so only they are searched.
    pub fn refine(&self, query: &str, previous: &[usize]) -> Vec<usize> {
        self.matching(query, previous.iter().copied()).collect()
    }

    /// The `positions` whose entry has every whitespace-separated term of `query`,
    /// case-insensitively, in its name, a number or its department.
    fn matching<'a>(
        &'a self,
        query: &str,
        positions: impl Iterator<Item = usize> + 'a,
    ) -> impl Iterator<Item = usize> + 'a {
        let query = query.to_lowercase();
        let terms: Vec<String> = query.split_whitespace().map(str::to_owned).collect();
        positions.filter(move |&position| {
            self.rows.get(position).is_some_and(|row| {
                terms
                    .iter()
                    .all(|term| row.haystack.contains(term.as_str()))
            })
        })
    }
}

impl Store {
    /// The operator note on an entry, tracked: changes when anyone writes it.
    pub fn note(&self, entry: EntryId) -> Option<EntryNote> {
        self.notes.with(|notes| notes.get(&entry).cloned())
    }

    /// Writes (or, with an empty text, removes) the note on an entry; every operator's
    /// console shows it once the server has stored it.
    pub fn set_note(&self, entry: EntryId, text: String) {
        if !self.send(ClientFrame::SetNote { entry, text }) {
            self.notify("Not connected to the server: the note was not saved.".to_owned());
        }
    }

    /// The company directory, sorted by name.
    pub fn directory(&self) -> ReadSignal<Directory> {
        self.directory.read_only()
    }

    /// Positions in [`Store::directory`] of the entries matching `query`, recomputed only when
    /// the query or the directory changes.
    pub fn filtered_directory(&self, query: Signal<String>) -> Memo<Vec<usize>> {
        let directory = self.directory;
        // The query (lowercase) and directory generation the memo's value answers.
        let answered = StoredValue::new(None::<(String, u64)>);
        Memo::new(move |previous: Option<&Vec<usize>>| {
            query.with(|query| {
                directory.with(|directory| {
                    let query = query.to_lowercase();
                    // Every term of an extended query contains a term of the old one (or is
                    // new), so its matches are among the old ones.
                    let extends = answered.with_value(|answered| {
                        answered.as_ref().is_some_and(|(old, generation)| {
                            *generation == directory.generation() && query.starts_with(old.as_str())
                        })
                    });
                    let matches = match previous.filter(|_| extends) {
                        Some(previous) => directory.refine(&query, previous),
                        None => directory.filter(&query),
                    };
                    answered.set_value(Some((query, directory.generation())));
                    matches
                })
            })
        })
    }

    /// The first `limit` positions of [`Store::filtered_directory`], for pickers.
    pub fn directory_matches(&self, query: Signal<String>, limit: usize) -> Memo<Vec<usize>> {
        let directory = self.directory;
        Memo::new(move |_| {
            query.with(|query| directory.with(|directory| directory.search(query, limit)))
        })
    }

    /// One page of the directory snapshot: kept aside until the last, then the pages together
    /// replace the directory (one rebuild, one redraw). A console that has never held a
    /// directory shows the first page at once instead of an empty pane until the last: the
    /// server sends entries in name order, so they are the first rows of the list. Once a
    /// directory is shown, a new snapshot (a reconnect) replaces it only when whole.
    pub(super) fn directory_page(&self, entries: Vec<DirectoryEntry>, more: bool) {
        let early = self
            .directory
            .with_untracked(|shown| shown.while_arriving(&entries, more));
        if let Some(early) = early {
            self.directory.set(early);
        }
        if let Some(entries) = whole_snapshot(self.directory_pages, entries, more) {
            self.replace_directory(entries);
        }
    }

    fn replace_directory(&self, entries: Vec<DirectoryEntry>) {
        let generation = self.directory.with_untracked(Directory::generation) + 1;
        self.directory.set(Directory::new(entries, generation));
        self.handshake_step(|handshake| handshake.directory = true);
    }

    pub(super) fn change_directory(&self, upserted: Vec<DirectoryEntry>, removed: Vec<EntryId>) {
        self.directory.update(|directory| {
            let generation = directory.generation() + 1;
            directory.change(upserted, &removed, generation);
        });
    }

    pub(super) fn update_notes(&self, notes: Vec<EntryNote>, snapshot: bool) {
        self.notes.update(|held| {
            if snapshot {
                held.clear();
            }
            for note in notes {
                if note.text.is_empty() {
                    held.remove(&note.entry);
                } else {
                    held.insert(note.entry, note);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, name: &str, number: &str, department: &str) -> DirectoryEntry {
        DirectoryEntry {
            id,
            name: name.into(),
            numbers: vec![number.into(), format!("+1 555 0{number}")],
            department: department.into(),
            title: "Clerk".into(),
            location: "Floor 3".into(),
            user: Some(id),
            email: String::new(),
            xmpp: String::new(),
        }
    }

    fn company() -> Directory {
        Directory::new(
            vec![
                entry(3, "Carol Carter", "2004", "Legal"),
                entry(1, "alice Archer", "2002", "Sales"),
                entry(2, "Bob Baker", "2003", "Legal"),
                entry(4, "Lobby Phone", "100", "Facilities"),
            ],
            1,
        )
    }

    fn names(directory: &Directory, positions: &[usize]) -> Vec<String> {
        positions
            .iter()
            .map(|&position| directory.entry(position).unwrap().name.clone())
            .collect()
    }

    #[test]
    fn a_delta_adds_replaces_and_removes_entries_in_name_order() {
        let mut directory = company();
        let renamed = entry(2, "Zoe Baker", "2003", "Legal");
        let added = entry(5, "Aaron Abbott", "2099", "Sales");
        directory.change(vec![renamed, added], &[4], 2);
        let all: Vec<usize> = (0..directory.len()).collect();
        assert_eq!(
            names(&directory, &all),
            ["Aaron Abbott", "alice Archer", "Carol Carter", "Zoe Baker"]
        );
        assert_eq!(directory.find(2).unwrap().name, "Zoe Baker");
        assert!(directory.find(4).is_none(), "removed");
        assert_eq!(
            names(&directory, &directory.filter("2099")),
            ["Aaron Abbott"]
        );
        assert_eq!(directory.generation(), 2);
    }

    #[test]
    fn entries_are_sorted_by_name_ignoring_case() {
        let directory = company();
        let all: Vec<usize> = (0..directory.len()).collect();
        assert_eq!(
            names(&directory, &all),
            ["alice Archer", "Bob Baker", "Carol Carter", "Lobby Phone"]
        );
    }

    #[test]
    fn refining_an_extended_query_finds_what_a_full_search_finds() {
        let directory = company();
        let mut previous = directory.filter("");
        for query in ["l", "le", "leg", "legal", "legal ", "legal c", "legal car"] {
            let refined = directory.refine(query, &previous);
            assert_eq!(refined, directory.filter(query), "{query:?}");
            previous = refined;
        }
        assert_eq!(names(&directory, &previous), ["Carol Carter"]);
    }

    #[test]
    fn empty_query_matches_everything_in_order() {
        let directory = company();
        assert_eq!(directory.filter(""), [0, 1, 2, 3]);
        assert_eq!(directory.filter("   "), [0, 1, 2, 3]);
    }

    #[test]
    fn matches_name_case_insensitively() {
        let directory = company();
        assert_eq!(
            names(&directory, &directory.filter("ARCHER")),
            ["alice Archer"]
        );
        assert_eq!(
            names(&directory, &directory.filter("lobby")),
            ["Lobby Phone"]
        );
    }

    #[test]
    fn matches_any_number() {
        let directory = company();
        assert_eq!(names(&directory, &directory.filter("2003")), ["Bob Baker"]);
        assert_eq!(
            names(&directory, &directory.filter("+1 555 0100")),
            ["Lobby Phone"]
        );
    }

    #[test]
    fn matches_department_keeping_name_order() {
        let directory = company();
        assert_eq!(
            names(&directory, &directory.filter("legal")),
            ["Bob Baker", "Carol Carter"]
        );
    }

    #[test]
    fn every_term_must_match_and_never_across_fields() {
        let directory = company();
        assert_eq!(
            names(&directory, &directory.filter("legal carol")),
            ["Carol Carter"]
        );
        assert!(directory.filter("zzzz-nobody").is_empty());
        // Title and location are shown but not searched.
        assert!(directory.filter("clerk").is_empty());
        // "Carter" + "2004" would only match if fields ran together.
        assert!(directory.filter("carter2004").is_empty());
    }

    #[test]
    fn entries_are_found_by_id() {
        let directory = company();
        assert_eq!(
            directory.find(2).map(|entry| entry.name.as_str()),
            Some("Bob Baker")
        );
        assert_eq!(directory.find(99), None);
        assert_eq!(Directory::default().find(2), None);
    }

    #[test]
    fn the_first_snapshot_shows_its_first_page_at_once_and_a_later_one_only_when_whole() {
        let page = |ids: std::ops::Range<i64>| -> Vec<DirectoryEntry> {
            ids.map(|id| entry(id, &format!("Person {id:03}"), "2000", "Sales"))
                .collect()
        };
        let none = Directory::default();
        let early = none.while_arriving(&page(0..100), true).unwrap();
        assert_eq!(
            early.len(),
            100,
            "the first page is on screen before the rest"
        );
        assert_eq!(early.entry(0).unwrap().name, "Person 000");
        assert!(
            early.while_arriving(&page(100..200), true).is_none(),
            "later pages wait for the last"
        );
        assert!(
            none.while_arriving(&page(0..10), false).is_none(),
            "a one-page snapshot is whole at once"
        );
        // After a reconnect the whole directory stays until the new one's last page.
        let whole = Directory::new(page(0..250), 2);
        assert!(whole.while_arriving(&page(0..10), true).is_none());
    }

    #[test]
    fn a_limited_search_keeps_the_first_matches_in_order() {
        let directory = company();
        assert_eq!(directory.search("", 2), [0, 1]);
        assert_eq!(
            names(&directory, &directory.search("a", 3)),
            ["alice Archer", "Bob Baker", "Carol Carter"]
        );
        assert!(directory.search("legal", 0).is_empty());
    }
}
