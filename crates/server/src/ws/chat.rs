//! Chat frames of a connection: send, history, search, read markers, typing.

use axum::extract::ws::Message;
use switchboard_protocol::{ErrorCode, ServerFrame, UserId};
use tokio::time::Instant;

use super::{Connection, SEND_TIMEOUT, Stop, TYPING_INTERVAL};
use crate::chat::{
    Refused,
    markers::{Mark, MarkError},
};

/// Messages of one connection waiting for their commit at once.
pub(super) const SENDS_IN_FLIGHT: usize = 32;

fn nack(client_msg_id: String, refused: Refused) -> ServerFrame {
    ServerFrame::ChatNack {
        client_msg_id,
        reason: refused.reason,
        message: refused.message,
    }
}

impl Connection {
    /// `chat_send`: acknowledged only once the message is committed; the message itself
    /// reaches every session of both parties through the hub. The message is checked and
    /// queued for the writer here, in the order the console sent it; the wait for its commit
    /// runs beside the connection, so a console's next messages join the same commit instead
    /// of waiting for this one (at most [`SENDS_IN_FLIGHT`] at once: past that the connection
    /// reads no further frame until one is answered).
    pub(super) async fn chat_send(
        &mut self,
        client_msg_id: String,
        to: UserId,
        body: String,
    ) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        let Ok(in_flight) = self.sends.clone().acquire_owned().await else {
            return Err(Stop::Gone);
        };
        let from = self.session.user.id;
        let stored = match self
            .state
            .chat
            .submit(from, client_msg_id.clone(), to, body)
            .await
        {
            Ok(stored) => stored,
            Err(refused) => return self.send_frame(&nack(client_msg_id, refused)).await,
        };
        // The partner's console stops showing "typing…" at this message: a notice that
        // follows it is news, whenever the last one was.
        self.last_typing = None;
        let out = self.out.clone();
        tokio::spawn(async move {
            let frame = match stored.await {
                // The id as stored: one spelling, whatever letter case the console used.
                Ok(stored) => ServerFrame::ChatAck {
                    client_msg_id: stored.message.client_msg_id,
                    id: stored.message.id,
                    conversation: stored.message.conversation,
                    seq: stored.message.seq,
                    sent_at_ms: stored.message.sent_at_ms,
                },
                Err(refused) => nack(client_msg_id, refused),
            };
            // A console that left, or stopped reading (its connection is being dropped),
            // needs no answer.
            let answer = out.send(Message::Text(frame.encode().into()));
            let _ = tokio::time::timeout(SEND_TIMEOUT, answer).await;
            drop(in_flight);
        });
        Ok(())
    }

    /// `history`: one page of the conversation with `with`.
    pub(super) async fn history(
        &mut self,
        with: UserId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        let me = self.session.user.id;
        match self.state.chat.history(me, with, before_seq, limit).await {
            Ok((messages, has_more)) => {
                let page = ServerFrame::HistoryPage {
                    with,
                    messages,
                    has_more,
                };
                self.send_frame(&page).await
            }
            Err(err) => {
                tracing::error!(%err, "loading history");
                self.refuse(ErrorCode::Internal, "could not load the history; try again")
                    .await
            }
        }
    }

    /// `chat_read`: move the read marker; every session of both parties hears of it.
    pub(super) async fn chat_read(&mut self, with: UserId, seq: i64) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        match self
            .state
            .chat
            .mark(self.session.user.id, with, seq, Mark::Read)
            .await
        {
            Ok(()) => Ok(()),
            Err(MarkError::Invalid(message)) => {
                self.refuse(ErrorCode::InvalidRequest, message).await
            }
            Err(MarkError::Database(err)) => {
                tracing::error!(%err, "storing a read marker");
                self.refuse(
                    ErrorCode::Internal,
                    "could not store the read marker; try again",
                )
                .await
            }
        }
    }

    /// `typing`: forwarded to the partner's consoles, at most once a second per connection
    /// (and at once after a message from this connection).
    pub(super) async fn typing(&mut self, to: UserId) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        if self
            .last_typing
            .is_some_and(|at| at.elapsed() < TYPING_INTERVAL)
        {
            return Ok(());
        }
        self.last_typing = Some(Instant::now());
        if self.state.chat.typing(self.session.user.id, to) {
            Ok(())
        } else {
            self.refuse(
                ErrorCode::InvalidRequest,
                "there is nobody to type to under that id",
            )
            .await
        }
    }

    /// `search_users`: users by name, for starting or finding a conversation.
    pub(super) async fn search_users(&mut self, query: String) -> Result<(), Stop> {
        if self.joined.is_none() {
            return self.refuse(ErrorCode::OutOfOrder, "send hello first").await;
        }
        match self
            .state
            .chat
            .search_users(self.session.user.id, &query)
            .await
        {
            Ok(users) => {
                self.send_frame(&ServerFrame::UserResults { query, users })
                    .await
            }
            Err(err) => {
                tracing::error!(%err, "searching users");
                self.refuse(ErrorCode::Internal, "could not search; try again")
                    .await
            }
        }
    }
}
