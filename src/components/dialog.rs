//! A dialog over the console ("Keyboard shortcuts", "Today's calls"): shown while `open`,
//! closed with Escape or its Close button. The keyboard moves to the Close button when it
//! opens and goes back where it was when it closes.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

#[component]
pub fn Dialog(
    /// Whether the dialog shows; Escape and Close set it to `false`.
    open: RwSignal<bool>,
    /// The dialog's heading and accessible name.
    title: &'static str,
    /// The id of its heading (unique on the page).
    title_id: &'static str,
    /// `"wide"` for a table.
    #[prop(optional)]
    class: &'static str,
    children: Children,
) -> impl IntoView {
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
    view! {
        <div
            class=format!("dialog {class}")
            role="dialog"
            aria-modal="true"
            aria-labelledby=title_id
            hidden=move || !open.get()
            on:keydown=keydown
        >
            <h2 id=title_id>{title}</h2>
            {children()}
            <button type="button" node_ref=close_button on:click=move |_| open.set(false)>
                "Close"
            </button>
        </div>
    }
}
