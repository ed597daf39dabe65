//! The chat window: a non-modal dialog with the chat list on the left, the conversation right.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use web_sys::Element;

use super::{ChatList, ChatSearch, ConversationPane};
use crate::chat::focus_in;
use crate::store::Store;

/// The "Chat" dialog. It floats over the console without blocking it (an operator keeps
/// answering calls while chatting); Escape closes it.
#[component]
pub fn ChatWindow() -> impl IntoView {
    let chat = expect_context::<Store>().chat();
    let window_open = chat.window_open();
    let open = chat.open_conversation();
    let any_unread = chat.any_unread();
    let query = RwSignal::new(String::new());
    let dialog = NodeRef::<html::Div>::new();

    // Opening the window puts the keyboard where work starts: the conversation's compose box,
    // or the search when no conversation is open.
    let focus_start = move || {
        let root: Option<Element> = dialog.get_untracked().map(Into::into);
        let root = root.as_ref();
        if !(open.get_untracked().is_some() && focus_in(root, "textarea:not([disabled])")) {
            focus_in(root, "input[type=search]");
        }
    };
    Effect::new(move |was_open: Option<bool>| {
        let is_open = window_open.get();
        if is_open && was_open != Some(true) {
            request_animation_frame(focus_start);
        }
        is_open
    });
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Escape" && !event.default_prevented() {
            event.prevent_default();
            chat.close_window();
            focus_in(None, ".toolbar .chat-button");
        }
    };
    let show_list = move |_| {
        query.set(String::new());
        let root: Option<Element> = dialog.get_untracked().map(Into::into);
        if !focus_in(root.as_ref(), ".chat-entry-open") {
            focus_in(root.as_ref(), "input[type=search]");
        }
    };

    view! {
        <div
            class="chat-window"
            role="dialog"
            aria-label="Chat"
            aria-modal="false"
            hidden=move || !window_open.get()
            node_ref=dialog
            on:keydown=keydown
        >
            <header class="chat-titlebar">
                <button
                    type="button"
                    class="chat-button"
                    title="Show the chat list"
                    data-unread=move || any_unread.get().to_string()
                    on:click=show_list
                >
                    "Chat"
                </button>
                <span class="chat-titlebar-spacer"></span>
                <button
                    type="button"
                    class="chat-close"
                    title="Close (Escape)"
                    on:click=move |_| chat.close_window()
                >
                    "Close"
                </button>
            </header>
            <div class="chat-body">
                <div class="chat-side">
                    <ChatSearch query />
                    <ChatList hidden=Signal::derive(move || !query.with(|q| q.trim().is_empty())) />
                </div>
                <ConversationPane />
            </div>
        </div>
    }
}
