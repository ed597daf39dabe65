//! The conversations as components read them: a signal per conversation, so that a message or
//! marker in one conversation redraws what shows that conversation (its log, its chat list
//! entry, its unread count) and never the open log of another, which would build its whole
//! history again; and one signal for the list of them (the chat list's order, the total).

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::UserId;

use super::{Conversation, Conversations};

/// Every conversation the console knows, shared by the store and the components.
#[derive(Clone, Copy)]
pub struct LiveConversations {
    all: StoredValue<Conversations>,
    /// Notified at every change.
    any: Trigger,
    /// Notified when the conversation with that partner changed; created on first use.
    each: StoredValue<HashMap<UserId, ArcTrigger>>,
}

impl LiveConversations {
    pub fn new(conversations: Conversations) -> Self {
        LiveConversations {
            all: StoredValue::new(conversations),
            any: Trigger::new(),
            each: StoredValue::new(HashMap::new()),
        }
    }

    fn trigger(&self, partner: UserId) -> Option<ArcTrigger> {
        self.each
            .try_update_value(|each| each.entry(partner).or_insert_with(ArcTrigger::new).clone())
    }

    /// Reads the conversation with `partner`; a reactive reader follows that one only.
    pub fn with_one<T>(&self, partner: UserId, read: impl FnOnce(Option<&Conversation>) -> T) -> T {
        if let Some(trigger) = self.trigger(partner) {
            trigger.track();
        }
        self.all.with_value(|all| read(all.get(partner)))
    }

    /// Reads every conversation; a reactive reader follows every change.
    pub fn with<T>(&self, read: impl FnOnce(&Conversations) -> T) -> T {
        self.any.track();
        self.all.with_value(read)
    }

    /// Reads every conversation without following them.
    pub fn with_untracked<T>(&self, read: impl FnOnce(&Conversations) -> T) -> T {
        self.all.with_value(read)
    }

    /// Changes the conversations; the readers of the ones it touched, and of all, follow
    /// (nobody when it touched none). `None` once the store is gone.
    pub fn update<T>(&self, change: impl FnOnce(&mut Conversations) -> T) -> Option<T> {
        let (result, touched) = self.all.try_update_value(|all| {
            let result = change(all);
            (result, all.take_touched())
        })?;
        if !touched.is_empty() {
            for partner in touched {
                if let Some(trigger) = self.trigger(partner) {
                    trigger.notify();
                }
            }
            self.any.notify();
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use switchboard_protocol::ChatMessage;

    use super::*;

    const ME: UserId = 1;
    const ALICE: UserId = 2;
    const BOB: UserId = 3;

    fn from(partner: UserId, seq: i64) -> ChatMessage {
        ChatMessage {
            id: seq,
            conversation: partner,
            seq,
            from: partner,
            to: ME,
            body: format!("message {seq}"),
            sent_at_ms: 1_700_000_000_000 + seq,
            client_msg_id: format!("{partner}-{seq}"),
        }
    }

    #[test]
    fn a_message_in_another_conversation_does_not_recompute_the_open_one() {
        let owner = Owner::new();
        owner.set();
        let live = LiveConversations::new(Conversations::new(ME));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        // The open log with Alice: how many messages it shows, and how often it was built.
        let open_log = Memo::new(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            live.with_one(ALICE, |conversation| {
                conversation.map_or(0, |c| c.messages.len())
            })
        });
        let chat_list = Memo::new(move |_| live.with(|all| all.iter().count()));
        assert_eq!((open_log.get(), runs.load(Ordering::Relaxed)), (0, 1));

        for seq in 1..=3 {
            live.update(|all| all.message(from(BOB, seq), |_| "Bob".into()));
        }
        assert_eq!(chat_list.get(), 1, "the list follows every conversation");
        assert_eq!(open_log.get(), 0);
        assert_eq!(
            runs.load(Ordering::Relaxed),
            1,
            "Bob's messages did not touch Alice's log"
        );

        live.update(|all| all.message(from(ALICE, 1), |_| "Alice".into()));
        assert_eq!((open_log.get(), runs.load(Ordering::Relaxed)), (1, 2));
        assert_eq!(chat_list.get(), 2);
    }
}
