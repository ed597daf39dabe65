//! The "Keyboard shortcuts" dialog: every shortcut with its key as the server configured it.
//! Opened with the help key (F1 by default) or "?", closed with Escape or its Close button;
//! the keyboard goes back where it was.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

use crate::keys::Shortcut;
use crate::store::Store;

#[component]
pub fn ShortcutsHelp(open: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let config = store.config();
    let close_button = NodeRef::<html::Button>::new();
    // Where the keyboard was when the dialog opened.
    let returning = StoredValue::new_local(None::<HtmlElement>);
    Effect::new(move |was_open: Option<bool>| {
        let is_open = open.get();
        if is_open && was_open != Some(true) {
            let focused = document()
                .active_element()
                .and_then(|element| element.dyn_into::<HtmlElement>().ok());
            returning.set_value(focused);
            request_animation_frame(move || {
                if let Some(button) = close_button.get_untracked() {
                    let _ = button.focus();
                }
            });
        } else if !is_open
            && was_open == Some(true)
            && let Some(element) = returning.get_value()
        {
            let _ = element.focus();
        }
        is_open
    });
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            event.prevent_default();
            open.set(false);
        }
    };
    let rows = move || {
        config.with(|config| {
            let Some(config) = config else {
                return Vec::new();
            };
            let mut rows: Vec<(&'static str, String)> = Shortcut::ALL
                .into_iter()
                .map(|shortcut| (shortcut.label(), shortcut.key(&config.keys).to_owned()))
                .collect();
            rows.insert(
                1,
                ("Chat with the person in focus", config.chat_key.clone()),
            );
            rows
        })
    };
    view! {
        <div
            class="shortcuts-help"
            role="dialog"
            aria-modal="true"
            aria-labelledby="shortcuts-help-title"
            hidden=move || !open.get()
            on:keydown=keydown
        >
            <h2 id="shortcuts-help-title">"Keyboard shortcuts"</h2>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Key"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows()
                            .into_iter()
                            .map(|(action, key)| {
                                view! {
                                    <tr>
                                        <td>{action}</td>
                                        <td>
                                            <kbd>{key}</kbd>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
            <p>
                "Function keys work while you type; the others only outside text fields. "
                "\"?\" also opens this list."
            </p>
            <button type="button" node_ref=close_button on:click=move |_| open.set(false)>
                "Close"
            </button>
        </div>
    }
}
