//! Failure budgets: a client (or a project id at the token endpoint) that keeps presenting
//! credentials which fail after costing a key derivation is refused further uncached ones for a
//! while, at no KDF cost, while everyone else is served as before.
//!
//! Each key counts its failures over a sliding window of [`BudgetSettings::window`] (the usual
//! two-bucket approximation: the previous window's count weighted by how much of it still
//! overlaps, plus the current window's). The counters live in a bounded cache
//! ([`BudgetSettings::max_tracked`]): under millions of keys the least useful are evicted, so
//! memory stays bounded, and an evicted key only starts its count afresh.
//!
//! Work is charged *before* it runs ([`FailureBudget::reserve`]): concurrent requests from one
//! key each see the others' reservations, so a burst cannot overshoot the budget by its
//! concurrency, and the charge is the number of key derivations the work may cost, not one per
//! request. [`Reservation::settle`] then replaces the reservation with the failures that really
//! happened.

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
    /// How long a refused request is held before its 429 is sent: a flooding client's
    /// connections then carry one request per delay, so its flood costs the server almost
    /// nothing while everyone else is served.
    pub refusal_delay: Duration,
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
    /// Default hold before an over-budget refusal is answered.
    pub const DEFAULT_REFUSAL_DELAY: Duration = Duration::from_secs(1);

    /// The default per-client budget.
    #[must_use]
    pub fn per_client() -> Self {
        Self {
            window: Self::DEFAULT_WINDOW,
            failures: Self::DEFAULT_FAILURES_PER_CLIENT,
            max_tracked: Self::DEFAULT_MAX_TRACKED,
            refusal_delay: Self::DEFAULT_REFUSAL_DELAY,
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
    counters: quick_cache::sync::Cache<K, Arc<Mutex<Window>>>,
    origin: Instant,
    refused: AtomicU64,
    recorded: AtomicU64,
}

impl<K: Hash + Eq> fmt::Debug for FailureBudget<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureBudget")
            .field("settings", &self.settings)
            .field("tracked", &self.counters.len())
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

/// Failures charged ahead of work; [`Reservation::settle`] replaces them with the real count.
/// Dropped unsettled (the request was abandoned while its work ran), the charge stands.
#[must_use = "settle it with the failures the work caused"]
pub struct Reservation<'a, K> {
    budget: &'a FailureBudget<K>,
    window: Arc<Mutex<Window>>,
    /// The window the cost was charged to.
    index: u64,
    cost: u32,
    settled: bool,
}

impl<K> fmt::Debug for Reservation<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl<K> Reservation<'_, K> {
    /// The work is done and caused `failures` failures (0 when it succeeded, or did not run):
    /// they replace the reserved cost.
    pub fn settle(mut self, failures: u32) {
        self.settled = true;
        let mut counts = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        // The charge sits in whichever bucket its window has become since.
        let bucket = match counts.index.checked_sub(self.index) {
            Some(0) => Some(&mut counts.current),
            Some(1) => Some(&mut counts.previous),
            _ => None,
        };
        if let Some(count) = bucket {
            *count = count.saturating_sub(self.cost).saturating_add(failures);
        }
        self.budget
            .recorded
            .fetch_add(u64::from(failures), Ordering::Relaxed);
    }
}

impl<K> Drop for Reservation<'_, K> {
    fn drop(&mut self) {
        if !self.settled {
            self.budget
                .recorded
                .fetch_add(u64::from(self.cost), Ordering::Relaxed);
        }
    }
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
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// An empty budget.
    #[must_use]
    pub fn new(settings: BudgetSettings) -> Self {
        let window = settings.window.max(Duration::from_millis(1));
        // A key idle for two windows has nothing left to count: `roll` forgets it when it comes
        // back, and the bound pushes it out meanwhile.
        let counters = quick_cache::sync::Cache::new(
            usize::try_from(settings.max_tracked.max(1)).unwrap_or(usize::MAX),
        );
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

    /// Charges `cost` failures to `key` for work about to run that may fail that often (the
    /// key derivations it may cost), if `key` is still under its budget — counting the
    /// reservations of work still running.
    ///
    /// # Errors
    /// [`OverBudget`] when its failures and reservations in the window have reached the budget
    /// (counted as a refusal; nothing is charged).
    pub fn reserve(&self, key: K, cost: u32) -> Result<Reservation<'_, K>, OverBudget> {
        let now = Instant::now();
        let index = self.index(now);
        let fresh = || {
            Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Window {
                index,
                current: 0,
                previous: 0,
            })))
        };
        let Ok(window) = self.counters.get_or_insert_with(&key, fresh);
        let charged_to = {
            let mut counts = window.lock().unwrap_or_else(PoisonError::into_inner);
            roll(&mut counts, index);
            if let Some(retry_after) = self.over(&counts, now) {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(OverBudget { retry_after });
            }
            counts.current = counts.current.saturating_add(cost);
            counts.index
        };
        Ok(Reservation {
            budget: self,
            window,
            index: charged_to,
            cost,
            settled: false,
        })
    }

    /// Counts and state, for status output.
    #[must_use]
    pub fn snapshot(&self) -> BudgetSnapshot {
        BudgetSnapshot {
            window_seconds: self.settings.window.as_secs(),
            failures_per_window: self.settings.failures,
            tracked: u64::try_from(self.counters.len()).unwrap_or(u64::MAX),
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
/// forgotten when more than one window passed). A caller that read the clock just before
/// another never moves the window back.
fn roll(window: &mut Window, index: u64) {
    match index.saturating_sub(window.index) {
        0 => return,
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
            refusal_delay: Duration::ZERO,
        })
    }

    /// One failed verification that cost one key derivation.
    fn fail(budget: &FailureBudget<u32>, key: u32) {
        budget.reserve(key, 1).expect("under budget").settle(1);
    }

    #[test]
    fn a_key_is_refused_once_its_failures_reach_the_budget() {
        let budget = budget(3, 60_000);
        for _ in 0..3 {
            fail(&budget, 1);
        }
        let over = budget.reserve(1, 1).unwrap_err();
        assert!((1..=120).contains(&over.retry_after), "{over:?}");
        budget
            .reserve(2, 1)
            .expect("other keys are not affected")
            .settle(0);
        let snapshot = budget.snapshot();
        assert_eq!((snapshot.failures_recorded, snapshot.refused), (3, 1));
    }

    #[test]
    fn work_still_running_counts_against_the_budget() {
        let budget = budget(3, 60_000);
        let running: Vec<_> = (0..3).map(|_| budget.reserve(1, 1).unwrap()).collect();
        assert!(
            budget.reserve(1, 1).is_err(),
            "three reservations in flight fill a budget of three"
        );
        for reservation in running {
            reservation.settle(0);
        }
        budget
            .reserve(1, 1)
            .expect("successes give the charge back")
            .settle(0);
        assert_eq!(budget.snapshot().failures_recorded, 0);
    }

    #[test]
    fn the_charge_is_the_key_derivations_not_the_requests() {
        let budget = budget(10, 60_000);
        budget.reserve(1, 4).unwrap().settle(4);
        budget.reserve(1, 4).unwrap().settle(4);
        let running = budget.reserve(1, 4).expect("8 of 10 spent");
        assert!(budget.reserve(1, 4).is_err(), "8 + 4 in flight reach 10");
        running.settle(0);
        assert_eq!(budget.snapshot().failures_recorded, 8);
    }

    #[test]
    fn an_abandoned_reservation_stays_charged() {
        let budget = budget(2, 60_000);
        drop(budget.reserve(1, 2).unwrap());
        assert!(budget.reserve(1, 1).is_err());
        assert_eq!(budget.snapshot().failures_recorded, 2);
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let budget = budget(2, 200);
        fail(&budget, 7);
        fail(&budget, 7);
        assert!(budget.reserve(7, 1).is_err());
        std::thread::sleep(Duration::from_millis(450));
        assert!(
            budget.reserve(7, 1).is_ok(),
            "two windows later nothing is left"
        );
    }

    #[test]
    fn rolling_keeps_one_previous_window_and_never_goes_back() {
        let mut window = Window {
            index: 5,
            current: 4,
            previous: 9,
        };
        roll(&mut window, 6);
        assert_eq!((window.index, window.current, window.previous), (6, 0, 4));
        roll(&mut window, 5);
        assert_eq!((window.index, window.current, window.previous), (6, 0, 4));
        roll(&mut window, 9);
        assert_eq!((window.index, window.current, window.previous), (9, 0, 0));
    }

    #[test]
    fn memory_is_bounded_under_many_keys() {
        let budget = budget(1, 60_000);
        for key in 0..10_000 {
            fail(&budget, key);
        }
        assert!(budget.snapshot().tracked <= 100, "{:?}", budget.snapshot());
    }
}
