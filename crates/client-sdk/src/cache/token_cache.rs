use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::{CachePlan, Clock, TokenCacheError, TokioClock};
use crate::AuthToken;

/// How long a fetch may take before it is dropped and counted as a failure.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A single-token cache with single-flight refresh (see the [module docs](super)).
///
/// `E` is the fetcher's error type; it must be `Clone` because callers that queued behind a
/// failed fetch all receive its error. Needs a Tokio runtime with the time driver enabled (the
/// fetch timeout is a Tokio timer).
pub struct TokenCache<E> {
    state: Mutex<State<E>>,
    /// Held for the whole of a fetch: this is what makes concurrent callers share one.
    fetch_lock: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    fetch_timeout: Duration,
}

struct State<E> {
    entry: Option<Entry>,
    /// Fetches finished so far (either way). A caller notes it before queueing for the fetch
    /// lock; a larger value once it holds the lock means a fetch ran while it waited.
    finished_fetches: u64,
    /// The last fetch's error, tagged with that fetch's number; cleared by a success.
    last_failure: Option<(u64, TokenCacheError<E>)>,
}

struct Entry {
    token: String,
    fresh_until: Instant,
    expires_at: Instant,
}

impl Entry {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.fresh_until
    }

    fn is_valid(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    fn serve(&self, now: Instant) -> AuthToken {
        AuthToken::new(
            self.token.clone(),
            self.expires_at.saturating_duration_since(now).as_secs(),
        )
    }
}

impl<E> TokenCache<E> {
    /// An empty cache on Tokio's clock with the default 30 s fetch timeout.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                entry: None,
                finished_fetches: 0,
                last_failure: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            clock: Arc::new(TokioClock),
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// Uses `clock` for every deadline (e.g. a [`ManualClock`](super::ManualClock) in tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Drops a fetch after `timeout` and treats it as failed.
    #[must_use]
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The fetch timeout in force.
    #[must_use]
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// The cached token if it has not expired yet (it may be due for a refresh), without
    /// fetching. `expires_in` is the time left.
    #[must_use]
    pub fn peek(&self) -> Option<AuthToken> {
        let now = self.clock.now();
        let state = self.state();
        state
            .entry
            .as_ref()
            .filter(|entry| entry.is_valid(now))
            .map(|entry| entry.serve(now))
    }

    /// Drops the cached token, whatever it is. A fetch already in flight still stores its
    /// result.
    pub fn invalidate(&self) {
        self.state().entry = None;
    }

    /// Drops the cached token only if it is `rejected` (compare-and-swap); returns whether it
    /// did. Call it with the token an API answered 401 for: if a concurrent caller has
    /// already replaced that token, the new one is kept and no second refetch happens.
    pub fn invalidate_token(&self, rejected: &str) -> bool {
        let mut state = self.state();
        let matches = state
            .entry
            .as_ref()
            .is_some_and(|entry| bool::from(entry.token.as_bytes().ct_eq(rejected.as_bytes())));
        if matches {
            state.entry = None;
        }
        matches
    }

    /// The cached token if it is fresh; otherwise the result of `fetch`, shared with every
    /// caller that arrives while it runs.
    ///
    /// # Errors
    /// The fetch's error or [`TokenCacheError::Timeout`] — unless the cached token has not
    /// expired yet, in which case it is served instead.
    pub async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<AuthToken, TokenCacheError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AuthToken, E>>,
        E: Clone,
    {
        let seen_fetches = {
            let now = self.clock.now();
            let state = self.state();
            if let Some(entry) = state.entry.as_ref().filter(|e| e.is_fresh(now)) {
                return Ok(entry.serve(now));
            }
            state.finished_fetches
        };

        let _fetching = self.fetch_lock.lock().await;

        // Re-check: whoever held the lock before us may have done our work.
        {
            let now = self.clock.now();
            let state = self.state();
            if let Some(entry) = state.entry.as_ref().filter(|e| e.is_fresh(now)) {
                return Ok(entry.serve(now));
            }
            if let Some((fetch_number, error)) = &state.last_failure
                && *fetch_number > seen_fetches
            {
                // We queued behind this failed fetch: share its outcome rather than start
                // another one right away.
                return match state.entry.as_ref().filter(|e| e.is_valid(now)) {
                    Some(entry) => Ok(entry.serve(now)),
                    None => Err(error.clone()),
                };
            }
        }

        match self.fetch_and_store(fetch).await {
            Ok(token) => Ok(token),
            Err(error) => {
                let now = self.clock.now();
                let state = self.state();
                match state.entry.as_ref().filter(|e| e.is_valid(now)) {
                    Some(entry) => Ok(entry.serve(now)),
                    None => Err(error),
                }
            }
        }
    }

    /// Fetches a new token now, even if the cached one is fresh, and caches it.
    ///
    /// # Errors
    /// The fetch's error or [`TokenCacheError::Timeout`]. The previously cached token is kept
    /// (later calls may still be served from it) but is not returned here: the caller asked
    /// for a new one.
    pub async fn force_refresh<F, Fut>(&self, fetch: F) -> Result<AuthToken, TokenCacheError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AuthToken, E>>,
        E: Clone,
    {
        let _fetching = self.fetch_lock.lock().await;
        self.fetch_and_store(fetch).await
    }

    /// Runs `fetch` under the timeout and records the outcome. The caller holds the fetch lock.
    async fn fetch_and_store<F, Fut>(&self, fetch: F) -> Result<AuthToken, TokenCacheError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AuthToken, E>>,
        E: Clone,
    {
        // The lifetime counts from when the request went out: the issuer started its clock
        // no later than that.
        let started = self.clock.now();
        let outcome = match tokio::time::timeout(self.fetch_timeout, fetch()).await {
            Ok(Ok(token)) => Ok(token),
            Ok(Err(error)) => Err(TokenCacheError::Fetch(error)),
            Err(_elapsed) => Err(TokenCacheError::Timeout {
                after: self.fetch_timeout,
            }),
        };

        let now = self.clock.now();
        let mut state = self.state();
        state.finished_fetches = state.finished_fetches.saturating_add(1);
        match outcome {
            Ok(token) => {
                state.last_failure = None;
                let CachePlan::Cache {
                    fresh_for,
                    valid_for,
                } = CachePlan::for_expires_in(token.expires_in)
                else {
                    return Ok(token);
                };
                let (Some(fresh_until), Some(expires_at)) = (
                    started.checked_add(fresh_for),
                    started.checked_add(valid_for),
                ) else {
                    return Ok(token);
                };
                let entry = Entry {
                    token: token.token,
                    fresh_until,
                    expires_at,
                };
                let served = entry.serve(now);
                state.entry = Some(entry);
                Ok(served)
            }
            Err(error) => {
                state.last_failure = Some((state.finished_fetches, error.clone()));
                Err(error)
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State<E>> {
        // Nothing panics while holding this lock (no user code runs under it), so a poisoned
        // lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E> Default for TokenCache<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for TokenCache<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = self.clock.now();
        let state = self.state();
        let cached = state.entry.as_ref().map(|entry| CachedSummary {
            bytes: entry.token.len(),
            fresh: entry.is_fresh(now),
            expires_in: entry.expires_at.saturating_duration_since(now),
        });
        f.debug_struct("TokenCache")
            .field("cached", &cached)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// What `Debug` shows of a cached token: never its value.
struct CachedSummary {
    bytes: usize,
    fresh: bool,
    expires_in: Duration,
}

impl fmt::Debug for CachedSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("token", &format_args!("[redacted; {} bytes]", self.bytes))
            .field("fresh", &self.fresh)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}
