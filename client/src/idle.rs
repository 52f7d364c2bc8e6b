//! The idle lock: after a period without keyboard or pointer input the keys
//! leave memory.
//!
//! Idle time is measured on the wall clock (`SystemTime`), not a monotonic
//! one: a monotonic clock stops while a laptop sleeps, so a laptop closed
//! for an hour would wake up unlocked. On the wall clock the sleep counts,
//! and the first check after waking locks.
//!
//! The wall clock can also move backwards (the practitioner, or a time
//! sync, sets it back). Rule: a backward jump of more than
//! [`BACKWARD_TOLERANCE`] locks at once, because from then on the clock
//! cannot tell how long the desk has been empty; smaller steps (time-sync
//! corrections) count as no time passing and move nothing.
//!
//! Not here: the lock itself ([`crate::Core`] drops the keys) or how input
//! reaches us (the shell forwards the page's events).

use std::time::{Duration, SystemTime};

use crate::config::MAX_IDLE_TIMEOUT;

/// How far the wall clock may step back before we stop trusting it.
pub const BACKWARD_TOLERANCE: Duration = Duration::from_secs(5);

/// Where "now" comes from. Injected so tests can move time.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Tracks the last input and decides when the idle timeout has passed.
#[derive(Clone, Debug)]
pub struct IdleTimer {
    timeout: Duration,
    last_activity: SystemTime,
}

impl IdleTimer {
    /// Starts counting at `now`. A timeout above [`MAX_IDLE_TIMEOUT`] is
    /// clamped to it.
    pub fn new(timeout: Duration, now: SystemTime) -> IdleTimer {
        IdleTimer {
            timeout: clamp_timeout(timeout),
            last_activity: now,
        }
    }

    /// The timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Input happened at `now`.
    pub fn record_activity(&mut self, now: SystemTime) {
        self.last_activity = now;
    }

    /// Whether the vault should be locked at `now`.
    pub fn should_lock(&self, now: SystemTime) -> bool {
        match now.duration_since(self.last_activity) {
            Ok(idle) => idle >= self.timeout,
            Err(backwards) => backwards.duration() > BACKWARD_TOLERANCE,
        }
    }
}

/// Clamps an idle timeout to the policy maximum.
pub fn clamp_timeout(timeout: Duration) -> Duration {
    timeout.min(MAX_IDLE_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn still_unlocked_at_29_minutes_59_seconds() {
        let timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0());
        assert!(!timer.should_lock(t0() + secs(29 * 60 + 59)));
    }

    #[test]
    fn locked_at_30_minutes() {
        let timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0());
        assert!(timer.should_lock(t0() + secs(30 * 60)));
    }

    #[test]
    fn activity_restarts_the_count() {
        let mut timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0());
        timer.record_activity(t0() + secs(20 * 60));
        assert!(!timer.should_lock(t0() + secs(49 * 60)));
        assert!(timer.should_lock(t0() + secs(50 * 60)));
    }

    #[test]
    fn a_timeout_above_thirty_minutes_is_clamped_to_thirty() {
        let timer = IdleTimer::new(secs(8 * 3600), t0());
        assert_eq!(timer.timeout(), MAX_IDLE_TIMEOUT);
        assert!(timer.should_lock(t0() + secs(30 * 60)));
    }

    #[test]
    fn a_shorter_timeout_is_kept() {
        let timer = IdleTimer::new(secs(300), t0());
        assert!(!timer.should_lock(t0() + secs(299)));
        assert!(timer.should_lock(t0() + secs(300)));
    }

    #[test]
    fn a_laptop_that_slept_past_the_timeout_is_locked_on_wake() {
        let timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0());
        assert!(timer.should_lock(t0() + secs(3 * 3600)));
    }

    #[test]
    fn a_clock_set_back_an_hour_locks_at_once_instead_of_extending_the_unlock() {
        let timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0() + secs(3600));
        assert!(timer.should_lock(t0()));
    }

    #[test]
    fn a_small_time_sync_step_backwards_neither_locks_nor_extends_the_unlock() {
        let mut timer = IdleTimer::new(MAX_IDLE_TIMEOUT, t0());
        timer.record_activity(t0() + secs(10));
        assert!(!timer.should_lock(t0() + secs(8)));
        assert!(timer.should_lock(t0() + secs(10 + 30 * 60)));
    }
}
