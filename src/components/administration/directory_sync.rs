//! Directory sync from LDAP: whether it is configured, how the last sync went, "Sync now".

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::SyncStatus;

use super::{Actions, Feedback, Latest, Outcome, act, when};
use crate::admin_api;

/// How often the status is asked for while a sync started here runs, and how many times at
/// most (a sync that takes longer shows its outcome at the next visit).
const POLL_MS: u32 = 1_000;
const POLLS: u32 = 30;

/// The LDAP sync's status and its "Sync now" button (only when a directory is configured).
#[component]
pub fn DirectorySync(
    /// Told when a sync was asked for and once it ended.
    actions: Actions,
) -> impl IntoView {
    let status = RwSignal::new(None::<SyncStatus>);
    let feedback = Feedback::new();
    let latest = Latest::new();
    let reload = move || {
        latest.load(admin_api::sync_status(), move |answer| match answer {
            Ok(answer) => status.set(Some(answer)),
            Err(error) => feedback.refuse(error.to_string()),
        });
    };
    reload();
    let pending = RwSignal::new(false);

    let sync_now = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let before = status.with_untracked(|status| status.as_ref().and_then(|s| s.finished_at_ms));
        act(
            feedback,
            admin_api::sync_now(),
            move |()| {
                follow(status, before, feedback, actions);
                Some("Sync started.".to_owned())
            },
            move || {
                pending.set(false);
                actions.taken();
            },
        );
    };

    view! {
        <div class="admin-sync">
            <h3>"Sync from LDAP"</h3>
            {move || {
                status
                    .get()
                    .map(|status| {
                        if !status.configured {
                            return view! {
                                <p class="admin-muted">
                                    "Not configured ([directory.ldap] in the config file)."
                                </p>
                            }
                                .into_any();
                        }
                        view! {
                            <dl class="admin-facts">
                                <dt>"Last sync"</dt>
                                <dd>{status.finished_at_ms.map(when).unwrap_or_else(|| "Never".to_owned())}</dd>
                                <dt>"Result"</dt>
                                <dd>{sync_counts(&status)}</dd>
                                {status
                                    .error
                                    .clone()
                                    .map(|error| {
                                        view! {
                                            <dt>"Error"</dt>
                                            <dd class="admin-error-text">{error}</dd>
                                        }
                                    })}
                            </dl>
                            <button type="button" disabled=pending on:click=sync_now>
                                "Sync now"
                            </button>
                        }
                            .into_any()
                    })
            }}
            <Outcome feedback />
        </div>
    }
}

/// Follows a sync started here (it runs in the background) until it has finished, showing its
/// status as it goes.
fn follow(
    status: RwSignal<Option<SyncStatus>>,
    before: Option<i64>,
    feedback: Feedback,
    actions: Actions,
) {
    spawn_local(async move {
        for _ in 0..POLLS {
            TimeoutFuture::new(POLL_MS).await;
            let Ok(answer) = admin_api::sync_status().await else {
                continue;
            };
            let finished = answer.finished_at_ms != before;
            if status.try_set(Some(answer)).is_some() {
                return; // The view has closed.
            }
            if finished {
                feedback.tell("Sync finished.");
                actions.taken();
                return;
            }
        }
    });
}

/// "12 added, 3 changed, 1 removed", or "—" before the first sync.
fn sync_counts(status: &SyncStatus) -> String {
    if status.finished_at_ms.is_none() {
        return "—".to_owned();
    }
    format!(
        "{} added, {} changed, {} removed",
        status.added, status.changed, status.removed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_shown_once_a_sync_has_run() {
        let mut status = SyncStatus {
            configured: true,
            ..SyncStatus::default()
        };
        assert_eq!(sync_counts(&status), "—");
        status.finished_at_ms = Some(1);
        status.added = 12;
        assert_eq!(sync_counts(&status), "12 added, 0 changed, 0 removed");
    }
}
