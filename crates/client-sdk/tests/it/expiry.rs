//! Expiry math over HTTP, on a manual clock (a paused Tokio clock would fire the HTTP
//! timeouts early).

use std::sync::Arc;
use std::time::Duration;

use client_sdk::{AuthError, Client, ManualClock};
use serde_json::json;

use crate::support::{PROJECT_ID, TestApi};

fn client_with_clock(api: &TestApi) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    let client = Client::builder(&api.url, PROJECT_ID)
        .project_key(&api.project_key)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    (client, clock)
}

#[tokio::test]
async fn a_token_is_refreshed_sixty_seconds_before_it_expires() {
    let api = TestApi::start().await;
    let (client, clock) = client_with_clock(&api);

    let first = client.get_auth_token().await.unwrap();
    assert_eq!(first.expires_in, 3600);

    clock.advance(Duration::from_secs(3539));
    let hit = client.get_auth_token().await.unwrap();
    assert_eq!(hit.token, first.token);
    assert_eq!(hit.expires_in, 61, "a hit reports the time actually left");
    assert_eq!(api.token_fetches(), 1);

    clock.advance(Duration::from_secs(1));
    let refreshed = client.get_auth_token().await.unwrap();
    assert_ne!(refreshed.token, first.token);
    assert_eq!(refreshed.expires_in, 3600);
    assert_eq!(api.token_fetches(), 2);
}

#[tokio::test]
async fn short_lifetimes_are_refreshed_at_half_life() {
    let api = TestApi::start().await;
    api.set_expires_in(json!(100));
    let (client, clock) = client_with_clock(&api);

    client.get_auth_token().await.unwrap();
    clock.advance(Duration::from_secs(49));
    assert_eq!(client.get_auth_token().await.unwrap().expires_in, 51);
    assert_eq!(api.token_fetches(), 1);
    clock.advance(Duration::from_secs(1));
    client.get_auth_token().await.unwrap();
    assert_eq!(api.token_fetches(), 2);
}

#[tokio::test]
async fn a_fractional_lifetime_is_rounded_down() {
    let api = TestApi::start().await;
    api.set_expires_in(json!(90.9));
    let (client, clock) = client_with_clock(&api);

    assert_eq!(client.get_auth_token().await.unwrap().expires_in, 90);
    clock.advance(Duration::from_secs(44));
    client.get_auth_token().await.unwrap();
    assert_eq!(api.token_fetches(), 1);
    clock.advance(Duration::from_secs(1)); // 45 = 90 / 2
    client.get_auth_token().await.unwrap();
    assert_eq!(api.token_fetches(), 2);
}

#[tokio::test]
async fn lifetime_zero_is_used_but_never_cached() {
    let api = TestApi::start().await;
    api.set_expires_in(json!(0));
    let (client, _clock) = client_with_clock(&api);

    for _ in 0..3 {
        let token = client.get_auth_token().await.unwrap();
        assert_eq!(token.expires_in, 0);
    }
    assert_eq!(api.token_fetches(), 3);

    // Requests still work: each one fetches its own token.
    let response = client.get("/api/items").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.token_fetches(), 4);
    assert!(client.authenticator().cached().is_none());
}

#[tokio::test]
async fn absurd_lifetimes_are_never_cached() {
    let api = TestApi::start().await;
    api.set_expires_in(json!(1_700_000_000_000_u64)); // an absolute time in ms, by mistake
    let (client, _clock) = client_with_clock(&api);

    for _ in 0..2 {
        let token = client.get_auth_token().await.unwrap();
        assert_eq!(token.expires_in, 1_700_000_000_000);
    }
    assert_eq!(api.token_fetches(), 2);
}

#[tokio::test]
async fn a_negative_lifetime_is_an_error_and_not_cached() {
    let api = TestApi::start().await;
    api.set_expires_in(json!(-30));
    let (client, _clock) = client_with_clock(&api);

    for _ in 0..2 {
        let error = client.get_auth_token().await.unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidResponse("expiresIn is negative")),
            "{error:?}"
        );
        assert!(!error.is_transient());
    }
    assert_eq!(api.token_fetches(), 2);

    api.set_expires_in(json!(3600));
    assert_eq!(client.get_auth_token().await.unwrap().expires_in, 3600);
}
