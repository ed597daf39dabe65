//! The call-control adapter: the boundary between the switchboard and a telephone system.

use futures_util::future::BoxFuture;
use sqlx::AnyPool;
use switchboard_protocol::{Call, CallAction, CallId, EntryId, MissedCall};

/// A telephone system refused or failed an operator's action.
#[derive(Debug, thiserror::Error)]
#[error("The telephone system refused to {action} the call: {reason}")]
pub struct AdapterError {
    pub action: &'static str,
    pub reason: String,
}

/// How the telephone system confirmed a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// It is done: the call moves now.
    Done,
    /// It was handed on; the telephone system reports the move itself when it has made it
    /// (the ingest API), and the call moves then.
    ByReport,
}

/// An operator's command as the adapter carries it out.
#[derive(Debug, Clone, Copy)]
pub struct Command<'a> {
    pub action: CallAction,
    /// Username of the operator who gave it (whose telephone takes the call).
    pub operator: &'a str,
    /// For a transfer: the number to dial, the target entry's extension or first number.
    pub target_number: Option<&'a str>,
}

/// The telephone system behind the console. Calls reach the switchboard through it (the
/// simulator queues them itself; a PBX integration posts them to the ingest API), and every
/// operator action is handed to it before the call changes, so the telephone system and the
/// consoles never disagree.
pub trait CallControl: Send + Sync {
    /// Short name for logs.
    fn name(&self) -> &'static str;

    /// Carries out an operator's command on `call` and resolves once the telephone system
    /// confirms it (or has taken it, to report the move later); the call changes only if the
    /// confirmation comes within the confirmation time.
    fn carry_out<'a>(
        &'a self,
        call: &'a Call,
        command: Command<'a>,
    ) -> BoxFuture<'a, Result<Confirmed, AdapterError>>;

    /// Calls a missed caller back for `operator` (username): rings the operator's telephone
    /// and dials the caller's number. Resolves once the telephone system has taken it.
    fn call_back<'a>(
        &'a self,
        missed: &'a MissedCall,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<(), AdapterError>>;

    /// Tells the telephone system that the switchboard closed (night service: calls go where
    /// it sends them at night) or opened again.
    fn night_service(&self, closed: bool) -> BoxFuture<'_, Result<(), AdapterError>>;
}

/// The built-in simulated exchange of `--demo`: it connects, holds and transfers at once.
/// Its calls come from [`super::simulator`].
pub struct SimulatedExchange;

impl CallControl for SimulatedExchange {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn carry_out<'a>(
        &'a self,
        _call: &'a Call,
        _command: Command<'a>,
    ) -> BoxFuture<'a, Result<Confirmed, AdapterError>> {
        Box::pin(async { Ok(Confirmed::Done) })
    }

    /// The simulated caller picks up at once; there is no call to show for it.
    fn call_back<'a>(
        &'a self,
        _missed: &'a MissedCall,
        _operator: &'a str,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(async { Ok(()) })
    }

    /// The simulator reads night service itself: it queues no call while closed.
    fn night_service(&self, _closed: bool) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A PBX integration that drives the switchboard through the HTTP ingest API. An operator's
/// command goes into the call event feed (`GET /api/calls/events`, `command: true`), which
/// the integration follows; the call moves when the integration reports that the PBX did it
/// (`POST /api/calls/{id}/answer`, ...). A call back is a `call_back` command on the missed
/// call in the same feed; night service is read at `GET /api/night-service`.
pub struct PbxIngest {
    db: AnyPool,
}

impl PbxIngest {
    pub fn new(db: AnyPool) -> Self {
        PbxIngest { db }
    }

    /// Puts an operator's command on call `call` into the event feed the integration follows.
    async fn feed(
        &self,
        call: CallId,
        verb: &'static str,
        target: Option<EntryId>,
        state: &str,
        operator: &str,
    ) -> Result<(), AdapterError> {
        sqlx::query(
            "INSERT INTO call_events (call_id, action, target, state, source, at_ms, command) \
             VALUES ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(call)
        .bind(verb)
        .bind(target)
        .bind(state)
        .bind(format!("operator:{operator}"))
        .bind(crate::clock::now_ms())
        .execute(&self.db)
        .await
        .map_err(|err| AdapterError {
            action: verb,
            reason: format!("the command could not be stored ({err})"),
        })?;
        Ok(())
    }
}

impl CallControl for PbxIngest {
    fn name(&self) -> &'static str {
        "pbx-ingest"
    }

    fn carry_out<'a>(
        &'a self,
        call: &'a Call,
        command: Command<'a>,
    ) -> BoxFuture<'a, Result<Confirmed, AdapterError>> {
        Box::pin(async move {
            let target = command.action.target();
            let verb = command.action.verb();
            self.feed(call.id, verb, target, call.state.as_str(), command.operator)
                .await?;
            Ok(Confirmed::ByReport)
        })
    }

    fn call_back<'a>(
        &'a self,
        missed: &'a MissedCall,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(self.feed(missed.call, "call_back", None, "cleared", operator))
    }

    /// The integration reads it (`GET /api/night-service`) when it routes a call.
    fn night_service(&self, _closed: bool) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(async { Ok(()) })
    }
}
