//! Status line at the bottom: whether what the console shows is live, and why federated
//! contacts show offline when the server's link to the XMPP server is down.

use leptos::prelude::*;

use crate::store::{ConnectionState, Store};

/// The connection state, in words (docs/design.md, UI contract) and colour.
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let store = expect_context::<Store>();
    let connection = store.connection();
    let federation_down = store.federation_down();
    view! {
        <footer class="statusbar">
            <p
                class="connection"
                role="status"
                class:connected=move || connection.get() == ConnectionState::Connected
                class:reconnecting=move || connection.get() == ConnectionState::Reconnecting
            >
                <span class="connection-dot" aria-hidden="true"></span>
                {move || connection.get().label()}
            </p>
            {move || {
                federation_down
                    .get()
                    .map(|why| {
                        view! {
                            <p class="federation" role="alert">
                                {format!("XMPP contacts unavailable: {why}")}
                            </p>
                        }
                    })
            }}
        </footer>
    }
}
