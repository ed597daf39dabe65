//! Chat messages to this node's consoles, with several nodes: each conversation in seq order,
//! each message once.
//!
//! Messages reach a node two ways: from its own message writer, and from the bus (stored by
//! another node). Either may come first: node A may store seq 6 of a conversation while seq 5,
//! stored by node B a moment before, is still on the bus. So every message passes one task,
//! which remembers the last seq it delivered per conversation: an older or equal seq is a
//! duplicate and dropped; a seq past the next is a gap, filled from the database first (what
//! has a higher seq was committed after it, so the database has it).
//!
//! When the bus comes back after an outage, messages stored meanwhile (by any node) for
//! users with a console here are read from the database and pass the same task. A console
//! that reconnects reads its conversations from the database anyway.

use std::{collections::HashMap, sync::Arc};

use sqlx::AnyPool;
use switchboard_protocol::{ChatMessage, ConversationId};
use tokio::sync::mpsc;

use crate::{
    chat::message_from_row,
    clock::now_ms,
    presence::{Hub, ToNodes},
};

/// Conversations remembered before the memory starts again (a gap then reads the database
/// once more; a console drops a message it holds already).
const MAX_CONVERSATIONS: usize = 100_000;
/// Most messages one catch-up reads.
const MAX_CATCH_UP: i64 = 50_000;
/// How far before the bus was lost a catch-up reads: what was on its way then, and clocks
/// of nodes that differ a little.
const CATCH_UP_MARGIN_MS: i64 = 10_000;

/// What the delivery task does.
#[derive(Debug)]
pub enum Job {
    /// A message this node stored: to the other nodes, and to the consoles here.
    Stored(ChatMessage),
    /// A message another node stored.
    Remote(ChatMessage),
    /// The bus is lost: remember when, for the catch-up.
    BusLost,
    /// The bus is (back) up: deliver what was stored meanwhile.
    CatchUp,
}

/// Runs until every sender is gone.
pub async fn run(
    db: AnyPool,
    hub: Arc<Hub>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    outbound: mpsc::Sender<ToNodes>,
) {
    let mut order = Order {
        db,
        hub,
        last: HashMap::new(),
    };
    // The first connection counts as a return: messages stored while this node was starting.
    let mut lost_at_ms = Some(now_ms());
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Stored(message) => {
                if outbound.try_send(ToNodes::Chat(message.clone())).is_err() {
                    // The other nodes fill the gap at the next message or catch up.
                    tracing::warn!("bus too far behind; a message reaches other nodes later");
                }
                order.accept(message).await;
            }
            Job::Remote(message) => order.accept(message).await,
            Job::BusLost => {
                lost_at_ms.get_or_insert_with(now_ms);
            }
            Job::CatchUp => {
                if let Some(since) = lost_at_ms.take() {
                    order.catch_up(since - CATCH_UP_MARGIN_MS).await;
                }
            }
        }
    }
}

struct Order {
    db: AnyPool,
    hub: Arc<Hub>,
    /// The last seq delivered here per conversation (with a party online here).
    last: HashMap<ConversationId, i64>,
}

impl Order {
    /// Delivers `message` in its conversation's order, once.
    async fn accept(&mut self, message: ChatMessage) {
        let conversation = message.conversation;
        if !self.hub.is_here(message.from) && !self.hub.is_here(message.to) {
            // Nobody here to tell; whoever connects later reads the database.
            self.last.remove(&conversation);
            return;
        }
        let last = self.last.get(&conversation).copied();
        if last.is_some_and(|last| message.seq <= last) {
            return;
        }
        if let Some(last) = last.filter(|&last| message.seq > last + 1) {
            match self.between(conversation, last, message.seq).await {
                Ok(missing) => {
                    for earlier in missing {
                        self.hub.deliver_chat_here(&earlier);
                    }
                }
                Err(err) => tracing::error!(%err, conversation, "filling a gap in a conversation"),
            }
        }
        self.hub.deliver_chat_here(&message);
        if self.last.len() >= MAX_CONVERSATIONS {
            self.last.clear();
        }
        self.last.insert(conversation, message.seq);
    }

    /// The messages of `conversation` after seq `after` and before `before`, in order.
    async fn between(
        &self,
        conversation: ConversationId,
        after: i64,
        before: i64,
    ) -> Result<Vec<ChatMessage>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms \
             FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq",
        )
        .bind(conversation)
        .bind(after)
        .bind(before)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.iter().map(message_from_row).collect())
    }

    /// Delivers what was stored since `since_ms` for users with a console here.
    async fn catch_up(&mut self, since_ms: i64) {
        let rows = sqlx::query(
            "SELECT id, conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms \
             FROM messages WHERE sent_at_ms >= $1 ORDER BY conversation_id, seq LIMIT $2",
        )
        .bind(since_ms)
        .bind(MAX_CATCH_UP)
        .fetch_all(&self.db)
        .await;
        match rows {
            Ok(rows) => {
                tracing::info!(
                    messages = rows.len(),
                    "catching up on messages after the bus returned"
                );
                for row in &rows {
                    self.accept(message_from_row(row)).await;
                }
            }
            Err(err) => tracing::error!(%err, "catching up on messages after the bus returned"),
        }
    }
}
