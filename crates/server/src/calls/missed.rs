//! Missed calls: callers who hung up while queued. They are kept on the call's row
//! (`missed_at_ms`) until an operator marks them done, shared by every operator and sent to
//! their consoles as they change; "Call back" goes through the telephone system.

use sqlx::{AnyPool, Row, any::AnyRow};
use switchboard_protocol::{CallId, CalledBack, MAX_MISSED_LISTED, MissedCall, ServerFrame};

use super::{CallError, Calls};
use crate::{clock::now_ms, directory::dialable};

/// How long a call back keeps another operator from calling the same caller back.
const CALL_BACK_CLAIM_MS: i64 = 60_000;

const COLUMNS: &str = "id, caller_name, caller_number, dialled, caller_entry, queued_at_ms, \
                       missed_at_ms, called_back_by, called_back_at_ms";

fn from_row(row: &AnyRow) -> MissedCall {
    let called_back = row
        .get::<Option<String>, _>("called_back_by")
        .zip(row.get::<Option<i64>, _>("called_back_at_ms"))
        .map(|(by, at_ms)| CalledBack { by, at_ms });
    MissedCall {
        call: row.get("id"),
        caller_name: row.get("caller_name"),
        caller_number: row.get("caller_number"),
        dialled: row.get("dialled"),
        caller_entry: row.get("caller_entry"),
        queued_at_ms: row.get("queued_at_ms"),
        missed_at_ms: row.get("missed_at_ms"),
        called_back,
    }
}

/// Missed call `id`, unless it is done (or was never missed).
async fn open_one(db: &AnyPool, id: CallId) -> Result<Option<MissedCall>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM calls WHERE id = $1 AND missed_at_ms IS NOT NULL AND missed_done = 0"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(from_row))
}

fn changed(missed: Vec<MissedCall>, done: Vec<CallId>) -> ServerFrame {
    ServerFrame::MissedCalls {
        missed,
        done,
        snapshot: false,
    }
}

impl Calls {
    /// The `missed_calls` snapshot for an operator's console that just joined: the newest
    /// missed calls nobody marked done, newest first (older ones stay stored, and show as
    /// newer ones are done).
    pub async fn missed_snapshot(&self) -> Result<ServerFrame, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM calls WHERE missed_at_ms IS NOT NULL AND missed_done = 0 \
             ORDER BY missed_at_ms DESC LIMIT $1"
        ))
        .bind(MAX_MISSED_LISTED as i64)
        .fetch_all(&self.db)
        .await?;
        Ok(ServerFrame::MissedCalls {
            missed: rows.iter().map(from_row).collect(),
            done: Vec::new(),
            snapshot: true,
        })
    }

    /// The caller of `id` hung up while queued (stored in the transaction that cleared it).
    pub(super) async fn mark_missed(
        tx: &mut sqlx::AnyConnection,
        id: CallId,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE calls SET missed_at_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Sends missed call `id` to every operator (it was just missed or called back).
    pub(super) async fn publish_missed(&self, id: CallId) {
        let _in_order = self.missed_order.lock().await;
        match open_one(&self.db, id).await {
            Ok(Some(missed)) => self
                .hub
                .broadcast_operators(changed(vec![missed], Vec::new()).encode().into()),
            Ok(None) => {}
            Err(err) => tracing::error!(%err, call = id, "reading a missed call"),
        }
    }

    /// `operator` (username; `by` is their display name) calls missed call `id` back: the
    /// telephone system rings the operator's telephone and dials the caller, within the
    /// confirmation time; then every operator sees who called back. A call back claims the
    /// call first, so two operators clicking together do not both ring the caller.
    pub async fn call_back(&self, id: CallId, operator: &str, by: &str) -> Result<(), CallError> {
        let missed = open_one(&self.db, id)
            .await?
            .ok_or(CallError::NoMissedCall(id))?;
        if dialable(&missed.caller_number).is_none() {
            return Err(CallError::Invalid {
                field: "call",
                message: format!("{:?} is not a number to call back", missed.caller_number),
            });
        }
        let now = now_ms();
        let claimed = self
            .set_called_back(id, Some(by), Some(now), now - CALL_BACK_CLAIM_MS)
            .await?;
        if !claimed {
            let by = missed.called_back.map_or_else(String::new, |back| back.by);
            return Err(CallError::Telephony(format!(
                "{by} is calling this caller back already."
            )));
        }
        let done = self
            .confirm(
                self.adapter.call_back(&missed, operator),
                "call back",
                "the caller was not called back",
            )
            .await;
        if let Err(err) = done {
            // The claim goes: as the call was before.
            let before = missed.called_back;
            self.set_called_back(
                id,
                before.as_ref().map(|back| back.by.as_str()),
                before.as_ref().map(|back| back.at_ms),
                i64::MAX,
            )
            .await?;
            return Err(err);
        }
        tracing::info!(call = id, operator, "called back");
        self.publish_missed(id).await;
        Ok(())
    }

    /// Stores who called missed call `id` back and when, unless someone did at or after
    /// `unless_since`; whether it did.
    async fn set_called_back(
        &self,
        id: CallId,
        by: Option<&str>,
        at_ms: Option<i64>,
        unless_since: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = crate::storage::begin_write(&self.db).await?;
        let claimed = sqlx::query(
            "UPDATE calls SET called_back_by = $1, called_back_at_ms = $2 \
             WHERE id = $3 AND (called_back_at_ms IS NULL OR called_back_at_ms < $4)",
        )
        .bind(by)
        .bind(at_ms)
        .bind(id)
        .bind(unless_since)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed.rows_affected() > 0)
    }

    /// The caller of `number` got through (their new call was answered): their missed calls
    /// need nothing more. Stored in the transaction of the answer; the ids to send as done.
    pub(super) async fn resolve_missed(
        tx: &mut sqlx::AnyConnection,
        number: &str,
    ) -> Result<Vec<CallId>, sqlx::Error> {
        sqlx::query_scalar(
            "UPDATE calls SET missed_done = 1 \
             WHERE caller_number = $1 AND missed_at_ms IS NOT NULL AND missed_done = 0 \
             RETURNING id",
        )
        .bind(number)
        .fetch_all(tx)
        .await
    }

    /// Tells every operator that missed calls `ids` left the list.
    pub(super) async fn publish_missed_done(&self, ids: Vec<CallId>) {
        if ids.is_empty() {
            return;
        }
        let _in_order = self.missed_order.lock().await;
        self.send_done(ids);
    }

    fn send_done(&self, ids: Vec<CallId>) {
        self.hub
            .broadcast_operators(changed(Vec::new(), ids).encode().into());
    }

    /// Missed call `id` needs nothing more: it leaves every operator's list.
    pub async fn missed_done(&self, id: CallId) -> Result<(), CallError> {
        let _in_order = self.missed_order.lock().await;
        let mut tx = crate::storage::begin_write(&self.db).await?;
        let done = sqlx::query(
            "UPDATE calls SET missed_done = 1 \
             WHERE id = $1 AND missed_at_ms IS NOT NULL AND missed_done = 0",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(CallError::NoMissedCall(id));
        }
        self.send_done(vec![id]);
        Ok(())
    }
}
