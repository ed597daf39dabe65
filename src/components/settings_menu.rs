//! Toolbar "Settings" menu: desktop notifications and sound for messages while the tab is hidden.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;

use super::menu_nav::{MenuKey, close_on_pointer_outside, focus_first, menu_key};
use crate::store::Store;

/// A menu button with two checkable options, remembered in the browser. Notification
/// permission is asked when the operator turns notifications on, never before.
#[component]
pub fn SettingsMenu() -> impl IntoView {
    let attention = expect_context::<Store>().chat().attention();
    let notifications = attention.notifications();
    let sound = attention.sound();
    let open = RwSignal::new(false);
    let button = NodeRef::<html::Button>::new();
    let menu = NodeRef::<html::Div>::new();
    let wrapper = NodeRef::<html::Div>::new();

    let close = move |restore_focus: bool| {
        open.set(false);
        if restore_focus && let Some(button) = button.get_untracked() {
            let _ = button.focus();
        }
    };
    Effect::new(move || {
        if let Some(menu) = menu.get().filter(|_| open.get()) {
            focus_first(&menu);
        }
    });
    close_on_pointer_outside(wrapper, move || open.set(false));

    let keydown = move |event: KeyboardEvent| {
        let Some(menu) = menu.get_untracked() else {
            return;
        };
        match menu_key(&menu, &event) {
            MenuKey::Escape => close(true),
            MenuKey::Tab => close(false),
            MenuKey::Back | MenuKey::Done => {}
        }
    };
    type Setter = fn(&crate::chat::Attention, bool);
    let options: [(&str, ReadSignal<bool>, Setter); 2] = [
        ("Desktop notifications", notifications, |a, on| {
            a.set_notifications(on)
        }),
        ("Sound", sound, |a, on| a.set_sound(on)),
    ];
    // Built each time the menu opens.
    let options = move || {
        options
            .map(|(label, on, set)| {
                view! {
                    <div
                        role="menuitemcheckbox"
                        tabindex="-1"
                        class="menu-item"
                        aria-checked=move || on.get().to_string()
                        on:click=move |_| set(&attention, !on.get_untracked())
                    >
                        {label}
                    </div>
                }
            })
            .collect_view()
    };

    view! {
        <div class="settings" node_ref=wrapper>
            <button
                type="button"
                class="settings-button"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                node_ref=button
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "Settings"
            </button>
            <Show when=move || open.get()>
                <div
                    class="menu settings-menu"
                    role="menu"
                    aria-label="Settings"
                    aria-describedby="settings-note"
                    node_ref=menu
                    on:keydown=keydown
                >
                    {options}
                </div>
                <p class="menu-reason settings-note" id="settings-note">
                    "For new messages while the console's tab is hidden."
                </p>
            </Show>
        </div>
    }
}
