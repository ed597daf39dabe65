//! Wire types of the Switchboard WebSocket protocol, shared by the console and the server.
//!
//! Every frame is a JSON text frame holding one variant of [`ClientFrame`] (console -> server)
//! or [`ServerFrame`] (server -> console), tagged by a `type` field in snake case. The first
//! client frame is [`ClientFrame::Hello`] with [`PROTOCOL_VERSION`]; the server answers with
//! [`ServerFrame::Welcome`] followed by the snapshots the console needs.

use serde::{Deserialize, Serialize};

mod admin;
pub mod backoff;
mod calls;
mod chat;
#[cfg(feature = "emoji-table")]
pub mod emoji;
pub mod keys;
pub use admin::{
    Account, AccountChange, AuditEntry, ChatSettings, DirectoryDiff, EntryNote, EntryRef,
    NewAccount, PasswordReset, Role, SettingsInForce, SyncStatus,
};
pub use calls::{
    Call, CallAction, CallId, CallState, CalledBack, HandledCall, Line, LineLamp, LineState,
    MissedCall, NewCall, NightService, PendingCommand, TransferRequest, is_hex_colour,
};
pub use chat::{
    ChatMessage, ChatRefusal, ConversationId, ConversationSummary, Marker, MarkerUpdate, MessageId,
};

/// Where the server serves the emoji picker's table (made by `emoji::table`, feature
/// `emoji-table`), which the console fetches once it has started.
pub const EMOJI_TABLE_PATH: &str = "/emoji.tsv";

/// Version of this protocol; the server refuses a `hello` with another major version.
///
/// 2: the directory and presence snapshots come in pages (`more`), and the presence snapshot
/// lists only who is online. A version-1 console would take each page for the whole.
pub const PROTOCOL_VERSION: u32 = 2;

/// Stable numeric id of a user (someone who can sign in and chat).
pub type UserId = i64;

/// Stable numeric id of a directory entry.
pub type EntryId = i64;

/// Frames a console sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on a connection: the protocol version the console speaks.
    Hello { version: u32 },
    /// Set the signed-in user's own presence (every session of the user shares it).
    SetPresence { state: PresenceState },
    /// Take a queued call, retrieve a held call, or cancel a transfer.
    AnswerCall { call: CallId },
    /// Put the active call on hold.
    HoldCall { call: CallId },
    /// Transfer an answered call to a directory entry: talking to the target first, or at
    /// once when `blind`.
    TransferCall {
        call: CallId,
        target: EntryId,
        #[serde(default)]
        blind: bool,
    },
    /// Release the call, or complete its transfer.
    ClearCall { call: CallId },
    /// Send a chat message. `client_msg_id` is a random UUID chosen once per message: resending
    /// it (after a reconnect) never makes a second message, it gets the same `chat_ack`.
    ChatSend {
        client_msg_id: String,
        to: UserId,
        body: String,
    },
    /// Ask for the messages with `with` before `before_seq` (newest first when absent),
    /// at most `limit` of them.
    History {
        with: UserId,
        before_seq: Option<i64>,
        limit: u32,
    },
    /// Find users by name, including those with no conversation yet.
    SearchUsers { query: String },
    /// The user has seen the conversation with `with` up to `seq` (it is open and visible).
    /// Markers only grow; a seq beyond the newest message is refused.
    ChatRead { with: UserId, seq: i64 },
    /// The user is typing to `to`; consoles send it at most every few seconds while typing
    /// and show it for a few seconds. Not stored.
    Typing { to: UserId },
    /// Operators only: write (or, with an empty text, remove) the note on a directory entry.
    SetNote { entry: EntryId, text: String },
    /// The console's heartbeat: the server answers `pong`. A console that hears nothing for
    /// a few heartbeats knows its link is dead (a half-open TCP connection stays "open").
    Ping,
    /// Not for operators: the users whose presence this console shows (directory rows on
    /// screen, chat list, open conversation), replacing the set it sent before; at most
    /// [`MAX_WATCHED`]. From its first `watch` on, the connection gets presence changes of
    /// these users only (operators get everyone's); the server answers `watched` with the
    /// presence of the users added.
    Watch { users: Vec<UserId> },
    /// Operators only: call a missed caller back, through the telephone system (it rings
    /// the operator's telephone and dials the caller).
    CallBack { call: CallId },
    /// Operators only: a missed call needs nothing more; it leaves every operator's list.
    MissedDone { call: CallId },
    /// Operators only: close the switchboard (night service) or open it again.
    SetNightService { closed: bool },
    /// Operators only: the calls this operator handled today; answered with `todays_calls`.
    TodaysCalls,
    /// The signed-in user is absent until `until_ms` (in the future, within a year): every
    /// console shows them away with `text` beside their presence. An empty text ends the
    /// absence now.
    SetAbsence { text: String, until_ms: i64 },
}

/// Most users one `watch` may name.
pub const MAX_WATCHED: usize = 1_000;

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`: who the session belongs to and how the console is configured.
    Welcome {
        version: u32,
        me: User,
        /// What `me` may do: the console shows the calls panes to operators only and the
        /// Administration view to admins only (the server enforces both).
        #[serde(default)]
        role: Role,
        mode: Mode,
        config: ClientConfig,
    },
    /// The whole company directory, in pages sent one after another: `more` is true on every
    /// page but the last. Once the last has arrived, the pages together replace whatever the
    /// console held. Pages keep frames small: a connection's send buffer grows to its
    /// largest frame and stays that size, and one frame of a 50,000-entry directory is
    /// megabytes.
    DirectorySnapshot {
        entries: Vec<DirectoryEntry>,
        #[serde(default)]
        more: bool,
    },
    /// Presence of every user who is online, in pages like the directory's (`more` is true on
    /// every page but the last); users not in it are offline. Once the last page has
    /// arrived, the pages together replace whatever the console held.
    PresenceSnapshot {
        presence: Vec<PresenceUpdate>,
        #[serde(default)]
        more: bool,
    },
    /// Answer to `watch`: the presence of the users it added (offline ones included).
    Watched { presence: Vec<PresenceUpdate> },
    /// Entries were added or changed (`upserted`, whole entries) or removed (import, sync,
    /// administration); applies on top of the snapshot, without a reload.
    DirectoryChanged {
        upserted: Vec<DirectoryEntry>,
        removed: Vec<EntryId>,
    },
    /// Operators only: operator notes. `snapshot` replaces every note the console held (sent
    /// after `hello`); otherwise the notes are changes (an empty text removes one).
    Notes {
        notes: Vec<EntryNote>,
        snapshot: bool,
    },
    /// An admin changed the chat settings; they apply at once.
    ConfigChanged(ClientConfig),
    /// Answer to `ping`.
    Pong,
    /// One user's presence changed.
    Presence(PresenceUpdate),
    /// Every call not yet cleared, oldest first; replaces whatever the console held.
    /// `now_ms` is the server clock, so the console can tick waiting times without skew.
    CallsSnapshot { calls: Vec<Call>, now_ms: i64 },
    /// A call was queued or changed; a `cleared` call leaves every list.
    Call(Call),
    /// The chat list: conversations of the user, most recent first.
    ConversationsSnapshot {
        conversations: Vec<ConversationSummary>,
    },
    /// The message `client_msg_id` is stored (durably) as `id`, number `seq` of its
    /// conversation.
    ChatAck {
        client_msg_id: String,
        id: MessageId,
        conversation: ConversationId,
        seq: i64,
        sent_at_ms: i64,
    },
    /// The message `client_msg_id` was not accepted; nothing was stored.
    ChatNack {
        client_msg_id: String,
        reason: ChatRefusal,
        message: String,
    },
    /// A new message, sent to every session of both parties.
    ChatMessage(ChatMessage),
    /// Answer to `history`: messages in ascending seq; `has_more` when older ones exist.
    HistoryPage {
        with: UserId,
        messages: Vec<ChatMessage>,
        has_more: bool,
    },
    /// Markers of a party changed (read, or delivered): clears red dots in every session of
    /// the reader and updates receipts on the partner's side.
    Marker(MarkerUpdate),
    /// `from` is typing to this user.
    Typing { from: UserId },
    /// Answer to `search_users`, at most 20 users, by display name.
    UserResults { query: String, users: Vec<User> },
    /// A frame was refused; nothing changed.
    Error { code: ErrorCode, message: String },
    /// The link to the company's XMPP server (servers that federate only; at hello and on
    /// each change): `down` says why it is down, `None` while it is up. While it is down,
    /// the console says why federated contacts show offline.
    Federation { down: Option<String> },
    /// Operators only: whether the telephone system answers (at hello and on each change).
    /// While it does not, the calls panes say so; chat goes on.
    Telephony { available: bool },
    /// Operators only: line states of directory entries' extensions (the busy lamp field).
    /// `snapshot` replaces every lamp the console held (after `hello`); otherwise changes.
    Lamps {
        lamps: Vec<LineLamp>,
        snapshot: bool,
    },
    /// Operators only: callers who hung up while queued. `snapshot` replaces the list (after
    /// `hello`); otherwise `missed` are new or changed and `done` left the list.
    MissedCalls {
        missed: Vec<MissedCall>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        done: Vec<CallId>,
        snapshot: bool,
    },
    /// Operators only: whether the switchboard is closed (at hello and on each change).
    NightService(NightService),
    /// Answer to `todays_calls`: this operator's calls since midnight (server time), the
    /// most recent first.
    TodaysCalls { calls: Vec<HandledCall> },
    /// Absences: `snapshot` replaces every absence the console held (after `hello`);
    /// otherwise `absences` are new or changed and the absences of `ended` are over.
    Absences {
        absences: Vec<Absence>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ended: Vec<UserId>,
        snapshot: bool,
    },
}

/// A user away for a while ("On leave until 3 Dec, ask Bob Baker"): consoles show them away
/// with the text beside their presence until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    pub user: UserId,
    pub text: String,
    /// When it ends, ms since the Unix epoch.
    pub until_ms: i64,
}

/// Longest absence text, in characters.
pub const MAX_ABSENCE_CHARS: usize = 200;

/// The furthest an absence may end from now, in ms (a year).
pub const MAX_ABSENCE_MS: i64 = 366 * 24 * 3_600_000;

/// The most missed calls a console holds: the newest.
pub const MAX_MISSED_LISTED: usize = 500;

/// Someone who can sign in and chat.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

/// One row of the company directory. `user` is `None` for entries nobody signs in as
/// (a lobby phone): such entries have a blank presence field and no IM option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub id: EntryId,
    pub name: String,
    pub numbers: Vec<String>,
    pub department: String,
    pub title: String,
    pub location: String,
    pub user: Option<UserId>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Address of a person on the company's XMPP server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xmpp: String,
}

/// Presence of a user as every console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Available,
    Busy,
    Away,
    Dnd,
    Offline,
}

impl PresenceState {
    /// The states a user may choose for themself; `Offline` follows from having no session.
    pub const SELECTABLE: [PresenceState; 4] = [
        PresenceState::Available,
        PresenceState::Busy,
        PresenceState::Away,
        PresenceState::Dnd,
    ];

    /// The wire name, also used in `data-presence` and accessible names.
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceState::Available => "available",
            PresenceState::Busy => "busy",
            PresenceState::Away => "away",
            PresenceState::Dnd => "dnd",
            PresenceState::Offline => "offline",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Offline]
            .into_iter()
            .chain(Self::SELECTABLE)
            .find(|state| state.as_str() == name)
    }

    /// A label for people (legend, tooltip, presence picker).
    pub fn label(self) -> &'static str {
        match self {
            PresenceState::Available => "Available",
            PresenceState::Busy => "Busy",
            PresenceState::Away => "Away",
            PresenceState::Dnd => "Do not disturb",
            PresenceState::Offline => "Offline",
        }
    }
}

/// One user's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    pub user: UserId,
    pub state: PresenceState,
}

/// How chat behaves, chosen by the administrator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Chat needs the partner online; offline partners are unavailable.
    Micollab,
    /// Messages to offline users are stored and delivered later; emoji picker.
    #[default]
    Cloudlink,
}

/// Settings the console takes from the server instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Texts an administrator configured for one-click sending.
    pub predefined_messages: Vec<String>,
    /// `KeyboardEvent.key` of the key that opens the chat window (default "F9").
    pub chat_key: String,
    /// Limits the server enforces, so the console can tell the user before sending.
    pub limits: Limits,
    /// The other keyboard shortcuts; absent from servers that predate them (the defaults).
    #[serde(default)]
    pub keys: keys::Keys,
    /// The company's lines by dialled number (absent from older servers: none).
    #[serde(default)]
    pub lines: Vec<Line>,
    /// A call on hold longer than this turns to an alert in the operator's console.
    #[serde(default = "default_hold_recall_secs")]
    pub hold_recall_secs: u32,
}

/// The `hold_recall_secs` of servers that do not send one.
pub const DEFAULT_HOLD_RECALL_SECS: u32 = 60;

fn default_hold_recall_secs() -> u32 {
    DEFAULT_HOLD_RECALL_SECS
}

/// Limits the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest WebSocket frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Longest chat message accepted, in characters.
    pub max_message_chars: usize,
    /// Most messages in one `history_page`; a `history` asking for more gets this many.
    /// Absent from servers that predate it, which clamp to the default.
    #[serde(default = "default_history_page_max")]
    pub history_page_max: u32,
}

/// The `history_page_max` of servers that do not send one.
pub const DEFAULT_HISTORY_PAGE_MAX: u32 = 200;

fn default_history_page_max() -> u32 {
    DEFAULT_HISTORY_PAGE_MAX
}

/// Machine-readable reason of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON, has an unknown type or wrong field types.
    MalformedFrame,
    /// The `hello` version is not one this server speaks.
    UnsupportedVersion,
    /// A frame other than `hello` came before `hello`, or `hello` came twice.
    OutOfOrder,
    /// The frame asks for something its fields do not allow (e.g. choosing `offline`).
    InvalidRequest,
    /// The frame names a call or directory entry that does not exist.
    NotFound,
    /// The call is not in a state that allows this move (e.g. holding a queued call).
    IllegalMove,
    /// The user's role does not allow this frame (e.g. a call frame from a non-operator).
    Forbidden,
    /// Past this user's allowance for this kind of frame: slow down (a console that keeps
    /// going is closed with 1008).
    RateLimited,
    /// The server failed; the frame may be retried.
    Internal,
    /// The telephone system refused the command, failed, or did not confirm it in time;
    /// the call did not change.
    Telephony,
}

/// Body of `POST /api/session` (sign in).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Body of a successful `GET` or `POST /api/session`: who is signed in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: User,
    #[serde(default)]
    pub role: Role,
}

/// Body of every HTTP error answer of the API.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable reason, e.g. `invalid_credentials`, `unauthenticated`, `too_many_attempts`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

impl ClientFrame {
    /// Decodes one text frame.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encodes this frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialize")
    }
}

/// A `directory_snapshot` page decoded straight into its fields (the `type` field is
/// ignored): serde decodes an internally tagged enum by first copying the whole frame into an
/// intermediate tree, which doubles the work for the megabytes of a large directory, by far
/// the most a console decodes.
#[derive(Deserialize)]
struct DirectoryPage {
    entries: Vec<DirectoryEntry>,
    #[serde(default)]
    more: bool,
}

impl ServerFrame {
    /// Decodes one text frame.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        // Serialization writes the tag first, so a directory page starts like this.
        if text.starts_with(r#"{"type":"directory_snapshot","#) {
            let DirectoryPage { entries, more } = serde_json::from_str(text)?;
            return Ok(ServerFrame::DirectorySnapshot { entries, more });
        }
        serde_json::from_str(text)
    }

    /// Encodes this frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_config() -> ClientConfig {
        ClientConfig {
            predefined_messages: vec!["Your caller is holding on line 2".into()],
            chat_key: "F9".into(),
            limits: Limits {
                max_frame_bytes: 65536,
                max_message_chars: 4000,
                history_page_max: 200,
            },
            keys: keys::Keys::default(),
            lines: vec![Line {
                number: "2000".into(),
                name: "Main line".into(),
                priority: 1,
                colour: "#1e3a5f".into(),
                greeting: "Good morning, Contoso, how can I help?".into(),
            }],
            hold_recall_secs: DEFAULT_HOLD_RECALL_SECS,
        }
    }

    fn sample_user() -> User {
        User {
            id: 2,
            username: "alice".into(),
            display_name: "Alice Archer".into(),
        }
    }

    fn sample_message() -> ChatMessage {
        ChatMessage {
            id: 10,
            conversation: 3,
            seq: 7,
            from: 1,
            to: 2,
            body: "Your caller is holding on line 2".into(),
            sent_at_ms: 1_700_000_000_500,
            client_msg_id: "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61".into(),
        }
    }

    fn sample_call() -> Call {
        Call {
            id: 4,
            caller_name: "Jane Doe".into(),
            caller_number: "+1 555 0100".into(),
            dialled: "+1 555 2000".into(),
            caller_user: None,
            state: CallState::Queued,
            queued_at_ms: 1_700_000_000_000,
            answered_at_ms: None,
            held_at_ms: None,
            transfer_target: None,
            unanswered_by: None,
            caller_entry: None,
            pending: None,
        }
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            },
            ClientFrame::SetPresence {
                state: PresenceState::Dnd,
            },
            ClientFrame::AnswerCall { call: 1 },
            ClientFrame::HoldCall { call: 1 },
            ClientFrame::TransferCall {
                call: 1,
                target: 9,
                blind: false,
            },
            ClientFrame::ClearCall { call: 1 },
            ClientFrame::ChatSend {
                client_msg_id: "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61".into(),
                to: 2,
                body: "<img src=x onerror=alert(1)>\nline two".into(),
            },
            ClientFrame::History {
                with: 2,
                before_seq: Some(40),
                limit: 50,
            },
            ClientFrame::SearchUsers {
                query: "ali".into(),
            },
            ClientFrame::ChatRead { with: 2, seq: 7 },
            ClientFrame::Typing { to: 2 },
            ClientFrame::SetNote {
                entry: 7,
                text: "Prefers calls after 10".into(),
            },
            ClientFrame::Ping,
            ClientFrame::Watch { users: vec![2, 3] },
            ClientFrame::CallBack { call: 4 },
            ClientFrame::MissedDone { call: 4 },
            ClientFrame::SetNightService { closed: true },
            ClientFrame::TodaysCalls,
            ClientFrame::SetAbsence {
                text: "On leave until 3 Dec, ask Bob Baker".into(),
                until_ms: 1_700_000_000_000,
            },
        ];
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Welcome {
                version: PROTOCOL_VERSION,
                me: User {
                    id: 1,
                    username: "alice".into(),
                    display_name: "Alice Archer".into(),
                },
                role: Role::Operator,
                mode: Mode::Micollab,
                config: sample_config(),
            },
            ServerFrame::DirectoryChanged {
                upserted: vec![],
                removed: vec![3, 4],
            },
            ServerFrame::Notes {
                notes: vec![EntryNote {
                    entry: 7,
                    text: "Absent until 3 Dec, calls to Bob Baker".into(),
                    author: "operator".into(),
                    updated_at_ms: 1_700_000_000_000,
                }],
                snapshot: true,
            },
            ServerFrame::ConfigChanged(sample_config()),
            ServerFrame::Pong,
            ServerFrame::MissedCalls {
                missed: vec![MissedCall {
                    call: 4,
                    caller_name: "Jane Doe".into(),
                    caller_number: "+1 555 0100".into(),
                    dialled: "+1 555 2000".into(),
                    caller_entry: None,
                    queued_at_ms: 1_700_000_000_000,
                    missed_at_ms: 1_700_000_045_000,
                    called_back: Some(CalledBack {
                        by: "Olga Operator".into(),
                        at_ms: 1_700_000_100_000,
                    }),
                }],
                done: vec![3],
                snapshot: false,
            },
            ServerFrame::Absences {
                absences: vec![Absence {
                    user: 2,
                    text: "On leave".into(),
                    until_ms: 1_700_000_000_000,
                }],
                ended: vec![3],
                snapshot: false,
            },
            ServerFrame::NightService(NightService {
                closed: true,
                by: "opening hours".into(),
                since_ms: 1_700_000_000_000,
            }),
            ServerFrame::TodaysCalls {
                calls: vec![HandledCall {
                    call: 4,
                    caller_name: String::new(),
                    caller_number: "+1 555 0100".into(),
                    dialled: "+1 555 2000".into(),
                    answered_at_ms: 1_700_000_000_000,
                    ended_at_ms: None,
                    transferred_to: Some("Bob Baker".into()),
                }],
            },
            ServerFrame::Watched {
                presence: vec![PresenceUpdate {
                    user: 2,
                    state: PresenceState::Away,
                }],
            },
            ServerFrame::DirectorySnapshot {
                entries: vec![DirectoryEntry {
                    id: 7,
                    name: "Lobby Phone".into(),
                    numbers: vec!["+1 555 0100".into(), "100".into()],
                    department: "Facilities".into(),
                    title: String::new(),
                    location: "Lobby".into(),
                    user: None,
                    email: "lobby@example.com".into(),
                    xmpp: String::new(),
                }],
                more: true,
            },
            ServerFrame::PresenceSnapshot {
                more: false,
                presence: vec![PresenceUpdate {
                    user: 1,
                    state: PresenceState::Away,
                }],
            },
            ServerFrame::Presence(PresenceUpdate {
                user: 2,
                state: PresenceState::Offline,
            }),
            ServerFrame::CallsSnapshot {
                calls: vec![sample_call()],
                now_ms: 1_700_000_001_000,
            },
            ServerFrame::Call(Call {
                state: CallState::Transferring,
                answered_at_ms: Some(1_700_000_002_000),
                held_at_ms: None,
                transfer_target: Some(12),
                ..sample_call()
            }),
            ServerFrame::ConversationsSnapshot {
                conversations: vec![ConversationSummary {
                    id: 3,
                    partner: sample_user(),
                    last: sample_message(),
                    mine: Marker::default(),
                    theirs: Marker {
                        read_seq: 7,
                        delivered_seq: 7,
                    },
                    unread: 0,
                }],
            },
            ServerFrame::ChatAck {
                client_msg_id: "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61".into(),
                id: 10,
                conversation: 3,
                seq: 7,
                sent_at_ms: 1_700_000_000_500,
            },
            ServerFrame::ChatNack {
                client_msg_id: "x".into(),
                reason: ChatRefusal::PartnerOffline,
                message: "Alice Archer is offline".into(),
            },
            ServerFrame::ChatMessage(sample_message()),
            ServerFrame::Marker(MarkerUpdate {
                conversation: 3,
                user: 2,
                marker: Marker {
                    read_seq: 5,
                    delivered_seq: 7,
                },
                unread: 2,
                as_of_seq: 7,
            }),
            ServerFrame::Typing { from: 2 },
            ServerFrame::HistoryPage {
                with: 2,
                messages: vec![sample_message()],
                has_more: true,
            },
            ServerFrame::UserResults {
                query: "ali".into(),
                users: vec![sample_user()],
            },
            ServerFrame::Error {
                code: ErrorCode::MalformedFrame,
                message: "expected a JSON object".into(),
            },
            ServerFrame::Federation { down: None },
            ServerFrame::Federation {
                down: Some("cannot reach the XMPP server".into()),
            },
        ];
        for frame in frames {
            assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn frames_are_tagged_in_snake_case() {
        let hello = serde_json::to_value(ClientFrame::SetPresence {
            state: PresenceState::Busy,
        })
        .unwrap();
        assert_eq!(hello, json!({"type": "set_presence", "state": "busy"}));
        let presence = serde_json::to_value(ServerFrame::Presence(PresenceUpdate {
            user: 3,
            state: PresenceState::Dnd,
        }))
        .unwrap();
        assert_eq!(
            presence,
            json!({"type": "presence", "user": 3, "state": "dnd"})
        );
    }

    #[test]
    fn malformed_client_frames_are_rejected() {
        let bad = [
            "",
            "not json",
            "[]",
            r#"{"version": 1}"#,
            r#"{"type": "launch_missiles"}"#,
            r#"{"type": "hello"}"#,
            r#"{"type": "hello", "version": "one"}"#,
            r#"{"type": "hello", "version": -1}"#,
            r#"{"type": "set_presence", "state": "sleepy"}"#,
            r#"{"type": "set_presence", "state": "busy", "extra": true}"#,
            r#"{"type": "hello", "version": 1"#,
            r#"{"type": "answer_call"}"#,
            r#"{"type": "chat_send", "to": 2, "body": "hi"}"#,
            r#"{"type": "history", "with": 2, "limit": -5}"#,
            r#"{"type": "transfer_call", "call": 1}"#,
            r#"{"type": "clear_call", "call": "one"}"#,
        ];
        for text in bad {
            assert!(ClientFrame::decode(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn limits_from_servers_without_a_history_page_max_still_decode() {
        let limits: Limits =
            serde_json::from_value(json!({"max_frame_bytes": 65536, "max_message_chars": 4000}))
                .unwrap();
        assert_eq!(limits.history_page_max, DEFAULT_HISTORY_PAGE_MAX);
    }

    #[test]
    fn presence_names_parse_back() {
        for state in [PresenceState::Offline]
            .into_iter()
            .chain(PresenceState::SELECTABLE)
        {
            assert_eq!(PresenceState::parse(state.as_str()), Some(state));
        }
        assert_eq!(PresenceState::parse("sleepy"), None);
    }

    #[test]
    fn directory_pages_decode_alike_with_the_type_first_or_not() {
        let page = r#"{"type":"directory_snapshot","entries":[{"id":7,"name":"Lobby Phone","numbers":["100"],"department":"","title":"","location":"Lobby","user":null}],"more":true}"#;
        let moved = r#"{"entries":[{"id":7,"name":"Lobby Phone","numbers":["100"],"department":"","title":"","location":"Lobby","user":null}],"type":"directory_snapshot","more":true}"#;
        let fast = ServerFrame::decode(page).unwrap();
        assert_eq!(fast, ServerFrame::decode(moved).unwrap());
        assert!(
            matches!(fast, ServerFrame::DirectorySnapshot { more: true, ref entries } if entries[0].id == 7)
        );
        let without_more = r#"{"type":"directory_snapshot","entries":[]}"#;
        assert_eq!(
            ServerFrame::decode(without_more).unwrap(),
            ServerFrame::DirectorySnapshot {
                entries: vec![],
                more: false
            }
        );
        assert!(ServerFrame::decode(r#"{"type":"directory_snapshot","entries":7}"#).is_err());
    }
}
