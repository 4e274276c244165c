//! A burst of requests with one new API key costs one KDF run.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{Key, bearer, echo_app, get};
use server_middleware::{AuthHandle, AuthState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_concurrent_requests_with_a_new_key_run_the_kdf_once() {
    let key = Key::new();
    let handle = AuthHandle::new(AuthState::builder().ingest_keys(key.set()).build().unwrap());
    let app = Arc::new(echo_app().layer(handle.by_path_prefix()));
    let header = Arc::new(bearer(&key.token));
    let start = Arc::new(tokio::sync::Barrier::new(100));
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let (app, header, start) = (Arc::clone(&app), Arc::clone(&header), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                get(&app, "/ingest/events", Some(&header)).await.status
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    let stats = handle.stats().verify;
    assert_eq!(stats.kdf_runs, 1, "{stats:?}");
    assert_eq!(stats.misses, 1, "{stats:?}");
    assert_eq!(stats.hits, 99, "{stats:?}");
    // Later requests are plain cache hits.
    assert_eq!(get(&app, "/ingest/events", Some(&header)).await.status, 200);
    assert_eq!(handle.stats().verify.kdf_runs, 1);
}

#[tokio::test]
async fn refused_keys_are_remembered_and_garbage_costs_no_kdf() {
    let key = Key::new();
    let other = Key::new();
    let handle = AuthHandle::new(AuthState::builder().ingest_keys(key.set()).build().unwrap());
    let app = echo_app().layer(handle.by_path_prefix());
    for _ in 0..3 {
        assert_eq!(
            get(&app, "/ingest/x", Some(&bearer(&other.token)))
                .await
                .status,
            401
        );
    }
    assert_eq!(handle.stats().verify.kdf_runs, 1, "the failure is cached");
    assert_eq!(
        get(&app, "/ingest/x", Some(&bearer("garbage")))
            .await
            .status,
        401
    );
    assert_eq!(
        handle.stats().verify.kdf_runs,
        1,
        "a token of no known shape runs no KDF"
    );
}
