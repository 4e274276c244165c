//! The wall clock keygate reads: one place, so that tests can replace it and nothing else reads
//! `SystemTime` on its own. auth-core takes the time as an argument; everything above it asks
//! a [`Clock`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn unix_now(&self) -> u64;

    /// The same time with the clock's whole precision: what is left of a lifetime that ends at
    /// a whole second (a JWT's `exp`) is reckoned from it, so that a fraction of a second
    /// already gone is not counted again. Whole seconds unless the clock has more.
    fn since_epoch(&self) -> Duration {
        Duration::from_secs(self.unix_now())
    }
}

/// The system's wall clock. A clock set before 1970 reads 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_now(&self) -> u64 {
        self.since_epoch().as_secs()
    }

    fn since_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// The system clock's time now, for code that is handed no [`Clock`].
#[must_use]
pub fn unix_now() -> u64 {
    SystemClock.unix_now()
}

/// A clock that stands still until moved, for tests of expiry.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `unix_seconds`.
    #[must_use]
    pub fn at(unix_seconds: u64) -> Self {
        Self(Arc::new(AtomicU64::new(unix_seconds)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Sets the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn unix_now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.unix_now(), 1_000);
        clock.advance(30);
        assert_eq!(clock.unix_now(), 1_030);
        clock.set(5);
        assert_eq!(clock.unix_now(), 5);
        assert_eq!(clock.since_epoch(), Duration::from_secs(5));
        assert!(SystemClock.unix_now() > 1_700_000_000);
        let precise = SystemClock.since_epoch();
        assert!(precise.as_secs() > 1_700_000_000);
        assert!(precise.as_secs() <= SystemClock.unix_now());
    }
}
