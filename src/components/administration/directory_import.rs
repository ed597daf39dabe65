//! Directory import: choose a CSV file, preview what it adds, changes and removes (a dry run),
//! then apply that same file. A bad row changes nothing and is shown with its line and reason.
//!
//! The file is read when it is chosen, and the input is emptied again: the preview and the
//! import send the very bytes that were chosen, and an admin who fixes the file and picks it
//! again gets the fixed file (a browser neither re-reads a file edited since it was chosen
//! nor reports the same file chosen twice).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::{DirectoryDiff, EntryRef};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use super::{Actions, Feedback, Outcome, act};
use crate::admin_api;

/// Names listed per group of a preview; the count says how many there are in all.
const MAX_LISTED: usize = 100;

/// The CSV import: file input, "Preview", the preview, "Apply import".
#[component]
pub fn DirectoryImport(
    /// Told of each preview and import, whatever its outcome.
    actions: Actions,
) -> impl IntoView {
    // The file chosen: its name and its text, read when it was chosen.
    let file = RwSignal::new(None::<(String, String)>);
    let preview = RwSignal::new(None::<DirectoryDiff>);
    let pending = RwSignal::new(false);
    let feedback = Feedback::new();
    let input = NodeRef::<html::Input>::new();

    let choose = move |_| {
        preview.set(None);
        feedback.clear();
        let Some(input) = input.get_untracked() else {
            return;
        };
        let Some((name, blob)) = chosen_file(&input) else {
            return;
        };
        // Emptied, so that choosing the same file again (after editing it) is a change.
        input.set_value("");
        spawn_local(async move {
            match JsFuture::from(blob.text())
                .await
                .ok()
                .and_then(|text| text.as_string())
            {
                Some(text) => file.set(Some((name, text))),
                None => {
                    file.set(None);
                    feedback.refuse(format!("Cannot read {name}; choose it again."));
                }
            }
        });
    };
    let send = move |dry_run: bool| {
        if pending.get_untracked() {
            return;
        }
        let Some((_, csv)) = file.get_untracked() else {
            feedback.refuse("Choose a CSV file first.");
            return;
        };
        pending.set(true);
        if dry_run {
            preview.set(None);
        }
        act(
            feedback,
            async move { admin_api::import_directory(csv, dry_run).await },
            move |diff| {
                if diff.applied {
                    preview.set(None);
                    Some(imported_note(&diff))
                } else {
                    let note = (!has_changes(&diff))
                        .then_some("Nothing to change: the directory already matches this file.");
                    preview.set(Some(diff));
                    note.map(str::to_owned)
                }
            },
            move || {
                pending.set(false);
                actions.taken();
            },
        );
    };

    view! {
        <div class="admin-import">
            <h3>"Import from a CSV file"</h3>
            <p class="admin-hint">
                "Columns: id, name, username, department, title, location, extension, mobile, "
                "other_numbers (separated by ;), email, xmpp. A header row is required; only id "
                "and name must be there. The file replaces the whole directory: entries not in it "
                "are removed."
            </p>
            <div class="admin-row">
                <label for="admin-csv-file">"CSV file"</label>
                <input
                    id="admin-csv-file"
                    type="file"
                    accept=".csv,text/csv"
                    node_ref=input
                    on:change=choose
                />
                <button type="button" disabled=pending on:click=move |_| send(true)>
                    "Preview"
                </button>
            </div>
            <p class="admin-hint" aria-live="polite">
                {move || {
                    file.with(|file| match file {
                        Some((name, _)) => {
                            format!("Chosen: {name} (read now: after editing it, choose it again)")
                        }
                        None => "No file chosen.".to_owned(),
                    })
                }}
            </p>
            <Outcome feedback />
            {move || {
                preview
                    .get()
                    .filter(has_changes)
                    .map(|diff| {
                        view! {
                            <div class="admin-preview" role="group" aria-label="Import preview">
                                <p>"Nothing has changed yet. Applying this file will:"</p>
                                <DiffGroup label="to add" entries=diff.added />
                                <DiffGroup label="to change" entries=diff.changed />
                                <DiffGroup label="to remove" entries=diff.removed />
                                <button
                                    type="button"
                                    class="primary"
                                    disabled=pending
                                    on:click=move |_| send(false)
                                >
                                    "Apply import"
                                </button>
                            </div>
                        }
                    })
            }}
        </div>
    }
}

/// One group of a preview: "3 to add" and their names.
#[component]
fn DiffGroup(
    /// What happens to these entries: "to add", "to change", "to remove".
    label: &'static str,
    /// The entries.
    entries: Vec<EntryRef>,
) -> impl IntoView {
    let title = format!("{} {label}", entries.len());
    let more = entries.len().saturating_sub(MAX_LISTED);
    let listed: Vec<EntryRef> = entries.into_iter().take(MAX_LISTED).collect();
    let empty = listed.is_empty();
    view! {
        <div class="admin-diff-group">
            <h4>{title.clone()}</h4>
            {(!empty)
                .then(|| {
                    view! {
                        <ul class="admin-diff-list" aria-label=title>
                            <For
                                each=move || listed.clone()
                                key=|entry| entry.external_id.clone()
                                children=|entry| {
                                    view! {
                                        <li>
                                            {entry.name}
                                            <span class="admin-muted">" (" {entry.external_id} ")"</span>
                                        </li>
                                    }
                                }
                            />
                        </ul>
                    }
                })}
            {(more > 0).then(|| view! { <p class="admin-muted">{format!("and {more} more")}</p> })}
        </div>
    }
}

/// The name and contents of the file a file input holds, if any. Read through the DOM's own
/// properties: a `File` is a `Blob` with a name.
fn chosen_file(input: &web_sys::HtmlInputElement) -> Option<(String, Blob)> {
    let files = js_sys::Reflect::get(input, &"files".into()).ok()?;
    let first = js_sys::Reflect::get_u32(&files, 0).ok()?;
    let name = js_sys::Reflect::get(&first, &"name".into())
        .ok()?
        .as_string()
        .unwrap_or_default();
    Some((name, first.dyn_into::<Blob>().ok()?))
}

/// Whether applying the file would change anything.
fn has_changes(diff: &DirectoryDiff) -> bool {
    !(diff.added.is_empty() && diff.changed.is_empty() && diff.removed.is_empty())
}

/// "Imported: 2 added, 1 changed, 0 removed".
fn imported_note(diff: &DirectoryDiff) -> String {
    format!(
        "Imported: {} added, {} changed, {} removed",
        diff.added.len(),
        diff.changed.len(),
        diff.removed.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> EntryRef {
        EntryRef {
            external_id: id.into(),
            name: id.to_uppercase(),
        }
    }

    #[test]
    fn an_import_is_told_in_counts() {
        let diff = DirectoryDiff {
            added: vec![entry("a"), entry("b")],
            changed: vec![entry("c")],
            removed: vec![],
            applied: true,
        };
        assert!(has_changes(&diff));
        assert_eq!(
            imported_note(&diff),
            "Imported: 2 added, 1 changed, 0 removed"
        );
        assert!(!has_changes(&DirectoryDiff::default()));
    }
}
