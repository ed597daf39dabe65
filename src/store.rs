//! The console's one store: server state fed by the WebSocket client, read by components.

use std::collections::HashMap;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use leptos::logging::{error, warn};
use leptos::prelude::*;
use switchboard_protocol::{
    Call, CallId, CallState, ClientConfig, ClientFrame, DirectoryEntry, EntryId, EntryNote,
    ErrorCode, LineLamp, LineState, Mode, PresenceState, PresenceUpdate, Role, ServerFrame, User,
    UserId,
};

use crate::calls::{answered_order, caller_label, queue_order};
use crate::chat::ChatState;

/// How long a refused call action stays on screen: long enough to read, short enough not to
/// linger over the next call.
const NOTICE_MS: u64 = 6_000;

/// What the operator is told about the link to the server (docs/design.md: honest connection state).
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
    /// The text of the status line; part of the UI contract (docs/design.md).
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
    fn new(entries: Vec<DirectoryEntry>, generation: u64) -> Self {
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

/// Adds a snapshot `page` to those kept in `pages`; after the last one (`more` false), all of
/// them, and `pages` is empty again.
fn whole_snapshot<T: Send + Sync + 'static>(
    pages: StoredValue<Vec<T>>,
    page: Vec<T>,
    more: bool,
) -> Option<Vec<T>> {
    pages.update_value(|pages| pages.extend(page));
    (!more).then(|| pages.try_update_value(std::mem::take).unwrap_or_default())
}

/// Which of the frames that make a connection trustworthy have arrived on the current socket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Handshake {
    welcome: bool,
    directory: bool,
    presence: bool,
    calls: bool,
    conversations: bool,
}

impl Handshake {
    fn is_complete(self) -> bool {
        self.welcome && self.directory && self.presence && self.calls && self.conversations
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
    /// What the signed-in user may do, from the welcome: the calls panes are for operators.
    role: RwSignal<Role>,
    /// Operator notes by entry (operators only).
    notes: RwSignal<HashMap<EntryId, EntryNote>>,
    mode: RwSignal<Option<Mode>>,
    config: RwSignal<Option<ClientConfig>>,
    connection: RwSignal<ConnectionState>,
    /// Why the server's link to the company's XMPP server is down (`None`: up, or none).
    federation_down: RwSignal<Option<String>>,
    /// Whether the telephone system answers the server (operators only).
    telephony_up: RwSignal<bool>,
    /// Line states of directory entries' extensions (the busy lamp field; operators only).
    lamps: RwSignal<HashMap<EntryId, LineState>>,
    directory: RwSignal<Directory>,
    /// One signal per user, created on first use, so a presence delta updates exactly the
    /// fields that show that user and never the list around them. Reference-counted rather than
    /// owned by whichever row asked first, since rows come and go as the directory scrolls.
    presence: StoredValue<HashMap<UserId, ArcRwSignal<PresenceState>>>,
    /// Calls not yet cleared, one signal each: a `call` update redraws the rows showing that
    /// call, and the map itself changes only when a call comes or goes.
    calls: RwSignal<HashMap<CallId, ArcRwSignal<Call>>>,
    /// Queued calls, oldest first.
    queue: Memo<Vec<CallId>>,
    /// Answered calls, the current one first.
    answered: Memo<Vec<CallId>>,
    /// The call the Active call pane shows.
    current_call: Memo<Option<CallId>>,
    /// Server clock minus browser clock, in ms, from the last calls snapshot: waiting times
    /// count from server timestamps, so a browser clock that is off must not skew them.
    clock_offset: StoredValue<i64>,
    /// Server time in ms, ticked once a second for every timer on screen.
    now: RwSignal<i64>,
    /// A refused call action, in the server's words, shown briefly in the call panes.
    call_notice: RwSignal<Option<String>>,
    /// Counts notices, so that clearing an old one never hides a newer one.
    notices: StoredValue<u64>,
    handshake: StoredValue<Handshake>,
    /// Pages of the directory and presence snapshots still coming in on the current socket.
    directory_pages: StoredValue<Vec<DirectoryEntry>>,
    presence_pages: StoredValue<Vec<PresenceUpdate>>,
    /// Intents for the current socket; `None` while there is none.
    intents: StoredValue<Option<UnboundedSender<ClientFrame>>>,
    /// Conversations, outbox and the chat window (src/chat).
    chat: ChatState,
}

impl Store {
    /// An empty store for the signed-in user `me`, offline until the first socket is ready.
    pub fn new(me: User) -> Self {
        let calls = RwSignal::new(HashMap::<CallId, ArcRwSignal<Call>>::new());
        let read_calls =
            move || calls.with(|calls| calls.values().map(ArcRwSignal::get).collect::<Vec<Call>>());
        let queue = Memo::new(move |_| queue_order(&read_calls()));
        let answered = Memo::new(move |_| answered_order(&read_calls()));
        let current_call = Memo::new(move |_| answered.with(|ids| ids.first().copied()));
        // Chat messages start with the current call's source party (issue 5, call context).
        let call_context = Signal::derive(move || {
            let call = calls.with(|calls| calls.get(&current_call.get()?).cloned())?;
            call.with(|call| Some((caller_label(call).to_owned(), call.caller_number.clone())))
        });
        let chat = ChatState::new(me.id, call_context);
        Store {
            me: RwSignal::new(me),
            role: RwSignal::new(Role::User),
            notes: RwSignal::new(HashMap::new()),
            mode: RwSignal::new(None),
            config: RwSignal::new(None),
            connection: RwSignal::new(ConnectionState::Offline),
            federation_down: RwSignal::new(None),
            telephony_up: RwSignal::new(true),
            lamps: RwSignal::new(HashMap::new()),
            directory: RwSignal::new(Directory::default()),
            presence: StoredValue::new(HashMap::new()),
            calls,
            queue,
            answered,
            current_call,
            clock_offset: StoredValue::new(0),
            now: RwSignal::new(0),
            call_notice: RwSignal::new(None),
            notices: StoredValue::new(0),
            handshake: StoredValue::new(Handshake::default()),
            directory_pages: StoredValue::new(Vec::new()),
            presence_pages: StoredValue::new(Vec::new()),
            intents: StoredValue::new(None),
            chat,
        }
    }

    /// Chat: conversations, outbox, unread memos, the chat window's state.
    pub fn chat(&self) -> ChatState {
        self.chat
    }

    /// The signed-in user.
    pub fn me(&self) -> ReadSignal<User> {
        self.me.read_only()
    }

    /// What the signed-in user may do, from the server's welcome (`user` until then).
    pub fn role(&self) -> ReadSignal<Role> {
        self.role.read_only()
    }

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

    /// Why federated contacts show offline: the server's XMPP link is down.
    pub fn federation_down(&self) -> ReadSignal<Option<String>> {
        self.federation_down.read_only()
    }

    /// Whether the telephone system answers (`true` while nothing says otherwise).
    pub fn telephony_up(&self) -> ReadSignal<bool> {
        self.telephony_up.read_only()
    }

    /// The line state of entry `id`'s extension, tracking it; `None` when none is known.
    pub fn lamp(&self, id: EntryId) -> Option<LineState> {
        self.lamps.with(|lamps| lamps.get(&id).copied())
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

    /// The presence of `user`: a signal that changes only when that user's presence does.
    pub fn presence(&self, user: UserId) -> Signal<PresenceState> {
        self.presence_signal(user).read_only().into()
    }

    /// Asks the server to set the signed-in user's presence; the server's delta updates the store.
    pub fn set_my_presence(&self, state: PresenceState) {
        self.send(ClientFrame::SetPresence { state });
    }

    /// Ids of the queued calls, oldest first.
    pub fn queued_calls(&self) -> Memo<Vec<CallId>> {
        self.queue
    }

    /// Ids of the answered calls (active, transferring, held), the current call first.
    pub fn answered_calls(&self) -> Memo<Vec<CallId>> {
        self.answered
    }

    /// The call the operator is dealing with: active, else transferring, else the most recently
    /// answered held call.
    pub fn current_call(&self) -> Memo<Option<CallId>> {
        self.current_call
    }

    /// One call, changing with it; `None` once it left the store. Rows keyed by call id read
    /// their call through this, so an update redraws only them.
    pub fn call(&self, id: CallId) -> Option<Signal<Call>> {
        self.calls
            .with_untracked(|calls| calls.get(&id).map(|call| call.read_only().into()))
    }

    /// Reads one call, tracking it; `None` once it left the store. For memos that follow the
    /// call without holding a signal of their own.
    pub fn with_call<T>(&self, id: CallId, read: impl FnOnce(&Call) -> T) -> Option<T> {
        let call = self.calls.with_untracked(|calls| calls.get(&id).cloned())?;
        Some(call.with(read))
    }

    /// Server time in ms, ticking once a second (after [`Store::start_clock`]).
    pub fn now(&self) -> ReadSignal<i64> {
        self.now.read_only()
    }

    /// The last refused call action in the server's words, for a few seconds.
    pub fn call_notice(&self) -> ReadSignal<Option<String>> {
        self.call_notice.read_only()
    }

    /// Starts the one clock every waiting time and call duration ticks with, until the signed-in
    /// view goes away. One interval for the whole console, not one per row.
    pub fn start_clock(&self) {
        let store = *self;
        store.tick();
        match set_interval_with_handle(move || store.tick(), Duration::from_secs(1)) {
            Ok(interval) => on_cleanup(move || interval.clear()),
            Err(error) => warn!("cannot start the clock: {error:?}"),
        }
    }

    /// Takes a queued call, retrieves a held call, or cancels a transfer.
    pub fn answer_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::AnswerCall { call });
    }

    /// Puts the active call on hold.
    pub fn hold_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::HoldCall { call });
    }

    /// Transfers an answered call to a directory entry: talking to them first, or at once
    /// when `blind`.
    pub fn transfer_call(&self, call: CallId, target: EntryId, blind: bool) {
        self.send_call_action(ClientFrame::TransferCall {
            call,
            target,
            blind,
        });
    }

    /// Releases a call, or completes its transfer.
    pub fn clear_call(&self, call: CallId) {
        self.send_call_action(ClientFrame::ClearCall { call });
    }

    /// The only writer of server state: applies one frame from the server.
    pub fn apply(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                me,
                role,
                mode,
                config,
                ..
            } => self.welcome(me, role, mode, config),
            ServerFrame::DirectoryChanged { upserted, removed } => {
                self.change_directory(upserted, removed)
            }
            ServerFrame::Notes { notes, snapshot } => self.update_notes(notes, snapshot),
            ServerFrame::ConfigChanged(config) => self.config.set(Some(config)),
            // The socket layer counts every frame as a sign of life; nothing to store.
            ServerFrame::Pong => {}
            ServerFrame::DirectorySnapshot { entries, more } => self.directory_page(entries, more),
            ServerFrame::PresenceSnapshot { presence, more } => self.presence_page(presence, more),
            ServerFrame::Presence(update) => self.update_presence(update),
            ServerFrame::ConversationsSnapshot { conversations } => {
                self.resync_chat(conversations);
                self.handshake_step(|handshake| handshake.conversations = true);
            }
            frame @ (ServerFrame::ChatAck { .. }
            | ServerFrame::ChatNack { .. }
            | ServerFrame::ChatMessage(_)
            | ServerFrame::HistoryPage { .. }
            | ServerFrame::Marker(_)
            | ServerFrame::Typing { .. }
            | ServerFrame::UserResults { .. }) => self.apply_chat(frame),
            ServerFrame::CallsSnapshot { calls, now_ms } => self.replace_calls(calls, now_ms),
            ServerFrame::Call(call) => self.update_call(call),
            ServerFrame::Error { code, message } => self.refused(code, message),
            ServerFrame::Federation { down } => self.federation_down.set(down),
            ServerFrame::Telephony { available } => set_if_changed(&self.telephony_up, available),
            ServerFrame::Lamps { lamps, snapshot } => self.update_lamps(lamps, snapshot),
        }
    }

    fn update_lamps(&self, lamps: Vec<LineLamp>, snapshot: bool) {
        self.lamps.update(|held| {
            if snapshot {
                held.clear();
            }
            held.extend(lamps.into_iter().map(|lamp| (lamp.entry, lamp.state)));
        });
    }

    /// A new socket is open: intents go to it, and the console stays not-connected until its
    /// welcome and snapshots are all in.
    pub(crate) fn socket_opened(&self, intents: UnboundedSender<ClientFrame>) {
        self.intents.set_value(Some(intents));
        self.handshake.set_value(Handshake::default());
        // Pages of a snapshot cut short by the last socket's end are of no use.
        self.directory_pages.set_value(Vec::new());
        self.presence_pages.set_value(Vec::new());
    }

    /// The socket is gone: say so, and stop accepting intents until the next one.
    pub(crate) fn connection_lost(&self) {
        self.intents.set_value(None);
        self.handshake.set_value(Handshake::default());
        self.connection.set(ConnectionState::Reconnecting);
    }

    /// Hands an intent to the current socket; tells whether there was one to take it.
    pub(crate) fn send(&self, frame: ClientFrame) -> bool {
        let sent = self.intents.with_value(|intents| {
            intents
                .as_ref()
                .is_some_and(|intents| intents.unbounded_send(frame).is_ok())
        });
        if !sent {
            warn!("not connected: intent dropped");
        }
        sent
    }

    /// A call action the operator must not believe was done: say so when it could not be sent.
    /// Until the connection is back with fresh snapshots the calls shown may be stale, so
    /// nothing is sent before then (docs/design.md, honest connection state).
    fn send_call_action(&self, frame: ClientFrame) {
        let connected = self.connection.get_untracked() == ConnectionState::Connected;
        if !(connected && self.send(frame)) {
            self.notify("Not connected to the server: the call was not changed.".to_owned());
        }
    }

    /// Shows `message` in the call panes for [`NOTICE_MS`].
    fn notify(&self, message: String) {
        self.notices.update_value(|count| *count += 1);
        let notice = self.notices.get_value();
        self.call_notice.set(Some(message));
        let store = *self;
        set_timeout(
            move || {
                if store.notices.get_value() == notice {
                    store.call_notice.set(None);
                }
            },
            Duration::from_millis(NOTICE_MS),
        );
    }

    /// Moves the clock to the server's time, and keeps the offset for the ticks that follow.
    fn set_clock(&self, server_now_ms: i64) {
        self.clock_offset
            .set_value(server_now_ms - browser_now_ms());
        self.tick();
    }

    fn tick(&self) {
        self.now
            .set(browser_now_ms() + self.clock_offset.get_value());
    }

    fn welcome(&self, me: User, role: Role, mode: Mode, config: ClientConfig) {
        self.me.set(me);
        set_if_changed(&self.role, role);
        if !role.handles_calls() {
            // No calls come to this console: nothing to wait for, and nothing to show.
            self.calls.update(HashMap::clear);
            self.notes.update(HashMap::clear);
            self.handshake_step(|handshake| handshake.calls = true);
        }
        self.mode.set(Some(mode));
        self.config.set(Some(config));
        self.handshake_step(|handshake| handshake.welcome = true);
    }

    /// One page of the directory snapshot: kept aside until the last, then the pages together
    /// replace the directory (one rebuild, one redraw).
    fn directory_page(&self, entries: Vec<DirectoryEntry>, more: bool) {
        if let Some(entries) = whole_snapshot(self.directory_pages, entries, more) {
            self.replace_directory(entries);
        }
    }

    /// One page of the presence snapshot, like [`Store::directory_page`].
    fn presence_page(&self, presence: Vec<PresenceUpdate>, more: bool) {
        if let Some(presence) = whole_snapshot(self.presence_pages, presence, more) {
            self.replace_presence(presence);
        }
    }

    fn replace_directory(&self, entries: Vec<DirectoryEntry>) {
        let generation = self.directory.with_untracked(Directory::generation) + 1;
        self.directory.set(Directory::new(entries, generation));
        self.handshake_step(|handshake| handshake.directory = true);
    }

    fn change_directory(&self, upserted: Vec<DirectoryEntry>, removed: Vec<EntryId>) {
        self.directory.update(|directory| {
            let generation = directory.generation() + 1;
            directory.change(upserted, &removed, generation);
        });
    }

    fn update_notes(&self, notes: Vec<EntryNote>, snapshot: bool) {
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

    fn replace_calls(&self, calls: Vec<Call>, now_ms: i64) {
        self.set_clock(now_ms);
        let mut incoming: HashMap<CallId, Call> = calls
            .into_iter()
            .filter(|call| call.state != CallState::Cleared)
            .map(|call| (call.id, call))
            .collect();
        // Calls the console already shows keep their signal, so their rows stay put.
        self.calls.update(|signals| {
            signals.retain(|id, signal| match incoming.remove(id) {
                Some(call) => {
                    set_if_changed(signal, call);
                    true
                }
                None => false,
            });
            for (id, call) in incoming {
                signals.insert(id, ArcRwSignal::new(call));
            }
        });
        self.handshake_step(|handshake| handshake.calls = true);
    }

    fn update_call(&self, call: Call) {
        if call.state == CallState::Cleared {
            self.calls
                .maybe_update(|signals| signals.remove(&call.id).is_some());
            return;
        }
        let known = self
            .calls
            .with_untracked(|signals| signals.get(&call.id).cloned());
        match known {
            Some(signal) => set_if_changed(&signal, call),
            None => self.calls.update(|signals| {
                signals.insert(call.id, ArcRwSignal::new(call));
            }),
        }
    }

    fn refused(&self, code: ErrorCode, message: String) {
        error!("server refused a frame ({code:?}): {message}");
        if matches!(
            code,
            ErrorCode::NotFound
                | ErrorCode::IllegalMove
                | ErrorCode::Forbidden
                | ErrorCode::Telephony
        ) {
            self.notify(message);
        }
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

/// The browser's clock in ms since the Unix epoch.
fn browser_now_ms() -> i64 {
    js_sys::Date::now() as i64
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
    fn handshake_completes_only_with_all_five_frames_in_any_order() {
        let mut handshake = Handshake {
            presence: true,
            ..Handshake::default()
        };
        assert!(!handshake.is_complete());
        handshake.calls = true;
        handshake.conversations = true;
        assert!(!handshake.is_complete());
        handshake.welcome = true;
        assert!(!handshake.is_complete());
        handshake.directory = true;
        assert!(handshake.is_complete());
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
