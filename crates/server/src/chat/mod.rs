//! Chat: checking and storing messages, history pages, the chat list and user search.

pub mod markers;
pub mod writer;

use std::sync::Arc;

use sqlx::{AnyPool, Row, any::AnyRow};
use switchboard_protocol::{
    ChatMessage, ChatRefusal, ConversationSummary, Marker, Mode, PresenceState, ServerFrame, User,
    UserId,
};
use tokio_util::sync::CancellationToken;

use self::{
    markers::{Mark, MarkError},
    writer::{NotStored, Outgoing, Stored, Writer},
};
use crate::{bucket::Buckets, config::Config, presence::Hub, state::health::Health};

/// Most conversations in the chat list sent at hello.
const MAX_CONVERSATIONS: i64 = 200;
/// Most users in a search answer.
const MAX_RESULTS: i64 = 20;

/// A message was refused: why, and a sentence for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: ChatRefusal,
    pub message: String,
}

fn refuse(reason: ChatRefusal, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        message: message.into(),
    }
}

/// What the sender is told of a message the writer did not store.
fn not_stored(err: NotStored) -> Refused {
    match err {
        NotStored::Busy => refuse(
            ChatRefusal::Busy,
            "The server is busy; the message will be sent again in a moment.",
        ),
        NotStored::Failed(err) => {
            tracing::error!(%err, "a message could not be stored");
            refuse(
                ChatRefusal::Internal,
                "The message could not be stored; it will be retried.",
            )
        }
    }
}

/// The chat service, shared by every connection.
pub struct Chat {
    db: AnyPool,
    hub: Arc<Hub>,
    writer: Writer,
    mode: Mode,
    max_chars: usize,
    /// Most messages in one history page (`limits.history_page_max`).
    page_max: u32,
    /// Messages each user may still send (`limits.messages_per_second`, `message_burst`).
    rate: Buckets<UserId>,
}

pub(crate) fn message_from_row(row: &AnyRow) -> ChatMessage {
    ChatMessage {
        id: row.get("id"),
        conversation: row.get("conversation_id"),
        seq: row.get("seq"),
        from: row.get("sender"),
        to: row.get("recipient"),
        body: row.get("body"),
        sent_at_ms: row.get("sent_at_ms"),
        client_msg_id: row.get("client_msg_id"),
    }
}

/// The one spelling of a message id: a UUID, as the `uuid` crate reads it, in lowercase
/// hyphenated form. The same id written in another letter case is the same message.
fn message_id(id: &str) -> Option<String> {
    uuid::Uuid::try_parse(id)
        .ok()
        .map(|id| id.hyphenated().to_string())
}

impl Chat {
    /// Starts the chat service and its writer, supervised in `health` until `stop`.
    pub fn start(
        db: AnyPool,
        hub: Arc<Hub>,
        config: &Config,
        health: &Health,
        stop: CancellationToken,
    ) -> Self {
        let writer = Writer::start(db.clone(), hub.clone(), health, stop);
        Chat {
            db,
            hub,
            writer,
            mode: config.mode,
            max_chars: config.client.limits.max_message_chars,
            page_max: config.client.limits.history_page_max,
            rate: Buckets::new(
                f64::from(config.limits.messages_per_second),
                f64::from(config.limits.message_burst),
            ),
        }
    }

    /// Checks and stores a message from `from`; returns it once committed. A resend of a
    /// stored `client_msg_id` (in any letter case) returns the stored message again and stores
    /// nothing.
    pub async fn send(
        &self,
        from: UserId,
        client_msg_id: String,
        to: UserId,
        body: String,
    ) -> Result<Stored, Refused> {
        self.submit(from, client_msg_id, to, body).await?.await
    }

    /// Checks a message from `from` and queues it for the writer; the future it returns
    /// resolves once the message is committed. A console's connection queues its sends in
    /// order and waits for several commits at once (see `ws::chat`).
    pub async fn submit(
        &self,
        from: UserId,
        client_msg_id: String,
        to: UserId,
        body: String,
    ) -> Result<impl Future<Output = Result<Stored, Refused>> + Send + 'static, Refused> {
        let client_msg_id = message_id(&client_msg_id).ok_or_else(|| {
            refuse(
                ChatRefusal::BadClientMsgId,
                "client_msg_id must be a UUID chosen once per message",
            )
        })?;
        if body.trim().is_empty() {
            return Err(refuse(ChatRefusal::Empty, "An empty message is not sent."));
        }
        let chars = body.chars().count();
        if chars > self.max_chars {
            return Err(refuse(
                ChatRefusal::TooLong,
                format!(
                    "Messages are limited to {} characters; this one has {chars}.",
                    self.max_chars
                ),
            ));
        }
        if to == from || !self.hub.is_user(to) {
            return Err(refuse(
                ChatRefusal::UnknownRecipient,
                "There is nobody to chat with under that id.",
            ));
        }
        // A resend of a stored message (several tabs flushing one shared outbox) costs no
        // allowance: it is acknowledged again, not stored again.
        if !self.rate.take(from) && !self.is_stored(from, &client_msg_id).await {
            return Err(refuse(
                ChatRefusal::RateLimited,
                "Too many messages at once; wait a moment and send again.",
            ));
        }
        if self.mode == Mode::Micollab && self.hub.presence_of(to) == PresenceState::Offline {
            return Err(refuse(
                ChatRefusal::PartnerOffline,
                "Chat is unavailable: this person is offline.",
            ));
        }
        let outgoing = Outgoing {
            from,
            to,
            client_msg_id,
            body,
        };
        let stored = self.writer.submit(outgoing).await.map_err(not_stored)?;
        Ok(async move { stored.await.map_err(not_stored) })
    }

    /// Whether `from` already has a message stored under `client_msg_id` (false if the
    /// database cannot tell).
    async fn is_stored(&self, from: UserId, client_msg_id: &str) -> bool {
        sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM messages WHERE sender = $1 AND client_msg_id = $2",
        )
        .bind(from)
        .bind(client_msg_id)
        .fetch_optional(&self.db)
        .await
        .is_ok_and(|found| found.is_some())
    }

    /// Messages between `me` and `with` before `before_seq` (the newest when `None`), at most
    /// `limit` (clamped to 1..=`history_page_max`), in ascending seq, and whether older ones
    /// exist. Only the two parties can read a conversation: it is found by the pair, never by
    /// an id the client gives.
    pub async fn history(
        &self,
        me: UserId,
        with: UserId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<ChatMessage>, bool), sqlx::Error> {
        let limit = i64::from(limit.clamp(1, self.page_max));
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.seq, m.sender, m.recipient, m.client_msg_id, \
                    m.body, m.sent_at_ms \
             FROM conversations c JOIN messages m ON m.conversation_id = c.id \
             WHERE c.user_a = $1 AND c.user_b = $2 AND m.seq < $3 \
             ORDER BY m.seq DESC LIMIT $4",
        )
        .bind(me.min(with))
        .bind(me.max(with))
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&self.db)
        .await?;
        let has_more = rows.len() as i64 > limit;
        let mut messages: Vec<ChatMessage> = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect();
        messages.reverse();
        Ok((messages, has_more))
    }

    /// The chat list of `me`: conversations with their newest message, most recent first.
    pub async fn conversations(&self, me: UserId) -> Result<Vec<ConversationSummary>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT c.id AS conv, u.id AS uid, u.username, u.display_name, \
                    m.id, m.conversation_id, m.seq, m.sender, m.recipient, m.client_msg_id, \
                    m.body, m.sent_at_ms, \
                    coalesce(mine.read_seq, 0) AS my_read, \
                    coalesce(mine.delivered_seq, 0) AS my_delivered, \
                    coalesce(theirs.read_seq, 0) AS their_read, \
                    coalesce(theirs.delivered_seq, 0) AS their_delivered, \
                    (SELECT count(*) FROM messages x WHERE x.conversation_id = c.id \
                       AND x.sender = u.id AND x.seq > coalesce(mine.read_seq, 0)) AS unread \
             FROM conversations c \
             JOIN users u ON u.id = CASE WHEN c.user_a = $1 THEN c.user_b ELSE c.user_a END \
             JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq \
             LEFT JOIN markers mine ON mine.conversation_id = c.id AND mine.user_id = $1 \
             LEFT JOIN markers theirs ON theirs.conversation_id = c.id AND theirs.user_id = u.id \
             WHERE c.user_a = $1 OR c.user_b = $1 \
             ORDER BY c.last_at_ms DESC, c.id DESC LIMIT $2",
        )
        .bind(me)
        .bind(MAX_CONVERSATIONS)
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .iter()
            .map(|row| ConversationSummary {
                id: row.get("conv"),
                partner: User {
                    id: row.get("uid"),
                    username: row.get("username"),
                    display_name: row.get("display_name"),
                },
                last: message_from_row(row),
                mine: Marker {
                    read_seq: row.get("my_read"),
                    delivered_seq: row.get("my_delivered"),
                },
                theirs: Marker {
                    read_seq: row.get("their_read"),
                    delivered_seq: row.get("their_delivered"),
                },
                unread: row.get::<i64, _>("unread").try_into().unwrap_or(u32::MAX),
            })
            .collect())
    }

    /// `me` read (or received) the conversation with `with` up to `seq`: store it and tell
    /// every session of both parties (clearing red dots everywhere, updating receipts).
    pub async fn mark(
        &self,
        me: UserId,
        with: UserId,
        seq: i64,
        mark: Mark,
    ) -> Result<(), MarkError> {
        if let Some(update) = markers::mark(&self.db, me, with, seq, mark).await? {
            let frame = ServerFrame::Marker(update).encode().into();
            self.hub.send_to_user(me, &frame);
            self.hub.send_to_user(with, &frame);
        }
        Ok(())
    }

    /// `me` connected: what was sent to them while away is delivered now; their partners'
    /// consoles learn it.
    pub async fn delivered_on_arrival(&self, me: UserId) -> Result<(), sqlx::Error> {
        for (partner, update) in markers::deliver_all(&self.db, me).await? {
            let frame = ServerFrame::Marker(update).encode().into();
            self.hub.send_to_user(partner, &frame);
        }
        Ok(())
    }

    /// `me` is typing to `to`: tell `to`'s consoles. Nothing is stored.
    pub fn typing(&self, me: UserId, to: UserId) -> bool {
        if to == me || !self.hub.is_user(to) {
            return false;
        }
        let frame = ServerFrame::Typing { from: me }.encode().into();
        self.hub.send_to_user(to, &frame);
        true
    }

    /// Users other than `me` whose display name or user name contains `query`.
    pub async fn search_users(&self, me: UserId, query: &str) -> Result<Vec<User>, sqlx::Error> {
        let query = query.trim();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let escaped: String = query
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{}%", escaped.to_lowercase());
        let rows = sqlx::query(
            "SELECT id, username, display_name FROM users \
             WHERE id <> $1 \
             AND (lower(display_name) LIKE $2 ESCAPE '\\' OR lower(username) LIKE $2 ESCAPE '\\') \
             ORDER BY lower(display_name) LIMIT $3",
        )
        .bind(me)
        .bind(&pattern)
        .bind(MAX_RESULTS)
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .iter()
            .map(|row| User {
                id: row.get("id"),
                username: row.get("username"),
                display_name: row.get("display_name"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::message_id;

    #[test]
    fn message_ids_are_uuids_in_one_spelling() {
        let id = "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e61";
        assert_eq!(message_id(id).as_deref(), Some(id));
        let upper = id.to_uppercase();
        assert_eq!(message_id(&upper).as_deref(), Some(id));
        for bad in [
            "1",
            "0b7e4f0e7f394c1e9a8e2f3a1c9d5e61xxxx",
            "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e6g",
            "0b7e4f0e-7f39-4c1e-9a8e-2f3a1c9d5e6é",
        ] {
            assert_eq!(message_id(bad), None, "{bad}");
        }
    }
}
