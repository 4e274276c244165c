use std::time::Duration;

/// Why [`TokenCache`](super::TokenCache) could not produce a token.
///
/// It carries the fetcher's own error unchanged, so callers keep their error type.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenCacheError<E> {
    /// The fetch failed.
    #[error(transparent)]
    Fetch(E),
    /// The fetch did not finish within the fetch timeout and was dropped.
    #[error("fetching a token timed out after {} ms", after.as_millis())]
    Timeout {
        /// The fetch timeout that elapsed.
        after: Duration,
    },
}
