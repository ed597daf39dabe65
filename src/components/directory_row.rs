//! One row of the virtualized directory list: presence, name, department, title, numbers, location.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_protocol::DirectoryEntry;

use super::focus::navigation_target;
use super::{AbsenceNote, LineLamp, PresenceField, entry_menu_key, on_entry_contextmenu};
use crate::store::Store;

/// Height of every row in pixels; the virtualized list computes positions from it.
pub const ROW_HEIGHT_PX: usize = 36;

/// A directory entry positioned at its place among the matches.
#[component]
pub fn DirectoryRow(
    /// The entry shown; a row never changes entry (rows are keyed by it).
    entry: DirectoryEntry,
    /// Place among the matches, from 0; part of the row's key, so fixed for its life.
    index: usize,
    /// Number of matches, for `aria-setsize` and the End key.
    #[prop(into)]
    count: Signal<usize>,
    /// Index of the row that is the list's single tab stop.
    active: RwSignal<usize>,
    /// Moves the focus to the row at this index, scrolling it into view.
    on_navigate: Callback<usize>,
) -> impl IntoView {
    let chat = expect_context::<Store>().chat();
    let (user, name) = (entry.user, entry.name.clone());
    let on_contextmenu = on_entry_contextmenu(chat, user, name.clone());
    let on_keydown = move |event: KeyboardEvent| {
        if entry_menu_key(chat, user, &name, &event) {
            return;
        }
        if let Some(target) = navigation_target(&event.key(), index, count.get_untracked()) {
            event.prevent_default();
            on_navigate.run(target);
        }
    };
    let numbers = entry.numbers.join(", ");
    view! {
        <div
            class="directory-row"
            role="listitem"
            aria-posinset=index + 1
            aria-setsize=move || count.get()
            data-index=index
            tabindex=move || if active.get() == index { "0" } else { "-1" }
            style:top=format!("{}px", index * ROW_HEIGHT_PX)
            style:height=format!("{ROW_HEIGHT_PX}px")
            on:keydown=on_keydown
            on:contextmenu=on_contextmenu
            on:focusin=move |_| active.set(index)
        >
            <span class="status-cell">
                <PresenceField name=entry.name.clone() user=entry.user />
                <LineLamp entry=entry.id name=entry.name.clone() />
            </span>
            <span class="name">
                {entry.name}
                <AbsenceNote user=entry.user />
            </span>
            <span class="department">{entry.department}</span>
            <span class="title">{entry.title}</span>
            <span class="numbers">{numbers}</span>
            <span class="location">{entry.location}</span>
        </div>
    }
}
