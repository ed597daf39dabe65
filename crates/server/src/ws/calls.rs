//! Call frames of a connection: operator commands go through the calls service and its
//! adapter.

use axum::extract::ws::Message;
use switchboard_protocol::{CallAction, CallId, ErrorCode, ServerFrame};

use super::{Connection, Stop};
use crate::calls::{CallError, Source};

impl Connection {
    /// An operator's call command. It may wait seconds for the telephone system, so it runs
    /// beside the connection (which goes on answering pings and chat); every console,
    /// this one included, sees the call pending and then moved, and this one gets the
    /// refusal if there is one. The call frames' allowance bounds how many are started per
    /// second, and each ends within the confirmation time.
    pub(super) async fn call_action(
        &mut self,
        call: CallId,
        action: CallAction,
    ) -> Result<(), Stop> {
        if !self.operator_only("handle calls").await? {
            return Ok(());
        }
        let source = Source::Operator(self.session.user.username.clone());
        let calls = self.state.calls.clone();
        let out = self.out.clone();
        tokio::spawn(async move {
            let Err(err) = calls.act(call, action, source).await else {
                return;
            };
            let code = match &err {
                CallError::UnknownCall(_) | CallError::UnknownReference { .. } => {
                    ErrorCode::NotFound
                }
                CallError::IllegalMove { .. } | CallError::Pending { .. } => ErrorCode::IllegalMove,
                CallError::Invalid { .. } => ErrorCode::InvalidRequest,
                CallError::Adapter(_) | CallError::Unconfirmed(..) => ErrorCode::Telephony,
                CallError::Database(_) => ErrorCode::Internal,
            };
            let frame = ServerFrame::Error {
                code,
                message: err.to_string(),
            };
            // A console that left meanwhile needs no answer.
            let _ = out.send(Message::Text(frame.encode().into())).await;
        });
        Ok(())
    }
}
