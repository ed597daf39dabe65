//! The call-control adapter: the boundary between the switchboard and a telephone system.

use futures_util::future::BoxFuture;
use switchboard_protocol::{Call, CallAction};

/// A telephone system refused or failed an operator's action.
#[derive(Debug, thiserror::Error)]
#[error("The telephone system refused to {action} the call: {reason}")]
pub struct AdapterError {
    pub action: &'static str,
    pub reason: String,
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
    /// confirms it; the call changes only if this succeeds (within the confirmation time).
    fn carry_out<'a>(
        &'a self,
        call: &'a Call,
        command: Command<'a>,
    ) -> BoxFuture<'a, Result<(), AdapterError>>;
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
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A PBX integration that drives the switchboard through the HTTP ingest API. Operator
/// actions are accepted and published in the call event feed (`GET /api/calls/events`), which
/// the integration follows to carry them out on the PBX.
pub struct PbxIngest;

impl CallControl for PbxIngest {
    fn name(&self) -> &'static str {
        "pbx-ingest"
    }

    fn carry_out<'a>(
        &'a self,
        call: &'a Call,
        command: Command<'a>,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        tracing::info!(
            call = call.id,
            action = command.action.verb(),
            "operator action for the PBX"
        );
        Box::pin(async { Ok(()) })
    }
}
