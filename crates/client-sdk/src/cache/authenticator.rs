//! [`CachingAuthenticator`]: the automatic token cache around every authenticator.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::header::{Credentials, parse_authorization};

use super::{Clock, TokenCache};
use crate::{AuthError, AuthToken, Authenticator};

/// Wraps an [`Authenticator`] in the token cache of reference §8 ([`TokenCache`], see the
/// [module docs](super)):
///
/// - tokens are reused until `expiresIn − 60 s` (half the lifetime for lifetimes ≤ 120 s); a
///   hit reports the time actually left as `expires_in`;
/// - `expiresIn` 0 or over 365 days: the token is used but not cached, so the next call asks
///   the inner authenticator again;
/// - concurrent callers share one call of the inner authenticator;
/// - if refreshing fails while the cached token has not expired yet, the cached token is
///   served; errors are never cached;
/// - a call of the inner authenticator that takes longer than the fetch timeout (30 s by
///   default) fails with [`AuthError::Timeout`];
/// - tokens that could not be sent in an `Authorization: Bearer` header (empty, or characters
///   outside RFC 6750's `b64token`) are refused with [`AuthError::InvalidResponse`].
///
/// [`Client`](crate::Client) does this wrapping itself; use this type directly to cache an
/// authenticator outside a `Client`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use client_sdk::{AuthError, AuthToken, Authenticator, CachingAuthenticator, async_trait};
///
/// #[derive(Default)]
/// struct Counting(AtomicUsize);
///
/// #[async_trait]
/// impl Authenticator for Counting {
///     async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
///         let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
///         Ok(AuthToken::new(format!("token-{n}"), 3600))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), AuthError> {
/// let cached = CachingAuthenticator::new(Counting::default());
/// assert_eq!(cached.get_auth_header().await?, "Bearer token-1");
/// assert_eq!(cached.get_auth_header().await?, "Bearer token-1"); // from the cache
/// assert_eq!(cached.inner().0.load(Ordering::SeqCst), 1);
///
/// // The API answered 401 for token-1: drop it (only if it is still the cached one).
/// assert!(cached.invalidate_token("token-1"));
/// assert_eq!(cached.get_auth_header().await?, "Bearer token-2");
/// # Ok(()) }
/// ```
pub struct CachingAuthenticator<A> {
    inner: A,
    cache: TokenCache<AuthError>,
}

impl<A: Authenticator> CachingAuthenticator<A> {
    /// Caches `inner` with the default fetch timeout (30 s) on Tokio's clock.
    pub fn new(inner: A) -> Self {
        Self {
            inner,
            cache: TokenCache::new(),
        }
    }

    /// Fails a call of the inner authenticator that takes longer than `timeout`.
    #[must_use]
    pub fn with_fetch_timeout(self, timeout: Duration) -> Self {
        Self {
            cache: self.cache.with_fetch_timeout(timeout),
            ..self
        }
    }

    /// Uses `clock` for expiry deadlines (e.g. a [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self {
            cache: self.cache.with_clock(clock),
            ..self
        }
    }

    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The fetch timeout in force.
    pub fn fetch_timeout(&self) -> Duration {
        self.cache.fetch_timeout()
    }

    /// The cached token if it has not expired, without calling the inner authenticator.
    pub fn cached(&self) -> Option<AuthToken> {
        self.cache.peek()
    }

    /// Drops the cached token if it is `rejected` (compare-and-swap) and returns whether it
    /// did. Call it with the token an API answered 401 for; if a concurrent caller already
    /// replaced it, nothing is dropped and no second refetch happens.
    pub fn invalidate_token(&self, rejected: &str) -> bool {
        self.cache.invalidate_token(rejected)
    }

    /// Drops the cached token unconditionally.
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// Gets a new token from the inner authenticator now and caches it.
    ///
    /// # Errors
    /// The inner authenticator's error; the previously cached token stays cached.
    pub async fn force_refresh(&self) -> Result<AuthToken, AuthError> {
        self.cache
            .force_refresh(|| self.fetch())
            .await
            .map_err(AuthError::from)
    }

    async fn fetch(&self) -> Result<AuthToken, AuthError> {
        let token = self.inner.get_auth_token().await?;
        check_sendable(&token.token)?;
        Ok(token)
    }
}

/// Refuses tokens that `Authorization: Bearer <token>` cannot carry (reference §3 grammar).
fn check_sendable(token: &str) -> Result<(), AuthError> {
    if token.is_empty() {
        return Err(AuthError::InvalidResponse("the token is empty"));
    }
    let header = format!("Bearer {token}");
    // Only the grammar is the client's to check: the size cap is the server's setting
    // (`[server] max_authorization_bytes`), which a client cannot know.
    match parse_authorization(header.as_bytes(), usize::MAX) {
        Ok(Credentials::Bearer(parsed)) if parsed.as_str() == token => Ok(()),
        _ => Err(AuthError::InvalidResponse(
            "the token is not a valid bearer token (RFC 6750 b64token)",
        )),
    }
}

#[async_trait]
impl<A: Authenticator> Authenticator for CachingAuthenticator<A> {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        self.cache
            .get_or_fetch(|| self.fetch())
            .await
            .map_err(AuthError::from)
    }
}

impl<A> fmt::Debug for CachingAuthenticator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingAuthenticator")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_b64tokens_are_sendable() {
        assert!(check_sendable("eyJhbGciOi.payload.sig-_~+/==").is_ok());
        assert!(check_sendable("").is_err());
        assert!(check_sendable("two words").is_err());
        assert!(check_sendable("line\nbreak").is_err());
        assert!(check_sendable("tab\t").is_err());
        // The size cap is the server's setting, not the client's.
        assert!(check_sendable(&"a".repeat(20_000)).is_ok());
    }
}
