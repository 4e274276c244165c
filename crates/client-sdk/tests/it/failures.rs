//! Failed fetches: stale-while-valid, never cached, timeouts, precise errors, no leaks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use client_sdk::{
    AuthError, BackendUrlAuthenticator, Client, ClientError, ManualClock, ProjectKeyAuthenticator,
    reqwest,
};
use serde_json::json;

use crate::support::{PROJECT_ID, TestApi, serve};

#[tokio::test]
async fn a_failed_refresh_serves_the_valid_token_and_after_expiry_returns_the_error() {
    let api = TestApi::start().await;
    let clock = ManualClock::new();
    let client = Client::builder(&api.url, PROJECT_ID)
        .project_key(&api.project_key)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let first = client.get_auth_token().await.unwrap();

    api.set_token_endpoint_down(true);
    clock.advance(Duration::from_secs(3550)); // due for refresh, 50 s of validity left
    let served = client.get_auth_token().await.unwrap();
    assert_eq!(served.token, first.token);
    assert_eq!(served.expires_in, 50);
    assert_eq!(api.token_fetches(), 2, "the refresh was attempted");
    // And requests keep working with it.
    assert_eq!(client.get("/api/items").await.unwrap().status(), 200);

    clock.advance(Duration::from_secs(50)); // expired
    let error = client.get_auth_token().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Status { status: 503, code: Some(code) } if code == "unavailable"),
        "{error:?}"
    );
    assert!(error.is_transient());
    let request_error = client.get("/api/items").await.unwrap_err();
    assert!(matches!(
        request_error,
        ClientError::Auth(AuthError::Status { status: 503, .. })
    ));

    // Errors are not cached: once the issuer is back, the next call succeeds.
    api.set_token_endpoint_down(false);
    let fetches = api.token_fetches();
    let fresh = client.get_auth_token().await.unwrap();
    assert_ne!(fresh.token, first.token);
    assert_eq!(api.token_fetches(), fetches + 1);
}

#[tokio::test]
async fn wrong_credentials_are_rejected_permanently_without_leaking_the_key() {
    let api = TestApi::start().await;
    let wrong_key = "00112233445566778899aabbccddeeff.00112233445566778899aabbccddeeff";
    let client = Client::new(&api.url, PROJECT_ID, wrong_key).unwrap();
    let error = client.get_auth_token().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Rejected { status: 401, code: Some(code) } if code == "invalid_client"),
        "{error:?}"
    );
    assert!(!error.is_transient());

    let wrong_project = Client::new(&api.url, "other-project", &api.project_key).unwrap();
    assert!(matches!(
        wrong_project.get_auth_token().await,
        Err(AuthError::Rejected { status: 401, .. })
    ));

    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
        format!("{wrong_project:?}"),
    ] {
        assert!(!text.contains(wrong_key), "{text}");
        assert!(!text.contains(&api.project_key), "{text}");
    }
}

#[tokio::test]
async fn a_slow_fetch_times_out() {
    let api = TestApi::start().await;
    api.set_token_delay(Duration::from_secs(5));
    let client = Client::builder(&api.url, PROJECT_ID)
        .project_key(&api.project_key)
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let start = Instant::now();
    let error = client.get_auth_token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::Timeout { after } if after == Duration::from_millis(200)),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_transient_transport_error() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = Client::new(&url, PROJECT_ID, "key").unwrap();
    let error = client.get_auth_token().await.unwrap_err();
    assert!(matches!(error, AuthError::Transport(_)), "{error:?}");
    assert!(error.is_transient());
    assert!(!format!("{error:?}").contains(&url), "the URL is stripped");
}

#[tokio::test]
async fn unusable_token_responses_are_precise_errors() {
    let app = Router::new()
        .route("/html", get(|| async { "<html>hello</html>" }))
        .route(
            "/spaces",
            get(|| async { axum::Json(json!({"token": "two words", "expiresIn": 60})) }),
        )
        .route(
            "/empty",
            get(|| async { axum::Json(json!({"token": "", "expiresIn": 60})) }),
        )
        .route(
            "/no-expiry",
            get(|| async { axum::Json(json!({"token": "abc"})) }),
        )
        .route("/huge", get(|| async { "x".repeat(100_000) }));
    let base = serve(app).await;
    let cases = [
        ("html", "the token response is not JSON"),
        (
            "spaces",
            "the token is not a valid bearer token (RFC 6750 b64token)",
        ),
        ("empty", "the token is empty"),
        ("no-expiry", "the response has no expiresIn"),
        ("huge", "the token response is larger than 64 KiB"),
    ];
    for (path, expected) in cases {
        let auth = BackendUrlAuthenticator::new(&format!("{base}/{path}")).unwrap();
        let client = Client::with_authenticator(&base, PROJECT_ID, auth).unwrap();
        let error = client.get_auth_token().await.unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidResponse(message) if message == expected),
            "{path}: {error:?}"
        );
        assert!(!error.is_transient());
    }
}

#[tokio::test]
async fn the_token_is_only_sent_under_the_base_url() {
    let api = TestApi::start().await;
    // The API under /api, the issuer at the root.
    let issuer = ProjectKeyAuthenticator::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let client =
        Client::with_authenticator(&format!("{}/api", api.url), PROJECT_ID, issuer).unwrap();

    let elsewhere = reqwest::Client::new().get("http://127.0.0.1:9/steal");
    assert!(matches!(
        client.send(elsewhere).await,
        Err(ClientError::OutsideBaseUrl)
    ));
    for path in ["http://127.0.0.1:9/steal", "../auth/token"] {
        assert!(
            matches!(client.get(path).await, Err(ClientError::InvalidPath(_))),
            "{path}"
        );
    }
    assert_eq!(api.token_fetches(), 0, "no token was even fetched");

    // Paths extend the base URL's path.
    let response = client.get("/items/7").await.unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["path"], "/api/items/7");
}

#[tokio::test]
async fn the_project_key_exchange_never_follows_redirects() {
    let captured = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&captured);
    let elsewhere = serve(Router::new().route(
        "/auth/token",
        post(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({"token": "abc", "expiresIn": 60}))
        }),
    ))
    .await;
    let target = format!("{elsewhere}/auth/token");
    let redirecting = serve(Router::new().route(
        "/auth/token",
        post(move || async move { Redirect::temporary(&target) }),
    ))
    .await;

    let client = Client::new(&redirecting, PROJECT_ID, "0123.4567").unwrap();
    let error = client.get_auth_token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::Status { status: 307, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(
        captured.load(Ordering::SeqCst),
        0,
        "the key was not re-sent"
    );
}
