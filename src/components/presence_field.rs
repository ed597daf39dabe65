//! Presence field of a person: a coloured, focusable dot, or blank for entries without a user.

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::prelude::*;
use switchboard_protocol::UserId;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event};

use crate::store::Store;

/// The presence of one person wherever they are listed. It subscribes to that user's signal
/// only, so a presence delta redraws this field and nothing around it. Double-click, Enter or
/// the Chat key on it opens the chat window on that person's conversation, or says why chat
/// is unavailable.
#[component]
pub fn PresenceField(
    /// Display name of the person, for the accessible name.
    #[prop(into)]
    name: String,
    /// The user behind the entry; `None` gives a blank field (no IM option at all).
    user: Option<UserId>,
) -> impl IntoView {
    let Some(user) = user else {
        return view! { <span class="presence blank"></span> }.into_any();
    };
    let store = expect_context::<Store>();
    // Away while an absence runs (src/store/presence.rs).
    let state = store.shown_presence(user);
    let name = StoredValue::new(name);
    let label =
        move || name.with_value(|name| format!("Presence of {name}: {}", state.get().as_str()));
    let chat = move |event: &Event| {
        name.with_value(|name| match store.chat_unavailable(user, name) {
            Some(reason) => {
                let rect = event
                    .current_target()
                    .and_then(|field| field.dyn_into::<Element>().ok())
                    .map(|field| field.get_bounding_client_rect());
                let (x, y) =
                    rect.map_or((0, 0), |rect| (rect.right() as i32 + 6, rect.top() as i32));
                store.chat().show_notice(reason, x, y);
            }
            None => store.open_chat(user, name),
        });
    };
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" || store.is_chat_key(&event.key()) {
            event.prevent_default();
            event.stop_propagation();
            chat(&event);
        }
    };
    view! {
        <span
            class="presence"
            role="button"
            tabindex="0"
            aria-label=label
            on:dblclick=move |event: MouseEvent| chat(&event)
            on:keydown=keydown
            data-presence=move || state.get().as_str()
            title=move || state.get().label()
        >
            <span class=move || format!("presence-dot {}", state.get().as_str())></span>
        </span>
    }
    .into_any()
}
