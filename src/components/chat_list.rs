//! The chat list: conversations, most recent first, with "Mark all as read".

use leptos::prelude::*;
use switchboard_protocol::UserId;

use super::ChatListEntry;
use crate::store::Store;

/// Conversations with at least one message (sent, or waiting in the outbox), most recent
/// first; entries are keyed by partner, so a new message moves one entry.
#[component]
pub fn ChatList(
    /// Hidden while search results take its place.
    #[prop(into)]
    hidden: Signal<bool>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let conversations = chat.conversations();
    let outbox = chat.outbox();
    let any_unread = chat.any_unread();
    let order = Memo::new(move |_| {
        let mut recent: Vec<(i64, UserId, String)> = conversations.with(|all| {
            all.iter()
                .filter_map(|conversation| {
                    let last = conversation.last.as_ref().map(|last| last.sent_at_ms);
                    let written = outbox.with(|outbox| {
                        outbox
                            .entries()
                            .iter()
                            .filter(|entry| entry.to == conversation.partner)
                            .map(|entry| entry.written_at_ms)
                            .max()
                    });
                    let at = last.max(written)?;
                    Some((at, conversation.partner, conversation.name.clone()))
                })
                .collect()
        });
        recent.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        recent
            .into_iter()
            .map(|(_, partner, name)| (partner, name))
            .collect::<Vec<_>>()
    });
    view! {
        <div class="chat-list-wrap" hidden=move || hidden.get()>
            <ul class="chat-list" role="list" aria-label="Chat list">
                <For
                    each=move || order.get()
                    key=|(partner, _)| *partner
                    children=move |(partner, name)| view! { <ChatListEntry partner name /> }
                />
            </ul>
            <Show when=move || order.with(Vec::is_empty)>
                <p class="chat-list-empty">"No conversations yet. Search for someone to start one."</p>
            </Show>
            <button
                type="button"
                class="mark-all-read"
                disabled=move || !any_unread.get()
                on:click=move |_| store.mark_all_read()
            >
                "Mark all as read"
            </button>
        </div>
    }
}
