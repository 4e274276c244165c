//! Counters readable without locks, for status output and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Verification statistics: plain atomics, shared by the cache and the code that verifies.
#[derive(Debug, Default)]
pub struct VerifyStats {
    hits: AtomicU64,
    misses: AtomicU64,
    kdf_runs: AtomicU64,
    jwt_verifications: AtomicU64,
    evictions: AtomicU64,
}

/// A copy of [`VerifyStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Lookups answered without computing (including waits on another caller's computation).
    pub hits: u64,
    /// Lookups that computed the outcome.
    pub misses: u64,
    /// PBKDF2 computations run.
    pub kdf_runs: u64,
    /// JWT signature-and-claims checks run.
    pub jwt_verifications: u64,
    /// Entries evicted because the cache was full.
    pub evictions: u64,
}

impl VerifyStats {
    /// Counts KDF computations (as reported by [`auth_core::apikey::KeyCheck::kdf_runs`]).
    pub fn record_kdf_runs(&self, runs: u32) {
        self.kdf_runs.fetch_add(u64::from(runs), Ordering::Relaxed);
    }

    /// Counts one JWT verification.
    pub fn record_jwt_verification(&self) {
        self.jwt_verifications.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_eviction(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            kdf_runs: self.kdf_runs.load(Ordering::Relaxed),
            jwt_verifications: self.jwt_verifications.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}
