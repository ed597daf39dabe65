//! The "Conversation" log: messages by day, newest at the bottom, older pages on scrolling up
//! or with its "Load older messages" button.

use chrono::NaiveDate;
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::{ChatMessage, UserId};

use crate::chat::{Conversation, History, Outgoing, time};
use crate::store::Store;

/// Within this many pixels of the top, the next older page is asked for.
const LOAD_OLDER_PX: i32 = 80;
/// Within this many pixels of the bottom, the log follows new messages.
const STICK_PX: i32 = 40;

/// A line of the log: a day separator or a stored message.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Day(NaiveDate, String),
    Message(ChatMessage),
}

impl Line {
    /// Lines are keyed by day or seq: a new page or message adds lines and redraws none.
    fn key(&self) -> (i64, Option<NaiveDate>) {
        match self {
            Line::Day(day, _) => (0, Some(*day)),
            Line::Message(message) => (message.seq, None),
        }
    }
}

/// The loaded messages of `conversation` with a separator before each new local day.
fn lines(conversation: &Conversation, today: NaiveDate) -> Vec<Line> {
    let mut lines = Vec::with_capacity(conversation.messages.len() + 4);
    let mut current_day = None;
    for message in conversation.messages.values() {
        let day = time::local(message.sent_at_ms).map(|at| at.date());
        if let Some(day) = day.filter(|day| Some(*day) != current_day) {
            lines.push(Line::Day(day, time::day_label(day, today)));
            current_day = Some(day);
        }
        lines.push(Line::Message(message.clone()));
    }
    lines
}

/// The messages exchanged with `partner`: stored ones (with receipts on the operator's own),
/// then those still in the outbox (pending or failed, with Retry and Discard).
#[component]
pub fn ConversationLog(
    /// The conversation's partner.
    partner: UserId,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let conversations = chat.conversations();
    let outbox = chat.outbox();
    let me = chat.me();
    let my_name = store.me();
    let partner_name = StoredValue::new(store.name_of(partner));
    let log = NodeRef::<html::Div>::new();

    let all_lines = Memo::new(move |_| {
        conversations.with_one(partner, |conversation| {
            conversation
                .map(|conversation| lines(conversation, time::today()))
                .unwrap_or_default()
        })
    });
    let waiting = Memo::new(move |_| {
        outbox.with(|outbox| {
            outbox
                .entries()
                .iter()
                .filter(|entry| entry.to == partner)
                .cloned()
                .collect::<Vec<Outgoing>>()
        })
    });
    let history = Memo::new(move |_| {
        conversations.with_one(partner, |conversation| conversation.map(|c| c.history))
    });
    // Only whether older pages exist: the button below stays put (and keeps the focus) while
    // a page is on its way.
    let has_older =
        Memo::new(move |_| matches!(history.get(), Some(History::Loaded { has_more: true, .. })));
    let window_open = chat.window_open();
    let receipt = move |seq: i64| {
        conversations.with_one(partner, |conversation| {
            conversation.map(|conversation| conversation.receipt(seq))
        })
    };

    // Scrolling: follow new messages while at the bottom; keep the view still when an older
    // page is inserted above; ask for that page near the top. A log its pages do not fill
    // cannot scroll, so it would never get near the top: it asks for older pages until it
    // can scroll or the history is all in (measured only while shown: a hidden log is 0 high).
    //
    // Measured in the next animation frame, where the browser lays the page out anyway: read
    // at once, the log's height would force a layout of the new lines, done again for the
    // frame after the next change (a history page that arrives while the window is drawn).
    let stick = StoredValue::new(true);
    let height = StoredValue::new(0);
    let frame_asked = StoredValue::new(false);
    let follow = move || {
        frame_asked.try_set_value(false);
        // The conversation may have closed before the frame: nothing left to scroll then.
        let Some(Some(log)) = log.try_get_untracked() else {
            return;
        };
        let new_height = log.scroll_height();
        if stick.get_value() {
            log.set_scroll_top(new_height);
        } else {
            log.set_scroll_top(log.scroll_top() + new_height - height.get_value());
        }
        height.set_value(new_height);
        if log.client_height() > 0 && new_height <= log.client_height() {
            store.load_history(partner);
        }
    };
    Effect::new(move || {
        all_lines.track();
        waiting.track();
        window_open.track();
        if log.get().is_some() && !frame_asked.get_value() {
            frame_asked.set_value(true);
            request_animation_frame(follow);
        }
    });
    let scrolled = move |_| {
        // Lines drawn since the last frame are not measured yet: the frame will (a scroll event
        // comes before it, and would take the new lines' height for the old one).
        if frame_asked.get_value() {
            return;
        }
        let Some(log) = log.get_untracked() else {
            return;
        };
        stick.set_value(log.scroll_height() - log.scroll_top() - log.client_height() < STICK_PX);
        height.set_value(log.scroll_height());
        if log.scroll_top() < LOAD_OLDER_PX {
            store.load_history(partner);
        }
    };

    let message_line = move |message: ChatMessage| {
        let mine = message.from == me;
        let sender = if mine {
            my_name.with_untracked(|me| me.display_name.clone())
        } else {
            partner_name.get_value()
        };
        let at = time::local(message.sent_at_ms);
        let seq = message.seq;
        let emoji_only = chat.emoji_only(&message.body);
        view! {
            <article class="chat-message" class:mine=mine>
                <header class="chat-message-meta">
                    <span class="chat-sender">{sender}</span>
                    <time datetime=at.map(|at| at.format("%Y-%m-%dT%H:%M").to_string())>
                        {at.map(time::clock)}
                    </time>
                </header>
                <p class="chat-body-text" class:emoji-only=emoji_only>
                    {message.body}
                </p>
                {mine
                    .then(|| {
                        view! {
                            <span class="chat-receipt">
                                {move || receipt(seq).map(|receipt| receipt.label())}
                            </span>
                        }
                    })}
            </article>
        }
    };

    view! {
        <div
            class="chat-log"
            role="log"
            aria-label="Conversation"
            tabindex="0"
            node_ref=log
            on:scroll=scrolled
        >
            // The keyboard's (and a screen reader's) way to older messages; scrolling up
            // near the top does the same.
            <Show when=move || has_older.get()>
                <button
                    type="button"
                    class="chat-log-more"
                    on:click=move |_| store.load_history(partner)
                >
                    "Load older messages"
                </button>
            </Show>
            {move || {
                (history.get() == Some(History::Loading))
                    .then(|| view! { <p class="chat-log-more">"Loading…"</p> })
            }}
            <For
                each=move || all_lines.get()
                key=Line::key
                children=move |line| match line {
                    Line::Day(_, label) => {
                        view! { <p class="chat-day">{label}</p> }.into_any()
                    }
                    Line::Message(message) => message_line(message).into_any(),
                }
            />
            <For
                each=move || waiting.get()
                key=|entry| (entry.client_msg_id.clone(), entry.failed.is_some())
                children=move |entry| view! { <WaitingMessage entry /> }
            />
        </div>
    }
}

/// A message of the operator's still in the outbox: pending, or failed with the server's
/// reason, a retry and a way to drop it.
#[component]
fn WaitingMessage(entry: Outgoing) -> impl IntoView {
    let store = expect_context::<Store>();
    let sender = store.me().with_untracked(|me| me.display_name.clone());
    let id = StoredValue::new(entry.client_msg_id.clone());
    let emoji_only = store.chat().emoji_only(&entry.body);
    let status = match &entry.failed {
        None => view! { <span class="chat-receipt pending">"Sending…"</span> }.into_any(),
        Some(failure) => view! {
            <span class="chat-receipt failed">
                {format!("Not sent: {}", failure.message)}
                <button type="button" on:click=move |_| id.with_value(|id| store.retry_chat(id))>
                    "Retry"
                </button>
                <button type="button" on:click=move |_| id.with_value(|id| store.discard_chat(id))>
                    "Discard"
                </button>
            </span>
        }
        .into_any(),
    };
    view! {
        <article class="chat-message mine" class:failed=entry.failed.is_some()>
            <header class="chat-message-meta">
                <span class="chat-sender">{sender}</span>
            </header>
            <p class="chat-body-text" class:emoji-only=emoji_only>
                {entry.body}
            </p>
            {status}
        </article>
    }
}
