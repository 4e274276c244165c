//! HTTP 401 from the API: invalidate the rejected token (compare-and-swap), refetch once,
//! retry once.

use client_sdk::Client;
use serde_json::json;

use crate::support::{PROJECT_ID, TestApi};

#[tokio::test]
async fn a_rejected_token_is_refetched_once_and_the_request_retried_once() {
    let api = TestApi::start().await;
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let first = client.get_auth_token().await.unwrap();
    api.revoke(&first.token);

    let response = client.get("/api/items").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.token_fetches(), 2);
    assert_eq!(api.api_calls(), 2);
    let issued = api.issued();
    assert_eq!(api.presented(), vec![issued[0].clone(), issued[1].clone()]);
    assert_eq!(client.get_auth_token().await.unwrap().token, issued[1]);
}

#[tokio::test]
async fn a_second_401_is_returned_to_the_caller() {
    let api = TestApi::start().await;
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    api.set_reject_all(true);

    let response = client.get("/api/items").await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(api.token_fetches(), 2, "one fetch, one refetch");
    assert_eq!(api.api_calls(), 2, "one request, one retry: no loop");
}

#[tokio::test]
async fn a_retried_post_sends_the_same_body() {
    let api = TestApi::start().await;
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let first = client.get_auth_token().await.unwrap();
    api.revoke(&first.token);

    let response = client
        .post_json("/api/search", &json!({"q": "rust", "limit": 5}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["body"], json!({"q": "rust", "limit": 5}));
    assert_eq!(api.api_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_for_the_same_token_cause_one_refetch() {
    let api = TestApi::start().await;
    let client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let first = client.get_auth_token().await.unwrap();
    api.revoke(&first.token);
    // Both requests present the revoked token; the second 401 arrives only after the first
    // caller has refetched and its retry has succeeded.
    api.stagger_rejections();

    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get("/api/items").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status(), 200);
    }

    assert_eq!(
        api.token_fetches(),
        2,
        "the first fetch and a single refetch"
    );
    let issued = api.issued();
    let presented = api.presented();
    assert_eq!(presented.len(), 4);
    assert_eq!(presented[..2], [issued[0].clone(), issued[0].clone()]);
    assert_eq!(presented[2..], [issued[1].clone(), issued[1].clone()]);
}
