//! Audit log: who did what and when, newest first; reloaded after every action of the view.

use leptos::prelude::*;
use switchboard_protocol::AuditEntry;

use super::{Actions, Feedback, Latest, Outcome, when};
use crate::admin_api;

/// The audit log table.
#[component]
pub fn AuditLog(
    /// The view's actions: the log is loaded again after each.
    actions: Actions,
) -> impl IntoView {
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let loaded = RwSignal::new(false);
    let feedback = Feedback::new();
    let latest = Latest::new();
    Effect::new(move || {
        actions.track();
        latest.load(admin_api::audit_log(), move |answer| match answer {
            Ok(list) => {
                feedback.clear();
                entries.set(list);
                loaded.set(true);
            }
            Err(error) => feedback.refuse(error.to_string()),
        });
    });

    view! {
        <section class="admin-card admin-audit" aria-labelledby="admin-audit-heading">
            <h2 id="admin-audit-heading">"Audit log"</h2>
            <Outcome feedback />
            <div class="admin-table-scroller">
                <table class="admin-table" aria-label="Audit log">
                    <thead>
                        <tr>
                            <th scope="col">"When"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"What"</th>
                            <th scope="col">"Detail"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || entries.get()
                            key=|entry| entry.seq
                            children=|entry| {
                                view! {
                                    <tr>
                                        <td class="admin-when">{when(entry.at_ms)}</td>
                                        <td>{entry.actor}</td>
                                        <td>{entry.action}</td>
                                        <td>{entry.detail}</td>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
            {move || {
                (loaded.get() && entries.with(Vec::is_empty))
                    .then(|| view! { <p class="admin-muted">"Nothing has been done yet."</p> })
            }}
        </section>
    }
}
