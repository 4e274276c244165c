//! Sizes and lifetimes of the verification cache.

use std::time::Duration;

/// Bounds and TTLs of the verification cache (reference §10 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most entries kept; the least useful are evicted beyond it.
    pub max_entries: u64,
    /// How long a successful API-key (or hashed admin key) verification is kept.
    pub api_key_ttl: Duration,
    /// How long a JWT success is kept at most; it is never kept past the token's `exp`.
    pub jwt_max_ttl: Duration,
    /// How long a refused token is remembered.
    pub failure_ttl: Duration,
}

impl CacheSettings {
    /// Default bound: 10 000 entries.
    pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
    /// Default API-key success lifetime: 5 minutes.
    pub const DEFAULT_API_KEY_TTL: Duration = Duration::from_secs(300);
    /// Default failure lifetime: 10 seconds.
    pub const DEFAULT_FAILURE_TTL: Duration = Duration::from_secs(10);

    /// Settings under which nothing outlives its own lookup (benchmarks of the uncached path;
    /// concurrent lookups still share one computation).
    #[must_use]
    pub fn disabled() -> Self {
        Self {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            api_key_ttl: Duration::ZERO,
            jwt_max_ttl: Duration::ZERO,
            failure_ttl: Duration::ZERO,
        }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            api_key_ttl: Self::DEFAULT_API_KEY_TTL,
            // "Until exp": a year is longer than any token keygate issues or accepts in practice.
            jwt_max_ttl: Duration::from_secs(365 * 24 * 3600),
            failure_ttl: Self::DEFAULT_FAILURE_TTL,
        }
    }
}
