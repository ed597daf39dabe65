//! The one writer of chat messages: group commit (many messages, one transaction, one fsync),
//! acknowledgements after the commit, fan-out in commit order.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use sqlx::{AnyConnection, AnyPool, Row};
use switchboard_protocol::{ChatMessage, ConversationId, MarkerUpdate, ServerFrame, UserId};
use tokio::{
    sync::{Mutex, mpsc, oneshot},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::markers::{self, MAX_DELIVERIES};
use crate::{clock::now_ms, presence::Hub, state::health::Health, storage};

/// Messages waiting for the writer; past it senders wait for room (admission keeps it far
/// shorter, see [`MAX_QUEUED`]).
const QUEUE: usize = 16_384;
/// Most messages committed in one transaction: 7 bound values each in one `INSERT`, within
/// SQLite's limit of 32,766; and at most one delivery marker each.
const MAX_BATCH: usize = 512;
const _: () = assert!(MAX_BATCH * 7 < 32_766 && MAX_BATCH <= MAX_DELIVERIES);
/// Messages waiting for the writer past which a new one is refused as [`NotStored::Busy`]
/// instead of queued: two batches, about 100 ms of commits on the benchmark machine. Past
/// what the database commits, queueing would make every acknowledgement seconds late;
/// refusing the newest keeps those taken quick, and leaves nothing queued behind a refusal.
pub const MAX_QUEUED: usize = 2 * MAX_BATCH;
const _: () = assert!(MAX_QUEUED < QUEUE);
/// The writer's name in [`Health`] (and `/healthz`).
pub const TASK: &str = "chat writer";
/// Pause before a writer that panicked or ended starts again: a writer that fails at once
/// every time is restarted once a second, not in a busy loop.
const RESTART_AFTER: Duration = Duration::from_secs(1);

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

/// Why a message was not stored; either way nothing of it was, and a resend with the same
/// `client_msg_id` is safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStored {
    /// More messages came than the database commits (see [`MAX_QUEUED`]), or an earlier
    /// message of the conversation was refused (see [`HeldBack`]).
    #[error("the message writer is behind")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

struct Job {
    message: Outgoing,
    reply: oneshot::Sender<Result<Stored, NotStored>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    held: Arc<std::sync::Mutex<HeldBack>>,
}

impl Writer {
    /// Starts the writer over `db`; new messages are sent to both parties through `hub`.
    /// It is supervised in `health`: when it panics or ends it is down there, and started
    /// again (until `stop`). The queue outlives it, so messages queued meanwhile wait for the
    /// next writer; those of the batch it was storing get an error, and their senders retry.
    pub fn start(db: AnyPool, hub: Arc<Hub>, health: &Health, stop: CancellationToken) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let own = own_thread(stop.clone());
        health.supervise(TASK, RESTART_AFTER, stop, move || {
            let writer = own.spawn(run(db.clone(), hub.clone(), queue.clone()));
            async move {
                // A panic of the writer is its supervisor's to see.
                if let Err(err) = writer.await
                    && err.is_panic()
                {
                    std::panic::resume_unwind(err.into_panic());
                }
            }
        });
        Writer {
            jobs,
            held: Arc::default(),
        }
    }

    /// Queues a message to store durably (messages of one sender are stored in the order
    /// they were queued), waiting for room in the queue; the future it returns resolves once
    /// the message is committed (or refused: then nothing is stored and the sender may resend
    /// it with the same `client_msg_id`).
    pub async fn submit(
        &self,
        message: Outgoing,
    ) -> Result<impl Future<Output = Result<Stored, NotStored>> + Send + 'static, NotStored> {
        self.admit(&message)?;
        let stopped = || NotStored::Failed("the message writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        let job = Job { message, reply };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())? })
    }

    /// Whether `message` may join the queue: not while its conversation waits for a refused
    /// message to come back, nor past [`MAX_QUEUED`] (then its conversation waits for it).
    fn admit(&self, message: &Outgoing) -> Result<(), NotStored> {
        let key = (message.from, message.to);
        let now = Instant::now();
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((first, since)) = held.get(&key) {
            if now.duration_since(*since) < HOLD_BACK && *first != message.client_msg_id {
                return Err(NotStored::Busy);
            }
            // The first refused, back (or given up): the conversation flows again.
            held.remove(&key);
        }
        if QUEUE - self.jobs.capacity() >= MAX_QUEUED {
            if held.len() >= HELD_MAX {
                held.retain(|_, &mut (_, since)| now.duration_since(since) < HOLD_BACK);
            }
            held.insert(key, (message.client_msg_id.clone(), now));
            return Err(NotStored::Busy);
        }
        Ok(())
    }

    /// [`Writer::submit`], then waits for the commit.
    pub async fn store(&self, message: Outgoing) -> Result<Stored, NotStored> {
        self.submit(message).await?.await
    }
}

/// A thread of its own for the writer (until `stop`). On the shared runtime, under load, the
/// writer waited behind hundreds of busy connections at each of its database round trips
/// (every row a statement returns is one): the commits slowed down as the load grew, and the
/// server acknowledged fewer messages at 20,000 offered a second than at 10,000.
fn own_thread(stop: CancellationToken) -> tokio::runtime::Handle {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the chat writer");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("chat-writer".into())
        .spawn(move || runtime.block_on(stop.cancelled()))
        .expect("a thread for the chat writer");
    handle
}

/// Per (sender, recipient), the first message refused as busy and not stored since, and when
/// it was refused. The sender's later messages to that recipient are refused too until it
/// comes back (consoles resend in the order written), so that a resend never lands after
/// messages written after it; forgotten after [`HOLD_BACK`] (the sender discarded it).
type HeldBack = HashMap<(UserId, UserId), (String, Instant)>;
/// How long a conversation waits for its first refused message to come back: longer than
/// the console's longest pause between resends (8–16 s).
const HOLD_BACK: Duration = Duration::from_secs(20);
/// Held conversations past which the ones given up are forgotten.
const HELD_MAX: usize = 10_000;

/// Conversations the writer has seen: the pair of users (smaller id first) -> (conversation,
/// last seq). On SQLite this writer is the only one that moves `last_seq`, so after the first
/// look-up it never asks the database again. On PostgreSQL the writers of other nodes move it
/// too: each batch reads (and locks) the conversations it writes to afresh.
type Seqs = HashMap<(UserId, UserId), (ConversationId, i64)>;

/// The writer: takes what is queued (up to [`MAX_BATCH`]) and commits it in one transaction.
async fn run(db: AnyPool, hub: Arc<Hub>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut queue = queue.lock().await;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut seqs = Seqs::new();
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &hub, &mut seqs, &batch).await {
            Ok(stored) => {
                for (job, stored) in batch.drain(..).zip(stored) {
                    if stored.new {
                        hub.send_chat(stored.message.clone());
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
                    let _ = job.reply.send(Err(NotStored::Failed(err.to_string())));
                }
            }
        }
    }
}

/// Stores a batch in one transaction; results in the batch's order. A batch costs a fixed
/// handful of statements whatever its size (each statement is a round trip to the database
/// thread): one to find resends, one multi-row `INSERT` of the new messages (and, on SQLite,
/// one to read their last id), one `UPDATE` of
/// the conversations they moved, one upsert of delivery markers; plus one look-up per
/// conversation the writer meets for the first time. `seqs` changes only when the
/// transaction commits.
async fn commit(
    db: &AnyPool,
    hub: &Hub,
    seqs: &mut Seqs,
    batch: &[Job],
) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = crate::storage::begin_write(db).await?;
    let sent_at_ms = now_ms();
    let mut resent = already_stored(&mut tx, batch).await?;
    if storage::is_postgres(db) {
        *seqs = lock_conversations(&mut tx, batch).await?;
    }
    // Conversations this batch moved: pair -> (conversation, new last seq).
    let mut moved: HashMap<(UserId, UserId), (ConversationId, i64)> = HashMap::new();
    // Per job: the stored message, or a resend (of a stored one, or of one earlier in this
    // batch: the index of that job).
    let mut plan: Vec<Result<ChatMessage, Resend>> = Vec::with_capacity(batch.len());
    let mut first_of: HashMap<(UserId, &str), usize> = HashMap::new();
    for (index, job) in batch.iter().enumerate() {
        let message = &job.message;
        let key = (message.from, message.client_msg_id.as_str());
        if let Some(&first) = first_of.get(&key) {
            plan.push(Err(Resend::InBatch(first)));
            continue;
        }
        first_of.insert(key, index);
        if let Some(stored) = resent.remove(&(message.from, message.client_msg_id.clone())) {
            plan.push(Err(Resend::Stored(stored)));
            continue;
        }
        let pair = (message.from.min(message.to), message.from.max(message.to));
        let (conversation, last) = match moved.get(&pair).or_else(|| seqs.get(&pair)) {
            Some(&known) => known,
            None => find_or_create(&mut tx, pair).await?,
        };
        moved.insert(pair, (conversation, last + 1));
        plan.push(Ok(ChatMessage {
            id: 0,
            conversation,
            seq: last + 1,
            from: message.from,
            to: message.to,
            body: message.body.clone(),
            sent_at_ms,
            client_msg_id: message.client_msg_id.clone(),
        }));
    }
    insert(&mut tx, &mut plan).await?;
    update_conversations(&mut tx, &moved, sent_at_ms).await?;

    // Recipients online now have the messages: one delivery marker per recipient and
    // conversation, sent to the sender with the newest of them.
    let mut newest_for: HashMap<(UserId, ConversationId), (usize, i64)> = HashMap::new();
    for (index, message) in plan.iter().enumerate() {
        if let Ok(message) = message
            && hub.is_online(message.to)
        {
            newest_for.insert((message.to, message.conversation), (index, message.seq));
        }
    }
    let mut deliveries: Vec<_> = newest_for
        .iter()
        .map(|(&(user, conversation), &(_, seq))| (user, conversation, seq))
        .collect();
    // Marker rows are locked in one order (user, then conversation) by every writer and by
    // `markers::deliver_all`: in any other, two nodes' transactions deadlock on PostgreSQL and
    // one of them fails its whole batch.
    deliveries.sort_unstable();
    let markers = markers::deliver_many(&mut tx, &deliveries).await?;
    tx.commit().await?;
    seqs.extend(moved);

    let mut stored: Vec<Stored> = Vec::with_capacity(batch.len());
    for planned in plan {
        stored.push(match planned {
            Ok(message) => Stored {
                message,
                new: true,
                delivered: None,
            },
            Err(Resend::Stored(message)) => Stored {
                message,
                new: false,
                delivered: None,
            },
            Err(Resend::InBatch(first)) => Stored {
                message: stored[first].message.clone(),
                new: false,
                delivered: None,
            },
        });
    }
    for ((recipient, conversation), (index, _)) in newest_for {
        stored[index].delivered = markers.get(&(recipient, conversation)).map(|&marker| {
            MarkerUpdate {
                conversation,
                user: recipient,
                marker,
                // For the recipient's own consoles only; this update goes to the sender.
                unread: 0,
                as_of_seq: 0,
            }
        });
    }
    Ok(stored)
}

/// A message of a batch that was stored before: acknowledged again, not stored or sent again.
enum Resend {
    /// Stored by an earlier batch.
    Stored(ChatMessage),
    /// Also in this batch, first at this index.
    InBatch(usize),
}

/// Inserts the batch's new messages in one statement and fills in their ids. On SQLite the
/// ids come from the last one: a statement's rows get consecutive rowids after the largest
/// (`messages.id` is an `INTEGER PRIMARY KEY`, and the transaction holds the write lock),
/// so one row comes back instead of one per message (rows come back from the database's
/// thread through a channel of 50). PostgreSQL's sequence promises no such thing: the ids
/// are returned.
async fn insert(
    tx: &mut AnyConnection,
    plan: &mut [Result<ChatMessage, Resend>],
) -> Result<(), sqlx::Error> {
    let mut new: Vec<&mut ChatMessage> = plan.iter_mut().filter_map(|m| m.as_mut().ok()).collect();
    if new.is_empty() {
        return Ok(());
    }
    let params = storage::Params::of(tx);
    let returning = if params == storage::Params::Numbered {
        " RETURNING id, conversation_id, seq"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO messages \
         (conversation_id, seq, sender, recipient, client_msg_id, body, sent_at_ms) {}{returning}",
        params.values(new.len(), 7, 1)
    );
    let mut query = sqlx::query(&sql);
    for message in &new {
        query = query
            .bind(message.conversation)
            .bind(message.seq)
            .bind(message.from)
            .bind(message.to)
            .bind(message.client_msg_id.as_str())
            .bind(message.body.as_str())
            .bind(message.sent_at_ms);
    }
    if returning.is_empty() {
        let stored = query.execute(&mut *tx).await?.rows_affected();
        if stored != new.len() as u64 {
            return Err(sqlx::Error::Protocol(format!(
                "{stored} of {} messages inserted: their ids are unknown",
                new.len()
            )));
        }
        // The `Any` driver drops SQLite's last rowid from the statement's result.
        let last: i64 = sqlx::query_scalar("SELECT last_insert_rowid()")
            .fetch_one(&mut *tx)
            .await?;
        let first = last + 1 - new.len() as i64;
        for (id, message) in (first..).zip(&mut new) {
            message.id = id;
        }
        return Ok(());
    }
    let ids: HashMap<(ConversationId, i64), i64> = query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| ((row.get("conversation_id"), row.get("seq")), row.get("id")))
        .collect();
    for message in &mut new {
        message.id = ids[&(message.conversation, message.seq)];
    }
    Ok(())
}

/// Moves each conversation of `moved` to its new last seq, in one statement.
async fn update_conversations(
    tx: &mut AnyConnection,
    moved: &HashMap<(UserId, UserId), (ConversationId, i64)>,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let params = storage::Params::of(tx);
    let sql = format!(
        "UPDATE conversations SET last_seq = moved.column2, last_at_ms = {} \
         FROM ({}) AS moved WHERE conversations.id = moved.column1",
        params.one(1),
        params.values(moved.len(), 2, 2)
    );
    let mut query = sqlx::query(&sql).bind(at_ms);
    for &(conversation, seq) in moved.values() {
        query = query.bind(conversation).bind(seq);
    }
    query.execute(tx).await?;
    Ok(())
}

/// The conversations of `batch`'s pairs with their last seq, created if new, each locked until
/// the transaction ends (PostgreSQL; `NO KEY UPDATE`, since only `last_seq` changes: a plain
/// `UPDATE` lock would also block the key-share lock a new marker's foreign key takes, and
/// `markers::deliver_all` on another node then deadlocks with this writer): another node's
/// writer waits for this batch before it numbers messages of the same conversation. Locked in
/// one order (by pair) on every node, so two writers never wait for each other.
async fn lock_conversations(tx: &mut AnyConnection, batch: &[Job]) -> Result<Seqs, sqlx::Error> {
    let mut pairs: Vec<(UserId, UserId)> = batch
        .iter()
        .map(|job| {
            let Outgoing { from, to, .. } = job.message;
            (from.min(to), from.max(to))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let values = storage::Params::Numbered.values(pairs.len(), 2, 1);
    let bind = |sql| {
        let mut query = sqlx::query(sql);
        for &(a, b) in &pairs {
            query = query.bind(a).bind(b);
        }
        query
    };
    let create =
        format!("INSERT INTO conversations (user_a, user_b) {values} ON CONFLICT DO NOTHING");
    bind(&create).execute(&mut *tx).await?;
    // Rows are locked in the order the sort returns them.
    let lock = format!(
        "SELECT id, user_a, user_b, last_seq FROM conversations \
         WHERE (user_a, user_b) IN ({values}) ORDER BY user_a, user_b FOR NO KEY UPDATE"
    );
    let seqs = bind(&lock)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let pair = (row.get("user_a"), row.get("user_b"));
            (pair, (row.get("id"), row.get("last_seq")))
        })
        .collect();
    Ok(seqs)
}

/// The conversation of a pair of users and its last seq, created empty if new.
async fn find_or_create(
    tx: &mut AnyConnection,
    (a, b): (UserId, UserId),
) -> Result<(ConversationId, i64), sqlx::Error> {
    let found =
        sqlx::query("SELECT id, last_seq FROM conversations WHERE user_a = $1 AND user_b = $2")
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(row) = found {
        return Ok((row.get("id"), row.get("last_seq")));
    }
    let id = sqlx::query_scalar(
        "INSERT INTO conversations (user_a, user_b) VALUES ($1, $2) RETURNING id",
    )
    .bind(a)
    .bind(b)
    .fetch_one(tx)
    .await?;
    Ok((id, 0))
}

/// The messages of `batch` stored before (resends), by (sender, client_msg_id): one query,
/// a join from the batch's ids to the unique index (SQLite answers `(sender, client_msg_id)
/// IN (VALUES …)` by scanning the whole index: every batch would cost the size of the
/// history).
async fn already_stored(
    tx: &mut AnyConnection,
    batch: &[Job],
) -> Result<HashMap<(UserId, String), ChatMessage>, sqlx::Error> {
    let sql = format!(
        "SELECT m.id, m.conversation_id, m.seq, m.sender, m.recipient, m.client_msg_id, \
         m.body, m.sent_at_ms FROM ({}) AS wanted JOIN messages AS m \
         ON m.sender = wanted.column1 AND m.client_msg_id = wanted.column2",
        storage::Params::of(tx).values(batch.len(), 2, 1)
    );
    let mut query = sqlx::query(&sql);
    for job in batch {
        query = query
            .bind(job.message.from)
            .bind(job.message.client_msg_id.as_str());
    }
    let rows = query.fetch_all(tx).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let message = super::message_from_row(row);
            ((message.from, message.client_msg_id.clone()), message)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage;

    fn outgoing(from: UserId, to: UserId, id: &str) -> Outgoing {
        Outgoing {
            from,
            to,
            client_msg_id: id.into(),
            body: format!("body of {id}"),
        }
    }

    /// A database in `dir` with the users ann (1) and ben (2), and its hub.
    async fn ann_and_ben(dir: &tempfile::TempDir) -> (AnyPool, Arc<Hub>) {
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let db = storage::open(&url).await.unwrap();
        for name in ["ann", "ben"] {
            sqlx::query("INSERT INTO users (username, display_name) VALUES ($1, $2)")
                .bind(name)
                .bind(name)
                .execute(&db)
                .await
                .unwrap();
        }
        let hub = Arc::new(Hub::load(&db).await.unwrap());
        (db, hub)
    }

    #[tokio::test]
    async fn messages_queued_while_the_writer_is_down_are_stored_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let (db, hub) = ann_and_ben(&dir).await;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        // A writer that died (here: aborted) while holding the queue.
        let dead = tokio::spawn(run(db.clone(), hub.clone(), queue.clone()));
        tokio::task::yield_now().await;
        dead.abort();
        assert!(dead.await.unwrap_err().is_cancelled());

        let writer = Writer {
            jobs,
            held: Arc::default(),
        };
        let pending = tokio::spawn(async move { writer.store(outgoing(1, 2, "a")).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!pending.is_finished(), "no writer runs: the message waits");
        tokio::spawn(run(db.clone(), hub, queue));
        let stored = pending.await.unwrap().unwrap();
        assert!(stored.new);
        assert_eq!(stored.message.seq, 1);
    }

    /// Stores `message` and answers its seq, or the refusal.
    async fn seq_of(writer: &Writer, message: Outgoing) -> Result<i64, NotStored> {
        writer.store(message).await.map(|stored| stored.message.seq)
    }

    #[tokio::test]
    async fn past_a_full_queue_a_message_is_refused_and_its_conversation_held_back() {
        let dir = tempfile::tempdir().unwrap();
        let (db, hub) = ann_and_ben(&dir).await;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let writer = Writer {
            jobs,
            held: Arc::default(),
        };
        let (ann, ben) = (1, 2);
        // The writer is behind: Ben's messages fill what may wait.
        let mut queued = Vec::new();
        for n in 0..MAX_QUEUED {
            let message = outgoing(ben, ann, &format!("ben {n}"));
            queued.push(writer.submit(message).await.unwrap());
        }
        let late = || outgoing(ann, ben, "late");
        let after = || outgoing(ann, ben, "after");
        assert!(matches!(writer.submit(late()).await, Err(NotStored::Busy)));
        tokio::spawn(run(db.clone(), hub, Arc::new(Mutex::new(queue))));
        let mut acknowledged = Vec::new();
        for stored in queued {
            let message = stored.await.unwrap().message;
            acknowledged.push((message.id, message.client_msg_id));
        }
        // Two full batches: every message acknowledged with the id it is stored under.
        let ids: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, client_msg_id FROM messages WHERE sender = $1 ORDER BY seq")
                .bind(ben)
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(acknowledged, ids);
        // Room again, but Ann's next message would land before "late": refused until it is
        // back; then both, in the order she wrote them.
        assert_eq!(seq_of(&writer, after()).await, Err(NotStored::Busy));
        let last = MAX_QUEUED as i64;
        assert_eq!(seq_of(&writer, late()).await, Ok(last + 1));
        assert_eq!(seq_of(&writer, after()).await, Ok(last + 2));
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT client_msg_id FROM messages WHERE sender = $1 ORDER BY seq")
                .bind(ann)
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(
            stored,
            ["late", "after"],
            "in the order Ann wrote them, once each"
        );
    }

    #[tokio::test]
    async fn resends_within_and_across_batches_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let (db, hub) = ann_and_ben(&dir).await;
        let health = Health::default();
        let writer = Writer::start(db.clone(), hub, &health, CancellationToken::new());
        assert_eq!(health.status(), [(TASK, None)], "supervised, and up");
        let (ann, ben) = (1, 2);
        // Queued together, so the writer takes them as one batch.
        let (a, a_again, b) = tokio::join!(
            writer.store(outgoing(ann, ben, "a")),
            writer.store(outgoing(ann, ben, "a")),
            writer.store(outgoing(ben, ann, "b")),
        );
        let (a, a_again, b) = (a.unwrap(), a_again.unwrap(), b.unwrap());
        assert!(a.new && !a_again.new && b.new);
        assert_eq!((a.message.seq, b.message.seq), (1, 2));
        assert_eq!(a_again.message, a.message);

        let (a_later, c, a_twice) = tokio::join!(
            writer.store(outgoing(ann, ben, "a")),
            writer.store(outgoing(ann, ben, "c")),
            writer.store(outgoing(ann, ben, "a")),
        );
        let (a_later, c, a_twice) = (a_later.unwrap(), c.unwrap(), a_twice.unwrap());
        assert!(!a_later.new && c.new && !a_twice.new);
        assert_eq!(a_later.message, a.message);
        assert_eq!(a_twice.message, a.message);
        assert_eq!(c.message.seq, 3);

        let stored: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, client_msg_id FROM messages ORDER BY seq")
                .fetch_all(&db)
                .await
                .unwrap();
        let expected = [(1, "a"), (2, "b"), (3, "c")].map(|(seq, id)| (seq, id.to_owned()));
        assert_eq!(stored, expected);
        let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM conversations")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(last_seq, 3);
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM messages ORDER BY seq")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(ids, [a.message.id, b.message.id, c.message.id]);
    }
}
