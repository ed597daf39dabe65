//! Chat in the console: conversations, outbox, typing and the chat window's state.
//!
//! [`ChatState`] holds the signals; the store feeds them ([`crate::store::Store::apply`] routes
//! chat frames to `frames.rs`) and components send intents through the store's chat methods.

mod attention;
mod browser;
mod conversations;
pub mod draft;
pub mod emoji;
mod frames;
mod live;
mod outbox;
mod placement;
pub mod time;

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::{User, UserId};

pub use attention::Attention;
pub use browser::{focus_in, page_visible, play_sound};
pub use conversations::{Conversation, Conversations, History, Receipt};
pub use live::LiveConversations;
pub use outbox::{Failure, Outbox, Outgoing};
use placement::PLACEMENT_KEY;
pub use placement::{Placement, keep_in_view};

/// How long "typing…" stays after the partner's last notice.
const TYPING_SHOWN_MS: u64 = 5_000;

/// Who a context menu is about, and where it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuTarget {
    /// The entry's user; `None` for an entry without one (no IM at all).
    pub user: Option<UserId>,
    /// The entry's display name.
    pub name: String,
    /// Viewport position of the menu's top left corner, in CSS pixels.
    pub x: i32,
    pub y: i32,
}

/// A short notice shown next to what the operator acted on (e.g. chat unavailable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub x: i32,
    pub y: i32,
    /// Tells apart two notices with the same text, so the newer one's timer owns it.
    pub serial: u64,
}

/// Chat state of the signed-in view, one field of the store. Every field is a signal handle,
/// so it is `Copy` like the store.
#[derive(Clone, Copy)]
pub struct ChatState {
    me: UserId,
    conversations: LiveConversations,
    outbox: RwSignal<Outbox>,
    /// Whether the last write of the outbox to local storage worked: after one that did not
    /// (storage full), the stored copy is behind this tab's and must not replace it.
    outbox_saved: StoredValue<bool>,
    /// Per partner, the serial of their last typing notice while it is shown.
    typing: RwSignal<HashMap<UserId, u64>>,
    serial: StoredValue<u64>,
    /// When a typing notice was last sent, and to whom (sent at most every few seconds).
    last_typing: StoredValue<(UserId, i64)>,
    /// The conversation shown in the chat window.
    open: RwSignal<Option<UserId>>,
    window_open: RwSignal<bool>,
    /// Where the chat window sits (floating or docked), kept in this browser.
    placement: RwSignal<Placement>,
    page_visible: RwSignal<bool>,
    /// The latest answer to a user search: the query it answers and the users found.
    results: RwSignal<Option<(String, Vec<User>)>>,
    menu: RwSignal<Option<MenuTarget>>,
    notice: RwSignal<Option<Notice>>,
    /// Bumped when the compose box should take the focus (a conversation was opened for it).
    focus_compose: RwSignal<u64>,
    attention: Attention,
    /// The emoji picker's "Recently used" row, latest first; kept in local storage per user.
    recent_emojis: RwSignal<Vec<&'static emoji::Emoji>>,
    /// Whether the emoji table has arrived from the server.
    emojis_ready: RwSignal<bool>,
    call_context: Signal<Option<(String, String)>>,
    total_unread: Memo<u32>,
}

impl ChatState {
    /// Chat state of user `me`, with the outbox they left in this browser. `call_context` is
    /// the source party (name, number) of the operator's current call, if any.
    pub fn new(me: UserId, call_context: Signal<Option<(String, String)>>) -> Self {
        // One browser holds one signed-in user (one session cookie): an outbox of anyone else
        // was left by a session that ended without a sign-out (expired, ended by an admin), and
        // must not stay on a shared PC for whoever signs in next.
        for key in browser::keys_starting_with(OUTBOX_KEY_PREFIX) {
            if key != outbox_key(me) {
                browser::remove(&key);
            }
        }
        let outbox = browser::load(&outbox_key(me))
            .map(|text| Outbox::from_json(&text))
            .unwrap_or_default();
        let mut known = Conversations::new(me);
        list_recipients(&mut known, &outbox);
        let conversations = LiveConversations::new(known);
        ChatState {
            me,
            conversations,
            outbox: RwSignal::new(outbox),
            outbox_saved: StoredValue::new(true),
            typing: RwSignal::new(HashMap::new()),
            serial: StoredValue::new(0),
            last_typing: StoredValue::new((0, 0)),
            open: RwSignal::new(None),
            window_open: RwSignal::new(false),
            placement: RwSignal::new(
                browser::load(PLACEMENT_KEY)
                    .map_or_else(Placement::default, |text| Placement::from_json(&text)),
            ),
            page_visible: RwSignal::new(browser::page_visible()),
            results: RwSignal::new(None),
            menu: RwSignal::new(None),
            notice: RwSignal::new(None),
            focus_compose: RwSignal::new(0),
            attention: Attention::load(),
            recent_emojis: RwSignal::new(Vec::new()),
            emojis_ready: RwSignal::new(false),
            call_context,
            total_unread: Memo::new(move |_| conversations.with(Conversations::total_unread)),
        }
    }

    /// The signed-in user's id.
    pub fn me(&self) -> UserId {
        self.me
    }

    /// Every conversation the console knows.
    pub fn conversations(&self) -> LiveConversations {
        self.conversations
    }

    /// Messages not yet acknowledged, in order.
    pub fn outbox(&self) -> ReadSignal<Outbox> {
        self.outbox.read_only()
    }

    /// Unread messages of the conversation with `partner`, derived from messages and markers.
    pub fn unread(&self, partner: UserId) -> Memo<u32> {
        let conversations = self.conversations;
        Memo::new(move |_| conversations.with_one(partner, |c| c.map_or(0, Conversation::unread)))
    }

    /// Unread messages over all conversations (the tab title).
    pub fn total_unread(&self) -> Memo<u32> {
        self.total_unread
    }

    /// Whether any conversation is unread: the red dot on both "Chat" buttons.
    pub fn any_unread(&self) -> Signal<bool> {
        let total = self.total_unread;
        Signal::derive(move || total.get() > 0)
    }

    /// Whether `partner` is typing to the signed-in user right now.
    pub fn is_typing(&self, partner: UserId) -> Signal<bool> {
        let typing = self.typing;
        Signal::derive(move || typing.with(|typing| typing.contains_key(&partner)))
    }

    /// The conversation shown in the chat window.
    pub fn open_conversation(&self) -> ReadSignal<Option<UserId>> {
        self.open.read_only()
    }

    /// Whether the chat window is open.
    pub fn window_open(&self) -> ReadSignal<bool> {
        self.window_open.read_only()
    }

    /// Whether the console's tab is visible; kept by the chat layer's listener.
    pub fn page_visible(&self) -> RwSignal<bool> {
        self.page_visible
    }

    /// The latest user search answer: (query, users).
    pub fn search_results(&self) -> ReadSignal<Option<(String, Vec<User>)>> {
        self.results.read_only()
    }

    /// The open context menu, if any.
    pub fn menu(&self) -> ReadSignal<Option<MenuTarget>> {
        self.menu.read_only()
    }

    /// Opens the context menu of a directory entry (or any listed person).
    pub fn open_menu(&self, target: MenuTarget) {
        self.menu.set(Some(target));
    }

    /// Closes the context menu.
    pub fn close_menu(&self) {
        self.menu.set(None);
    }

    /// The notice shown, if any.
    pub fn notice(&self) -> ReadSignal<Option<Notice>> {
        self.notice.read_only()
    }

    /// Shows `text` at (`x`, `y`) for a few seconds.
    pub fn show_notice(&self, text: String, x: i32, y: i32) {
        let serial = self.next_serial();
        self.notice.set(Some(Notice { text, x, y, serial }));
        let notice = self.notice;
        set_timeout(
            move || {
                notice.update(|shown| {
                    if shown.as_ref().is_some_and(|shown| shown.serial == serial) {
                        *shown = None;
                    }
                });
            },
            std::time::Duration::from_secs(5),
        );
    }

    /// Changes whenever the compose box should take the focus.
    pub fn focus_compose(&self) -> ReadSignal<u64> {
        self.focus_compose.read_only()
    }

    /// Desktop notification and sound settings.
    pub fn attention(&self) -> Attention {
        self.attention
    }

    /// The emojis the user chose lately, latest first.
    pub fn recent_emojis(&self) -> ReadSignal<Vec<&'static emoji::Emoji>> {
        self.recent_emojis.read_only()
    }

    /// The emoji table arrived: emojis can be picked, the recently used row is read back from
    /// local storage, and emoji-only messages show larger.
    pub fn emojis_arrived(&self, table: String) {
        emoji::load(table);
        self.recent_emojis.set(
            browser::load(&recent_emojis_key(self.me))
                .map(|text| emoji::recent_from_json(&text))
                .unwrap_or_default(),
        );
        self.emojis_ready.set(true);
    }

    /// Whether the emoji table has arrived (not tracked).
    pub fn has_emojis(&self) -> bool {
        self.emojis_ready.get_untracked()
    }

    /// Whether `body` shows larger, as one to three emojis alone (known once the emoji table
    /// has arrived).
    pub fn emoji_only(&self, body: &str) -> Signal<bool> {
        let ready = self.emojis_ready;
        let body = body.to_owned();
        Signal::derive(move || ready.get() && emoji::is_emoji_only(&body))
    }

    /// Puts `chosen` first in the recently used row, here and in local storage.
    pub fn used_emoji(&self, chosen: &'static emoji::Emoji) {
        self.recent_emojis
            .update(|recent| *recent = emoji::remember(recent, chosen));
        let text = self
            .recent_emojis
            .with_untracked(|recent| emoji::recent_to_json(recent));
        browser::save(&recent_emojis_key(self.me), &text);
    }

    /// The source party (name, number) of the operator's current call, if any.
    pub fn call_context(&self) -> Signal<Option<(String, String)>> {
        self.call_context
    }

    /// Opens the chat window as it was (toolbar button, Chat key).
    pub fn show_window(&self) {
        self.window_open.set(true);
    }

    /// Closes the chat window; arriving messages stay unread until it opens again.
    pub fn close_window(&self) {
        self.window_open.set(false);
    }

    /// A message of the signed-in user to `to` is stored, so `to`'s console has it and has
    /// stopped showing "typing…": the next keystroke to them says so again, whatever the
    /// throttle (a notice sent before the message was stored could overtake it).
    fn message_stored(&self, to: UserId) {
        if self.last_typing.get_value().0 == to {
            self.last_typing.set_value((0, 0));
        }
    }

    /// Where the chat window sits.
    pub fn placement(&self) -> ReadSignal<Placement> {
        self.placement.read_only()
    }

    /// Puts the chat window there; `remember` stores it for the next visit (a drag stores
    /// where it ends, not every step).
    pub fn place_window(&self, placement: Placement, remember: bool) {
        self.placement.set(placement);
        if remember {
            browser::save(PLACEMENT_KEY, &placement.to_json());
        }
    }

    fn next_serial(&self) -> u64 {
        self.serial.update_value(|serial| *serial += 1);
        self.serial.get_value()
    }

    /// `partner` is typing: show it until a few seconds after their last notice.
    fn typing_from(&self, partner: UserId) {
        let serial = self.next_serial();
        self.typing.update(|typing| {
            typing.insert(partner, serial);
        });
        let typing = self.typing;
        set_timeout(
            move || {
                typing.update(|typing| {
                    if typing.get(&partner) == Some(&serial) {
                        typing.remove(&partner);
                    }
                });
            },
            std::time::Duration::from_millis(TYPING_SHOWN_MS),
        );
    }

    /// Changes the outbox and keeps its copy in local storage in step, so a reload or a
    /// crash loses nothing unacknowledged. That copy is shared with the user's other tabs, so
    /// the change is made to it as stored now ([`Outbox::change_shared`]), and this tab then
    /// shows the result: no tab drops another's pending messages.
    fn update_outbox<T>(&self, change: impl FnOnce(&mut Outbox) -> T) -> Option<T> {
        let key = outbox_key(self.me);
        let stored = self
            .outbox_saved
            .get_value()
            .then(|| browser::load(&key))
            .flatten();
        let (latest, result) = self
            .outbox
            .try_with_untracked(|own| Outbox::change_shared(stored.as_deref(), own, change))?;
        self.outbox_saved
            .set_value(browser::save(&key, &latest.to_json()));
        self.show_outbox(latest);
        Some(result)
    }

    /// The user signs out: their unsent messages leave this browser with them, so a shared PC
    /// never shows the next person someone else's outbox (the user's other tabs, signed out
    /// too, hear of it by a `storage` event).
    pub fn forget_outbox(&self) {
        browser::remove(&outbox_key(self.me));
    }

    /// Another tab changed local storage (a `storage` event, with the key and new text): if it
    /// was this user's outbox, show it here too. Its pending messages are then resent by this
    /// tab as well after a reconnect (the server stores each once), so a message written in a
    /// tab closed while offline still goes out.
    pub fn storage_changed(&self, key: Option<String>, text: Option<String>) {
        if key.is_some_and(|key| key == outbox_key(self.me)) {
            let outbox = text
                .map(|text| Outbox::from_json(&text))
                .unwrap_or_default();
            self.show_outbox(outbox);
        }
    }

    fn show_outbox(&self, outbox: Outbox) {
        self.conversations
            .update(|known| list_recipients(known, &outbox));
        self.outbox.set(outbox);
    }
}

/// Lists the conversation of every waiting message, so that it shows (with its message) before
/// the server's chat list has arrived.
fn list_recipients(known: &mut Conversations, outbox: &Outbox) {
    for entry in outbox.entries() {
        if known.get(entry.to).is_none() {
            known.ensure(entry.to, || entry.to_name.clone());
        }
    }
}

/// Local storage key of user `me`'s recently used emojis.
fn recent_emojis_key(me: UserId) -> String {
    format!("switchboard.emoji.recent.{me}")
}

/// Local storage keys of outboxes start with this, then the user id.
const OUTBOX_KEY_PREFIX: &str = "switchboard.outbox.";

/// Local storage key of user `me`'s outbox (several users may share a browser).
fn outbox_key(me: UserId) -> String {
    format!("{OUTBOX_KEY_PREFIX}{me}")
}
