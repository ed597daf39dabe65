//! Read and delivery markers: stored per user per conversation, only ever moved forward.

use std::collections::HashMap;

use sqlx::{AnyConnection, AnyPool, Row};
use switchboard_protocol::{ConversationId, Marker, MarkerUpdate, UserId};

/// Most deliveries [`deliver_many`] takes: 3 bound values each, within SQLite's 32,766.
pub const MAX_DELIVERIES: usize = 4_096;

/// Why a read marker was not moved.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    /// `invalid_request`: no conversation with that user, or a seq outside it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Raises `user`'s delivered marker in `conversation` to `seq` (no-op if already there).
pub async fn deliver(
    tx: &mut AnyConnection,
    user: UserId,
    conversation: ConversationId,
    seq: i64,
) -> Result<Marker, sqlx::Error> {
    let mut markers = deliver_many(tx, &[(user, conversation, seq)]).await?;
    Ok(markers.remove(&(user, conversation)).unwrap_or_default())
}

/// [`deliver`] for many (user, conversation, seq) at once, in one statement (the message
/// writer moves one marker per recipient and conversation of a batch). At most
/// [`MAX_DELIVERIES`] entries.
pub async fn deliver_many(
    tx: &mut AnyConnection,
    deliveries: &[(UserId, ConversationId, i64)],
) -> Result<HashMap<(UserId, ConversationId), Marker>, sqlx::Error> {
    if deliveries.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "INSERT INTO markers (user_id, conversation_id, delivered_seq) {} \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET delivered_seq = \
         CASE WHEN excluded.delivered_seq > markers.delivered_seq \
         THEN excluded.delivered_seq ELSE markers.delivered_seq END \
         RETURNING user_id, conversation_id, read_seq, delivered_seq",
        crate::storage::Params::of(tx).values(deliveries.len(), 3, 1)
    );
    let mut query = sqlx::query(&sql);
    for &(user, conversation, seq) in deliveries {
        query = query.bind(user).bind(conversation).bind(seq);
    }
    let rows = query.fetch_all(tx).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let marker = Marker {
                read_seq: row.get("read_seq"),
                delivered_seq: row.get("delivered_seq"),
            };
            ((row.get("user_id"), row.get("conversation_id")), marker)
        })
        .collect())
}

/// Which of a user's markers moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Read up to a seq (reading implies delivery).
    Read,
    /// Received up to a seq (an XMPP user's client said so).
    Delivered,
}

/// `me` has read (or received) the conversation with `with` up to `seq`. Returns the update
/// to send to both parties, or `None` when the marker was already there (markers never move
/// back).
pub async fn mark(
    db: &AnyPool,
    me: UserId,
    with: UserId,
    seq: i64,
    mark: Mark,
) -> Result<Option<MarkerUpdate>, MarkError> {
    let mut tx = crate::storage::begin_write(db).await?;
    let conversation =
        sqlx::query("SELECT id, last_seq FROM conversations WHERE user_a = $1 AND user_b = $2")
            .bind(me.min(with))
            .bind(me.max(with))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MarkError::Invalid("there is no conversation with that user".into()))?;
    let id: ConversationId = conversation.get("id");
    let last_seq: i64 = conversation.get("last_seq");
    if !(0..=last_seq).contains(&seq) {
        return Err(MarkError::Invalid(format!(
            "seq {seq} is outside the conversation (1 to {last_seq})"
        )));
    }
    let before = sqlx::query(
        "SELECT read_seq, delivered_seq FROM markers WHERE user_id = $1 AND conversation_id = $2",
    )
    .bind(me)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let column = match mark {
        Mark::Read => "read_seq",
        Mark::Delivered => "delivered_seq",
    };
    if before.is_some_and(|row| row.get::<i64, _>(column) >= seq) {
        return Ok(None);
    }
    let read_seq = if mark == Mark::Read { seq } else { 0 };
    sqlx::query(
        "INSERT INTO markers (user_id, conversation_id, read_seq, delivered_seq) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET \
         read_seq = CASE WHEN excluded.read_seq > markers.read_seq \
         THEN excluded.read_seq ELSE markers.read_seq END, \
         delivered_seq = CASE WHEN excluded.delivered_seq > markers.delivered_seq \
         THEN excluded.delivered_seq ELSE markers.delivered_seq END",
    )
    .bind(me)
    .bind(id)
    .bind(read_seq)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    let update = update_for(&mut tx, me, id, last_seq).await?;
    tx.commit().await?;
    Ok(Some(update))
}

/// The marker update of `user` in `conversation`, with their unread count up to `as_of_seq`.
async fn update_for(
    tx: &mut AnyConnection,
    user: UserId,
    conversation: ConversationId,
    as_of_seq: i64,
) -> Result<MarkerUpdate, sqlx::Error> {
    let row = sqlx::query(
        "SELECT k.read_seq, k.delivered_seq, \
                (SELECT count(*) FROM messages m WHERE m.conversation_id = k.conversation_id \
                   AND m.sender <> k.user_id AND m.seq > k.read_seq AND m.seq <= $3) AS unread \
         FROM markers k WHERE k.user_id = $1 AND k.conversation_id = $2",
    )
    .bind(user)
    .bind(conversation)
    .bind(as_of_seq)
    .fetch_one(tx)
    .await?;
    Ok(MarkerUpdate {
        conversation,
        user,
        marker: Marker {
            read_seq: row.get("read_seq"),
            delivered_seq: row.get("delivered_seq"),
        },
        unread: row.get::<i64, _>("unread").try_into().unwrap_or(u32::MAX),
        as_of_seq,
    })
}

/// `me` just connected: everything sent to them is now delivered. Returns, per conversation
/// whose delivered marker moved, the partner to tell and the update. Markers are locked in
/// conversation order, as the message writer locks them (src/chat/writer.rs).
pub async fn deliver_all(
    db: &AnyPool,
    me: UserId,
) -> Result<Vec<(UserId, MarkerUpdate)>, sqlx::Error> {
    let mut tx = crate::storage::begin_write(db).await?;
    let behind = sqlx::query(
        "SELECT c.id, c.last_seq, CASE WHEN c.user_a = $1 THEN c.user_b ELSE c.user_a END AS partner \
         FROM conversations c LEFT JOIN markers k ON k.conversation_id = c.id AND k.user_id = $1 \
         WHERE (c.user_a = $1 OR c.user_b = $1) AND coalesce(k.delivered_seq, 0) < c.last_seq \
         ORDER BY c.id",
    )
    .bind(me)
    .fetch_all(&mut *tx)
    .await?;
    let mut updates = Vec::with_capacity(behind.len());
    for row in behind {
        let conversation: ConversationId = row.get("id");
        let last_seq: i64 = row.get("last_seq");
        deliver(&mut tx, me, conversation, last_seq).await?;
        updates.push((
            row.get("partner"),
            update_for(&mut tx, me, conversation, last_seq).await?,
        ));
    }
    tx.commit().await?;
    Ok(updates)
}
