//! One entry of the chat list: partner, presence, last message, time, unread count.

use leptos::prelude::*;
use switchboard_protocol::UserId;

use super::PresenceField;
use crate::chat::time;
use crate::store::Store;

/// The conversation with `partner`; clicking it opens it. Its text starts with the partner's
/// name (the presence dot is drawn first but holds no text).
#[component]
pub fn ChatListEntry(
    /// The partner; entries are keyed by it.
    partner: UserId,
    /// The partner's display name.
    name: String,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let conversations = chat.conversations();
    let outbox = chat.outbox();
    let open = chat.open_conversation();
    let unread = chat.unread(partner);
    let me = chat.me();
    // The newest of the last stored message and the last one waiting in the outbox.
    let last = Memo::new(move |_| {
        let stored = conversations.with_one(partner, |conversation| {
            conversation
                .and_then(|conversation| conversation.last.as_ref())
                .map(|last| (last.sent_at_ms, last.from == me, last.body.clone()))
        });
        let waiting = outbox.with(|outbox| {
            outbox
                .entries()
                .iter()
                .rev()
                .find(|entry| entry.to == partner)
                .map(|entry| (entry.written_at_ms, true, entry.body.clone()))
        });
        stored.max(waiting)
    });
    let preview = move || {
        last.with(|last| {
            last.as_ref().map(|(_, mine, body)| {
                let first_line = body.lines().next().unwrap_or_default();
                if *mine {
                    format!("You: {first_line}")
                } else {
                    first_line.to_owned()
                }
            })
        })
    };
    let when = move || {
        last.with(|last| {
            last.as_ref()
                .and_then(|(at, _, _)| time::local(*at))
                .map(|at| time::list_time(at, time::today()))
        })
    };
    let open_it = {
        let name = name.clone();
        move |_| store.open_chat(partner, &name)
    };
    view! {
        <li
            class="chat-entry"
            role="listitem"
            class:open=move || open.get() == Some(partner)
            data-unread=move || (unread.get() > 0).to_string()
        >
            <button
                type="button"
                class="chat-entry-open"
                aria-current=move || (open.get() == Some(partner)).then_some("true")
                on:click=open_it
            >
                <span class="chat-entry-name">{name.clone()}</span>
                <span class="chat-entry-time">{when}</span>
                <span class="chat-entry-preview">{preview}</span>
                <Show when=move || { unread.get() > 0 }>
                    <span class="chat-entry-unread">
                        {move || unread.get()}
                        <span class="visually-hidden">" unread"</span>
                    </span>
                </Show>
            </button>
            <PresenceField name user=Some(partner) />
        </li>
    }
}
