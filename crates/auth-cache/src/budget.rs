//! Failure budgets: a client (or a project id at the token endpoint) that keeps presenting
//! credentials which fail after costing a key derivation is refused further uncached ones for a
//! while, at no KDF cost, while everyone else is served as before.
//!
//! Each key counts its failures over a sliding window of [`BudgetSettings::window`] (the usual
//! two-bucket approximation: the previous window's count weighted by how much of it still
//! overlaps, plus the current window's). The counters live in a bounded cache
//! ([`BudgetSettings::max_tracked`]): under millions of keys the least useful are evicted, so
//! memory stays bounded, and an evicted key only starts its count afresh.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How much failure a key may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSettings {
    /// The window failures are counted over.
    pub window: Duration,
    /// Failures allowed per window; at this many, further uncached credentials are refused.
    pub failures: u32,
    /// Keys tracked at most.
    pub max_tracked: u64,
}

impl BudgetSettings {
    /// Default window: one minute.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
    /// Default failures per window, per client address.
    pub const DEFAULT_FAILURES_PER_CLIENT: u32 = 30;
    /// Default failures per window, per project id at the token endpoint.
    pub const DEFAULT_FAILURES_PER_PROJECT: u32 = 30;
    /// Default bound of tracked keys.
    pub const DEFAULT_MAX_TRACKED: u64 = 100_000;

    /// The default per-client budget.
    #[must_use]
    pub fn per_client() -> Self {
        Self {
            window: Self::DEFAULT_WINDOW,
            failures: Self::DEFAULT_FAILURES_PER_CLIENT,
            max_tracked: Self::DEFAULT_MAX_TRACKED,
        }
    }

    /// The default per-project-id budget of the token endpoint.
    #[must_use]
    pub fn per_project() -> Self {
        Self {
            failures: Self::DEFAULT_FAILURES_PER_PROJECT,
            ..Self::per_client()
        }
    }
}

/// The key is over its budget; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// Whole seconds until the estimate falls below the budget again (at least 1).
    pub retry_after: u64,
}

/// Failure counts per key over a sliding window, bounded in memory.
pub struct FailureBudget<K> {
    settings: BudgetSettings,
    counters: moka::sync::Cache<K, Arc<Mutex<Window>>>,
    origin: Instant,
    refused: AtomicU64,
    recorded: AtomicU64,
}

impl<K> fmt::Debug for FailureBudget<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureBudget")
            .field("settings", &self.settings)
            .field("tracked", &self.counters.entry_count())
            .finish_non_exhaustive()
    }
}

/// A moment's view of a budget, for status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BudgetSnapshot {
    /// Window in seconds.
    pub window_seconds: u64,
    /// Failures allowed per window.
    pub failures_per_window: u32,
    /// Keys tracked now (approximate).
    pub tracked: u64,
    /// Failures recorded, since start.
    pub failures_recorded: u64,
    /// Credentials refused because their key was over budget, since start.
    pub refused: u64,
}

#[derive(Debug)]
struct Window {
    /// Index of the current window (time since the budget's origin / window).
    index: u64,
    current: u32,
    previous: u32,
}

impl<K> FailureBudget<K>
where
    K: Hash + Eq + Send + Sync + 'static,
{
    /// An empty budget.
    #[must_use]
    pub fn new(settings: BudgetSettings) -> Self {
        let window = settings.window.max(Duration::from_millis(1));
        let counters = moka::sync::Cache::builder()
            .max_capacity(settings.max_tracked)
            // A key idle for two windows has nothing left to count.
            .time_to_idle(window.saturating_mul(2))
            .build();
        Self {
            settings: BudgetSettings { window, ..settings },
            counters,
            origin: Instant::now(),
            refused: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// Whether `key` may cost another uncached verification now.
    ///
    /// # Errors
    /// [`OverBudget`] when its failures in the window have reached the budget (counted as a
    /// refusal).
    pub fn check(&self, key: &K) -> Result<(), OverBudget> {
        let Some(window) = self.counters.get(key) else {
            return Ok(());
        };
        let window = window.lock().unwrap_or_else(PoisonError::into_inner);
        match self.over(&window, Instant::now()) {
            None => Ok(()),
            Some(retry_after) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(OverBudget { retry_after })
            }
        }
    }

    /// Counts one failure of `key`.
    pub fn record_failure(&self, key: K) {
        let now = Instant::now();
        let index = self.index(now);
        let window = self.counters.get_with(key, || {
            Arc::new(Mutex::new(Window {
                index,
                current: 0,
                previous: 0,
            }))
        });
        let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
        roll(&mut window, index);
        window.current = window.current.saturating_add(1);
        self.recorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts and state, for status output.
    #[must_use]
    pub fn snapshot(&self) -> BudgetSnapshot {
        self.counters.run_pending_tasks();
        BudgetSnapshot {
            window_seconds: self.settings.window.as_secs(),
            failures_per_window: self.settings.failures,
            tracked: self.counters.entry_count(),
            failures_recorded: self.recorded.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.settings.window.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// `None` under budget; otherwise the whole seconds until the estimate falls under it.
    fn over(&self, window: &Window, now: Instant) -> Option<u64> {
        let length = self.settings.window.as_secs_f64();
        let index = self.index(now);
        let (current, previous) = match index.saturating_sub(window.index) {
            0 => (f64::from(window.current), f64::from(window.previous)),
            1 => (0.0, f64::from(window.current)),
            _ => return None,
        };
        let window_nanos = self.settings.window.as_nanos().max(1);
        let offset = now.duration_since(self.origin).as_nanos() % window_nanos;
        // How far into the current window `now` is, from 0 to 1.
        #[allow(clippy::cast_precision_loss, reason = "a ratio of two durations")]
        let into = offset as f64 / window_nanos as f64;
        let limit = f64::from(self.settings.failures.max(1));
        let estimate = previous * (1.0 - into) + current;
        if estimate < limit {
            return None;
        }
        // Within this window the previous count fades: previous·(1 − f) + current < limit.
        let fraction = if current < limit && previous > 0.0 {
            1.0 - (limit - current) / previous
        } else {
            // Only the next window can bring it under: current·(1 − f') < limit there.
            1.0 + (1.0 - limit / current.max(limit))
        };
        let wait = ((fraction - into) * length).max(0.0);
        // Whole seconds, at least one; the float is small and positive here.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "bounded above by two windows"
        )]
        let seconds = wait.ceil() as u64;
        Some(seconds.max(1))
    }
}

/// Moves `window` to window `index`: the current count becomes the previous one (or both are
/// forgotten when more than one window passed).
fn roll(window: &mut Window, index: u64) {
    match index.saturating_sub(window.index) {
        0 => {}
        1 => {
            window.previous = window.current;
            window.current = 0;
        }
        _ => {
            window.previous = 0;
            window.current = 0;
        }
    }
    window.index = index;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(failures: u32, window_ms: u64) -> FailureBudget<u32> {
        FailureBudget::new(BudgetSettings {
            window: Duration::from_millis(window_ms),
            failures,
            max_tracked: 100,
        })
    }

    #[test]
    fn a_key_is_refused_once_its_failures_reach_the_budget() {
        let budget = budget(3, 60_000);
        for _ in 0..2 {
            budget.record_failure(1);
            assert_eq!(budget.check(&1), Ok(()));
        }
        budget.record_failure(1);
        let over = budget.check(&1).unwrap_err();
        assert!((1..=120).contains(&over.retry_after), "{over:?}");
        assert_eq!(budget.check(&2), Ok(()), "other keys are not affected");
        let snapshot = budget.snapshot();
        assert_eq!((snapshot.failures_recorded, snapshot.refused), (3, 1));
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let budget = budget(2, 200);
        budget.record_failure(7);
        budget.record_failure(7);
        assert!(budget.check(&7).is_err());
        std::thread::sleep(Duration::from_millis(450));
        assert_eq!(
            budget.check(&7),
            Ok(()),
            "two windows later nothing is left"
        );
    }

    #[test]
    fn rolling_keeps_one_previous_window() {
        let mut window = Window {
            index: 5,
            current: 4,
            previous: 9,
        };
        roll(&mut window, 6);
        assert_eq!((window.index, window.current, window.previous), (6, 0, 4));
        roll(&mut window, 9);
        assert_eq!((window.index, window.current, window.previous), (9, 0, 0));
    }

    #[test]
    fn memory_is_bounded_under_many_keys() {
        let budget = budget(1, 60_000);
        for key in 0..10_000 {
            budget.record_failure(key);
        }
        assert!(budget.snapshot().tracked <= 100, "{:?}", budget.snapshot());
    }
}
