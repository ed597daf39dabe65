//! Details of the directory entry the operator is on: every number, email, XMPP address,
//! location, and the operators' note (operators read and write it; others do not see it).

use leptos::prelude::*;
use switchboard_protocol::DirectoryEntry;

use crate::store::Store;

/// The details of `entry` (the directory's current row), under the list.
#[component]
pub fn EntryDetails(
    /// The entry shown; `None` while the directory shows no row.
    #[prop(into)]
    entry: Signal<Option<DirectoryEntry>>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let role = store.role();
    move || {
        let entry = entry.get()?;
        let numbers = entry.numbers.join(", ");
        let contact = [
            entry.email.as_str(),
            entry.xmpp.as_str(),
            entry.location.as_str(),
        ]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
        let note = role
            .get()
            .handles_calls()
            .then(|| view! { <NoteEditor entry=entry.clone() /> });
        Some(view! {
            <section class="entry-details" aria-label=format!("Details of {}", entry.name)>
                <p class="entry-details-line">
                    <span class="entry-details-name">{entry.name.clone()}</span>
                    <span class="entry-details-numbers">{numbers}</span>
                    <span class="entry-details-contact">{contact}</span>
                </p>
                {note}
            </section>
        })
    }
}

/// The operators' note on an entry: shown, and edited in place.
#[component]
fn NoteEditor(entry: DirectoryEntry) -> impl IntoView {
    let store = expect_context::<Store>();
    let id = entry.id;
    let note = Memo::new(move |_| store.note(id));
    let draft = RwSignal::new(String::new());
    // The draft follows the stored note whenever it changes (another operator wrote it).
    Effect::new(move || draft.set(note.get().map(|note| note.text).unwrap_or_default()));
    let save = move |_| store.set_note(id, draft.get_untracked());
    let label = format!("Operator note for {}", entry.name);
    view! {
        <div class="entry-note">
            <textarea
                aria-label=label
                rows="1"
                maxlength="1000"
                placeholder="Operator note (e.g. absent until 3 Dec, calls to Bob Baker)"
                prop:value=move || draft.get()
                on:input=move |event| draft.set(event_target_value(&event))
            ></textarea>
            <button
                type="button"
                disabled=move || {
                    draft.with(|draft| {
                        note.with(|note| note.as_ref().map_or("", |n| n.text.as_str()) == draft.trim())
                    })
                }
                on:click=save
            >
                "Save note"
            </button>
            <span class="entry-note-author">
                {move || note.get().map(|note| format!("by {}", note.author))}
            </span>
        </div>
    }
}
