//! When to try the server again after a failed sync: exponential backoff
//! with full jitter.
//!
//! After the n-th failure in a row the wait is drawn uniformly from
//! [`Backoff::FLOOR`] up to `min(cap, base · 2^(n-1))`, so a clinic's
//! laptops that lost the server together do not all come back at the same
//! second, and a long outage costs one attempt every few minutes, not one
//! every 30 seconds. A success resets it.
//!
//! Not here: any timer. [`crate::Core`] keeps one of these and says when
//! the next sync is due; the shell sleeps until then.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Exponential backoff with full jitter.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
    rng: StdRng,
}

impl Backoff {
    /// First ceiling after one failure.
    pub const BASE: Duration = Duration::from_secs(2);
    /// Longest wait between attempts.
    pub const CAP: Duration = Duration::from_secs(5 * 60);
    /// Shortest wait: retrying at once after a failure achieves nothing.
    pub const FLOOR: Duration = Duration::from_millis(500);

    /// The product's backoff: 2 s doubling to 5 min, seeded from the OS.
    pub fn new() -> Backoff {
        Backoff::with(Backoff::BASE, Backoff::CAP, StdRng::from_entropy())
    }

    /// A backoff with its own limits and random source (tests seed it).
    pub fn with(base: Duration, cap: Duration, rng: StdRng) -> Backoff {
        Backoff {
            base,
            cap: cap.max(Backoff::FLOOR),
            failures: 0,
            rng,
        }
    }

    /// Counts a failure; returns how long to wait before the next attempt.
    pub fn failure(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = self.ceiling();
        let floor = Backoff::FLOOR.min(ceiling);
        let millis = self
            .rng
            .gen_range(floor.as_millis() as u64..=ceiling.as_millis() as u64);
        Duration::from_millis(millis)
    }

    /// The connection worked: back to the start.
    pub fn success(&mut self) {
        self.failures = 0;
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The longest wait the current failure count allows.
    pub fn ceiling(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(seed: u64) -> Backoff {
        Backoff::with(Backoff::BASE, Backoff::CAP, StdRng::seed_from_u64(seed))
    }

    #[test]
    fn the_ceiling_doubles_from_two_seconds_up_to_five_minutes() {
        let mut b = seeded(1);
        let mut ceilings = Vec::new();
        for _ in 0..12 {
            b.failure();
            ceilings.push(b.ceiling().as_secs());
        }
        assert_eq!(
            ceilings,
            [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]
        );
    }

    #[test]
    fn every_wait_lies_between_the_floor_and_the_ceiling() {
        let mut b = seeded(7);
        for _ in 0..1_000 {
            let wait = b.failure();
            assert!(wait >= Backoff::FLOOR, "{wait:?}");
            assert!(wait <= b.ceiling(), "{wait:?} > {:?}", b.ceiling());
        }
        assert_eq!(b.failures(), 1_000);
    }

    #[test]
    fn waits_are_spread_so_devices_that_failed_together_come_back_apart() {
        // Ten devices, the fifth failure each (ceiling 32 s).
        let waits: Vec<Duration> = (0..10)
            .map(|seed| {
                let mut b = seeded(seed);
                for _ in 0..4 {
                    b.failure();
                }
                b.failure()
            })
            .collect();
        let min = waits.iter().min().unwrap();
        let max = waits.iter().max().unwrap();
        assert!(*max - *min > Duration::from_secs(10), "{waits:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_waits() {
        let run = |seed| {
            let mut b = seeded(seed);
            (0..20).map(|_| b.failure()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn a_success_starts_again_from_two_seconds() {
        let mut b = seeded(3);
        for _ in 0..10 {
            b.failure();
        }
        assert_eq!(b.ceiling(), Backoff::CAP);
        b.success();
        assert_eq!(b.failures(), 0);
        assert!(b.failure() <= Duration::from_secs(2));
    }

    #[test]
    fn a_million_failures_neither_overflow_nor_pass_the_cap() {
        let mut b = seeded(9);
        for _ in 0..1_000_000 {
            b.failures = b.failures.saturating_add(1);
        }
        assert!(b.failure() <= Backoff::CAP);
    }
}
