//! Chat as both sides see it: messages, acknowledgements, history pages, the chat list.

use serde::{Deserialize, Serialize};

use crate::{User, UserId};

/// Server-assigned id of a message.
pub type MessageId = i64;

/// Server-assigned id of a 1:1 conversation.
pub type ConversationId = i64;

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    /// Position in the conversation, from 1, without gaps.
    pub seq: i64,
    pub from: UserId,
    pub to: UserId,
    /// Plain text; consoles render it as text, never as markup.
    pub body: String,
    /// When the server stored it, milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    /// The sender's id for this message, so the sender's consoles match it to their outbox.
    pub client_msg_id: String,
}

/// A conversation in the chat list: the partner, the newest message and both parties'
/// markers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub partner: User,
    pub last: ChatMessage,
    /// The receiving user's own markers: what they have read (red dots derive from it).
    pub mine: Marker,
    /// The partner's markers: receipts of the receiving user's messages derive from them.
    pub theirs: Marker,
    /// Messages from the partner above `mine.read_seq`, counted up to `last.seq`.
    pub unread: u32,
}

/// How far one party of a conversation has got: messages up to `delivered_seq` reached one
/// of their consoles, messages up to `read_seq` were displayed to them. Both only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Marker {
    pub read_seq: i64,
    pub delivered_seq: i64,
}

/// A party's markers changed; sent to every session of both parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerUpdate {
    pub conversation: ConversationId,
    /// Whose markers these are.
    pub user: UserId,
    pub marker: Marker,
    /// For `user`'s own consoles: messages from the partner above `read_seq`, counted up to
    /// `as_of_seq` (later messages are counted by the console as they arrive).
    pub unread: u32,
    pub as_of_seq: i64,
}

/// Why a message was not accepted. Nothing was stored; the console may let the user retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRefusal {
    /// Empty or whitespace-only.
    Empty,
    /// Longer than the configured limit.
    TooLong,
    /// `client_msg_id` is not a UUID.
    BadClientMsgId,
    /// No such user, or oneself.
    UnknownRecipient,
    /// Micollab mode: the partner is offline, so chat is unavailable.
    PartnerOffline,
    /// Sending too fast; retry a little later.
    RateLimited,
    /// The server failed to store it; retry.
    Internal,
    /// The server is taking more messages than it can store: it did not queue this one, so
    /// that the ones it took are acknowledged quickly. Resend it after a short pause.
    Busy,
}
