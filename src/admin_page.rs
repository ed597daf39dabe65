//! The Administration page (`/admin/`, its own wasm module: `src/bin/admin.rs`): checks that
//! an admin is signed in, then shows the Administration view.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::SessionInfo;

use crate::api::{self, RequestError};
use crate::components::Administration;

/// Who opened the page.
#[derive(Debug, Clone)]
enum Visitor {
    Checking,
    Admin(SessionInfo),
    /// Signed out, or not an admin: what to tell them.
    Refused(&'static str),
}

/// The Administration page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let visitor = RwSignal::new(Visitor::Checking);
    spawn_local(async move {
        visitor.set(match api::session().await {
            Ok(info) if info.role.administers() => Visitor::Admin(info),
            Ok(_) => Visitor::Refused("Only administrators may open the Administration page."),
            Err(RequestError::Unauthorized(_)) => {
                Visitor::Refused("Sign in to the console first, as an administrator.")
            }
            Err(_) => Visitor::Refused("Cannot reach the server. Check the network and reload."),
        });
    });
    move || match visitor.get() {
        Visitor::Checking => view! { <main class="checking" aria-busy="true"></main> }.into_any(),
        Visitor::Refused(why) => view! {
            <main class="admin-refused">
                <p role="alert">{why}</p>
                <a href="/">"Open the console"</a>
            </main>
        }
        .into_any(),
        Visitor::Admin(info) => view! {
            <header class="topbar">
                <nav class="toolbar" aria-label="Administration toolbar">
                    <a href="/">"Back to the console"</a>
                    <span class="toolbar-spacer"></span>
                    <span class="me">{info.user.display_name}</span>
                </nav>
            </header>
            <Administration />
        }
        .into_any(),
    }
}
