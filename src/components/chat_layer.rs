//! Everything chat adds over the panes: window, context menu, notice, and page-wide behaviour.

use leptos::ev::{self, KeyboardEvent};
use leptos::prelude::*;

use super::{ChatWindow, EntryMenu};
use crate::store::{ConnectionState, Store};

/// Mounted once in the signed-in console. Besides its three overlays it owns the page-wide
/// chat behaviour: the Chat key, the tab title, tab visibility, the outbox other tabs share
/// and reading what is shown.
#[component]
pub fn ChatLayer() -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let connection = store.connection();

    // The Chat key opens the window from anywhere (a presence field opens its own person).
    let keys = window_event_listener(ev::keydown, move |event: KeyboardEvent| {
        if store.is_chat_key(&event.key()) && !event.default_prevented() {
            event.prevent_default();
            chat.show_window();
        }
    });
    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        chat.page_visible().set(crate::chat::page_visible());
    });
    // The user's other tabs share the outbox in local storage: follow their changes.
    let storage = window_event_listener(ev::storage, move |event| {
        chat.storage_changed(event.key(), event.new_value());
    });
    on_cleanup(move || {
        keys.remove();
        visibility.remove();
        storage.remove();
    });

    let total = chat.total_unread();
    Effect::new(move || {
        document().set_title(&match total.get() {
            0 => "Switchboard".to_owned(),
            count => format!("({count}) Switchboard"),
        });
    });
    on_cleanup(|| document().set_title("Switchboard"));

    // An open conversation in a visible window on a visible tab is read as messages arrive;
    // otherwise they stay unread. Keyed on the newest seq, so each arrival is read once.
    let window_open = chat.window_open();
    let open = chat.open_conversation();
    let page_visible = chat.page_visible();
    let conversations = chat.conversations();
    let to_read = Memo::new(move |_| {
        let shown = window_open.get()
            && page_visible.get()
            && connection.get() == ConnectionState::Connected;
        let partner = open.get().filter(|_| shown)?;
        conversations.with_one(partner, |conversation| {
            conversation
                .filter(|conversation| conversation.unread() > 0)
                .map(|conversation| (partner, conversation.newest_seq()))
        })
    });
    Effect::new(move || {
        if let Some((partner, _)) = to_read.get() {
            store.mark_read(partner);
        }
    });

    let notice = chat.notice();
    view! {
        <ChatWindow />
        <EntryMenu />
        {move || {
            notice
                .get()
                .map(|notice| {
                    view! {
                        <p
                            class="chat-notice"
                            role="alert"
                            style:left=format!("{}px", notice.x)
                            style:top=format!("{}px", notice.y)
                        >
                            {notice.text}
                        </p>
                    }
                })
        }}
    }
}
