//! The outbox: messages not yet acknowledged, in order, kept in browser storage (docs/design.md, lessons)
//! that every tab of the user shares.

use serde::{Deserialize, Serialize};
use switchboard_protocol::{ChatRefusal, UserId};

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
    /// `None` while pending; the refusal once the server said no.
    pub failed: Option<Failure>,
}

/// Why the server refused a message, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub reason: ChatRefusal,
    pub message: String,
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

    /// Marks a message refused; unknown ids (already acknowledged elsewhere) change nothing.
    pub fn fail(&mut self, client_msg_id: &str, failure: Failure) -> bool {
        self.set_failure(client_msg_id, Some(failure))
    }

    /// Makes a refused message pending again, for a retry with the same id; returns it.
    pub fn retry(&mut self, client_msg_id: &str) -> Option<Outgoing> {
        self.set_failure(client_msg_id, None).then(|| {
            self.entries
                .iter()
                .find(|entry| entry.client_msg_id == client_msg_id)
                .cloned()
        })?
    }

    fn set_failure(&mut self, client_msg_id: &str, failure: Option<Failure>) -> bool {
        match self
            .entries
            .iter_mut()
            .find(|entry| entry.client_msg_id == client_msg_id)
        {
            Some(entry) => {
                entry.failed = failure;
                true
            }
            None => false,
        }
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
        assert!(outbox.fail("a", failure()));
        assert!(!outbox.fail("zzz", failure()));
        assert_eq!(outbox.pending().count(), 1);
        assert_eq!(outbox.entries()[0].failed, Some(failure()));
        let again = outbox.retry("a").unwrap();
        assert_eq!(again.client_msg_id, "a");
        assert_eq!(outbox.pending().count(), 2);
        assert_eq!(outbox.retry("zzz"), None);
    }

    #[test]
    fn the_outbox_survives_storage_and_garbage_is_empty() {
        let mut outbox = Outbox::default();
        outbox.push(outgoing("a"));
        outbox.fail("a", failure());
        outbox.push(outgoing("b"));
        assert_eq!(Outbox::from_json(&outbox.to_json()), outbox);
        assert_eq!(Outbox::from_json("{not json"), Outbox::default());
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
            Outbox::change_shared(Some(&stored), &tab_a, |o| o.fail("d", failure()));
        assert!(failed);
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
