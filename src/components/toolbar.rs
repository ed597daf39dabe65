//! Console toolbar: chat button, today's calls (operators), settings, who is signed in, own
//! presence picker and absence, sign-out.

use leptos::prelude::*;
use switchboard_protocol::PresenceState;

use super::SettingsMenu;
use crate::store::{ConnectionState, Store};

/// The toolbar across the top of the console.
#[component]
pub fn Toolbar(
    /// Called when the user asks to sign out.
    #[prop(into)]
    on_sign_out: Callback<()>,
    /// Opens the "Today's calls" dialog (operators).
    todays_calls: RwSignal<bool>,
    /// Opens the "Absence" dialog.
    absence: RwSignal<bool>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let role = store.role();
    // The Administration page is a page of its own (/admin/, its own wasm module): the
    // console operators keep open carries none of its code.
    let administration_link = move || {
        role.get()
            .administers()
            .then(|| view! { <a href="/admin/" target="_blank">"Administration"</a> })
    };
    let todays_calls_button = move || {
        role.get().handles_calls().then(|| {
            view! {
                <button type="button" on:click=move |_| todays_calls.set(true)>
                    "Today's calls"
                </button>
            }
        })
    };
    let me = store.me();
    let my_presence = store.presence(me.with_untracked(|me| me.id));
    let config = store.config();
    let connection = store.connection();
    let any_unread = store.chat().any_unread();
    let chat_title = move || {
        config.with(|config| match config {
            Some(config) => format!("Chat ({})", config.chat_key),
            None => "Chat".to_owned(),
        })
    };
    let choose = move |event| {
        if let Some(state) = PresenceState::parse(&event_target_value(&event)) {
            store.set_my_presence(state);
        }
    };
    let options = PresenceState::SELECTABLE
        .into_iter()
        .map(|state| {
            view! {
                <option value=state.as_str() prop:selected=move || my_presence.get() == state>
                    {state.label()}
                </option>
            }
        })
        .collect_view();

    view! {
        <header class="topbar">
            <div class="toolbar" role="toolbar" aria-label="Console toolbar">
                <button
                    type="button"
                    class="chat-button"
                    title=chat_title
                    data-unread=move || any_unread.get().to_string()
                    on:click=move |_| store.chat().show_window()
                >
                    "Chat"
                </button>
                {todays_calls_button}
                <SettingsMenu />
                {administration_link}
                <span class="toolbar-spacer"></span>
                <span class="me">{move || me.with(|me| me.display_name.clone())}</span>
                // Presence is chosen through the server: without a connection there is no choice.
                <select
                    class="presence-picker"
                    aria-label="My presence"
                    disabled=move || connection.get() != ConnectionState::Connected
                    on:change=choose
                >
                    {options}
                </select>
                <button
                    type="button"
                    disabled=move || connection.get() != ConnectionState::Connected
                    on:click=move |_| absence.set(true)
                >
                    "Absence"
                </button>
                <button type="button" class="sign-out" on:click=move |_| on_sign_out.run(())>
                    "Sign out"
                </button>
            </div>
        </header>
    }
}
