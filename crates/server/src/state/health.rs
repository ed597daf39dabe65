//! Supervised tasks and the server's health: a task the server cannot work without is
//! restarted when it panics or ends, and `/healthz` says which is down, and why, meanwhile.

use std::{
    any::Any,
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The supervised tasks by name: `None` while up, else why it is down; and the state of the
/// links to other servers (the XMPP server), which the server works without. Cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    tasks: Arc<Mutex<BTreeMap<&'static str, Option<String>>>>,
    links: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl Health {
    /// Records the state of the link `name` ("up", or down and why), for `/healthz`.
    pub fn link(&self, name: &'static str, state: impl Into<String>) {
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name, state.into());
    }

    /// The state of the link `name` as last recorded, if there is such a link.
    pub fn link_state(&self, name: &str) -> Option<String> {
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }

    /// "name: state" of each link to another server.
    pub fn links(&self) -> Vec<String> {
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(name, state)| format!("{name}: {state}"))
            .collect()
    }

    /// Every supervised task with why it is down (`None`: up), by name.
    pub fn status(&self) -> Vec<(&'static str, Option<String>)> {
        self.lock()
            .iter()
            .map(|(name, down)| (*name, down.clone()))
            .collect()
    }

    /// "name: reason" of each task that is down; empty when all are up.
    pub fn down(&self) -> Vec<String> {
        self.status()
            .into_iter()
            .filter_map(|(name, down)| down.map(|reason| format!("{name}: {reason}")))
            .collect()
    }

    fn set(&self, name: &'static str, down: Option<String>) {
        self.lock().insert(name, down);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Option<String>>> {
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the task `make` gives under `name`. Each time it panics or ends, it is reported
    /// down with the reason, and after `restart_after` started again from `make`, until
    /// `stop` is cancelled. What the task needs to keep across a restart (a queue of work)
    /// lives outside it, in what `make` captures.
    pub fn supervise<F, Fut>(
        &self,
        name: &'static str,
        restart_after: Duration,
        stop: CancellationToken,
        mut make: F,
    ) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let health = self.clone();
        health.set(name, None);
        tokio::spawn(async move {
            loop {
                let reason = match tokio::spawn(make()).await {
                    Ok(()) => "it ended".to_owned(),
                    Err(err) if err.is_panic() => {
                        format!("it panicked: {}", panic_message(err.into_panic()))
                    }
                    Err(err) => format!("it was cancelled: {err}"),
                };
                if stop.is_cancelled() {
                    return;
                }
                tracing::error!(task = name, %reason, ?restart_after, "restarting a task");
                health.set(name, Some(reason));
                tokio::select! {
                    () = tokio::time::sleep(restart_after) => {}
                    () = stop.cancelled() => return,
                }
                health.set(name, None);
            }
        })
    }
}

/// The text a panic was raised with (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "no message".to_owned(), |text| (*text).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Waits (up to 5 s) until `health` reports `want`.
    async fn until(health: &Health, want: &[(&'static str, Option<&str>)]) {
        for _ in 0..500 {
            let status = health.status();
            let now: Vec<_> = status
                .iter()
                .map(|(name, down)| (*name, down.as_deref()))
                .collect();
            if now == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("health is {:?}, not {want:?}", health.status());
    }

    #[tokio::test]
    async fn a_task_that_panics_or_ends_is_down_until_restarted() {
        let health = Health::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let stop = CancellationToken::new();
        health.supervise(
            "flaky",
            Duration::from_millis(300),
            stop.clone(),
            move || {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    match run {
                        0 => panic!("out of order"),
                        1 => {}
                        _ => std::future::pending().await,
                    }
                }
            },
        );
        until(&health, &[("flaky", Some("it panicked: out of order"))]).await;
        until(&health, &[("flaky", Some("it ended"))]).await;
        assert_eq!(health.down(), ["flaky: it ended"]);
        until(&health, &[("flaky", None)]).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(health.down().is_empty());
    }

    #[tokio::test]
    async fn nothing_is_restarted_once_stopped() {
        let health = Health::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let stop = CancellationToken::new();
        stop.cancel();
        let supervisor = health.supervise("once", Duration::ZERO, stop, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(health.status(), [("once", None)]);
    }
}
