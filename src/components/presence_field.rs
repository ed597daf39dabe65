//! Presence field of a person: a coloured, focusable dot, or blank for entries without a user.

use leptos::prelude::*;
use switchboard_protocol::UserId;

use crate::store::Store;

/// The presence of one person wherever they are listed. It subscribes to that user's signal
/// only, so a presence delta redraws this field and nothing around it.
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
    let state = expect_context::<Store>().presence(user);
    view! {
        <span
            class="presence"
            role="button"
            tabindex="0"
            aria-label=move || format!("Presence of {name}: {}", state.get().as_str())
            data-presence=move || state.get().as_str()
            title=move || state.get().label()
        >
            <span class=move || format!("presence-dot {}", state.get().as_str())></span>
        </span>
    }
    .into_any()
}
