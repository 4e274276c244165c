//! Behaviour of the token cache itself (`client_sdk::cache::TokenCache`), with fake fetchers and
//! Tokio's paused clock. The other modules cover the same rules through `Client` over real HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client_sdk::AuthToken;
use client_sdk::cache::{ManualClock, TokenCache, TokenCacheError};
use tokio::time::{Instant, advance};

type Cache = TokenCache<String>;

/// A fake issuer: counts fetches and hands out distinct tokens.
#[derive(Default)]
struct Issuer {
    fetches: AtomicUsize,
}

impl Issuer {
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A fetch that succeeds after `delay` with a token living `expires_in` seconds.
    async fn issue(&self, expires_in: u64, delay: Duration) -> Result<AuthToken, String> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(AuthToken::new(format!("token-{n}"), expires_in))
    }

    /// A fetch that fails after `delay`.
    async fn fail(&self, delay: Duration) -> Result<AuthToken, String> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Err("issuer unavailable".to_owned())
    }
}

async fn get(cache: &Cache, issuer: &Issuer, expires_in: u64) -> AuthToken {
    cache
        .get_or_fetch(|| issuer.issue(expires_in, Duration::ZERO))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_share_one_fetch() {
    let cache = Arc::new(Cache::new());
    let issuer = Arc::new(Issuer::default());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let issuer = Arc::clone(&issuer);
            tokio::spawn(async move {
                cache
                    .get_or_fetch(|| issuer.issue(3600, Duration::from_millis(50)))
                    .await
            })
        })
        .collect();
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(token.token, "token-1");
    }
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_token_is_served_until_sixty_seconds_before_expiry() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    assert_eq!(get(&cache, &issuer, 3600).await.expires_in, 3600);

    advance(Duration::from_secs(1000)).await;
    let hit = get(&cache, &issuer, 3600).await;
    assert_eq!((hit.token.as_str(), hit.expires_in), ("token-1", 2600));

    advance(Duration::from_secs(2539)).await;
    let hit = get(&cache, &issuer, 3600).await;
    assert_eq!((hit.token.as_str(), hit.expires_in), ("token-1", 61));
    assert_eq!(issuer.fetches(), 1);

    advance(Duration::from_secs(1)).await; // t = 3540 = expiresIn − 60
    let refreshed = get(&cache, &issuer, 3600).await;
    assert_eq!(
        (refreshed.token.as_str(), refreshed.expires_in),
        ("token-2", 3600)
    );
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn short_lifetimes_refresh_at_half_life() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    get(&cache, &issuer, 100).await;
    advance(Duration::from_secs(49)).await;
    assert_eq!(get(&cache, &issuer, 100).await.expires_in, 51);
    assert_eq!(issuer.fetches(), 1);
    advance(Duration::from_secs(1)).await;
    assert_eq!(get(&cache, &issuer, 100).await.token, "token-2");

    // One second: cached for half a second.
    let cache = Cache::new();
    let issuer = Issuer::default();
    get(&cache, &issuer, 1).await;
    advance(Duration::from_millis(499)).await;
    let hit = get(&cache, &issuer, 1).await;
    assert_eq!((hit.token.as_str(), hit.expires_in), ("token-1", 0));
    advance(Duration::from_millis(1)).await;
    assert_eq!(get(&cache, &issuer, 1).await.token, "token-2");
}

#[tokio::test(start_paused = true)]
async fn lifetime_zero_is_never_cached() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    for n in 1..=3 {
        let token = get(&cache, &issuer, 0).await;
        assert_eq!(token, AuthToken::new(format!("token-{n}"), 0));
    }
    assert_eq!(issuer.fetches(), 3);
    assert!(cache.peek().is_none());
}

#[tokio::test(start_paused = true)]
async fn absurd_lifetimes_are_never_cached() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let over_a_year = 365 * 24 * 3600 + 1;
    for expires_in in [over_a_year, u64::MAX] {
        let token = get(&cache, &issuer, expires_in).await;
        assert_eq!(token.expires_in, expires_in, "reported unchanged");
        assert!(cache.peek().is_none());
    }
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_lifetime_counts_from_when_the_fetch_started() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let start = Instant::now();
    let token = cache
        .get_or_fetch(|| issuer.issue(100, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(
        token.expires_in, 90,
        "ten of the 100 seconds went by in flight"
    );

    // Fresh until start + 50 s, not until the fetch finished + 50 s.
    advance(Duration::from_secs(39)).await;
    assert_eq!(get(&cache, &issuer, 100).await.expires_in, 51);
    advance(Duration::from_secs(1)).await;
    assert_eq!(get(&cache, &issuer, 100).await.token, "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_serves_the_valid_token_then_the_error_after_expiry() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    get(&cache, &issuer, 3600).await;

    advance(Duration::from_secs(3550)).await; // due for refresh, still valid
    let served = cache
        .get_or_fetch(|| issuer.fail(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!((served.token.as_str(), served.expires_in), ("token-1", 50));
    assert_eq!(issuer.fetches(), 2, "the refresh was attempted");

    advance(Duration::from_secs(50)).await; // expired
    let error = cache
        .get_or_fetch(|| issuer.fail(Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TokenCacheError::Fetch("issuer unavailable".to_owned())
    );

    // Errors are not cached: the next call fetches again and succeeds.
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-4");
    assert_eq!(issuer.fetches(), 4);
}

#[tokio::test(start_paused = true)]
async fn callers_queued_behind_a_failed_fetch_share_its_error_and_later_calls_retry() {
    let cache = Arc::new(Cache::new());
    let issuer = Arc::new(Issuer::default());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let issuer = Arc::clone(&issuer);
            tokio::spawn(async move {
                cache
                    .get_or_fetch(|| issuer.fail(Duration::from_secs(1)))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(TokenCacheError::Fetch(_))
        ));
    }
    assert_eq!(issuer.fetches(), 1);

    assert_eq!(get(&cache, &issuer, 60).await.token, "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_fetch_times_out_after_thirty_seconds_by_default() {
    let cache = Cache::new();
    let start = Instant::now();
    let error = cache
        .get_or_fetch(std::future::pending::<Result<AuthToken, String>>)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TokenCacheError::Timeout {
            after: Duration::from_secs(30)
        }
    );
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(
        error.to_string(),
        "fetching a token timed out after 30000 ms"
    );

    let cache = Cache::new().with_fetch_timeout(Duration::from_secs(2));
    let start = Instant::now();
    let error = cache
        .get_or_fetch(std::future::pending::<Result<AuthToken, String>>)
        .await
        .unwrap_err();
    assert!(matches!(error, TokenCacheError::Timeout { .. }));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_refresh_serves_the_valid_token() {
    let cache = Cache::new().with_fetch_timeout(Duration::from_secs(5));
    let issuer = Issuer::default();
    get(&cache, &issuer, 600).await;
    advance(Duration::from_secs(560)).await;
    let served = cache
        .get_or_fetch(std::future::pending::<Result<AuthToken, String>>)
        .await
        .unwrap();
    assert_eq!((served.token.as_str(), served.expires_in), ("token-1", 35));
}

#[tokio::test(start_paused = true)]
async fn invalidate_token_only_drops_the_rejected_token() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let first = get(&cache, &issuer, 3600).await;

    assert!(!cache.invalidate_token("some-other-token"));
    assert!(!cache.invalidate_token("token-")); // a prefix is not a match
    assert_eq!(cache.peek().unwrap().token, first.token);

    // Two requests both got a 401 for token-1. The first drops it and refetches.
    assert!(cache.invalidate_token(&first.token));
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-2");
    // The second finds token-2 in place: nothing dropped, nothing refetched.
    assert!(!cache.invalidate_token(&first.token));
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-2");
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_invalidated_token_is_not_served_when_the_refetch_fails() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let first = get(&cache, &issuer, 3600).await;
    assert!(cache.invalidate_token(&first.token));
    let result = cache.get_or_fetch(|| issuer.fail(Duration::ZERO)).await;
    assert!(matches!(result, Err(TokenCacheError::Fetch(_))));
}

#[tokio::test(start_paused = true)]
async fn invalidate_and_force_refresh_are_unconditional() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    get(&cache, &issuer, 3600).await;

    let forced = cache
        .force_refresh(|| issuer.issue(3600, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(forced.token, "token-2");
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-2");

    // A failed forced refresh reports the error but keeps the cached token.
    let error = cache
        .force_refresh(|| issuer.fail(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(error, TokenCacheError::Fetch(_)));
    assert_eq!(cache.peek().unwrap().token, "token-2");

    cache.invalidate();
    assert!(cache.peek().is_none());
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-4");
    assert_eq!(issuer.fetches(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_fetch_releases_the_lock() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let abandoned = tokio::time::timeout(
        Duration::from_secs(1),
        cache.get_or_fetch(|| issuer.issue(3600, Duration::from_secs(10))),
    )
    .await;
    assert!(abandoned.is_err(), "the caller gave up");
    assert!(cache.peek().is_none());
    assert_eq!(get(&cache, &issuer, 3600).await.token, "token-2");
}

#[tokio::test]
async fn a_manual_clock_drives_the_deadlines() {
    let clock = ManualClock::new();
    let cache = Cache::new().with_clock(Arc::new(clock.clone()));
    let issuer = Issuer::default();
    get(&cache, &issuer, 120).await;
    clock.advance(Duration::from_secs(59));
    assert_eq!(get(&cache, &issuer, 120).await.expires_in, 61);
    clock.advance(Duration::from_secs(1));
    assert_eq!(get(&cache, &issuer, 120).await.token, "token-2");
}

#[tokio::test]
async fn debug_never_shows_the_token() {
    let cache = Cache::new();
    let issuer = Issuer::default();
    let token = get(&cache, &issuer, 3600).await;
    let debug = format!("{cache:?} {token:?}");
    assert!(!debug.contains(&token.token), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}
