//! Calls: the queue, the active call and transfers, stored, checked and fanned out.
//!
//! [`Calls`] is the one place a call changes. Every move, whoever asks for it (an operator
//! through the WebSocket, the telephone system through the ingest API, the simulator or the
//! Asterisk adapter), passes the state machine of [`CallAction::next`], is stored with its
//! event in one transaction, and only then is sent to every console. An operator's command
//! is first shown pending (in memory only: a restart forgets it) until the telephone system
//! confirms it.

pub mod adapter;
pub mod asterisk;
pub mod ingest;
pub mod lamps;
pub mod missed;
pub mod night;
pub mod simulator;
pub mod today;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{AnyPool, Row, any::AnyRow};
use switchboard_protocol::{
    Call, CallAction, CallId, CallState, EntryId, NewCall, PendingCommand, ServerFrame,
};
use tokio::sync::{Mutex, Notify};

use self::adapter::{AdapterError, CallControl, Command, Confirmed};
use crate::{clock::now_ms, directory::Directory, presence::Hub};

/// Longest caller name, number or dialled number accepted, in characters.
const MAX_FIELD_CHARS: usize = 128;

/// Who asked for a change: recorded with every event.
#[derive(Debug, Clone)]
pub enum Source {
    /// The telephone system reported it (ingest API or simulator): no adapter round trip.
    Telephony,
    /// An operator asked for it: the adapter must carry it out first.
    Operator(String),
}

impl Source {
    pub(crate) fn label(&self) -> String {
        match self {
            Source::Telephony => "telephony".into(),
            Source::Operator(username) => format!("operator:{username}"),
        }
    }
}

/// Why a call could not change. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// 404 / `not_found`.
    #[error("This call has ended (call {0}).")]
    UnknownCall(CallId),
    /// 409 / `illegal_move`.
    #[error("This call is {state}: it cannot be {action} now.")]
    IllegalMove {
        action: &'static str,
        state: &'static str,
    },
    /// 400 / `invalid_request`: a field is wrong; the message names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// 404 / `not_found`: a field names a user or directory entry that does not exist.
    #[error("{field}: {message}")]
    UnknownReference {
        field: &'static str,
        message: String,
    },
    /// 409 / `illegal_move`: another command on the call waits for the telephone system.
    #[error("{operator} is already {doing} this call.")]
    Pending {
        operator: String,
        doing: &'static str,
    },
    /// 404 / `not_found`: no missed call to act on (another operator marked it done).
    #[error("There is no missed call {0} to act on: another operator may have dealt with it.")]
    NoMissedCall(CallId),
    /// 502 / `telephony`: the telephone system refused or did not confirm something other
    /// than a call's move (night service, a call back); the message says what.
    #[error("{0}")]
    Telephony(String),
    /// 502 / `telephony`: the telephone system refused.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// 504 / `telephony`: the telephone system did not confirm in time; nothing changed.
    #[error("The telephone system did not confirm in {0} s: the call was not {1}.")]
    Unconfirmed(u64, &'static str),
    /// 500 / `internal`.
    #[error("storing the call failed")]
    Database(#[from] sqlx::Error),
}

/// Every open call, kept in memory and in the database.
pub struct Calls {
    db: AnyPool,
    hub: Arc<Hub>,
    directory: Arc<Directory>,
    adapter: Arc<dyn CallControl>,
    confirm_within: Duration,
    /// Whether the telephone system answers; operators are told on each change.
    available: AtomicBool,
    /// The busy lamp field the telephone system feeds.
    pub lamps: Arc<lamps::Lamps>,
    /// Open calls by id. Held across the database write (never across a wait for the
    /// telephone system), so changes are applied, stored and sent in one order.
    open: Mutex<BTreeMap<CallId, Call>>,
    /// Woken whenever a call moved: commands the telephone system confirms by reporting the
    /// move wait on it.
    moved: Notify,
    /// Night service switches one at a time here (`night.rs`).
    night_switch: Mutex<()>,
    /// Missed calls are read and sent, or marked done and sent, one at a time here, so a
    /// done call is never sent again after its `done` (`missed.rs`).
    missed_order: Mutex<()>,
}

fn from_row(row: &AnyRow) -> Call {
    let state: String = row.get("state");
    Call {
        id: row.get("id"),
        caller_name: row.get("caller_name"),
        caller_number: row.get("caller_number"),
        dialled: row.get("dialled"),
        caller_user: row.get("caller_user"),
        // The CHECK constraint allows only known names.
        state: CallState::parse(&state).unwrap_or(CallState::Cleared),
        queued_at_ms: row.get("queued_at_ms"),
        answered_at_ms: row.get("answered_at_ms"),
        // Held before the time was kept (an upgrade): counted from now.
        held_at_ms: row
            .get::<Option<i64>, _>("held_at_ms")
            .or_else(|| (state == "held").then(now_ms)),
        transfer_target: row.get("transfer_target"),
        unanswered_by: row.get("unanswered_by"),
        caller_entry: row.get("caller_entry"),
        pending: None,
    }
}

fn check_field(field: &'static str, value: &str, required: bool) -> Result<String, CallError> {
    // Counted before trimming: the limit is on what was sent.
    let too_long = value.chars().count() > MAX_FIELD_CHARS;
    let value = value.trim();
    if required && value.is_empty() {
        return Err(CallError::Invalid {
            field,
            message: "must not be empty".into(),
        });
    }
    if too_long {
        return Err(CallError::Invalid {
            field,
            message: format!("must be at most {MAX_FIELD_CHARS} characters"),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(CallError::Invalid {
            field,
            message: "must not contain control characters".into(),
        });
    }
    Ok(value.to_owned())
}

impl Calls {
    /// Loads the calls that were open when the server last stopped.
    pub async fn load(
        db: AnyPool,
        hub: Arc<Hub>,
        directory: Arc<Directory>,
        adapter: Arc<dyn CallControl>,
        confirm_within: Duration,
    ) -> Result<Self, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM calls WHERE state <> 'cleared'")
            .fetch_all(&db)
            .await?;
        let open = rows.iter().map(from_row).map(|c| (c.id, c)).collect();
        tracing::info!(adapter = adapter.name(), "call control ready");
        Ok(Calls {
            db,
            hub,
            directory,
            adapter,
            confirm_within,
            available: AtomicBool::new(true),
            lamps: Arc::default(),
            open: Mutex::new(open),
            moved: Notify::new(),
            night_switch: Mutex::new(()),
            missed_order: Mutex::new(()),
        })
    }

    /// The `telephony` frame: whether the telephone system answers.
    pub fn telephony_frame(&self) -> ServerFrame {
        ServerFrame::Telephony {
            available: self.available.load(Ordering::Relaxed),
        }
    }

    /// The telephone system came or went: operators are told when that is news.
    pub fn set_available(&self, available: bool) {
        if self.available.swap(available, Ordering::Relaxed) != available {
            self.hub
                .broadcast_operators(self.telephony_frame().encode().into());
        }
    }

    /// Open calls the telephone system knows by `pbx_ref` (its id of the caller's line),
    /// with that reference: what a PBX adapter finds again after a restart.
    pub async fn with_pbx_refs(&self) -> Result<Vec<(Call, String)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT * FROM calls WHERE state <> 'cleared' AND pbx_ref IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (from_row(row), row.get("pbx_ref")))
            .collect())
    }

    /// Every open call, oldest first.
    pub async fn list(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self.open.lock().await.values().cloned().collect();
        calls.sort_by_key(|call| (call.queued_at_ms, call.id));
        calls
    }

    /// The `calls_snapshot` frame for a console that just joined.
    pub async fn snapshot(&self) -> ServerFrame {
        ServerFrame::CallsSnapshot {
            calls: self.list().await,
            now_ms: now_ms(),
        }
    }

    /// Queues a call reported by the telephone system.
    pub async fn queue(&self, new: NewCall) -> Result<Call, CallError> {
        self.queue_pbx(new, None).await
    }

    /// Queues a call the telephone system knows as `pbx_ref`. A caller number that belongs
    /// to a directory entry names the entry (and its user, whose presence is shown).
    pub async fn queue_pbx(&self, new: NewCall, pbx_ref: Option<&str>) -> Result<Call, CallError> {
        let caller_name = check_field("caller_name", &new.caller_name, false)?;
        let caller_number = check_field("caller_number", &new.caller_number, true)?;
        let dialled = check_field("dialled", &new.dialled, true)?;
        let mut open = self.open.lock().await;
        let mut tx = crate::storage::begin_write(&self.db).await?;
        if let Some(user) = new.caller_user {
            let known: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(CallError::UnknownReference {
                    field: "caller_user",
                    message: format!("there is no user {user}"),
                });
            }
        }
        let known = self.directory.by_number(&caller_number);
        let caller_user = new
            .caller_user
            .or(known.as_ref().and_then(|entry| entry.user));
        let caller_entry = known.as_ref().map(|entry| entry.id);
        let caller_name = match (caller_name.is_empty(), known) {
            (true, Some(entry)) => entry.name,
            _ => caller_name,
        };
        let queued_at_ms = now_ms();
        let id: CallId = sqlx::query_scalar(
            "INSERT INTO calls (caller_name, caller_number, dialled, caller_user, state, \
             queued_at_ms, caller_entry, pbx_ref) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) RETURNING id",
        )
        .bind(&caller_name)
        .bind(&caller_number)
        .bind(&dialled)
        .bind(caller_user)
        .bind(queued_at_ms)
        .bind(caller_entry)
        .bind(pbx_ref)
        .fetch_one(&mut *tx)
        .await?;
        let call = Call {
            id,
            caller_name,
            caller_number,
            dialled,
            caller_user,
            state: CallState::Queued,
            queued_at_ms,
            answered_at_ms: None,
            held_at_ms: None,
            transfer_target: None,
            unanswered_by: None,
            caller_entry,
            pending: None,
        };
        record(&mut tx, &call, "queue", &Source::Telephony).await?;
        tx.commit().await?;
        open.insert(id, call.clone());
        self.publish(&call);
        Ok(call)
    }

    /// Applies `action` to call `id`. What the telephone system reports applies at once; an
    /// operator's command goes to the telephone system first (see [`Calls::command`]).
    /// Answering while another call is active puts that one on hold first, as a desk phone
    /// does.
    pub async fn act(
        &self,
        id: CallId,
        action: CallAction,
        source: Source,
    ) -> Result<Call, CallError> {
        let Source::Operator(operator) = &source else {
            return self.apply(id, action, &source).await;
        };
        if action == CallAction::Answer {
            // The call must be answerable before the other one is put on hold for it.
            let active = {
                let open = self.open.lock().await;
                let call = open.get(&id).ok_or(CallError::UnknownCall(id))?;
                self.check_command(call, action)?;
                open.values().find_map(|other| {
                    (other.id != id && other.state == CallState::Active).then_some(other.id)
                })
            };
            if let Some(other) = active {
                self.command(other, CallAction::Hold, operator).await?;
            }
        }
        self.command(id, action, operator).await
    }

    /// Whether `action` may be asked of `call` now: no other command pending on it, a legal
    /// move, an existing transfer target.
    fn check_command(&self, call: &Call, action: CallAction) -> Result<(), CallError> {
        if let Some(pending) = &call.pending {
            return Err(CallError::Pending {
                operator: pending.operator.clone(),
                doing: pending.command.doing(call.state),
            });
        }
        self.check_move(call, action).map(drop)
    }

    /// The state `action` moves `call` to, if it is a legal move to an existing target.
    fn check_move(&self, call: &Call, action: CallAction) -> Result<CallState, CallError> {
        let next = action.next(call.state).ok_or(CallError::IllegalMove {
            action: action.past(),
            state: call.state.as_str(),
        })?;
        if let Some(target) = action.target() {
            self.check_target(target)?;
        }
        Ok(next)
    }

    /// An operator's command: the call shows it pending to every operator, the adapter
    /// carries it out, and the call moves only once the telephone system confirms. A refusal
    /// or no confirmation within `confirm_within` leaves the call as it was, and says so.
    async fn command(
        &self,
        id: CallId,
        action: CallAction,
        operator: &str,
    ) -> Result<Call, CallError> {
        let call = {
            let mut open = self.open.lock().await;
            let call = open.get_mut(&id).ok_or(CallError::UnknownCall(id))?;
            self.check_command(call, action)?;
            call.pending = Some(PendingCommand {
                command: action,
                operator: operator.to_owned(),
            });
            self.publish(call);
            call.clone()
        };
        let target_number = action
            .target()
            .and_then(|target| self.directory.dial_number(target));
        let command = Command {
            action,
            operator,
            target_number: target_number.as_deref(),
        };
        let confirmed = tokio::time::timeout(self.confirm_within, async {
            match self.adapter.carry_out(&call, command).await? {
                Confirmed::Done => Ok(None),
                Confirmed::ByReport => Ok(Some(self.reported(&call).await)),
            }
        })
        .await;
        let failure = match confirmed {
            Ok(Ok(None)) => match self
                .apply(id, action, &Source::Operator(operator.into()))
                .await
            {
                Ok(moved) => return Ok(moved),
                Err(err) => err,
            },
            Ok(Ok(Some(reported))) => return Ok(reported),
            Ok(Err(err)) => CallError::Adapter(err),
            Err(_) => CallError::Unconfirmed(self.confirm_within.as_secs(), action.past()),
        };
        tracing::warn!(call = id, action = action.verb(), operator, %failure, "command not carried out");
        let mut open = self.open.lock().await;
        // Still this command's mark (a report may have moved the call meanwhile).
        if let Some(call) = open.get_mut(&id)
            && call
                .pending
                .as_ref()
                .is_some_and(|pending| pending.command == action && pending.operator == operator)
        {
            call.pending = None;
            self.publish(call);
        }
        Err(failure)
    }

    /// Waits until the telephone system reported a move of `call` (through the ingest API);
    /// returns the call as it moved (`cleared` once it left).
    async fn reported(&self, call: &Call) -> Call {
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            match self.open.lock().await.get(&call.id) {
                None => {
                    return Call {
                        state: CallState::Cleared,
                        pending: None,
                        ..call.clone()
                    };
                }
                Some(now) if now.state != call.state => return now.clone(),
                Some(_) => {}
            }
            moved.await;
        }
    }

    /// Moves call `id` by `action` as the telephone system has done it: stored with its
    /// event, then sent to every operator.
    async fn apply(
        &self,
        id: CallId,
        action: CallAction,
        source: &Source,
    ) -> Result<Call, CallError> {
        let mut open = self.open.lock().await;
        let call = open.get(&id).cloned().ok_or(CallError::UnknownCall(id))?;
        let next = self.check_move(&call, action)?;
        // A report that confirms an operator's pending command is that operator's move (whose
        // calls they are, in today's calls).
        let confirmed = match (source, &call.pending) {
            (Source::Telephony, Some(pending)) if pending.command == action => {
                Source::Operator(pending.operator.clone())
            }
            _ => source.clone(),
        };
        let source = &confirmed;
        // A telephone system reporting an answer has held the other call itself; an
        // operator's answer held it by its own command first (see [`Calls::act`]).
        let displaced = match (action, source) {
            (CallAction::Answer, Source::Telephony) => open
                .values()
                .find(|other| other.id != id && other.state == CallState::Active)
                .cloned(),
            _ => None,
        };
        let before: Vec<CallState> = displaced
            .iter()
            .map(|other| other.state)
            .chain([call.state])
            .collect();
        let was_queued = call.state == CallState::Queued;
        // The caller hung up while waiting: a missed call for the operators to call back.
        let missed =
            matches!(source, Source::Telephony) && next == CallState::Cleared && was_queued;
        let held = displaced.map(|other| moved(other, CallAction::Hold, CallState::Held));
        let moved = moved(call, action, next);
        let changes: Vec<(&Call, &str)> = held
            .iter()
            .map(|call| (call, "hold"))
            .chain([(&moved, action.verb())])
            .collect();
        let mut tx = crate::storage::begin_write(&self.db).await?;
        for ((call, verb), was) in changes.iter().zip(before) {
            // Only from the state this node saw: with several nodes, an operator on another
            // node may have moved the call a moment ago; then nothing changes here.
            let moved = sqlx::query(
                "UPDATE calls SET state = $1, answered_at_ms = $2, transfer_target = $3, \
                 held_at_ms = $6, unanswered_by = $7 WHERE id = $4 AND state = $5",
            )
            .bind(call.state.as_str())
            .bind(call.answered_at_ms)
            .bind(call.transfer_target)
            .bind(call.id)
            .bind(was.as_str())
            .bind(call.held_at_ms)
            .bind(call.unanswered_by)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 0 {
                drop(tx);
                let now = self.reload(&mut open, call.id).await?;
                return Err(CallError::IllegalMove {
                    action: action.past(),
                    state: now.map_or("ended", |call| call.state.as_str()),
                });
            }
            record(&mut tx, call, verb, source).await?;
        }
        if missed {
            Self::mark_missed(&mut tx, id).await?;
        }
        // A caller who hung up before and got through now needs no call back.
        let resolved = if action == CallAction::Answer && was_queued {
            Self::resolve_missed(&mut tx, &moved.caller_number).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        for (call, _) in changes {
            if call.state == CallState::Cleared {
                open.remove(&call.id);
            } else {
                open.insert(call.id, call.clone());
            }
            self.publish(call);
        }
        self.moved.notify_waiters();
        drop(open);
        if missed {
            self.publish_missed(id).await;
        }
        self.publish_missed_done(resolved).await;
        Ok(moved)
    }

    /// A call another node changed (with several nodes): held here as it is now, and sent
    /// to the operators' consoles here.
    pub async fn changed_elsewhere(&self, call: Call) {
        let mut open = self.open.lock().await;
        if call.state == CallState::Cleared {
            open.remove(&call.id);
        } else {
            open.insert(call.id, call.clone());
        }
        self.hub
            .broadcast_operators_here(ServerFrame::Call(call).encode().into());
        drop(open);
        self.moved.notify_waiters();
    }

    /// Reads call `id` as stored (another node moved it) into `open`; `None` once cleared.
    async fn reload(
        &self,
        open: &mut BTreeMap<CallId, Call>,
        id: CallId,
    ) -> Result<Option<Call>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM calls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db)
            .await?;
        let call = row
            .as_ref()
            .map(from_row)
            .filter(|call| call.state != CallState::Cleared);
        match &call {
            Some(call) => open.insert(id, call.clone()),
            None => open.remove(&id),
        };
        Ok(call)
    }

    fn check_target(&self, target: EntryId) -> Result<(), CallError> {
        if self.directory.contains(target) {
            Ok(())
        } else {
            Err(CallError::UnknownReference {
                field: "target",
                message: format!("there is no directory entry {target}"),
            })
        }
    }

    /// Waits for the telephone system to do `request` (something other than a call's move)
    /// within the confirmation time; a refusal or silence is a `Telephony` error saying what
    /// it `refused_to` do, or what stayed `unchanged`.
    async fn confirm(
        &self,
        request: impl Future<Output = Result<(), AdapterError>>,
        refused_to: &str,
        unchanged: &str,
    ) -> Result<(), CallError> {
        let secs = self.confirm_within.as_secs();
        match tokio::time::timeout(self.confirm_within, request).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(CallError::Telephony(format!(
                "The telephone system refused to {refused_to}: {}",
                err.reason
            ))),
            Err(_) => Err(CallError::Telephony(format!(
                "The telephone system did not confirm in {secs} s: {unchanged}."
            ))),
        }
    }

    fn publish(&self, call: &Call) {
        self.hub
            .broadcast_operators(ServerFrame::Call(call.clone()).encode().into());
    }
}

/// The call after a legal move to `next`; no command is pending on it any more.
fn moved(mut call: Call, action: CallAction, next: CallState) -> Call {
    if next == CallState::Active && call.answered_at_ms.is_none() {
        call.answered_at_ms = Some(now_ms());
    }
    call.held_at_ms = (next == CallState::Held).then(now_ms);
    // Who did not answer a transfer, until the call moves on.
    call.unanswered_by = match action {
        CallAction::Recall => call.transfer_target,
        _ => None,
    };
    call.transfer_target = action.target();
    call.state = next;
    call.pending = None;
    call
}

async fn record(
    tx: &mut sqlx::AnyConnection,
    call: &Call,
    action: &str,
    source: &Source,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO call_events (call_id, action, target, state, source, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(call.id)
    .bind(action)
    .bind(call.transfer_target)
    .bind(call.state.as_str())
    .bind(source.label())
    .bind(now_ms())
    .execute(tx)
    .await?;
    Ok(())
}
