//! The clocks keygate reads, in one place:
//!
//! - the wall clock, [`Clock`]: tests replace it, and nothing else reads `SystemTime` on its
//!   own. auth-core takes the time as an argument; everything above it asks a [`Clock`];
//! - the monotonic clocks of the caches' deadlines, [`Deadline`]: the verification cache's and
//!   key-store's memory of unknown ids.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// When a cached outcome stops being true, on a monotonic clock. A cache hit reads its clock
/// once per request, so there are two kinds:
///
/// - [`Deadline::exact`], on [`Instant`], for a lifetime that is a promise to the outside (a
///   JWT's `exp`): it never passes late.
/// - [`Deadline::approximate`], for the cache's own TTLs, on the kernel's coarse monotonic clock
///   where there is one (`CLOCK_MONOTONIC_COARSE`: the time of the last timer tick, 6 ns a read
///   on the benchmark machine against 27–28 ns for [`Instant`]; docs/benchmarks.md). That clock
///   lags the true time by a tick or two (up to 8.4 ms measured there, and more while the CPU
///   that keeps the time is held up), both when a deadline is set and when it is checked, so
///   such a deadline may pass that much early or late. Elsewhere it is on [`Instant`] too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// At this instant.
    Exact(Instant),
    /// At this reading of [`coarse_now`].
    Approximate(Duration),
}

impl Deadline {
    /// `lifetime` from now, never passing late.
    #[must_use]
    pub fn exact(lifetime: Duration) -> Self {
        let now = Instant::now();
        // A lifetime too long to add is for all purposes one that does not end.
        Self::Exact(now.checked_add(lifetime).unwrap_or(now + FOREVER))
    }

    /// `lifetime` from now, passing up to a few timer ticks early or late.
    #[must_use]
    pub fn approximate(lifetime: Duration) -> Self {
        Self::Approximate(coarse_now().saturating_add(lifetime))
    }

    /// Whether the deadline has come.
    #[must_use]
    pub fn passed(self) -> bool {
        match self {
            Self::Exact(at) => Instant::now() >= at,
            Self::Approximate(at) => coarse_now() >= at,
        }
    }
}

/// A hundred years: longer than any process runs.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The kernel's coarse monotonic clock: behind the true time by up to a few ticks. Read through
/// libc's `clock_gettime`, as [`Instant`] is (auth-cache's `Cargo.toml` says why).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn coarse_now() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    // A monotonic clock never reads negative; a zero stands in for what cannot happen.
    Duration::from_secs(u64::try_from(time.tv_sec).unwrap_or(0)).saturating_add(
        Duration::from_nanos(u64::try_from(time.tv_nsec).unwrap_or(0)),
    )
}

/// Without a coarse clock, [`Instant`] since the first reading.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn coarse_now() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
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

    /// Spins until `lifetime` has gone by since `since`.
    fn wait_out(since: Instant, lifetime: Duration) {
        while since.elapsed() < lifetime {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn an_exact_deadline_has_passed_the_moment_its_lifetime_has_gone_by() {
        // Lifetimes that are not multiples of a timer tick: on the coarse clock, most of them
        // would still read "not yet" at their true end.
        for millis in (1..=25).chain([37, 50]) {
            let lifetime = Duration::from_millis(millis);
            let deadline = Deadline::exact(lifetime);
            wait_out(Instant::now(), lifetime);
            assert!(deadline.passed(), "{millis} ms: not passed at its end");
        }
        assert!(Deadline::exact(Duration::ZERO).passed());
        assert!(!Deadline::exact(Duration::MAX).passed());
    }

    #[test]
    fn an_approximate_deadline_passes_within_a_few_ticks_of_its_end() {
        for millis in [1, 7, 30] {
            let lifetime = Duration::from_millis(millis);
            let set = Instant::now();
            let deadline = Deadline::approximate(lifetime);
            while !deadline.passed() {
                assert!(
                    set.elapsed() < lifetime + Duration::from_millis(100),
                    "{millis} ms: still not passed after {:?}",
                    set.elapsed()
                );
                std::hint::spin_loop();
            }
        }
        // The clock's lag when the deadline is set can make it pass a few ticks early, too.
        let lifetime = Duration::from_millis(200);
        let set = Instant::now();
        let deadline = Deadline::approximate(lifetime);
        while set.elapsed() < lifetime / 2 {
            assert!(
                !deadline.passed(),
                "passed {:?} into {lifetime:?}",
                set.elapsed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!Deadline::approximate(Duration::MAX).passed());
    }
}
