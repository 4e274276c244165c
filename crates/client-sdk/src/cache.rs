//! The client SDK's token cache (reference §8).
//!
//! [`TokenCache`] sits in front of whatever fetches a short-lived bearer token (a project-key
//! exchange, a backend token URL, …) and decides when that fetch actually runs:
//!
//! - A token is served from the cache until `expiresIn − 60 s`; for lifetimes of 120 s or less the
//!   margin is half the lifetime ([`refresh_buffer`]). A lifetime of 0 or more than
//!   [`MAX_CACHED_LIFETIME`] is not cached: the token goes to the caller that fetched it and the
//!   next call fetches again ([`CachePlan`]).
//! - Deadlines are [`Instant`](tokio::time::Instant)s from a [`Clock`] (monotonic; Tokio's by
//!   default, so `tokio::time::pause` works in tests). The lifetime is counted from the moment the
//!   fetch *started*, and a cache hit reports the whole seconds actually left as `expires_in`.
//! - Concurrent callers share one fetch: the first takes the fetch lock, the others queue on it
//!   and re-check the cache once they hold it. Callers that queued behind a fetch that failed get
//!   that fetch's error instead of starting one each; a call that starts afterwards fetches again,
//!   so errors are never cached.
//! - A refresh that fails while the cached token has not yet expired (the last 60 s) serves the
//!   cached token. A fetch that outlives the fetch timeout (30 s by default) is dropped and
//!   counts as a failure.
//! - [`TokenCache::invalidate_token`] drops the cached token only if it is the one the API
//!   rejected (compare-and-swap), so two requests that both got a 401 for the same token cause
//!   one refetch, not two. [`TokenCache::invalidate`] and [`TokenCache::force_refresh`] are the
//!   unconditional versions.
//!
//! Token values never appear in `Debug` output or errors.
//!
//! Fetches return, and the cache serves, [`AuthToken`](crate::AuthToken)s. Every authenticator is
//! used through this cache: [`CachingAuthenticator`] wraps an
//! [`Authenticator`](crate::Authenticator) in a `TokenCache`, and a [`Client`](crate::Client)
//! always does that wrapping itself. Use `TokenCache` directly to cache tokens from something
//! that is not an `Authenticator`:
//!
//! ```
//! use client_sdk::AuthToken;
//! use client_sdk::cache::TokenCache;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // The error type must be Clone: callers that shared a failed fetch all get its error.
//! let cache: TokenCache<String> = TokenCache::new();
//! let fetch = || async { Ok(AuthToken::new("eyJ.example.token", 3600)) };
//!
//! let first = cache.get_or_fetch(fetch).await.unwrap();
//! // Served from the cache: this fetcher would fail, but it is never called.
//! let again = cache
//!     .get_or_fetch(|| async { Err("not called".to_owned()) })
//!     .await
//!     .unwrap();
//! assert_eq!(first.token, again.token);
//! assert!(again.expires_in <= 3600);
//!
//! // The API answered 401 for this token: drop it, unless someone already replaced it.
//! assert!(cache.invalidate_token(&again.token));
//! assert!(cache.peek().is_none());
//! # }
//! ```

mod authenticator;
mod clock;
mod error;
mod lifetime;
mod token_cache;

pub use authenticator::CachingAuthenticator;
pub use clock::{Clock, ManualClock, TokioClock};
pub use error::TokenCacheError;
pub use lifetime::{CachePlan, MAX_CACHED_LIFETIME, REFRESH_BUFFER, Uncacheable, refresh_buffer};
pub use token_cache::{DEFAULT_FETCH_TIMEOUT, TokenCache};
