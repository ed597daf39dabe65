//! Root component: checks the session, then shows the sign-in form or the signed-in console.

use leptos::html;
use leptos::logging::warn;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::User;

use crate::api::{self, RequestError};
use crate::components::{
    AbsenceDialog, ActiveCall, ChatLayer, ConnectionStatus, Directory, Login, MissedCalls,
    QueuedCalls, ShortcutsHelp, TodaysCalls, Toolbar, TransferAssistant,
};
use crate::keys::{self, Targets};
use crate::store::{ConnectionState, Store};
use crate::ws;

/// Where the user stands; the whole screen follows from it.
#[derive(Debug, Clone)]
enum Session {
    /// Asking the server whether the session cookie is still valid.
    Checking,
    SignedOut,
    SignedIn(User),
}

/// The console application.
#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Checking);
    spawn_local(async move {
        let checked = match api::session().await {
            Ok(info) => Session::SignedIn(info.user),
            Err(RequestError::Unauthorized(_)) => Session::SignedOut,
            Err(error) => {
                warn!("cannot check the session: {error:?}");
                Session::SignedOut
            }
        };
        session.set(checked);
    });
    move || match session.get() {
        Session::Checking => view! { <main class="checking" aria-busy="true"></main> }.into_any(),
        Session::SignedOut => view! {
            <Login on_signed_in=move |user| session.set(Session::SignedIn(user)) />
        }
        .into_any(),
        Session::SignedIn(user) => console(user, session).into_any(),
    }
}

/// The signed-in screen. Its store and connection belong to this view: leaving it (sign-out,
/// expired session) drops the store and stops the connection.
fn console(user: User, session: RwSignal<Session>) -> impl IntoView {
    let store = Store::new(user);
    provide_context(store);
    store.start_clock();
    // The emoji table is not in the wasm (it would be a tenth of it): it is fetched once the
    // console is connected, and again after each reconnection until it has arrived.
    let fetching = StoredValue::new(false);
    Effect::new(move || {
        let connected = store.connection().get() == ConnectionState::Connected;
        if !connected || store.chat().has_emojis() || fetching.get_value() {
            return;
        }
        fetching.set_value(true);
        spawn_local(async move {
            match api::emoji_table().await {
                Ok(table) => store.chat().emojis_arrived(table),
                Err(error) => warn!("no emoji table yet: {error:?}"),
            }
            fetching.set_value(false);
        });
    });
    let connection = ws::connect(store, move || session.set(Session::SignedOut));
    on_cleanup({
        let connection = connection.clone();
        move || connection.stop()
    });
    let sign_out = Callback::new(move |()| {
        // Stop first, so the socket the server is about to close is not mistaken for a loss.
        connection.stop();
        store.chat().forget_outbox();
        spawn_local(async move {
            if let Err(error) = api::sign_out().await {
                warn!("sign-out failed: {error:?}");
            }
            session.set(Session::SignedOut);
        });
    });
    // The Active call's Transfer button hands the keyboard to the transfer assistant's search.
    let transfer_search = NodeRef::<html::Input>::new();
    let start_transfer = Callback::new(move |()| {
        if let Some(search) = transfer_search.get_untracked() {
            let _ = search.focus();
        }
    });
    let directory_search = NodeRef::<html::Input>::new();
    let help_open = RwSignal::new(false);
    let todays_calls_open = RwSignal::new(false);
    let absence_open = RwSignal::new(false);
    keys::listen(
        store,
        Targets {
            transfer_search,
            directory_search,
            help_open,
        },
    );
    let connection_state = store.connection();
    let role = store.role();
    // Only operators handle calls: everyone else gets the directory (with presence) and chat.
    let call_column = move || {
        role.get().handles_calls().then(|| {
            view! {
                <div class="call-column">
                    <QueuedCalls />
                    <ActiveCall on_transfer=start_transfer />
                    <TransferAssistant search=transfer_search />
                    <MissedCalls />
                </div>
                <TodaysCalls open=todays_calls_open />
            }
        })
    };
    view! {
        <div
            class="console"
            class:stale=move || connection_state.get() != ConnectionState::Connected
            // A docked chat window is a pane: the others make room for it.
            class:chat-docked=move || {
                store.chat().window_open().get() && store.chat().placement().get().is_docked()
            }
        >
            <Toolbar on_sign_out=sign_out todays_calls=todays_calls_open absence=absence_open />
            <main class="panes" class:calls=move || role.get().handles_calls()>
                {call_column}
                <Directory search=directory_search />
            </main>
            <ConnectionStatus />
            <ChatLayer />
            <ShortcutsHelp open=help_open />
            <AbsenceDialog open=absence_open />
        </div>
    }
}
