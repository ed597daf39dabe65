//! Call frames of a connection: operator actions go through the calls service and its adapter.

use switchboard_protocol::{CallAction, CallId, ErrorCode};

use super::{Connection, Stop};
use crate::calls::{CallError, Source};

impl Connection {
    /// An operator's call action: through the adapter and the calls service, which tells every
    /// console (this one included) the result.
    pub(super) async fn call_action(
        &mut self,
        call: CallId,
        action: CallAction,
    ) -> Result<(), Stop> {
        if !self.operator_only("handle calls").await? {
            return Ok(());
        }
        let source = Source::Operator(self.session.user.username.clone());
        match self.state.calls.act(call, action, source).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let code = match &err {
                    CallError::UnknownCall(_) | CallError::UnknownReference { .. } => {
                        ErrorCode::NotFound
                    }
                    CallError::IllegalMove { .. } => ErrorCode::IllegalMove,
                    CallError::Invalid { .. } => ErrorCode::InvalidRequest,
                    CallError::Adapter(_) | CallError::Database(_) => ErrorCode::Internal,
                };
                self.refuse(code, err.to_string()).await
            }
        }
    }
}
