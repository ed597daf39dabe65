//! Sign-in form: username and password, the server's refusal shown as an alert.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::{LoginRequest, User};

use crate::api;

/// The sign-in screen.
#[component]
pub fn Login(
    /// Called with the signed-in user once the server accepted the credentials.
    #[prop(into)]
    on_signed_in: Callback<User>,
) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let username_field = NodeRef::<html::Input>::new();
    // An operator starts typing right away.
    Effect::new(move || {
        if let Some(field) = username_field.get() {
            let _ = field.focus();
        }
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        // Removing the alert first makes a repeated refusal announced again.
        failure.set(None);
        let credentials = LoginRequest {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::sign_in(&credentials).await {
                Ok(info) => on_signed_in.run(info.user),
                Err(error) => {
                    failure.set(Some(error.to_string()));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <main class="login">
            <form class="login-form" on:submit=submit>
                <h1>"Switchboard"</h1>
                <label for="login-username">"Username"</label>
                <input
                    id="login-username"
                    name="username"
                    autocomplete="username"
                    required
                    node_ref=username_field
                    bind:value=username
                />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    bind:value=password
                />
                {move || {
                    failure
                        .get()
                        .map(|message| view! { <p class="login-error" role="alert">{message}</p> })
                }}
                <button type="submit" disabled=pending>
                    "Sign in"
                </button>
            </form>
        </main>
    }
}
