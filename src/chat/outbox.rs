//! The outbox: messages not yet acknowledged, in order, kept in browser storage (docs/design.md, lessons)
//! that every tab of the user shares.

use serde::{Deserialize, Serialize};
use switchboard_protocol::{ChatRefusal, UserId};

use switchboard_protocol::backoff::backoff_ms;

/// Automatic resends of a message the server refused for a passing reason (it could not store
/// it, or the user sent too fast) before it shows as failed with Retry: five, 0.5-1, 1-2, 2-4,
/// 4-8 and 8-16 s apart (about 30 s in all), ride out a database hiccup or a burst, and a
/// lasting fault still shows within a minute.
const AUTO_RETRIES: u32 = 5;

/// Delay before the first automatic resend, doubled for each next one (see [`backoff_ms`]).
const AUTO_RETRY_FIRST_MS: u32 = 1_000;

/// A message the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Random UUID v4 chosen once: every resend carries it, so the server stores it once.
    pub client_msg_id: String,
    pub to: UserId,
    /// The recipient's display name, so a reloaded console can list the conversation before
    /// the server's chat list arrives.
    #[serde(default)]
    pub to_name: String,
    pub body: String,
    /// When it was written, milliseconds since the epoch (shown until the server's time).
    pub written_at_ms: i64,
    /// `None` while pending; the refusal once the server said no for good.
    pub failed: Option<Failure>,
    /// Automatic resends after passing refusals so far (at most [`AUTO_RETRIES`]).
    #[serde(default)]
    pub retries: u32,
}

/// Why the server refused a message, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub reason: ChatRefusal,
    pub message: String,
}

/// What a refusal did to an outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A passing refusal with automatic resends left: the entry stays pending, to be resent
    /// after this many ms with the same id.
    ResendInMs(u32),
    /// The entry shows as failed, until the user's Retry or Discard.
    Failed,
    /// No such entry (already acknowledged, for instance to another tab): nothing changed.
    Unknown,
}

/// Unacknowledged messages in the order they were written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    entries: Vec<Outgoing>,
}

impl Outbox {
    /// Entries in writing order.
    pub fn entries(&self) -> &[Outgoing] {
        &self.entries
    }

    /// Entries waiting to be (re)sent, in order.
    pub fn pending(&self) -> impl Iterator<Item = &Outgoing> {
        self.entries.iter().filter(|entry| entry.failed.is_none())
    }

    /// Adds a new message at the end.
    pub fn push(&mut self, entry: Outgoing) {
        self.entries.push(entry);
    }

    /// Removes a message (acknowledged, echoed, or discarded); returns it if it was there.
    pub fn take(&mut self, client_msg_id: &str) -> Option<Outgoing> {
        let position = self
            .entries
            .iter()
            .position(|entry| entry.client_msg_id == client_msg_id)?;
        Some(self.entries.remove(position))
    }

    /// The server refused a message: a passing refusal ([`ChatRefusal::Internal`],
    /// [`ChatRefusal::RateLimited`], [`ChatRefusal::Busy`]) is resent automatically while [`AUTO_RETRIES`] last, after a
    /// growing delay (`jitter` in 0..1 spreads it); any other refusal, or one past the last
    /// resend, marks the message failed.
    pub fn refuse(&mut self, client_msg_id: &str, failure: Failure, jitter: f64) -> Refused {
        let Some(entry) = self.entry_mut(client_msg_id) else {
            return Refused::Unknown;
        };
        let passing = matches!(
            failure.reason,
            ChatRefusal::Internal | ChatRefusal::RateLimited | ChatRefusal::Busy
        );
        if !passing {
            entry.failed = Some(failure);
        } else if entry.retries < AUTO_RETRIES {
            let delay = backoff_ms(AUTO_RETRY_FIRST_MS, u32::MAX, entry.retries, jitter);
            entry.retries += 1;
            return Refused::ResendInMs(delay);
        } else {
            // The server's words promise a retry that will not come any more.
            entry.failed = Some(Failure {
                message: format!(
                    "The server did not take it after {} tries.",
                    AUTO_RETRIES + 1
                ),
                ..failure
            });
        }
        Refused::Failed
    }

    /// Makes a refused message pending again, for a retry with the same id (with automatic
    /// resends anew); returns it.
    pub fn retry(&mut self, client_msg_id: &str) -> Option<Outgoing> {
        let entry = self.entry_mut(client_msg_id)?;
        entry.failed = None;
        entry.retries = 0;
        Some(entry.clone())
    }

    fn entry_mut(&mut self, client_msg_id: &str) -> Option<&mut Outgoing> {
        self.entries
            .iter_mut()
            .find(|entry| entry.client_msg_id == client_msg_id)
    }

    /// Applies `change` to the outbox as every tab of the user shares it, and returns the
    /// outbox to store and show with what `change` returned. Other tabs write the stored copy
    /// (`stored`) too, so the change is made to that copy as it is now, entry by entry (keyed
    /// by `client_msg_id`): writing this tab's `own` copy back whole would drop the messages
    /// other tabs added since, or bring back the ones they had acknowledged. `own` is used only
    /// when nothing readable is stored (storage disabled, or nothing written yet).
    pub fn change_shared<T>(
        stored: Option<&str>,
        own: &Outbox,
        change: impl FnOnce(&mut Outbox) -> T,
    ) -> (Outbox, T) {
        let mut latest = stored
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_else(|| own.clone());
        let result = change(&mut latest);
        (latest, result)
    }

    /// Reads the outbox kept in `text` (browser storage); unreadable text is an empty outbox.
    pub fn from_json(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The text kept in browser storage.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats 16 random bytes as a UUID version 4 (RFC 9562), the form the server accepts as a
/// `client_msg_id`.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(id: &str) -> Outgoing {
        Outgoing {
            client_msg_id: id.into(),
            to: 2,
            to_name: "Alice Archer".into(),
            body: format!("body of {id}"),
            written_at_ms: 0,
            failed: None,
            retries: 0,
        }
    }

    fn failure() -> Failure {
        Failure {
            reason: ChatRefusal::PartnerOffline,
            message: "Alice Archer is offline".into(),
        }
    }

    #[test]
    fn pending_messages_keep_their_order_and_leave_when_acknowledged() {
        let mut outbox = Outbox::default();
        for id in ["a", "b", "c"] {
            outbox.push(outgoing(id));
        }
        assert_eq!(
            outbox.take("b").map(|entry| entry.body),
            Some("body of b".into())
        );
        assert_eq!(outbox.take("b"), None, "a second ack changes nothing");
        let ids: Vec<&str> = outbox.pending().map(|e| e.client_msg_id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
    }

    #[test]
    fn refused_messages_wait_for_a_retry_with_the_same_id() {
        let mut outbox = Outbox::default();
        outbox.push(outgoing("a"));
        outbox.push(outgoing("b"));
        assert_eq!(outbox.refuse("a", failure(), 0.5), Refused::Failed);
        assert_eq!(outbox.refuse("zzz", failure(), 0.5), Refused::Unknown);
        assert_eq!(outbox.pending().count(), 1);
        assert_eq!(outbox.entries()[0].failed, Some(failure()));
        let again = outbox.retry("a").unwrap();
        assert_eq!(again.client_msg_id, "a");
        assert_eq!(outbox.pending().count(), 2);
        assert_eq!(outbox.retry("zzz"), None);
    }

    #[test]
    fn passing_refusals_are_resent_five_times_over_about_30_s_then_fail() {
        let reasons = [
            ChatRefusal::Internal,
            ChatRefusal::RateLimited,
            ChatRefusal::Busy,
        ];
        for reason in reasons {
            let passing = Failure {
                reason,
                message: "The message could not be stored; it will be retried.".into(),
            };
            let mut outbox = Outbox::default();
            outbox.push(outgoing("a"));
            let mut waits = Vec::new();
            while let Refused::ResendInMs(ms) = outbox.refuse("a", passing.clone(), 1.0) {
                assert_eq!(outbox.pending().count(), 1, "never failed while resent");
                waits.push(ms);
            }
            assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000]);
            let failed = outbox.entries()[0].failed.clone().unwrap();
            assert_eq!(failed.reason, reason);
            assert_eq!(failed.message, "The server did not take it after 6 tries.");

            // The user's Retry starts the automatic resends over.
            assert_eq!(outbox.retry("a").map(|entry| entry.retries), Some(0));
            let first = outbox.refuse("a", passing, 0.0);
            assert_eq!(
                first,
                Refused::ResendInMs(500),
                "half the step without jitter"
            );
        }
    }

    #[test]
    fn the_outbox_survives_storage_and_garbage_is_empty() {
        let mut outbox = Outbox::default();
        outbox.push(outgoing("a"));
        outbox.refuse("a", failure(), 0.5);
        outbox.push(outgoing("b"));
        assert_eq!(Outbox::from_json(&outbox.to_json()), outbox);
        assert_eq!(Outbox::from_json("{not json"), Outbox::default());
        let before_retries = r#"{"entries":[{"client_msg_id":"a","to":2,"body":"b","written_at_ms":0,"failed":null}]}"#;
        assert_eq!(Outbox::from_json(before_retries).pending().count(), 1);
    }

    fn ids(outbox: &Outbox) -> Vec<&str> {
        outbox
            .entries()
            .iter()
            .map(|entry| entry.client_msg_id.as_str())
            .collect()
    }

    #[test]
    fn tabs_sharing_the_stored_outbox_keep_each_others_messages() {
        // Both tabs started with nothing stored; each writes its change to the stored copy.
        let (tab_a, tab_b) = (Outbox::default(), Outbox::default());
        let (tab_a, ()) = Outbox::change_shared(None, &tab_a, |o| o.push(outgoing("a")));
        let stored = tab_a.to_json();
        let (tab_b, ()) = Outbox::change_shared(Some(&stored), &tab_b, |o| o.push(outgoing("b")));
        let stored = tab_b.to_json();
        assert_eq!(ids(&tab_b), ["a", "b"], "b's write keeps a's message");

        // B has "a" acknowledged (a resend) and removes it; A, which never saw "b", then
        // has "b" acknowledged: neither brings back what the other removed.
        let (tab_b, taken) = Outbox::change_shared(Some(&stored), &tab_b, |o| o.take("a"));
        assert!(taken.is_some());
        let stored = tab_b.to_json();
        let (tab_a, taken) = Outbox::change_shared(Some(&stored), &tab_a, |o| o.take("b"));
        assert!(taken.is_some());
        assert!(tab_a.entries().is_empty(), "{:?}", ids(&tab_a));

        // A refusal and its retry touch only their entry.
        let stored = {
            let mut both = Outbox::default();
            both.push(outgoing("c"));
            both.push(outgoing("d"));
            both.to_json()
        };
        let (latest, failed) =
            Outbox::change_shared(Some(&stored), &tab_a, |o| o.refuse("d", failure(), 0.5));
        assert_eq!(failed, Refused::Failed);
        assert_eq!(ids(&latest), ["c", "d"]);
        assert_eq!(latest.pending().count(), 1);
    }

    #[test]
    fn without_a_readable_stored_outbox_the_tabs_own_is_changed() {
        let mut own = Outbox::default();
        own.push(outgoing("a"));
        for stored in [None, Some("{not json")] {
            let (latest, ()) = Outbox::change_shared(stored, &own, |o| o.push(outgoing("b")));
            assert_eq!(ids(&latest), ["a", "b"]);
        }
    }

    #[test]
    fn uuids_are_version_4_variant_1() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }
}
