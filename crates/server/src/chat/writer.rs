//! The one writer of chat messages: group commit (many messages, one transaction, one fsync),
//! acknowledgements after the commit, fan-out in commit order.

use std::{collections::HashMap, sync::Arc};

use sqlx::{Row, SqliteConnection, SqlitePool};
use switchboard_protocol::{ChatMessage, ConversationId, MarkerUpdate, ServerFrame, UserId};
use tokio::sync::{mpsc, oneshot};

use crate::{clock::now_ms, presence::Hub};

/// Messages waiting for the writer before senders wait for room.
const QUEUE: usize = 16_384;
/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;

/// A message to store.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from: UserId,
    pub to: UserId,
    pub client_msg_id: String,
    pub body: String,
}

/// What storing a message gave: the message as stored, and whether this request stored it
/// (false for a resend of a message already stored: it is acknowledged again, not re-sent).
#[derive(Debug, Clone)]
pub struct Stored {
    pub message: ChatMessage,
    pub new: bool,
    /// The recipient's markers when this stored message reached them at once (they were
    /// online): the sender's consoles show it delivered.
    pub delivered: Option<MarkerUpdate>,
}

struct Job {
    message: Outgoing,
    reply: oneshot::Sender<Result<Stored, String>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer over `db`; new messages are sent to both parties through `hub`.
    pub fn start(db: SqlitePool, hub: Arc<Hub>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, hub, queue));
        Writer { jobs }
    }

    /// Stores a message durably; returns once it is committed (or failed: then nothing is
    /// stored and the sender may retry with the same `client_msg_id`).
    pub async fn store(&self, message: Outgoing) -> Result<Stored, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| "the message writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the message writer has stopped".to_owned())?
    }
}

/// Conversations the writer has seen: the pair of users (smaller id first) -> (conversation,
/// last seq). The writer is the only one that moves `last_seq`, so after the first look-up it
/// never asks the database again.
type Seqs = HashMap<(UserId, UserId), (ConversationId, i64)>;

async fn run(db: SqlitePool, hub: Arc<Hub>, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut seqs = Seqs::new();
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &hub, &mut seqs, &batch).await {
            Ok(stored) => {
                for (job, stored) in batch.drain(..).zip(stored) {
                    if stored.new {
                        let frame = ServerFrame::ChatMessage(stored.message.clone()).encode();
                        let frame = frame.into();
                        hub.send_to_user(stored.message.from, &frame);
                        hub.send_to_user(stored.message.to, &frame);
                    }
                    if let Some(update) = stored.delivered {
                        let frame = ServerFrame::Marker(update).encode().into();
                        hub.send_to_user(stored.message.from, &frame);
                    }
                    let _ = job.reply.send(Ok(stored));
                }
            }
            Err(err) => {
                tracing::error!(%err, messages = batch.len(), "storing messages failed");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(err.to_string()));
                }
            }
        }
    }
}

/// Stores a batch in one transaction; results in the batch's order. Each new message is one
/// plain `INSERT`; conversations and delivery markers are updated once per batch. `seqs`
/// changes only when the transaction commits.
async fn commit(
    db: &SqlitePool,
    hub: &Hub,
    seqs: &mut Seqs,
    batch: &[Job],
) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let sent_at_ms = now_ms();
    // Conversations this batch moved: pair -> (conversation, new last seq).
    let mut moved: HashMap<(UserId, UserId), (ConversationId, i64)> = HashMap::new();
    let mut stored = Vec::with_capacity(batch.len());
    for job in batch {
        let message = &job.message;
        let pair = (message.from.min(message.to), message.from.max(message.to));
        let (conversation, last) = match moved.get(&pair).or_else(|| seqs.get(&pair)) {
            Some(&known) => known,
            None => find_or_create(&mut tx, pair).await?,
        };
        let seq = last + 1;
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender, client_msg_id) DO NOTHING",
        )
        .bind(conversation)
        .bind(seq)
        .bind(message.from)
        .bind(message.to)
        .bind(&message.client_msg_id)
        .bind(&message.body)
        .bind(sent_at_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // A resend of a stored message: acknowledged again with what was stored.
            stored.push(already_stored(&mut tx, message).await?);
            continue;
        }
        moved.insert(pair, (conversation, seq));
        stored.push(Stored {
            message: ChatMessage {
                id: inserted.last_insert_rowid(),
                conversation,
                seq,
                from: message.from,
                to: message.to,
                body: message.body.clone(),
                sent_at_ms,
                client_msg_id: message.client_msg_id.clone(),
            },
            new: true,
            delivered: None,
        });
    }
    for &(conversation, seq) in moved.values() {
        sqlx::query("UPDATE conversations SET last_seq = ?, last_at_ms = ? WHERE id = ?")
            .bind(seq)
            .bind(sent_at_ms)
            .bind(conversation)
            .execute(&mut *tx)
            .await?;
    }
    // Recipients online now have the messages: one delivery marker per recipient and
    // conversation, sent to the sender with the newest of them.
    let mut newest_for: HashMap<(UserId, ConversationId), usize> = HashMap::new();
    for (index, one) in stored.iter().enumerate().filter(|(_, one)| one.new) {
        if hub.is_online(one.message.to) {
            newest_for.insert((one.message.to, one.message.conversation), index);
        }
    }
    for ((recipient, conversation), index) in newest_for {
        let seq = stored[index].message.seq;
        let marker = super::markers::deliver(&mut tx, recipient, conversation, seq).await?;
        stored[index].delivered = Some(MarkerUpdate {
            conversation,
            user: recipient,
            marker,
            // For the recipient's own consoles only; this update goes to the sender.
            unread: 0,
            as_of_seq: 0,
        });
    }
    tx.commit().await?;
    seqs.extend(moved);
    Ok(stored)
}

/// The conversation of a pair of users and its last seq, created empty if new.
async fn find_or_create(
    tx: &mut SqliteConnection,
    (a, b): (UserId, UserId),
) -> Result<(ConversationId, i64), sqlx::Error> {
    let found =
        sqlx::query("SELECT id, last_seq FROM conversations WHERE user_a = ? AND user_b = ?")
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(row) = found {
        return Ok((row.get("id"), row.get("last_seq")));
    }
    let id =
        sqlx::query_scalar("INSERT INTO conversations (user_a, user_b) VALUES (?, ?) RETURNING id")
            .bind(a)
            .bind(b)
            .fetch_one(tx)
            .await?;
    Ok((id, 0))
}

/// The stored message a resend refers to.
async fn already_stored(
    tx: &mut SqliteConnection,
    message: &Outgoing,
) -> Result<Stored, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms \
         FROM messages WHERE sender = ? AND client_msg_id = ?",
    )
    .bind(message.from)
    .bind(&message.client_msg_id)
    .fetch_one(tx)
    .await?;
    Ok(Stored {
        message: super::message_from_row(&row),
        new: false,
        delivered: None,
    })
}
