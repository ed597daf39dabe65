//! Presence field of a person: a coloured, focusable dot, or blank for entries without a user.

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::prelude::*;
use switchboard_protocol::{PresenceState, UserId};
use wasm_bindgen::JsCast;
use web_sys::{Element, Event};

use crate::store::Store;

/// The presence of one person wherever they are listed. It subscribes to that user's signal
/// only, so a presence delta redraws this field and nothing around it; a directory row hands
/// it another person as the list scrolls, and the field follows without being rebuilt.
/// Double-click, Enter or the Chat key on it opens the chat window on that person's
/// conversation, or says why chat is unavailable.
#[component]
pub fn PresenceField(
    /// Display name of the person, for the accessible name.
    #[prop(into)]
    name: Signal<String>,
    /// The user behind the entry; `None` gives a blank field (no IM option at all).
    #[prop(into)]
    user: Signal<Option<UserId>>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    // Away while an absence runs (src/store/presence.rs).
    let state = store.shown_presence(user);
    let label = move || {
        let state = state.get()?;
        name.with(|name| Some(format!("Presence of {name}: {}", state.as_str())))
    };
    let chat = move |event: &Event| {
        let Some(user) = user.get_untracked() else {
            return;
        };
        name.with_untracked(|name| match store.chat_unavailable(user, name) {
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
        if user.with_untracked(Option::is_some)
            && (event.key() == "Enter" || store.is_chat_key(&event.key()))
        {
            event.prevent_default();
            event.stop_propagation();
            chat(&event);
        }
    };
    // A blank field is neither a button nor in the tab order.
    let person = move || state.with(Option::is_some);
    view! {
        <span
            class=move || if person() { "presence" } else { "presence blank" }
            role=move || person().then_some("button")
            tabindex=move || person().then_some("0")
            aria-label=label
            on:dblclick=move |event: MouseEvent| chat(&event)
            on:keydown=keydown
            data-presence=move || state.get().map(PresenceState::as_str)
            title=move || state.get().map(PresenceState::label)
        >
            <span class=move || {
                state.get().map(|state| format!("presence-dot {}", state.as_str()))
            }></span>
        </span>
    }
}
