//! A call control button, off when its move is illegal and while the console is not connected.

use leptos::ev::MouseEvent;
use leptos::html;
use leptos::prelude::*;

use crate::store::{ConnectionState, Store};

/// What a call control says while the console is not connected.
const OFFLINE_REASON: &str =
    "Not connected to the server: calls can be handled again once the console has reconnected.";

/// A button of the call panes (Answer, Hold, Retrieve, Transfer, Release, a transfer target,
/// Complete or Cancel transfer). Disabled when the call's state makes its move illegal. While
/// the console is not connected what the panes show may be stale, so it is off as well, but
/// with `aria-disabled` rather than `disabled`: it keeps the focus (a dropped link must not
/// throw the keyboard out of the pane), its title says why, and a press does nothing.
#[component]
pub fn CallButton(
    /// Whether the call's state allows the move; `true` when any state does.
    #[prop(into, default = true.into())]
    legal: Signal<bool>,
    /// What a press does while connected.
    on_press: impl Fn(MouseEvent) + 'static,
    /// Extra classes (`primary`, `danger`, ...).
    #[prop(optional)]
    class: &'static str,
    /// The button element, for a pane that moves the focus to it.
    #[prop(optional)]
    node_ref: NodeRef<html::Button>,
    children: Children,
) -> impl IntoView {
    let connection = expect_context::<Store>().connection();
    let offline = move || connection.get() != ConnectionState::Connected;
    let on_click = move |event: MouseEvent| {
        if connection.get_untracked() == ConnectionState::Connected {
            on_press(event);
        }
    };
    view! {
        <button
            type="button"
            class=class
            node_ref=node_ref
            disabled=move || !legal.get()
            aria-disabled=move || offline().then_some("true")
            title=move || offline().then_some(OFFLINE_REASON)
            on:click=on_click
        >
            {children()}
        </button>
    }
}
