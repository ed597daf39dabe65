//! The console's one store: server state fed by the WebSocket client, read by components.
//! Its parts, each an `impl Store` of its own: [`connection`] (the socket, the handshake),
//! [`directory`] (entries, search, operator notes), [`presence`], [`calls`] (calls, the
//! clock, lamps), [`switchboard`] (missed calls, night service, today's calls); chat lives
//! in `crate::chat`.

mod calls;
mod connection;
mod directory;
mod presence;
mod switchboard;

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use switchboard_protocol::{
    Absence, Call, CallId, ClientConfig, ClientFrame, DirectoryEntry, EntryId, EntryNote,
    HandledCall, LineState, MissedCall, Mode, NightService, PresenceState, PresenceUpdate, Role,
    ServerFrame, User, UserId,
};

use crate::calls::{answered_order, caller_label, queue_order};
use crate::chat::ChatState;
pub use connection::ConnectionState;
use connection::Handshake;
pub use directory::Directory;

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
    /// Views showing each user's presence now (see [`Store::presence`]), and the set last
    /// sent to the server as `watch` on the current socket.
    presence_shown: StoredValue<HashMap<UserId, usize>>,
    /// Absences that have not ended, by user (the clock ends them).
    absences: StoredValue<HashMap<UserId, Absence>>,
    /// One signal per user whose absence a view shows, created on first use like `presence`.
    absence_signals: StoredValue<HashMap<UserId, ArcRwSignal<Option<Absence>>>>,
    watch_sent: StoredValue<Option<Vec<UserId>>>,
    /// Calls not yet cleared, one signal each: a `call` update redraws the rows showing that
    /// call, and the map itself changes only when a call comes or goes.
    calls: RwSignal<HashMap<CallId, ArcRwSignal<Call>>>,
    /// Queued calls, oldest first.
    queue: Memo<Vec<CallId>>,
    /// Answered calls, the current one first.
    answered: Memo<Vec<CallId>>,
    /// The call the Active call pane shows.
    current_call: Memo<Option<CallId>>,
    /// Callers who hung up while queued, newest first (operators only).
    missed: RwSignal<Vec<MissedCall>>,
    /// Whether the switchboard is closed (operators only).
    night: RwSignal<Option<NightService>>,
    /// The operator's calls of today, as last asked for.
    todays_calls: RwSignal<Option<Vec<HandledCall>>>,
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
        let config = RwSignal::new(None::<ClientConfig>);
        let queue = Memo::new(move |_| {
            let calls = read_calls();
            config.with(|config| {
                queue_order(&calls, config.as_ref().map_or(&[], |config| &config.lines))
            })
        });
        let now = RwSignal::new(0_i64);
        let answered = Memo::new(move |_| answered_order(&read_calls()));
        let current_call = Memo::new(move |_| answered.with(|ids| ids.first().copied()));
        // Chat messages start with the current call's source party (issue 5, call context).
        let call_context = Signal::derive(move || {
            let call = calls.with(|calls| calls.get(&current_call.get()?).cloned())?;
            call.with(|call| {
                Some((
                    caller_label(&call.caller_name).to_owned(),
                    call.caller_number.clone(),
                ))
            })
        });
        let chat = ChatState::new(me.id, call_context);
        Store {
            me: RwSignal::new(me),
            role: RwSignal::new(Role::User),
            notes: RwSignal::new(HashMap::new()),
            mode: RwSignal::new(None),
            config,
            connection: RwSignal::new(ConnectionState::Offline),
            federation_down: RwSignal::new(None),
            telephony_up: RwSignal::new(true),
            lamps: RwSignal::new(HashMap::new()),
            directory: RwSignal::new(Directory::default()),
            presence: StoredValue::new(HashMap::new()),
            presence_shown: StoredValue::new(HashMap::new()),
            absences: StoredValue::new(HashMap::new()),
            absence_signals: StoredValue::new(HashMap::new()),
            watch_sent: StoredValue::new(None),
            calls,
            queue,
            answered,
            current_call,
            missed: RwSignal::new(Vec::new()),
            night: RwSignal::new(None),
            todays_calls: RwSignal::new(None),
            clock_offset: StoredValue::new(0),
            now,
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

    /// How chat behaves, once the server said so in its welcome.
    pub fn mode(&self) -> ReadSignal<Option<Mode>> {
        self.mode.read_only()
    }

    /// Settings from the server's welcome (chat key, predefined messages, limits).
    pub fn config(&self) -> ReadSignal<Option<ClientConfig>> {
        self.config.read_only()
    }

    /// Why federated contacts show offline: the server's XMPP link is down.
    pub fn federation_down(&self) -> ReadSignal<Option<String>> {
        self.federation_down.read_only()
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
            ServerFrame::Watched { presence } => {
                for update in presence {
                    self.update_presence(update);
                }
            }
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
            ServerFrame::MissedCalls {
                missed,
                done,
                snapshot,
            } => self.update_missed(missed, done, snapshot),
            ServerFrame::NightService(night) => self.night.set(Some(night)),
            ServerFrame::TodaysCalls { calls } => self.todays_calls.set(Some(calls)),
            ServerFrame::Absences {
                absences,
                ended,
                snapshot,
            } => self.update_absences(absences, ended, snapshot),
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
