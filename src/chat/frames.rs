//! The store's chat side: chat frames from the server, chat intents from the components.

use std::time::Duration;

use leptos::prelude::*;
use switchboard_protocol::{
    ChatMessage, ClientFrame, ConversationSummary, Mode, PresenceState, ServerFrame, UserId,
};

use super::conversations::PAGE_SIZE;
use super::draft::{self, DraftError};
use super::outbox::Refused;
use super::{Failure, Outgoing, browser};
use crate::store::Store;

/// Typing notices are sent at most this often while the operator types.
const TYPING_EVERY_MS: i64 = 3_000;

impl Store {
    /// Applies a chat frame; [`Store::apply`] routes only chat frames here.
    pub(crate) fn apply_chat(&self, frame: ServerFrame) {
        let chat = self.chat();
        match frame {
            ServerFrame::ChatAck {
                client_msg_id,
                id,
                conversation,
                seq,
                sent_at_ms,
            } => {
                // Unknown ids were matched already (by the echo, or an earlier ack of a resend).
                let Some(Some(sent)) = chat.update_outbox(|outbox| outbox.take(&client_msg_id))
                else {
                    return;
                };
                chat.message_stored(sent.to);
                let message = ChatMessage {
                    id,
                    conversation,
                    seq,
                    from: chat.me,
                    to: sent.to,
                    body: sent.body,
                    sent_at_ms,
                    client_msg_id,
                };
                let name = self.new_partner_name(message.to);
                chat.conversations.update(|all| {
                    all.message(message, |_| name);
                });
            }
            ServerFrame::ChatNack {
                client_msg_id,
                reason,
                message,
            } => {
                let failure = Failure { reason, message };
                let jitter = js_sys::Math::random();
                let refused =
                    chat.update_outbox(|outbox| outbox.refuse(&client_msg_id, failure, jitter));
                if let Some(Refused::ResendInMs(delay_ms)) = refused {
                    self.resend_later(client_msg_id, delay_ms);
                }
            }
            ServerFrame::ChatMessage(message) => self.chat_message(message),
            ServerFrame::HistoryPage {
                with,
                messages,
                has_more,
            } => {
                let name = self.new_partner_name(with);
                chat.conversations.update(|all| {
                    all.history_page(with, messages, has_more, |_| name);
                });
            }
            ServerFrame::Marker(update) => {
                chat.conversations.update(|all| all.marker(update));
            }
            ServerFrame::Typing { from } => chat.typing_from(from),
            ServerFrame::UserResults { query, users } => chat.results.set(Some((query, users))),
            other => leptos::logging::warn!("not a chat frame: {other:?}"),
        }
    }

    /// The chat list of a new connection: take it, then resend the outbox in order with the
    /// same ids (the server stores each once) and reload what the open conversation missed.
    pub(crate) fn resync_chat(&self, summaries: Vec<ConversationSummary>) {
        let chat = self.chat();
        chat.conversations.update(|all| {
            all.requests_lost();
            all.replace(summaries);
        });
        let pending: Vec<Outgoing> = chat
            .outbox
            .with_untracked(|outbox| outbox.pending().cloned().collect());
        for entry in pending {
            self.send(send_frame(entry));
        }
        if let Some(open) = chat.open.get_untracked() {
            self.load_history(open);
        }
    }

    /// Resends outbox entry `client_msg_id` after `delay_ms`, if it is still pending then
    /// (neither acknowledged, as a reconnection resends the whole outbox, nor discarded),
    /// followed by the later pending messages to the same person in the order written: the
    /// server holds a conversation's later messages back until a refused one comes back.
    fn resend_later(&self, client_msg_id: String, delay_ms: u32) {
        let store = *self;
        set_timeout(
            move || {
                let pending = store.chat().outbox.try_with_untracked(|outbox| {
                    let mut pending = outbox
                        .pending()
                        .skip_while(|entry| entry.client_msg_id != client_msg_id);
                    let Some(first) = pending.next() else {
                        return Vec::new();
                    };
                    let later = pending.filter(|entry| entry.to == first.to);
                    std::iter::once(first).chain(later).cloned().collect()
                });
                for entry in pending.unwrap_or_default() {
                    store.send(send_frame(entry));
                }
            },
            Duration::from_millis(delay_ms.into()),
        );
    }

    fn chat_message(&self, message: ChatMessage) {
        let chat = self.chat();
        let from_partner = message.from != chat.me;
        if !from_partner {
            // Another tab's message, or this tab's before its ack: shown once, as confirmed.
            chat.update_outbox(|outbox| outbox.take(&message.client_msg_id));
            chat.message_stored(message.to);
        }
        let body = message.body.clone();
        let name = self.new_partner_name(if from_partner {
            message.from
        } else {
            message.to
        });
        let partner = chat
            .conversations
            .update(|all| all.message(message, |_| name));
        if let Some(partner) = partner.filter(|_| from_partner) {
            chat.typing.update(|typing| {
                typing.remove(&partner);
            });
            chat.attention
                .message_arrived(&self.name_of(partner), &body);
        }
    }

    /// Whether `key` (a `KeyboardEvent.key`) is the Chat key: the server's, F9 until it said.
    pub fn is_chat_key(&self, key: &str) -> bool {
        self.config().with_untracked(|config| {
            config
                .as_ref()
                .map_or("F9", |config| config.chat_key.as_str())
                == key
        })
    }

    /// The name for a conversation with `partner` if it would be new (empty if it exists):
    /// looked up before the conversations are locked for the change.
    fn new_partner_name(&self, partner: UserId) -> String {
        let known = self
            .chat()
            .conversations
            .with_untracked(|all| all.get(partner).is_some());
        if known {
            String::new()
        } else {
            self.name_of(partner)
        }
    }

    /// The display name of `user`: from the chat list, the directory or a search.
    pub fn name_of(&self, user: UserId) -> String {
        let chat = self.chat();
        let known = chat
            .conversations
            .with_untracked(|all| all.get(user).map(|c| c.name.clone()))
            .filter(|name| !name.is_empty());
        known
            .or_else(|| {
                self.directory().with_untracked(|directory| {
                    (0..directory.len())
                        .filter_map(|position| directory.entry(position))
                        .find(|entry| entry.user == Some(user))
                        .map(|entry| entry.name.clone())
                })
            })
            .or_else(|| {
                chat.results.with_untracked(|results| {
                    results.as_ref().and_then(|(_, users)| {
                        users
                            .iter()
                            .find(|found| found.id == user)
                            .map(|found| found.display_name.clone())
                    })
                })
            })
            .unwrap_or_else(|| format!("User {user}"))
    }

    /// Why chat with `partner` is unavailable, if it is: in micollab mode, a partner who is
    /// offline (grey) cannot be messaged. Reactive: it follows mode and presence. It does not
    /// count as showing the partner (event handlers call it, and what they ask about is shown
    /// by a presence field already).
    pub fn chat_unavailable(&self, partner: UserId, name: &str) -> Option<String> {
        let offline = self.presence_state(partner) == PresenceState::Offline;
        (self.mode().get() == Some(Mode::Micollab) && offline)
            .then(|| format!("Chat unavailable: {name} is offline."))
    }

    /// Opens the chat window on the conversation with `partner`, loading its history and
    /// giving the compose box the focus.
    pub fn open_chat(&self, partner: UserId, name: &str) {
        let chat = self.chat();
        chat.conversations.update(|all| {
            all.ensure(partner, || name.to_owned());
        });
        // Asked first: the socket task then sends it before the conversation pane is drawn
        // (both run as microtasks, in the order they were woken), and the page is on its way
        // while it is.
        self.load_history(partner);
        chat.open.set(Some(partner));
        chat.window_open.set(true);
        chat.focus_compose.update(|count| *count += 1);
    }

    /// Asks for the next page of history with `partner`: the newest when nothing is loaded,
    /// else the one before the oldest loaded message; nothing if all is in or on its way.
    pub fn load_history(&self, partner: UserId) {
        let page = self
            .chat()
            .conversations
            .update(|all| all.next_page(partner))
            .flatten();
        if let Some(before_seq) = page {
            self.send(ClientFrame::History {
                with: partner,
                before_seq,
                limit: PAGE_SIZE,
            });
        }
    }

    /// Sends `body` to `to` through the outbox: shown at once as pending, kept until
    /// acknowledged. Blank drafts are not sent; over-long ones are refused with the limit.
    pub fn send_chat(&self, to: UserId, body: &str) -> Result<(), DraftError> {
        let max_chars = self.config().with_untracked(|config| {
            config
                .as_ref()
                .map_or(usize::MAX, |config| config.limits.max_message_chars)
        });
        let body = draft::check(body, max_chars)?;
        let client_msg_id = browser::random_uuid().ok_or_else(|| {
            DraftError::Refused("This browser cannot make message ids; reload the page.".into())
        })?;
        let entry = Outgoing {
            client_msg_id,
            to,
            to_name: self.name_of(to),
            body: body.to_owned(),
            written_at_ms: browser::now_ms(),
            failed: None,
            retries: 0,
        };
        self.chat()
            .update_outbox(|outbox| outbox.push(entry.clone()));
        self.send(send_frame(entry));
        Ok(())
    }

    /// Sends a predefined message to `to` at once (after the call context, if in a call) and
    /// shows it in the chat window.
    pub fn send_predefined(&self, to: UserId, name: &str, text: &str) {
        let prefix = self
            .chat()
            .call_context
            .with_untracked(|call| draft::call_prefix(call.as_ref()));
        self.open_chat(to, name);
        if let Err(error) = self.send_chat(to, &format!("{prefix}{text}")) {
            leptos::logging::warn!("predefined message not sent: {error:?}");
        }
    }

    /// Sends a refused message again with the same id.
    pub fn retry_chat(&self, client_msg_id: &str) {
        if let Some(Some(entry)) = self
            .chat()
            .update_outbox(|outbox| outbox.retry(client_msg_id))
        {
            self.send(send_frame(entry));
        }
    }

    /// Drops a refused message from the outbox.
    pub fn discard_chat(&self, client_msg_id: &str) {
        self.chat()
            .update_outbox(|outbox| outbox.take(client_msg_id));
    }

    /// Marks the conversation with `partner` read up to its newest message, if it is unread.
    pub fn mark_read(&self, partner: UserId) {
        let newest = self.chat().conversations.with_untracked(|all| {
            all.get(partner)
                .filter(|conversation| conversation.unread() > 0)
                .map(|conversation| conversation.newest_seq())
        });
        if let Some(seq) = newest {
            self.send(ClientFrame::ChatRead { with: partner, seq });
        }
    }

    /// Marks every unread conversation read.
    pub fn mark_all_read(&self) {
        let unread: Vec<UserId> = self.chat().conversations.with_untracked(|all| {
            all.iter()
                .filter(|conversation| conversation.unread() > 0)
                .map(|conversation| conversation.partner)
                .collect()
        });
        for partner in unread {
            self.mark_read(partner);
        }
    }

    /// Looks users up by name (answers arrive as [`super::ChatState::search_results`]).
    pub fn search_users(&self, query: &str) {
        self.send(ClientFrame::SearchUsers {
            query: query.to_owned(),
        });
    }

    /// The operator is typing to `to`: tell them, at most every few seconds (and at once after
    /// a message of theirs to `to` is stored).
    pub fn typing_to(&self, to: UserId) {
        let chat = self.chat();
        let now = browser::now_ms();
        let (last_to, last_at) = chat.last_typing.get_value();
        if last_to == to && now - last_at < TYPING_EVERY_MS {
            return;
        }
        chat.last_typing.set_value((to, now));
        self.send(ClientFrame::Typing { to });
    }
}

/// The frame that sends (or resends) an outbox entry.
fn send_frame(entry: Outgoing) -> ClientFrame {
    ClientFrame::ChatSend {
        client_msg_id: entry.client_msg_id,
        to: entry.to,
        body: entry.body,
    }
}
