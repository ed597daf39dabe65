//! Keyboard moves shared by the console's menus: arrows, Home and End between menu items.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// The menu items directly inside `menu`, in order.
fn items(menu: &Element) -> Vec<HtmlElement> {
    let Ok(list) = menu.query_selector_all(":scope > [role^=\"menuitem\"]") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.item(index))
        .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// Moves the focus between the items of `menu` for an arrow, Home or End key (wrapping at the
/// ends, as menus do); tells whether the key was one of those.
fn move_focus(menu: &Element, key: &str) -> bool {
    let items = items(menu);
    let count = items.len();
    if count == 0 {
        return false;
    }
    let current = leptos::prelude::document()
        .active_element()
        .and_then(|active| {
            items
                .iter()
                .position(|item| AsRef::<Element>::as_ref(item) == &active)
        })
        .unwrap_or(0);
    let target = match key {
        "ArrowDown" => (current + 1) % count,
        "ArrowUp" => (current + count - 1) % count,
        "Home" => 0,
        "End" => count - 1,
        _ => return false,
    };
    let _ = items[target].focus();
    true
}

/// Focuses the first item of `menu`.
pub fn focus_first(menu: &Element) {
    if let Some(first) = items(menu).first() {
        let _ = first.focus();
    }
}

/// What a key pressed in a menu leaves for the menu itself to do.
pub enum MenuKey {
    /// Close the whole menu and give the focus back.
    Escape,
    /// Close the innermost submenu.
    Back,
    /// The focus leaves: close without taking it back.
    Tab,
    /// Handled here (moved the focus, or chose the focused item), or not a menu key.
    Done,
}

/// Handles a key in `menu`: arrows, Home and End move, Enter and Space choose the focused item,
/// ArrowRight opens its submenu. The rest is for the caller.
pub fn menu_key(menu: &Element, event: &web_sys::KeyboardEvent) -> MenuKey {
    let key = event.key();
    let action = match key.as_str() {
        _ if move_focus(menu, &key) => MenuKey::Done,
        "Escape" => MenuKey::Escape,
        "ArrowLeft" => MenuKey::Back,
        "Tab" => return MenuKey::Tab,
        "Enter" | " " | "ArrowRight" => {
            click_focused(key == "ArrowRight");
            MenuKey::Done
        }
        _ => return MenuKey::Done,
    };
    event.prevent_default();
    action
}

/// Clicks the focused menu item (Enter, Space, or ArrowRight on an item with a submenu), so
/// keyboard and pointer run the same code.
fn click_focused(only_submenus: bool) {
    if let Some(item) = leptos::prelude::document()
        .active_element()
        .and_then(|item| item.dyn_into::<HtmlElement>().ok())
        .filter(|item| !only_submenus || item.has_attribute("aria-haspopup"))
    {
        item.click();
    }
}

/// Calls `close` on any pointer press outside `root`, until the calling component goes away.
pub fn close_on_pointer_outside(
    root: leptos::prelude::NodeRef<leptos::html::Div>,
    close: impl Fn() + 'static,
) {
    use leptos::prelude::*;
    let listener = window_event_listener(leptos::ev::pointerdown, move |event| {
        let inside = root.get_untracked().is_some_and(|root| {
            event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Node>().ok())
                .is_some_and(|node| root.contains(Some(&node)))
        });
        if !inside {
            close();
        }
    });
    on_cleanup(move || listener.remove());
}
