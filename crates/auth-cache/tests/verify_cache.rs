//! The verification cache: single-flight, generations, lifetimes, bounds and statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use auth_cache::verify::{CacheSettings, Lookup, Outcome, VerificationCache};
use auth_core::apikey::{ApiKeyError, KeyId};
use auth_core::policy::{InvalidReason, Principal, RouteClass, Step};

fn api_key_success(class: RouteClass) -> Outcome {
    Ok(Principal::ApiKey {
        class,
        key_id: KeyId::of_stored("stored"),
    })
}

fn refused() -> Outcome {
    Err(InvalidReason::ApiKey(ApiKeyError::NoMatch))
}

/// A verification that counts how often it runs.
async fn counted(runs: &AtomicU32, outcome: Outcome) -> Result<Outcome, std::convert::Infallible> {
    runs.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_share_one_computation() {
    let cache = Arc::new(VerificationCache::new(CacheSettings::default()));
    let runs = Arc::new(AtomicU32::new(0));
    let generation = cache.generation();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, runs) = (Arc::clone(&cache), Arc::clone(&runs));
            tokio::spawn(async move {
                cache
                    .get_or_verify(
                        Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, "tok"),
                        || async { counted(&runs, api_key_success(RouteClass::Ingest)).await },
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.unwrap().outcome,
            api_key_success(RouteClass::Ingest)
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let stats = cache.stats().snapshot();
    assert_eq!((stats.misses, stats.hits), (1, 99));
}

#[tokio::test]
async fn a_new_generation_forgets_everything_and_old_generations_stay_apart() {
    let cache = VerificationCache::new(CacheSettings::default());
    let runs = AtomicU32::new(0);
    let old = cache.generation();
    let lookup = |generation| {
        cache.get_or_verify(
            Lookup::new(generation, Step::Admin, RouteClass::Admin, "tok"),
            || async { counted(&runs, api_key_success(RouteClass::Admin)).await },
        )
    };
    assert!(!lookup(old).await.unwrap().from_cache);
    assert!(lookup(old).await.unwrap().from_cache);
    let new = cache.invalidate_all();
    assert_ne!(new, old);
    assert_eq!(cache.generation(), new);
    assert!(!lookup(new).await.unwrap().from_cache);
    assert!(lookup(new).await.unwrap().from_cache);
    // A verification that started under the old configuration lands in the old generation only.
    assert!(!lookup(old).await.unwrap().from_cache);
    assert!(lookup(new).await.unwrap().from_cache);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn keys_separate_tokens_classes_and_steps_but_jwts_are_shared_across_classes() {
    let cache = VerificationCache::new(CacheSettings::default());
    let runs = AtomicU32::new(0);
    let generation = cache.generation();
    let lookup = |step, class, token: &'static str| {
        let runs = &runs;
        let cache = &cache;
        async move {
            cache
                .get_or_verify(Lookup::new(generation, step, class, token), || async {
                    counted(runs, refused()).await
                })
                .await
                .unwrap()
                .from_cache
        }
    };
    assert!(!lookup(Step::ApiKey, RouteClass::Ingest, "a").await);
    assert!(!lookup(Step::ApiKey, RouteClass::Consumption, "a").await);
    assert!(!lookup(Step::ApiKey, RouteClass::Ingest, "b").await);
    assert!(!lookup(Step::Jwt, RouteClass::Ingest, "a").await);
    assert!(lookup(Step::Jwt, RouteClass::Consumption, "a").await);
    assert!(!lookup(Step::Admin, RouteClass::Admin, "a").await);
    assert!(lookup(Step::ApiKey, RouteClass::Consumption, "a").await);
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn failures_expire_after_their_ttl_while_successes_stay() {
    let cache = VerificationCache::new(CacheSettings {
        failure_ttl: Duration::from_millis(300),
        ..CacheSettings::default()
    });
    let runs = AtomicU32::new(0);
    let generation = cache.generation();
    let lookup = |token: &'static str, outcome: Outcome| {
        let (runs, cache) = (&runs, &cache);
        async move {
            cache
                .get_or_verify(
                    Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, token),
                    || async { counted(runs, outcome).await },
                )
                .await
                .unwrap()
                .from_cache
        }
    };
    let ok = api_key_success(RouteClass::Ingest);
    assert!(!lookup("good", ok.clone()).await);
    assert!(!lookup("bad", refused()).await);
    assert!(lookup("good", ok.clone()).await);
    assert!(lookup("bad", refused()).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(lookup("good", ok).await, "successes live for 5 minutes");
    assert!(!lookup("bad", refused()).await, "the failure expired");
}

#[tokio::test]
async fn transient_errors_are_not_cached() {
    #[derive(Debug)]
    struct PoolFull;
    let cache = VerificationCache::new(CacheSettings::default());
    let generation = cache.generation();
    let failed = cache
        .get_or_verify(
            Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, "t"),
            || async { Err::<Outcome, _>(PoolFull) },
        )
        .await;
    assert!(matches!(failed.as_ref().map_err(|e| &**e), Err(PoolFull)));
    let retried = cache
        .get_or_verify(
            Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, "t"),
            || async { Ok::<_, PoolFull>(api_key_success(RouteClass::Ingest)) },
        )
        .await
        .unwrap();
    assert!(!retried.from_cache);
    assert_eq!(retried.outcome, api_key_success(RouteClass::Ingest));
}

#[tokio::test]
async fn the_cache_is_bounded_and_counts_evictions() {
    let cache = VerificationCache::new(CacheSettings {
        max_entries: 10,
        ..CacheSettings::default()
    });
    let generation = cache.generation();
    for i in 0..200 {
        let token = format!("token-{i}");
        cache
            .get_or_verify(
                Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, &token),
                || async { Ok::<_, std::convert::Infallible>(refused()) },
            )
            .await
            .unwrap();
    }
    assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    assert!(cache.stats().snapshot().evictions >= 190);
}

#[tokio::test]
async fn disabled_settings_compute_every_time() {
    let cache = VerificationCache::new(CacheSettings::disabled());
    let runs = AtomicU32::new(0);
    let generation = cache.generation();
    for _ in 0..3 {
        let verified = cache
            .get_or_verify(
                Lookup::new(generation, Step::ApiKey, RouteClass::Ingest, "t"),
                || async { counted(&runs, api_key_success(RouteClass::Ingest)).await },
            )
            .await
            .unwrap();
        assert!(!verified.from_cache);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn debug_output_shows_no_token() {
    let cache = VerificationCache::new(CacheSettings::default());
    cache
        .get_or_verify(
            Lookup::new(0, Step::Admin, RouteClass::Admin, "s3cr3t-t0ken"),
            || async { Ok::<_, std::convert::Infallible>(refused()) },
        )
        .await
        .unwrap();
    let debug = format!("{cache:?}");
    assert!(debug.contains("generation"));
    assert!(!debug.contains("s3cr3t"));
}

#[tokio::test]
async fn outcomes_of_one_key_version_are_not_served_for_another() {
    let cache = VerificationCache::new(CacheSettings::default());
    let lookup = Lookup::new(cache.generation(), Step::Jwt, RouteClass::Ingest, "token");
    let refused = || async {
        Ok::<_, std::convert::Infallible>(Err(InvalidReason::ApiKey(ApiKeyError::NoMatch)))
    };
    let first = cache
        .get_or_verify(lookup.with_key_version(1), refused)
        .await
        .unwrap();
    assert!(!first.from_cache);
    let allowed =
        || async { Ok::<_, std::convert::Infallible>(Ok(Principal::Open(RouteClass::Ingest))) };
    let newer = cache
        .get_or_verify(lookup.with_key_version(2), allowed)
        .await
        .unwrap();
    assert!(!newer.from_cache, "version 2 verifies afresh");
    assert!(newer.outcome.is_ok());
    let again = cache
        .get_or_verify(lookup.with_key_version(1), allowed)
        .await
        .unwrap();
    assert!(
        again.from_cache && again.outcome.is_err(),
        "version 1 keeps its own entry"
    );
}
