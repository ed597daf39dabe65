//! One row of the virtualized directory list: presence, name, department, title, numbers, location.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_protocol::DirectoryEntry;

use super::focus::navigation_target;
use super::{AbsenceNote, LineLamp, PresenceField, entry_menu_key, on_entry_contextmenu};
use crate::store::Store;

/// Height of every row in pixels; the virtualized list computes positions from it.
pub const ROW_HEIGHT_PX: usize = 36;

/// What a row of the list shows: which entry, at which place among the matches.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPlace {
    /// Place among the matches, from 0.
    pub index: usize,
    /// Position of the entry in the directory.
    pub position: usize,
    /// Directory generation: a new snapshot may change the entry at a position.
    pub generation: u64,
}

/// The list item of one slot: the `n`th row drawn, from the top. Rows are kept by slot, not by
/// entry: scrolling or a new search hands a slot another entry, and the row updates its text
/// in place instead of being built again (and list items never move in the document, which
/// keeps them in reading order).
#[component]
pub fn DirectoryRow(
    /// The place this slot shows now; `None` for the moment between leaving the view and
    /// being removed.
    row: Memo<Option<RowPlace>>,
    /// Number of matches, for `aria-setsize` and the End key.
    #[prop(into)]
    count: Signal<usize>,
    /// Index of the row that is the list's single tab stop.
    active: RwSignal<usize>,
    /// Moves the focus to the row at this index, scrolling it into view.
    on_navigate: Callback<usize>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let (chat, directory) = (store.chat(), store.directory());
    let index = Memo::new(move |_| row.with(|row| row.as_ref().map(|row| row.index)));
    // Read once per place: the place changes whenever this entry could have.
    let entry = Memo::new(move |_| {
        let position = row.with(|row| row.as_ref().map(|row| row.position))?;
        directory.with_untracked(|directory| directory.entry(position).cloned())
    });
    let field = move |read: fn(&DirectoryEntry) -> String| {
        move || entry.with(|entry| entry.as_ref().map(read).unwrap_or_default())
    };
    let name = Signal::derive(field(|entry| entry.name.clone()));
    let user = Signal::derive(move || entry.with(|entry| entry.as_ref()?.user));
    let id = Signal::derive(move || entry.with(|entry| Some(entry.as_ref()?.id)));
    let on_contextmenu = move |event| {
        on_entry_contextmenu(chat, user.get_untracked(), name.get_untracked())(event);
    };
    let on_keydown = move |event: KeyboardEvent| {
        if name.with_untracked(|name| entry_menu_key(chat, user.get_untracked(), name, &event)) {
            return;
        }
        // From the tab stop, not this row: after a move that scrolls, the focus reaches the
        // new row a frame later, and a key repeated before then must not start over.
        let from = active.get_untracked();
        if let Some(target) = navigation_target(&event.key(), from, count.get_untracked()) {
            event.prevent_default();
            on_navigate.run(target);
        }
    };
    view! {
        <div
            class="directory-row"
            role="listitem"
            aria-posinset=move || index.get().map(|index| index + 1)
            aria-setsize=move || count.get()
            data-index=move || index.get()
            tabindex=move || if index.get() == Some(active.get()) { "0" } else { "-1" }
            style:top=move || format!("{}px", index.get().unwrap_or(0) * ROW_HEIGHT_PX)
            style:height=format!("{ROW_HEIGHT_PX}px")
            on:keydown=on_keydown
            on:contextmenu=on_contextmenu
            on:focusin=move |_| {
                if let Some(index) = index.get_untracked() {
                    active.set(index);
                }
            }
        >
            <span class="status-cell">
                <PresenceField name user />
                <LineLamp entry=id name />
            </span>
            <span class="name">
                {name}
                <AbsenceNote user />
            </span>
            <span class="department">{field(|entry| entry.department.clone())}</span>
            <span class="title">{field(|entry| entry.title.clone())}</span>
            <span class="numbers">{field(|entry| entry.numbers.join(", "))}</span>
            <span class="location">{field(|entry| entry.location.clone())}</span>
        </div>
    }
}
