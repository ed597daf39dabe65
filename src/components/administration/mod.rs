//! The Administration view (admins only).

use leptos::prelude::*;

/// The Administration view: accounts, directory import and sync, chat settings, audit log.
#[component]
pub fn Administration() -> impl IntoView {
    view! { <section aria-label="Administration"></section> }
}
