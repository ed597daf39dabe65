//! The Administration view (admins only): accounts, directory import and sync, chat settings,
//! audit log. It talks to the server over HTTP ([`crate::admin_api`]); what it changes reaches
//! every console, this one included, through the WebSocket like any other change.

mod accounts;
mod audit_log;
mod chat_settings;
mod directory_import;
mod directory_sync;

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use self::accounts::Accounts;
use self::audit_log::AuditLog;
use self::chat_settings::ChatSettingsForm;
use self::directory_import::DirectoryImport;
use self::directory_sync::DirectorySync;
use crate::api::RequestError;

/// The Administration view: accounts, directory import and sync, chat settings, audit log.
/// The audit log reloads after every action taken here.
#[component]
pub fn Administration() -> impl IntoView {
    let actions = Actions::new();
    view! {
        <section class="administration" aria-label="Administration">
            <div class="admin-column">
                <Accounts actions />
                <AuditLog actions />
            </div>
            <div class="admin-column">
                <section class="admin-card" aria-labelledby="admin-directory-heading">
                    <h2 id="admin-directory-heading">"Directory"</h2>
                    <DirectoryImport actions />
                    <DirectorySync actions />
                </section>
                <ChatSettingsForm actions />
            </div>
        </section>
    }
}

/// Counts the actions taken in the view, whatever their outcome: the audit log reloads
/// whenever it changes. Counting is harmless once the view has closed (an answer may arrive
/// after that), unlike running a callback that is gone.
#[derive(Debug, Clone, Copy)]
struct Actions(RwSignal<u64>);

impl Actions {
    fn new() -> Self {
        Actions(RwSignal::new(0))
    }

    /// One more action was taken.
    fn taken(self) {
        self.0.try_update(|count| *count += 1);
    }

    /// Makes the running effect run again after each action.
    fn track(self) {
        self.0.track();
    }
}

/// What a part of the view tells the admin about its last action: the server's refusal as an
/// alert, or a sentence saying what was done (announced politely).
#[derive(Debug, Clone, Copy)]
struct Feedback {
    alert: RwSignal<Option<String>>,
    note: RwSignal<Option<String>>,
}

impl Feedback {
    fn new() -> Self {
        Feedback {
            alert: RwSignal::new(None),
            note: RwSignal::new(None),
        }
    }

    /// Forgets the last outcome; removing the alert first makes a repeated refusal announced
    /// again.
    fn clear(self) {
        self.alert.set(None);
        self.note.set(None);
    }

    fn refuse(self, message: impl Into<String>) {
        self.note.set(None);
        self.alert.set(Some(message.into()));
    }

    fn tell(self, note: impl Into<String>) {
        self.alert.set(None);
        self.note.set(Some(note.into()));
    }
}

/// The outcome of a part's last action: an alert when refused, a note when done.
#[component]
fn Outcome(
    /// The part's feedback.
    feedback: Feedback,
) -> impl IntoView {
    view! {
        {move || {
            feedback
                .alert
                .get()
                .map(|message| view! { <p class="admin-alert" role="alert">{message}</p> })
        }}
        <p class="admin-note" aria-live="polite">
            {move || feedback.note.get()}
        </p>
    }
}

/// Runs one action of the admin's: clears the feedback, awaits `request`, then tells what
/// `done` says (nothing when it says `None`) or shows the refusal, and calls `after` either
/// way (reloads, the audit log).
fn act<T: 'static>(
    feedback: Feedback,
    request: impl Future<Output = Result<T, RequestError>> + 'static,
    done: impl FnOnce(T) -> Option<String> + 'static,
    after: impl FnOnce() + 'static,
) {
    feedback.clear();
    spawn_local(async move {
        match request.await {
            Ok(value) => {
                if let Some(note) = done(value) {
                    feedback.tell(note);
                }
            }
            Err(error) => feedback.refuse(error.to_string()),
        }
        after();
    });
}

/// Loads that replace what a part shows: only the newest load's answer is shown, so a slow
/// older answer never overwrites a newer one, and none is shown once the view has closed.
#[derive(Debug, Clone, Copy)]
struct Latest(StoredValue<u64>);

impl Latest {
    fn new() -> Self {
        Latest(StoredValue::new(0))
    }

    fn load<T: 'static>(
        self,
        request: impl Future<Output = T> + 'static,
        show: impl FnOnce(T) + 'static,
    ) {
        let Some(ticket) = self.0.try_update_value(|last| {
            *last += 1;
            *last
        }) else {
            return;
        };
        spawn_local(async move {
            let answer = request.await;
            if self.0.try_get_value() == Some(ticket) {
                show(answer);
            }
        });
    }
}

/// "14 Mar 2025 09:05:12" in the admin's time zone; the raw number if it is no time at all.
fn when(ms: i64) -> String {
    crate::chat::time::local(ms)
        .map(|at| at.format("%-d %b %Y %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// "1 entry" or "3 entries", and the like.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "account", "accounts"), "1 account");
        assert_eq!(count(0, "account", "accounts"), "0 accounts");
        assert_eq!(count(12, "entry", "entries"), "12 entries");
    }

    #[test]
    fn a_time_that_cannot_be_shown_is_still_shown_as_a_number() {
        assert_eq!(when(i64::MAX), i64::MAX.to_string());
        assert!(when(1_700_000_000_000).contains("2023"));
    }
}
