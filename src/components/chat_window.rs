//! The chat window: a non-modal dialog with the chat list on the left, the conversation right.

use leptos::ev::{KeyboardEvent, PointerEvent};
use leptos::html;
use leptos::prelude::*;
use web_sys::Element;

use super::{ChatList, ChatSearch, ConversationPane};
use crate::chat::{Placement, focus_in, keep_in_view};
use crate::store::Store;

/// The "Chat" dialog. It floats over the console without blocking it (an operator keeps
/// answering calls while chatting), moved by dragging its title bar, or docks as a pane at the
/// right that the console makes room for; either is remembered. Escape closes it.
#[component]
pub fn ChatWindow() -> impl IntoView {
    let chat = expect_context::<Store>().chat();
    let window_open = chat.window_open();
    let open = chat.open_conversation();
    let any_unread = chat.any_unread();
    let query = RwSignal::new(String::new());
    let dialog = NodeRef::<html::Div>::new();

    // Opening the window puts the keyboard where work starts: the conversation's compose box,
    // or the search when no conversation is open.
    let focus_start = move || {
        let root: Option<Element> = dialog.get_untracked().map(Into::into);
        let root = root.as_ref();
        if !(open.get_untracked().is_some() && focus_in(root, "textarea:not([disabled])")) {
            focus_in(root, "input[type=search]");
        }
    };
    // A place remembered on a larger screen may be off this one: back into view when the
    // window opens and when the browser window shrinks.
    let placement = chat.placement();
    let keep_in_view_now = move || {
        let (Placement::Moved { left, top }, Some(window), true) = (
            placement.get_untracked(),
            dialog.get_untracked(),
            window_open.get_untracked(),
        ) else {
            return;
        };
        let Some(viewport) = viewport() else {
            return;
        };
        let size = (window.offset_width(), window.offset_height());
        let (left, top) = keep_in_view(left, top, size, viewport);
        chat.place_window(Placement::Moved { left, top }, false);
    };
    Effect::new(move |was_open: Option<bool>| {
        let is_open = window_open.get();
        if is_open && was_open != Some(true) {
            request_animation_frame(move || {
                keep_in_view_now();
                focus_start();
            });
        }
        is_open
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| keep_in_view_now());
    on_cleanup(move || resize.remove());
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Escape" && !event.default_prevented() {
            event.prevent_default();
            chat.close_window();
            focus_in(None, ".toolbar .chat-button");
        }
    };
    // Dragging the title bar moves the window: where the pointer went down, and where the
    // window was then.
    let drag = StoredValue::new(None::<(i32, i32, i32, i32)>);
    let start_drag = move |event: PointerEvent| {
        let on_button = event
            .target()
            .and_then(|target| wasm_bindgen::JsCast::dyn_into::<Element>(target).ok())
            .and_then(|target| target.closest("button").ok().flatten())
            .is_some();
        let Some(window) = dialog.get_untracked() else {
            return;
        };
        if on_button || placement.get_untracked().is_docked() || event.button() != 0 {
            return;
        }
        let rect = window.get_bounding_client_rect();
        drag.set_value(Some((
            event.client_x(),
            event.client_y(),
            rect.left() as i32,
            rect.top() as i32,
        )));
        if let Some(bar) = event
            .current_target()
            .and_then(|target| wasm_bindgen::JsCast::dyn_into::<Element>(target).ok())
        {
            let _ = bar.set_pointer_capture(event.pointer_id());
        }
        event.prevent_default();
    };
    let moved_to = move |event: &PointerEvent| {
        let (x, y, left, top) = drag.get_value()?;
        let window = dialog.get_untracked()?;
        let size = (window.offset_width(), window.offset_height());
        let viewport = viewport()?;
        let (left, top) = keep_in_view(
            left + event.client_x() - x,
            top + event.client_y() - y,
            size,
            viewport,
        );
        Some(Placement::Moved { left, top })
    };
    let follow_drag = move |event: PointerEvent| {
        if let Some(placement) = moved_to(&event) {
            chat.place_window(placement, false);
        }
    };
    let end_drag = move |event: PointerEvent| {
        if let Some(placement) = moved_to(&event) {
            chat.place_window(placement, true);
        }
        drag.set_value(None);
    };
    // A drag the browser took over (a touch scroll, a lost capture) just ends where it was.
    let cancel_drag = move |_: PointerEvent| {
        if drag.get_value().is_some() {
            chat.place_window(placement.get_untracked(), true);
        }
        drag.set_value(None);
    };
    let toggle_dock = move |_| {
        let next = if placement.get_untracked().is_docked() {
            Placement::Corner
        } else {
            Placement::Docked
        };
        chat.place_window(next, true);
    };
    let position = move |side: &'static str| {
        move || match placement.get() {
            Placement::Moved { left, top } => {
                Some(format!("{}px", if side == "left" { left } else { top }))
            }
            Placement::Corner | Placement::Docked => None,
        }
    };

    let show_list = move |_| {
        query.set(String::new());
        let root: Option<Element> = dialog.get_untracked().map(Into::into);
        if !focus_in(root.as_ref(), ".chat-entry-open") {
            focus_in(root.as_ref(), "input[type=search]");
        }
    };

    view! {
        <div
            class="chat-window"
            class:docked=move || placement.get().is_docked()
            class:moved=move || matches!(placement.get(), Placement::Moved { .. })
            style:left=position("left")
            style:top=position("top")
            role="dialog"
            aria-label="Chat"
            aria-modal="false"
            hidden=move || !window_open.get()
            node_ref=dialog
            on:keydown=keydown
        >
            <header
                class="chat-titlebar"
                on:pointerdown=start_drag
                on:pointermove=follow_drag
                on:pointerup=end_drag
                on:pointercancel=cancel_drag
                on:lostpointercapture=cancel_drag
            >
                <button
                    type="button"
                    class="chat-button"
                    title="Show the chat list"
                    data-unread=move || any_unread.get().to_string()
                    on:click=show_list
                >
                    "Chat"
                </button>
                <span class="chat-titlebar-spacer"></span>
                <button
                    type="button"
                    aria-pressed=move || placement.get().is_docked().to_string()
                    title="Dock the chat as a pane at the right, beside the directory and the calls"
                    on:click=toggle_dock
                >
                    "Dock"
                </button>
                <button
                    type="button"
                    class="chat-close"
                    title="Close (Escape)"
                    on:click=move |_| chat.close_window()
                >
                    "Close"
                </button>
            </header>
            <div class="chat-body">
                <div class="chat-side">
                    <ChatSearch query />
                    <ChatList hidden=Signal::derive(move || !query.with(|q| q.trim().is_empty())) />
                </div>
                <ConversationPane />
            </div>
        </div>
    }
}

/// The browser window's inner size in CSS pixels.
fn viewport() -> Option<(i32, i32)> {
    let window = leptos::prelude::window();
    Some((
        window.inner_width().ok()?.as_f64()? as i32,
        window.inner_height().ok()?.as_f64()? as i32,
    ))
}
