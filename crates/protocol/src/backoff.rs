//! How a console waits before reconnecting (and before resending a refused message): shared
//! with the load generator, whose reconnect storm replays what consoles do.

/// Exponential backoff with jitter between reconnection attempts, so that a restarted server
/// is not hit by every console at the same instant.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub const FIRST_MS: u32 = 500;
    pub const CAP_MS: u32 = 10_000;

    /// The next delay (see [`backoff_ms`]); `jitter` in 0..1.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let delay = backoff_ms(Self::FIRST_MS, Self::CAP_MS, self.attempt, jitter);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// A welcome arrived: the next loss starts again from the first step.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The delay before try number `attempt` (0 first) of something that failed: `first_ms`
/// doubled at each attempt up to `cap_ms`, half of it fixed and half random (`jitter` in 0..1),
/// so that consoles failing together do not all try again at the same instant.
pub fn backoff_ms(first_ms: u32, cap_ms: u32, attempt: u32, jitter: f64) -> u32 {
    let step = first_ms.saturating_mul(1 << attempt.min(16)).min(cap_ms);
    let half = f64::from(step / 2);
    (half + half * jitter.clamp(0.0, 1.0)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_stays_within_bounds() {
        let mut backoff = Backoff::default();
        let most: Vec<u32> = (0..8).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(most, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        let mut backoff = Backoff::default();
        let least: Vec<u32> = (0..3).map(|_| backoff.next_delay_ms(0.0)).collect();
        assert_eq!(least, [250, 500, 1000]);
        for _ in 0..100 {
            assert!(backoff.next_delay_ms(0.5) <= Backoff::CAP_MS);
        }
    }

    #[test]
    fn backoff_restarts_after_a_welcome() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay_ms(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(1.0), 500);
    }
}
