//! Conversations as the console knows them: loaded messages, markers, unread and receipts.

use std::collections::{BTreeMap, HashMap, HashSet};

use switchboard_protocol::{
    ChatMessage, ConversationId, ConversationSummary, Marker, MarkerUpdate, UserId,
};

/// Messages asked for per history page: enough to fill the log (a log the first page does not
/// fill asks for the next by itself), few enough that the newest are drawn at once however long
/// the conversation is; older pages come as the operator scrolls up.
pub const PAGE_SIZE: u32 = 20;

/// How much of a conversation's history is in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Nothing asked yet: only messages that arrived live are known.
    NotLoaded,
    /// The newest page was asked for.
    Loading,
    /// The newest page is in; `has_more` when older messages exist on the server,
    /// `loading_older` while a page of them is on its way.
    Loaded { has_more: bool, loading_older: bool },
}

/// One 1:1 conversation, keyed by the partner.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub partner: UserId,
    /// The partner's display name.
    pub name: String,
    /// Server id; `None` until the first message exists.
    pub id: Option<ConversationId>,
    /// Loaded messages by seq, so pages and live messages merge without duplicates.
    pub messages: BTreeMap<i64, ChatMessage>,
    /// The newest message known, loaded or not (the chat list's preview).
    pub last: Option<ChatMessage>,
    /// The signed-in user's markers: unread derives from them.
    pub mine: Marker,
    /// The partner's markers: receipts derive from them.
    pub theirs: Marker,
    /// Unread messages the server counted up to `as_of_seq`; later ones are counted here.
    unread_base: u32,
    as_of_seq: i64,
    pub history: History,
}

/// What the partner's markers say about one of the signed-in user's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored by the server (acknowledged).
    Sent,
    /// Reached one of the partner's consoles.
    Delivered,
    /// Displayed to the partner.
    Read,
}

impl Receipt {
    /// The word shown under the message.
    pub fn label(self) -> &'static str {
        match self {
            Receipt::Sent => "Sent",
            Receipt::Delivered => "Delivered",
            Receipt::Read => "Read",
        }
    }
}

impl Conversation {
    fn new(partner: UserId, name: String) -> Self {
        Conversation {
            partner,
            name,
            id: None,
            messages: BTreeMap::new(),
            last: None,
            mine: Marker::default(),
            theirs: Marker::default(),
            unread_base: 0,
            as_of_seq: 0,
            history: History::NotLoaded,
        }
    }

    /// Messages from the partner the signed-in user has not read: the server's count up to
    /// `as_of_seq` plus the partner's messages that arrived after it. Derived every time, never
    /// stored, so it cannot drift from the markers (docs/design.md, lessons).
    pub fn unread(&self) -> u32 {
        let counted_up_to = self.as_of_seq.max(self.mine.read_seq);
        let base = if self.mine.read_seq >= self.newest_seq() {
            0
        } else {
            self.unread_base
        };
        let later = self
            .messages
            .range(counted_up_to + 1..)
            .filter(|(_, message)| message.from == self.partner)
            .count();
        base.saturating_add(u32::try_from(later).unwrap_or(u32::MAX))
    }

    /// The highest seq known in the conversation (0 when empty).
    pub fn newest_seq(&self) -> i64 {
        let loaded = self.messages.keys().next_back().copied().unwrap_or(0);
        loaded.max(self.last.as_ref().map_or(0, |last| last.seq))
    }

    /// The oldest loaded seq, where the next older page starts.
    pub fn oldest_loaded_seq(&self) -> Option<i64> {
        self.messages.keys().next().copied()
    }

    /// The receipt of the signed-in user's message `seq`.
    pub fn receipt(&self, seq: i64) -> Receipt {
        if self.theirs.read_seq >= seq {
            Receipt::Read
        } else if self.theirs.delivered_seq >= seq {
            Receipt::Delivered
        } else {
            Receipt::Sent
        }
    }

    fn remember(&mut self, message: ChatMessage) {
        self.id = Some(message.conversation);
        if self
            .last
            .as_ref()
            .is_none_or(|last| last.seq <= message.seq)
        {
            self.last = Some(message.clone());
        }
        self.messages.insert(message.seq, message);
    }
}

/// Every conversation of the signed-in user.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    me: UserId,
    by_partner: HashMap<UserId, Conversation>,
    partner_of: HashMap<ConversationId, UserId>,
    /// Partners whose conversation changed since [`Conversations::take_touched`].
    touched: HashSet<UserId>,
}

impl Conversations {
    /// No conversations yet, for the signed-in user `me`.
    pub fn new(me: UserId) -> Self {
        Conversations {
            me,
            by_partner: HashMap::new(),
            partner_of: HashMap::new(),
            touched: HashSet::new(),
        }
    }

    /// The partners whose conversation changed since the last call (what to redraw).
    pub fn take_touched(&mut self) -> Vec<UserId> {
        self.touched.drain().collect()
    }

    /// The conversation with `partner`, if the console knows one.
    pub fn get(&self, partner: UserId) -> Option<&Conversation> {
        self.by_partner.get(&partner)
    }

    /// All conversations, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Conversation> {
        self.by_partner.values()
    }

    /// Unread messages over all conversations (the tab title; any above 0 is a red dot).
    pub fn total_unread(&self) -> u32 {
        self.iter().map(Conversation::unread).sum()
    }

    /// The conversation with `partner`, created empty (named `name`) if there is none.
    pub fn ensure(&mut self, partner: UserId, name: impl FnOnce() -> String) -> &mut Conversation {
        self.touched.insert(partner);
        self.by_partner
            .entry(partner)
            .or_insert_with(|| Conversation::new(partner, name()))
    }

    /// The chat list after a (re)connect. Markers and counts are the server's; loaded messages
    /// are kept unless some may be missing (the conversation moved on while the console was
    /// away), in which case its history is dropped to be loaded again.
    pub fn replace(&mut self, summaries: Vec<ConversationSummary>) {
        for summary in summaries {
            self.partner_of.insert(summary.id, summary.partner.id);
            let conversation = self.ensure(summary.partner.id, String::new);
            conversation.name = summary.partner.display_name;
            conversation.id = Some(summary.id);
            if conversation.newest_seq() < summary.last.seq {
                conversation.messages.clear();
                conversation.history = History::NotLoaded;
            }
            conversation.mine = summary.mine;
            conversation.theirs = summary.theirs;
            conversation.unread_base = summary.unread;
            conversation.as_of_seq = summary.last.seq;
            conversation.last = Some(summary.last);
        }
    }

    /// A message from or to the signed-in user; returns its partner. `name` names a partner
    /// the console has not seen yet.
    pub fn message(&mut self, message: ChatMessage, name: impl FnOnce(UserId) -> String) -> UserId {
        let partner = if message.from == self.me {
            message.to
        } else {
            message.from
        };
        self.partner_of.insert(message.conversation, partner);
        self.ensure(partner, || name(partner)).remember(message);
        partner
    }

    /// Applies a marker update, moving markers forward only.
    pub fn marker(&mut self, update: MarkerUpdate) {
        // The partner's own updates name them; the signed-in user's name the conversation.
        let partner = if update.user == self.me {
            self.partner_of.get(&update.conversation).copied()
        } else {
            Some(update.user)
        };
        let Some((partner, conversation)) =
            partner.and_then(|partner| Some((partner, self.by_partner.get_mut(&partner)?)))
        else {
            return;
        };
        self.touched.insert(partner);
        let marker = if update.user == self.me {
            &mut conversation.mine
        } else {
            &mut conversation.theirs
        };
        marker.read_seq = marker.read_seq.max(update.marker.read_seq);
        marker.delivered_seq = marker.delivered_seq.max(update.marker.delivered_seq);
        if update.user == self.me && update.as_of_seq >= conversation.as_of_seq {
            conversation.unread_base = update.unread;
            conversation.as_of_seq = update.as_of_seq;
        }
    }

    /// A page of history with `partner`, in ascending seq.
    pub fn history_page(
        &mut self,
        partner: UserId,
        messages: Vec<ChatMessage>,
        has_more: bool,
        name: impl FnOnce(UserId) -> String,
    ) {
        if let Some(first) = messages.first() {
            self.partner_of.insert(first.conversation, partner);
        }
        let conversation = self.ensure(partner, || name(partner));
        let page_oldest = messages.first().map(|message| message.seq);
        let oldest_before = conversation.oldest_loaded_seq();
        for message in messages {
            conversation.remember(message);
        }
        // Only a page reaching below everything loaded says whether older ones exist.
        let reaches_back = match (page_oldest, oldest_before) {
            (Some(page), Some(loaded)) => page <= loaded,
            _ => true,
        };
        let has_more = match conversation.history {
            History::Loaded { has_more: had, .. } if !reaches_back => had,
            _ => has_more && page_oldest.is_some(),
        };
        conversation.history = History::Loaded {
            has_more,
            loading_older: false,
        };
    }

    /// Remembers which partner a conversation id belongs to (from an acknowledgement).
    pub fn learn_id(&mut self, conversation: ConversationId, partner: UserId) {
        self.partner_of.insert(conversation, partner);
    }

    /// Marks the next history request of `partner`: the newest page when nothing is loaded,
    /// else the page before the oldest loaded message. `None` when there is nothing to ask
    /// (everything loaded, or a request already on its way).
    pub fn next_page(&mut self, partner: UserId) -> Option<Option<i64>> {
        let conversation = self.by_partner.get_mut(&partner)?;
        self.touched.insert(partner);
        match conversation.history {
            History::NotLoaded => {
                conversation.history = History::Loading;
                Some(None)
            }
            History::Loaded {
                has_more: true,
                loading_older: false,
            } => {
                conversation.history = History::Loaded {
                    has_more: true,
                    loading_older: true,
                };
                Some(conversation.oldest_loaded_seq())
            }
            _ => None,
        }
    }

    /// Forgets requests in flight (the socket that carried them is gone).
    pub fn requests_lost(&mut self) {
        self.touched.extend(self.by_partner.keys());
        for conversation in self.by_partner.values_mut() {
            conversation.history = match conversation.history {
                History::Loading => History::NotLoaded,
                History::Loaded { has_more, .. } => History::Loaded {
                    has_more,
                    loading_older: false,
                },
                History::NotLoaded => History::NotLoaded,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::User;

    const ME: UserId = 1;
    const ALICE: UserId = 2;

    fn message(seq: i64, from: UserId) -> ChatMessage {
        ChatMessage {
            id: 100 + seq,
            conversation: 9,
            seq,
            from,
            to: if from == ME { ALICE } else { ME },
            body: format!("message {seq}"),
            sent_at_ms: 1_700_000_000_000 + seq,
            client_msg_id: format!("id-{seq}"),
        }
    }

    fn summary(last: i64, read: i64, unread: u32) -> ConversationSummary {
        ConversationSummary {
            id: 9,
            partner: User {
                id: ALICE,
                username: "alice".into(),
                display_name: "Alice Archer".into(),
            },
            last: message(last, ALICE),
            mine: Marker {
                read_seq: read,
                delivered_seq: last,
            },
            theirs: Marker::default(),
            unread,
        }
    }

    fn marker(user: UserId, read_seq: i64, unread: u32, as_of_seq: i64) -> MarkerUpdate {
        MarkerUpdate {
            conversation: 9,
            user,
            marker: Marker {
                read_seq,
                delivered_seq: read_seq,
            },
            unread,
            as_of_seq,
        }
    }

    fn alice() -> Conversations {
        let mut all = Conversations::new(ME);
        all.replace(vec![summary(3, 1, 2)]);
        all
    }

    fn page(seqs: std::ops::RangeInclusive<i64>) -> Vec<ChatMessage> {
        seqs.map(|seq| message(seq, ALICE)).collect()
    }

    fn unread(all: &Conversations) -> u32 {
        all.get(ALICE).unwrap().unread()
    }

    #[test]
    fn unread_starts_from_the_servers_count_and_adds_live_partner_messages() {
        let mut all = alice();
        assert_eq!(unread(&all), 2);
        all.message(message(4, ALICE), |_| unreachable!());
        all.message(message(5, ME), |_| unreachable!());
        assert_eq!(unread(&all), 3, "own messages are never unread");
        assert_eq!(all.total_unread(), 3);
    }

    #[test]
    fn reading_clears_unread_and_a_stale_marker_changes_nothing() {
        let mut all = alice();
        all.message(message(4, ALICE), |_| unreachable!());
        all.marker(marker(ME, 4, 0, 4));
        assert_eq!(unread(&all), 0);
        all.marker(marker(ME, 2, 2, 3));
        assert_eq!(unread(&all), 0, "markers never move back");
        assert_eq!(all.get(ALICE).unwrap().mine.read_seq, 4);
    }

    #[test]
    fn a_history_page_does_not_count_twice() {
        let mut all = alice();
        all.history_page(ALICE, page(1..=3), false, |_| unreachable!());
        assert_eq!(unread(&all), 2);
    }

    #[test]
    fn receipts_follow_the_partners_marker() {
        let mut all = alice();
        all.message(message(4, ME), |_| unreachable!());
        let receipt = |all: &Conversations| all.get(ALICE).unwrap().receipt(4);
        assert_eq!(receipt(&all), Receipt::Sent);
        all.marker(MarkerUpdate {
            marker: Marker {
                read_seq: 0,
                delivered_seq: 4,
            },
            ..marker(ALICE, 0, 0, 4)
        });
        assert_eq!(receipt(&all), Receipt::Delivered);
        all.marker(marker(ALICE, 4, 0, 4));
        assert_eq!(receipt(&all), Receipt::Read);
    }

    #[test]
    fn a_new_partner_is_named_once_and_live_messages_merge_with_pages() {
        let mut all = Conversations::new(ME);
        let partner = all.message(message(1, ALICE), |_| "Alice Archer".into());
        assert_eq!(partner, ALICE);
        all.message(message(1, ALICE), |_| unreachable!());
        assert_eq!(all.get(ALICE).unwrap().messages.len(), 1);
        assert_eq!(all.get(ALICE).unwrap().name, "Alice Archer");
    }

    #[test]
    fn pages_go_back_until_the_start() {
        let mut all = Conversations::new(ME);
        all.ensure(ALICE, || "Alice Archer".into());
        assert_eq!(all.next_page(ALICE), Some(None));
        assert_eq!(all.next_page(ALICE), None, "one request at a time");
        all.history_page(ALICE, page(51..=100), true, |_| unreachable!());
        assert_eq!(all.next_page(ALICE), Some(Some(51)));
        // A live message meanwhile does not disturb paging.
        all.message(message(101, ALICE), |_| unreachable!());
        all.history_page(ALICE, page(1..=50), false, |_| unreachable!());
        assert_eq!(all.next_page(ALICE), None, "everything is loaded");
        assert_eq!(all.get(ALICE).unwrap().messages.len(), 101);
    }

    #[test]
    fn a_reconnect_drops_history_that_may_have_gaps() {
        let mut all = alice();
        all.history_page(ALICE, page(1..=3), false, |_| unreachable!());
        all.replace(vec![summary(3, 3, 0)]);
        assert_eq!(all.get(ALICE).unwrap().messages.len(), 3, "nothing missed");
        all.replace(vec![summary(7, 3, 4)]);
        let conversation = all.get(ALICE).unwrap();
        assert!(conversation.messages.is_empty());
        assert_eq!(conversation.history, History::NotLoaded);
        assert_eq!(conversation.unread(), 4);
    }
}
