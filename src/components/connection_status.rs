//! Status line at the bottom: whether what the console shows is live.

use leptos::prelude::*;

use crate::store::{ConnectionState, Store};

/// The connection state, in words (docs/design.md, UI contract) and colour.
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let connection = expect_context::<Store>().connection();
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
        </footer>
    }
}
