//! The one writer of chat messages: group commit (many messages, one transaction, one fsync),
//! acknowledgements after the commit, fan-out in commit order.

use std::sync::Arc;

use sqlx::{Row, SqliteConnection, SqlitePool};
use switchboard_protocol::{ChatMessage, MarkerUpdate, ServerFrame, UserId};
use tokio::sync::{mpsc, oneshot};

use crate::presence::Hub;

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

async fn run(db: SqlitePool, hub: Arc<Hub>, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &hub, &batch).await {
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

/// Stores a batch in one transaction; results in the batch's order.
async fn commit(db: &SqlitePool, hub: &Hub, batch: &[Job]) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut stored = Vec::with_capacity(batch.len());
    for job in batch {
        let mut one = store_one(&mut tx, &job.message).await?;
        if one.new && hub.is_online(job.message.to) {
            let (conversation, seq) = (one.message.conversation, one.message.seq);
            let marker =
                super::markers::deliver(&mut tx, job.message.to, conversation, seq).await?;
            one.delivered = Some(MarkerUpdate {
                conversation,
                user: job.message.to,
                marker,
                // For the recipient's own consoles only; this update goes to the sender.
                unread: 0,
                as_of_seq: 0,
            });
        }
        stored.push(one);
    }
    tx.commit().await?;
    Ok(stored)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn store_one(tx: &mut SqliteConnection, message: &Outgoing) -> Result<Stored, sqlx::Error> {
    let existing = sqlx::query(
        "SELECT id, conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms \
         FROM messages WHERE sender = ? AND client_msg_id = ?",
    )
    .bind(message.from)
    .bind(&message.client_msg_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = existing {
        return Ok(Stored {
            message: super::message_from_row(&row),
            new: false,
            delivered: None,
        });
    }
    let (a, b) = (message.from.min(message.to), message.from.max(message.to));
    let sent_at_ms = now_ms();
    let row = sqlx::query(
        "INSERT INTO conversations (user_a, user_b, last_seq, last_at_ms) VALUES (?, ?, 1, ?) \
         ON CONFLICT (user_a, user_b) DO UPDATE SET last_seq = last_seq + 1, last_at_ms = excluded.last_at_ms \
         RETURNING id, last_seq",
    )
    .bind(a)
    .bind(b)
    .bind(sent_at_ms)
    .fetch_one(&mut *tx)
    .await?;
    let conversation: i64 = row.get("id");
    let seq: i64 = row.get("last_seq");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(conversation)
    .bind(seq)
    .bind(message.from)
    .bind(message.to)
    .bind(&message.client_msg_id)
    .bind(&message.body)
    .bind(sent_at_ms)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Stored {
        message: ChatMessage {
            id,
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
    })
}
