//! Context menu of a listed person: "IM" -> "Send Instant Message" -> predefined messages.

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::UserId;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

use super::menu_nav::{MenuKey, close_on_pointer_outside, focus_first, menu_key};
use crate::chat::{ChatState, MenuTarget};
use crate::store::Store;

/// Id of the sentence saying why "IM" is disabled.
const REASON_ID: &str = "entry-menu-reason";

/// Right-click handler for a row showing person `name` (user `user`, if any): opens the menu
/// at the pointer. Rows of any pane (directory, queued calls, transfer assistant) attach it.
pub fn on_entry_contextmenu(
    chat: ChatState,
    user: Option<UserId>,
    name: String,
) -> impl Fn(MouseEvent) + 'static {
    move |event: MouseEvent| {
        event.prevent_default();
        chat.open_menu(MenuTarget {
            user,
            name: name.clone(),
            x: event.client_x(),
            y: event.client_y(),
        });
    }
}

/// Keydown handling for the same rows: the Menu key or Shift+F10 opens the menu under the
/// focused row. Tells whether it did (the caller then ignores the key).
pub fn entry_menu_key(
    chat: ChatState,
    user: Option<UserId>,
    name: &str,
    event: &KeyboardEvent,
) -> bool {
    let menu_key = event.key() == "ContextMenu" || (event.shift_key() && event.key() == "F10");
    if !menu_key {
        return false;
    }
    event.prevent_default();
    let rect = event
        .current_target()
        .and_then(|target| target.dyn_into::<Element>().ok())
        .map(|row| row.get_bounding_client_rect());
    let (x, y) = rect.map_or((0, 0), |rect| {
        (rect.left() as i32 + 24, rect.bottom() as i32)
    });
    chat.open_menu(MenuTarget {
        user,
        name: name.to_owned(),
        x,
        y,
    });
    true
}

/// The one context menu of the console, shown where [`ChatState::open_menu`] asked.
#[component]
pub fn EntryMenu() -> impl IntoView {
    let chat = expect_context::<Store>().chat();
    let menu = chat.menu();
    move || menu.get().map(|target| view! { <OpenMenu target /> })
}

/// The menu for one target; dropped when the menu closes.
#[component]
fn OpenMenu(target: MenuTarget) -> impl IntoView {
    let store = expect_context::<Store>();
    let chat = store.chat();
    let config = store.config();
    // 0: only the top menu; 1: "IM" opened; 2: "Send Instant Message" opened.
    let level = RwSignal::new(0_u8);
    let menus = [NodeRef::<html::Div>::new(); 3];
    let container = NodeRef::<html::Div>::new();
    let return_to = StoredValue::new_local(
        document()
            .active_element()
            .and_then(|element| element.dyn_into::<HtmlElement>().ok()),
    );
    let close = move |restore_focus: bool| {
        chat.close_menu();
        if restore_focus && let Some(element) = return_to.get_value() {
            let _ = element.focus();
        }
    };
    let MenuTarget { user, name, x, y } = target;
    let label = format!("Actions for {name}");
    let name = StoredValue::new(name);
    let unavailable = Memo::new(move |_| {
        name.with_value(|name| match user {
            None => Some(format!("No IM: {name} has no chat account.")),
            Some(user) => store.chat_unavailable(user, name),
        })
    });
    let predefined = Memo::new(move |_| {
        config
            .with(|c| c.as_ref().map(|c| c.predefined_messages.clone()))
            .unwrap_or_default()
    });

    // The deepest open menu takes the focus.
    Effect::new(move || {
        let depth = usize::from(level.get());
        if let Some(menu) = menus[depth].get() {
            focus_first(&menu);
        }
    });
    close_on_pointer_outside(container, move || close(false));

    let open_chat = move || {
        if let Some(user) = user {
            close(false);
            name.with_value(|name| store.open_chat(user, name));
        }
    };
    let choose_im = move || {
        if unavailable.get_untracked().is_none() {
            level.set(1);
        }
    };
    let choose_send = move || {
        if predefined.with_untracked(Vec::is_empty) {
            open_chat();
        } else {
            level.set(2);
        }
    };
    let keydown = move |depth: u8, event: KeyboardEvent| {
        let Some(menu) = menus[usize::from(depth)].get_untracked() else {
            return;
        };
        match menu_key(&menu, &event) {
            MenuKey::Escape => close(true),
            MenuKey::Back if depth > 0 => level.set(depth - 1),
            MenuKey::Tab => close(false),
            MenuKey::Back | MenuKey::Done => {}
        }
    };
    let predefined_items = move || {
        predefined
            .get()
            .into_iter()
            .map(|text| {
                let label = text.clone();
                let send = move |_| {
                    if let Some(user) = user {
                        close(false);
                        name.with_value(|name| store.send_predefined(user, name, &text));
                    }
                };
                view! {
                    <div role="menuitem" tabindex="-1" class="menu-item" on:click=send>
                        {label}
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div
            class="entry-menu"
            node_ref=container
            style:left=format!("{x}px")
            style:top=format!("{y}px")
        >
            <div
                class="menu"
                role="menu"
                aria-label=label
                node_ref=menus[0]
                on:keydown=move |event| keydown(0, event)
            >
                <div
                    role="menuitem"
                    tabindex="-1"
                    class="menu-item"
                    aria-haspopup="menu"
                    aria-expanded=move || (level.get() >= 1).to_string()
                    aria-disabled=move || unavailable.with(Option::is_some).to_string()
                    aria-describedby=move || unavailable.with(Option::is_some).then_some(REASON_ID)
                    on:click=move |_| choose_im()
                >
                    "IM"
                </div>
            </div>
            {move || {
                unavailable
                    .get()
                    .map(|reason| view! { <p class="menu-reason" id=REASON_ID>{reason}</p> })
            }}
            <Show when=move || { level.get() >= 1 }>
                <div
                    class="menu"
                    role="menu"
                    aria-label="IM"
                    node_ref=menus[1]
                    on:keydown=move |event| keydown(1, event)
                >
                    <div
                        role="menuitem"
                        tabindex="-1"
                        class="menu-item"
                        aria-haspopup=move || (!predefined.with(Vec::is_empty)).then_some("menu")
                        aria-expanded=move || {
                            (!predefined.with(Vec::is_empty)).then(|| (level.get() >= 2).to_string())
                        }
                        on:click=move |_| choose_send()
                    >
                        "Send Instant Message"
                    </div>
                </div>
            </Show>
            <Show when=move || { level.get() >= 2 }>
                <div
                    class="menu"
                    role="menu"
                    aria-label="Predefined messages"
                    node_ref=menus[2]
                    on:keydown=move |event| keydown(2, event)
                >
                    {predefined_items}
                </div>
            </Show>
        </div>
    }
}
