//! How often and how carefully a [`Jwks`](super::Jwks) fetches.

use std::time::Duration;

/// Fetch schedule and limits of a remote JWKS. The defaults follow reference §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksSettings {
    /// Time between periodic refreshes (10 min; at least 10 ms). The first fetch happens when
    /// the refresher starts.
    pub refresh_interval: Duration,
    /// Least time between two refetches caused by tokens naming an unknown `kid` (10 s).
    pub unknown_kid_interval: Duration,
    /// Bound on one whole fetch: connecting, waiting and reading the body (5 s).
    pub timeout: Duration,
    /// Largest response body accepted, in bytes (256 KiB).
    pub max_response_bytes: usize,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            unknown_kid_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
        }
    }
}
