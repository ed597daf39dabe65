//! The console's one store: server state fed by the WebSocket client, read by components.

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::logging::{error, warn};
use leptos::prelude::*;
use switchboard_protocol::{
    ClientConfig, ClientFrame, DirectoryEntry, EntryId, ErrorCode, Mode, PresenceState,
    PresenceUpdate, ServerFrame, User, UserId,
};

/// What the operator is told about the link to the server (DESIGN §8: honest connection state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected yet since signing in.
    Offline,
    /// The link was lost (or its snapshots are not all in yet); the client is retrying.
    Reconnecting,
    /// Welcome and every snapshot arrived on the current socket: what is shown is fresh.
    Connected,
}

impl ConnectionState {
    /// The text of the status line; part of the UI contract (DESIGN §5).
    pub fn label(self) -> &'static str {
        match self {
            ConnectionState::Offline => "Offline",
            ConnectionState::Reconnecting => "Reconnecting…",
            ConnectionState::Connected => "Connected",
        }
    }
}

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
/// position here, so filtering and virtualized rendering never copy entries (DESIGN §9).
#[derive(Debug, Default)]
pub struct Directory {
    rows: Vec<Row>,
    generation: u64,
}

impl Directory {
    /// Builds the directory of one snapshot; `generation` tells rows of two snapshots apart.
    fn new(entries: Vec<DirectoryEntry>, generation: u64) -> Self {
        let mut rows: Vec<Row> = entries.into_iter().map(Row::new).collect();
        rows.sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Directory { rows, generation }
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

    /// Increases with every snapshot, so views keyed by it redraw rows whose content may differ.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Positions of the entries matching `query`, in name order. Every whitespace-separated term
    /// must occur, case-insensitively, in the name, a number or the department; an empty query
    /// matches everything.
    pub fn filter(&self, query: &str) -> Vec<usize> {
        let query = query.to_lowercase();
        let terms: Vec<&str> = query.split_whitespace().collect();
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, row)| terms.iter().all(|term| row.haystack.contains(term)))
            .map(|(position, _)| position)
            .collect()
    }
}

/// Which of the frames that make a connection trustworthy have arrived on the current socket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Handshake {
    welcome: bool,
    directory: bool,
    presence: bool,
}

impl Handshake {
    fn is_complete(self) -> bool {
        self.welcome && self.directory && self.presence
    }
}

/// The one store of the console, provided by context at the root (`expect_context::<Store>()`).
///
/// It is fed only by the WebSocket client through [`Store::apply`]; components read its signals
/// and send intents through its methods, never through the socket. It is `Copy`: every field is
/// a handle owned by the signed-in view, so signing out drops all of it.
#[derive(Clone, Copy)]
pub struct Store {
    me: RwSignal<User>,
    mode: RwSignal<Option<Mode>>,
    config: RwSignal<Option<ClientConfig>>,
    connection: RwSignal<ConnectionState>,
    directory: RwSignal<Directory>,
    /// One signal per user, created on first use, so a presence delta updates exactly the
    /// fields that show that user and never the list around them. Reference-counted rather than
    /// owned by whichever row asked first, since rows come and go as the directory scrolls.
    presence: StoredValue<HashMap<UserId, ArcRwSignal<PresenceState>>>,
    handshake: StoredValue<Handshake>,
    /// Intents for the current socket; `None` while there is none.
    intents: StoredValue<Option<UnboundedSender<ClientFrame>>>,
}

impl Store {
    /// An empty store for the signed-in user `me`, offline until the first socket is ready.
    pub fn new(me: User) -> Self {
        Store {
            me: RwSignal::new(me),
            mode: RwSignal::new(None),
            config: RwSignal::new(None),
            connection: RwSignal::new(ConnectionState::Offline),
            directory: RwSignal::new(Directory::default()),
            presence: StoredValue::new(HashMap::new()),
            handshake: StoredValue::new(Handshake::default()),
            intents: StoredValue::new(None),
        }
    }

    /// The signed-in user.
    pub fn me(&self) -> ReadSignal<User> {
        self.me.read_only()
    }

    /// How chat behaves, once the server said so in its welcome.
    pub fn mode(&self) -> ReadSignal<Option<Mode>> {
        self.mode.read_only()
    }

    /// Settings from the server's welcome (chat key, predefined messages, limits).
    pub fn config(&self) -> ReadSignal<Option<ClientConfig>> {
        self.config.read_only()
    }

    /// The state of the link to the server.
    pub fn connection(&self) -> ReadSignal<ConnectionState> {
        self.connection.read_only()
    }

    /// The company directory, sorted by name.
    pub fn directory(&self) -> ReadSignal<Directory> {
        self.directory.read_only()
    }

    /// Positions in [`Store::directory`] of the entries matching `query`, recomputed only when
    /// the query or the directory changes.
    pub fn filtered_directory(&self, query: Signal<String>) -> Memo<Vec<usize>> {
        let directory = self.directory;
        Memo::new(move |_| query.with(|query| directory.with(|directory| directory.filter(query))))
    }

    /// The presence of `user`: a signal that changes only when that user's presence does.
    pub fn presence(&self, user: UserId) -> Signal<PresenceState> {
        self.presence_signal(user).read_only().into()
    }

    /// Asks the server to set the signed-in user's presence; the server's delta updates the store.
    pub fn set_my_presence(&self, state: PresenceState) {
        self.send(ClientFrame::SetPresence { state });
    }

    /// The only writer of server state: applies one frame from the server.
    pub fn apply(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                me, mode, config, ..
            } => self.welcome(me, mode, config),
            ServerFrame::DirectorySnapshot { entries } => self.replace_directory(entries),
            ServerFrame::PresenceSnapshot { presence } => self.replace_presence(presence),
            ServerFrame::Presence(update) => self.update_presence(update),
            ServerFrame::Error { code, message } => Self::refused(code, &message),
        }
    }

    /// A new socket is open: intents go to it, and the console stays not-connected until its
    /// welcome and snapshots are all in.
    pub(crate) fn socket_opened(&self, intents: UnboundedSender<ClientFrame>) {
        self.intents.set_value(Some(intents));
        self.handshake.set_value(Handshake::default());
    }

    /// The socket is gone: say so, and stop accepting intents until the next one.
    pub(crate) fn connection_lost(&self) {
        self.intents.set_value(None);
        self.handshake.set_value(Handshake::default());
        self.connection.set(ConnectionState::Reconnecting);
    }

    fn send(&self, frame: ClientFrame) {
        let sent = self.intents.with_value(|intents| {
            intents
                .as_ref()
                .is_some_and(|intents| intents.unbounded_send(frame).is_ok())
        });
        if !sent {
            warn!("not connected: intent dropped");
        }
    }

    fn welcome(&self, me: User, mode: Mode, config: ClientConfig) {
        self.me.set(me);
        self.mode.set(Some(mode));
        self.config.set(Some(config));
        self.handshake_step(|handshake| handshake.welcome = true);
    }

    fn replace_directory(&self, entries: Vec<DirectoryEntry>) {
        let generation = self.directory.with_untracked(Directory::generation) + 1;
        self.directory.set(Directory::new(entries, generation));
        self.handshake_step(|handshake| handshake.directory = true);
    }

    fn replace_presence(&self, presence: Vec<PresenceUpdate>) {
        let mut states: HashMap<UserId, PresenceState> = presence
            .into_iter()
            .map(|update| (update.user, update.state))
            .collect();
        self.presence.update_value(|signals| {
            for (user, signal) in signals.iter() {
                let state = states.remove(user).unwrap_or(PresenceState::Offline);
                set_if_changed(signal, state);
            }
            for (user, state) in states {
                signals.insert(user, ArcRwSignal::new(state));
            }
        });
        self.handshake_step(|handshake| handshake.presence = true);
    }

    fn update_presence(&self, update: PresenceUpdate) {
        set_if_changed(&self.presence_signal(update.user), update.state);
    }

    fn refused(code: ErrorCode, message: &str) {
        error!("server refused a frame ({code:?}): {message}");
    }

    fn presence_signal(&self, user: UserId) -> ArcRwSignal<PresenceState> {
        self.presence
            .write_value()
            .entry(user)
            .or_insert_with(|| ArcRwSignal::new(PresenceState::Offline))
            .clone()
    }

    fn handshake_step(&self, step: impl FnOnce(&mut Handshake)) {
        self.handshake.update_value(step);
        if self
            .handshake
            .with_value(|handshake| handshake.is_complete())
        {
            set_if_changed(&self.connection, ConnectionState::Connected);
        }
    }
}

/// Sets a signal only when the value differs, so that nothing redraws for a repeated value.
fn set_if_changed<T: PartialEq + 'static>(signal: &impl Update<Value = T>, value: T) {
    signal.maybe_update(|current| {
        let changed = *current != value;
        if changed {
            *current = value;
        }
        changed
    });
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
    fn entries_are_sorted_by_name_ignoring_case() {
        let directory = company();
        let all: Vec<usize> = (0..directory.len()).collect();
        assert_eq!(
            names(&directory, &all),
            ["alice Archer", "Bob Baker", "Carol Carter", "Lobby Phone"]
        );
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
    fn handshake_completes_only_with_all_three_frames_in_any_order() {
        let mut handshake = Handshake {
            presence: true,
            ..Handshake::default()
        };
        assert!(!handshake.is_complete());
        handshake.welcome = true;
        assert!(!handshake.is_complete());
        handshake.directory = true;
        assert!(handshake.is_complete());
    }
}
