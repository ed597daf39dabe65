//! A token bucket: so many events per second on average, a burst of them at once.

use std::time::Instant;

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
