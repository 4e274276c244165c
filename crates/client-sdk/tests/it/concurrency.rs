//! Concurrent callers share one token fetch.

use std::collections::HashSet;
use std::time::Duration;

use client_sdk::Client;

use crate::support::{PROJECT_ID, TestApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_get_auth_header_calls_on_an_empty_cache_fetch_once() {
    let api = TestApi::start().await;
    // Keep the one fetch in flight while the callers pile up behind it.
    api.set_token_delay(Duration::from_millis(100));
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_auth_header().await })
        })
        .collect();
    let mut headers = HashSet::new();
    for task in tasks {
        headers.insert(task.await.unwrap().unwrap());
    }

    assert_eq!(api.token_fetches(), 1);
    let issued = api.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(headers, HashSet::from([format!("Bearer {}", issued[0])]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_api_requests_share_one_fetch_and_all_succeed() {
    let api = TestApi::start().await;
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.get(&format!("/api/items/{i}")).await })
        })
        .collect();
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["sub"], PROJECT_ID);
    }
    assert_eq!(api.token_fetches(), 1);
    assert_eq!(api.api_calls(), 100);
}
