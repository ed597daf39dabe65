//! Right side of the chat window: the open conversation's header, log and compose box.

use leptos::prelude::*;
use switchboard_protocol::UserId;

use super::{ComposeBox, ConversationLog, PresenceField};
use crate::store::Store;

/// The open conversation, rebuilt when another one opens (so its draft starts afresh).
#[component]
pub fn ConversationPane() -> impl IntoView {
    let store = expect_context::<Store>();
    let open = store.chat().open_conversation();
    view! {
        <section class="chat-conversation">
            {move || match open.get() {
                Some(partner) => view! { <OpenConversation partner /> }.into_any(),
                None => {
                    view! {
                        <p class="chat-placeholder">
                            "Choose a conversation in the chat list, or search for someone."
                        </p>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// Header, log and compose box of the conversation with `partner`.
#[component]
fn OpenConversation(partner: UserId) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let name = store.name_of(partner);
    let typing = chat.is_typing(partner);
    view! {
        <header class="chat-conversation-header">
            <PresenceField name=name.clone() user=Some(partner) />
            <h2 class="chat-partner">{name.clone()}</h2>
            // Announced politely; not a status role, which belongs to the connection line.
            <span class="chat-typing" aria-live="polite">
                {move || typing.get().then(|| format!("{name} is typing…"))}
            </span>
        </header>
        <ConversationLog partner />
        <ComposeBox partner />
    }
}
