//! Sign-in throttling. The policy (README "Security and reliability"):
//!
//! * per user name and address: after 5 failures, each further try waits, 1 minute after the
//!   5th failure and twice as long after each one more, up to 15 minutes;
//! * per address: after 50 failures within 15 minutes, whatever the names, it waits until the
//!   15 minutes are over (higher: offices share addresses);
//! * never per user name alone: someone guessing a name from elsewhere cannot lock its owner
//!   out of their own desk.
//!
//! Every try counts as a failure before its password is checked, and a success takes it back:
//! 500 guesses sent at once are throttled like 500 sent one after another.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// Failures are forgotten this long after the last one; an address's count covers it.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins of one name from one address before each try waits.
const PER_NAME_AT_ADDRESS: u32 = 5;
/// The wait after the `PER_NAME_AT_ADDRESS`th failure; it doubles with each one more.
const FIRST_WAIT: Duration = Duration::from_secs(60);
/// The longest wait of a name at an address.
const LONGEST_WAIT: Duration = WINDOW;
/// Failed sign-ins per address within the window (any names).
const PER_ADDRESS: u32 = 50;
/// Keys remembered before expired ones are dropped (bounds memory under a spray of names).
const PRUNE_ABOVE: usize = 10_000;

/// What is counted: a name tried from an address, and the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    NameAt(String, IpAddr),
    Address(IpAddr),
}

/// Failures of one key: how many, since when, and the last one.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    last: Instant,
}

impl Failures {
    fn expired(&self) -> bool {
        self.last.elapsed() >= WINDOW
    }

    /// How long a try under this key must still wait, if it must.
    fn wait(&self, key: &Key) -> Option<Duration> {
        if self.expired() {
            return None;
        }
        let blocked_for = match key {
            Key::NameAt(..) => {
                let over = self.count.checked_sub(PER_NAME_AT_ADDRESS)?;
                FIRST_WAIT
                    .saturating_mul(1 << over.min(16))
                    .min(LONGEST_WAIT)
            }
            Key::Address(_) if self.count >= PER_ADDRESS => WINDOW,
            Key::Address(_) => return None,
        };
        let from = match key {
            Key::NameAt(..) => self.last,
            Key::Address(_) => self.since,
        };
        blocked_for
            .checked_sub(from.elapsed())
            .filter(|d| !d.is_zero())
    }
}

/// Failure counts per name at an address and per address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    fn keys(username: &str, address: IpAddr) -> [Key; 2] {
        [
            Key::NameAt(username.to_lowercase(), address),
            Key::Address(address),
        ]
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A sign-in of `username` from `address` is about to check its password: `Err` with the
    /// wait when it must not, else it is counted as a failure until [`Throttle::succeeded`].
    pub fn attempt(&self, username: &str, address: IpAddr) -> Result<(), Duration> {
        let mut failures = self.lock();
        let keys = Self::keys(username, address);
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key)?.wait(key))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, failures| !failures.expired());
        }
        let now = Instant::now();
        for key in keys {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                since: now,
                last: now,
            });
            if entry.expired() {
                *entry = Failures {
                    count: 0,
                    since: now,
                    last: now,
                };
            }
            entry.count += 1;
            entry.last = now;
        }
        Ok(())
    }

    /// The password was right: the name's failures at this address are forgotten, and this
    /// try no longer counts against the address.
    pub fn succeeded(&self, username: &str, address: IpAddr) {
        let mut failures = self.lock();
        let [name_at, address] = Self::keys(username, address);
        failures.remove(&name_at);
        if let Some(entry) = failures.get_mut(&address) {
            entry.count = entry.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_name_waits_at_one_address_only() {
        let throttle = Throttle::default();
        for _ in 0..PER_NAME_AT_ADDRESS {
            throttle.attempt("alice", HOME).unwrap();
        }
        let wait = throttle.attempt("Alice", HOME).expect_err("blocked here");
        assert!(wait > FIRST_WAIT - Duration::from_secs(5) && wait <= FIRST_WAIT);
        assert_eq!(
            throttle.attempt("alice", OTHER),
            Ok(()),
            "the real Alice at her own desk"
        );
        throttle.succeeded("alice", OTHER);
        assert!(throttle.attempt("bob", HOME).is_ok(), "other names");
    }

    #[test]
    fn the_wait_doubles_with_each_failure_up_to_the_window() {
        let key = Key::NameAt("alice".into(), HOME);
        let long_ago = Instant::now();
        let waits: Vec<Duration> = [5, 6, 7, 40]
            .map(|count| {
                let failures = Failures {
                    count,
                    since: long_ago,
                    last: Instant::now(),
                };
                failures.wait(&key).unwrap()
            })
            .to_vec();
        let minutes: Vec<u64> = waits.iter().map(|w| w.as_secs().div_ceil(60)).collect();
        assert_eq!(minutes, [1, 2, 4, 15]);
    }

    #[test]
    fn tries_at_once_count_before_their_checks() {
        let throttle = Throttle::default();
        // 500 tries whose passwords are still being checked: none has failed yet.
        let let_through = (0..500)
            .filter(|_| throttle.attempt("alice", HOME).is_ok())
            .count();
        assert_eq!(let_through, PER_NAME_AT_ADDRESS as usize);
    }

    #[test]
    fn an_address_waits_after_many_failures_with_any_names() {
        let throttle = Throttle::default();
        for n in 0..PER_ADDRESS {
            throttle.attempt(&format!("guess{n}"), HOME).unwrap();
        }
        assert!(throttle.attempt("carol", HOME).is_err());
        assert_eq!(throttle.attempt("carol", OTHER), Ok(()));
    }

    #[test]
    fn a_success_takes_its_try_back() {
        let throttle = Throttle::default();
        for _ in 0..PER_ADDRESS + 10 {
            throttle.attempt("alice", HOME).ok();
            throttle.succeeded("alice", HOME);
        }
        assert_eq!(throttle.attempt("carol", HOME), Ok(()));
    }
}
