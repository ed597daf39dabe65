//! A token bucket: so many events per second on average, a burst of them at once; and one
//! bucket per key (a user), for allowances shared by all of a user's connections.

use std::{collections::HashMap, hash::Hash, sync::Mutex, time::Instant};

/// Starts full; refills at `rate` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket allowing `rate` events a second on average and `burst` at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes a token; false when there is none left (the event goes over the allowance).
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A token bucket per key, each with the same rate and burst, made at the key's first event.
pub struct Buckets<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: Eq + Hash> Buckets<K> {
    pub fn new(rate: f64, burst: f64) -> Self {
        Buckets {
            rate,
            burst,
            buckets: Mutex::default(),
        }
    }

    /// Takes a token from `key`'s bucket; false when there is none left.
    pub fn take(&self, key: K) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst))
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused() {
        // A rate this low refills nothing while the test runs.
        let mut bucket = TokenBucket::new(1e-9, 3.0);
        assert_eq!(
            [(); 5].map(|()| bucket.take()),
            [true, true, true, false, false]
        );
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let mut bucket = TokenBucket::new(1e9, 1.0);
        assert!(bucket.take());
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(bucket.take(), "a fast rate refills at once");
    }
}
