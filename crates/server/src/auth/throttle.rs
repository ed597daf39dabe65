//! Sign-in throttling: after repeated failures, a user name or an address must wait.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures are counted over this window; a blocked key waits until its window ends.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins per user name within the window before it is blocked.
const PER_USER: u32 = 5;
/// Failed sign-ins per address within the window (higher: offices share addresses).
const PER_ADDRESS: u32 = 50;
/// Keys remembered before expired ones are dropped (bounds memory under a spray of names).
const PRUNE_ABOVE: usize = 10_000;

/// What is counted: the name tried, and where from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

/// Failure counts per user name and per address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl Throttle {
    fn keys(username: &str, address: IpAddr) -> [(Key, u32); 2] {
        [
            (Key::User(username.to_lowercase()), PER_USER),
            (Key::Address(address), PER_ADDRESS),
        ]
    }

    /// How long a sign-in of `username` from `address` must wait, if it must.
    pub fn wait(&self, username: &str, address: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(username, address)
            .iter()
            .filter_map(|(key, limit)| {
                let (count, since) = failures.get(key)?;
                let left = WINDOW.checked_sub(since.elapsed())?;
                (count >= limit).then_some(left)
            })
            .max()
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, username: &str, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        for (key, _) in Self::keys(username, address) {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// A successful sign-in forgets the user name's failures (not the address's).
    pub fn succeeded(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&Key::User(username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_user_name_waits_after_five_failures_from_anywhere() {
        let throttle = Throttle::default();
        for _ in 0..PER_USER {
            assert_eq!(throttle.wait("alice", HOME), None);
            throttle.failed("Alice", HOME);
        }
        let wait = throttle.wait("alice", OTHER).expect("blocked");
        assert!(wait > Duration::from_secs(14 * 60) && wait <= WINDOW);
        assert_eq!(
            throttle.wait("bob", HOME),
            None,
            "other names are not blocked"
        );
        throttle.succeeded("ALICE");
        assert_eq!(throttle.wait("alice", HOME), None);
    }

    #[test]
    fn an_address_waits_after_many_failures_with_any_names() {
        let throttle = Throttle::default();
        for n in 0..PER_ADDRESS {
            throttle.failed(&format!("guess{n}"), HOME);
        }
        assert!(throttle.wait("carol", HOME).is_some());
        assert_eq!(throttle.wait("carol", OTHER), None);
    }
}
