//! Call frames of a connection: operator commands go through the calls service and its
//! adapter.

use axum::extract::ws::Message;
use switchboard_protocol::{CallAction, CallId, ErrorCode, ServerFrame};
use tokio::sync::mpsc;

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
            let done = calls.act(call, action, source).await;
            answer_refusal(&out, done.map(drop)).await;
        });
        Ok(())
    }

    /// `call_back`: the telephone system rings this operator's telephone and dials the
    /// missed caller; every operator then sees who called back. Runs beside the connection
    /// as a call command does.
    pub(super) async fn call_back(&mut self, call: CallId) -> Result<(), Stop> {
        if !self.operator_only("call back missed calls").await? {
            return Ok(());
        }
        let user = self.session.user.clone();
        let calls = self.state.calls.clone();
        let out = self.out.clone();
        tokio::spawn(async move {
            let done = calls
                .call_back(call, &user.username, &user.display_name)
                .await;
            answer_refusal(&out, done).await;
        });
        Ok(())
    }

    /// `missed_done`: the missed call leaves every operator's list.
    pub(super) async fn missed_done(&mut self, call: CallId) -> Result<(), Stop> {
        if !self.operator_only("mark missed calls done").await? {
            return Ok(());
        }
        let done = self.state.calls.missed_done(call).await;
        answer_refusal(&self.out, done).await;
        Ok(())
    }

    /// `set_night_service`: the telephone system is told, then every operator's console.
    pub(super) async fn set_night_service(&mut self, closed: bool) -> Result<(), Stop> {
        if !self.operator_only("switch night service").await? {
            return Ok(());
        }
        let by = self.session.user.display_name.clone();
        let calls = self.state.calls.clone();
        let out = self.out.clone();
        tokio::spawn(async move {
            let done = calls.set_night_service(closed, &by).await;
            answer_refusal(&out, done).await;
        });
        Ok(())
    }

    /// `todays_calls`: the calls this operator answered today.
    pub(super) async fn todays_calls(&mut self) -> Result<(), Stop> {
        if !self.operator_only("list their calls").await? {
            return Ok(());
        }
        match self
            .state
            .calls
            .todays_calls(&self.session.user.username)
            .await
        {
            Ok(calls) => self.send_frame(&ServerFrame::TodaysCalls { calls }).await,
            Err(err) => {
                tracing::error!(%err, "listing today's calls");
                self.refuse(
                    ErrorCode::Internal,
                    "could not list today's calls; try again",
                )
                .await
            }
        }
    }
}

/// Sends the refusal of a call command, if it was refused, to the console that gave it. The
/// command may have run beside the connection: a console that left meanwhile needs no answer.
async fn answer_refusal(out: &mpsc::Sender<Message>, done: Result<(), CallError>) {
    let Err(err) = done else {
        return;
    };
    let code = match &err {
        CallError::UnknownCall(_)
        | CallError::UnknownReference { .. }
        | CallError::NoMissedCall(_) => ErrorCode::NotFound,
        CallError::IllegalMove { .. } | CallError::Pending { .. } => ErrorCode::IllegalMove,
        CallError::Invalid { .. } => ErrorCode::InvalidRequest,
        CallError::Adapter(_) | CallError::Unconfirmed(..) | CallError::Telephony(_) => {
            ErrorCode::Telephony
        }
        CallError::Database(_) => ErrorCode::Internal,
    };
    if code == ErrorCode::Internal {
        tracing::error!(%err, "call command failed");
    }
    let frame = ServerFrame::Error {
        code,
        message: err.to_string(),
    };
    let _ = out.send(Message::Text(frame.encode().into())).await;
}
