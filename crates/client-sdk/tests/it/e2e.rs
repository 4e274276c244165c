//! The reference's full flow: the server holds the project key and exposes a token route;
//! the frontend gets its tokens from that route and calls the API; the key never reaches it.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use client_sdk::{AuthError, BackendUrlAuthenticator, Client, reqwest};
use serde_json::{Value, json};

use crate::support::{PROJECT_ID, TestApi, serve};

const SESSION: &str = "user-session-42";

/// The application's backend: `/api/token` (behind its own session check) forwards
/// `client.get_auth_token()` unchanged, like the reference's `/api/moss-token` route.
async fn start_backend(client: Client) -> String {
    async fn token_route(State(client): State<Client>, headers: HeaderMap) -> Response {
        let has_session = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|cookies| {
                cookies
                    .split("; ")
                    .any(|c| c == format!("session={SESSION}"))
            });
        if !has_session {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "no_session"})),
            )
                .into_response();
        }
        match client.get_auth_token().await {
            Ok(token) => Json(token).into_response(),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "Failed to retrieve token"})),
            )
                .into_response(),
        }
    }
    serve(
        Router::new()
            .route("/api/token", get(token_route))
            .with_state(client),
    )
    .await
}

fn contains_anywhere(headers: &reqwest::header::HeaderMap, body: &str, needle: &str) -> bool {
    body.contains(needle)
        || headers.iter().any(|(name, value)| {
            name.as_str().contains(needle)
                || value
                    .as_bytes()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
        })
}

#[tokio::test]
async fn frontend_calls_the_api_with_tokens_from_its_backend() {
    let api = TestApi::start().await;
    let server_client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let backend = start_backend(server_client).await;
    let token_url = format!("{backend}/api/token");

    let authenticator = BackendUrlAuthenticator::new(&token_url)
        .unwrap()
        .cookie("session", SESSION)
        .unwrap();
    let frontend = Client::with_authenticator(&api.url, PROJECT_ID, authenticator).unwrap();

    // The frontend's call succeeds: its bearer JWT was verified by the API.
    for _ in 0..3 {
        let response = frontend.get("/api/items").await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sub"], PROJECT_ID);
    }
    // Both caches did their job: one exchange of the key, one call of the token route.
    assert_eq!(api.token_fetches(), 1);
    assert_eq!(api.api_calls(), 3);

    // What the frontend receives from its backend: the token shape, nothing else.
    let raw = reqwest::Client::new()
        .get(&token_url)
        .header(header::COOKIE.as_str(), format!("session={SESSION}"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let headers = raw.headers().clone();
    let body = raw.text().await.unwrap();
    let forwarded: Value = serde_json::from_str(&body).unwrap();
    let object = forwarded.as_object().unwrap();
    assert_eq!(object.len(), 2, "{body}");
    let token = object["token"].as_str().unwrap();
    let expires_in = object["expiresIn"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(token, api.issued()[0]);
    assert_eq!(frontend.get_auth_token().await.unwrap().token, token);

    // The key is nowhere in it, not even inside the JWT's payload.
    let key = api.project_key.as_str();
    let key_secret_half = key.split('.').next().unwrap();
    let mut decoded_segments = String::new();
    for segment in token.split('.').take(2) {
        decoded_segments
            .push_str(&String::from_utf8(URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap());
    }
    assert!(
        decoded_segments.contains(PROJECT_ID),
        "the check can see the payload"
    );
    for needle in [key, key_secret_half] {
        assert!(!contains_anywhere(&headers, &body, needle));
        assert!(!decoded_segments.contains(needle));
    }

    // Nor in the API's responses to the frontend.
    let response = frontend.get("/api/items").await.unwrap();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert!(!contains_anywhere(&headers, &body, key));
    assert!(!format!("{frontend:?}").contains(token));
}

#[tokio::test]
async fn without_a_session_the_frontend_gets_a_precise_error() {
    let api = TestApi::start().await;
    let server_client = Client::new(&api.url, PROJECT_ID, &api.project_key).unwrap();
    let backend = start_backend(server_client).await;

    let authenticator = BackendUrlAuthenticator::new(&format!("{backend}/api/token")).unwrap();
    let frontend = Client::builder(&api.url, PROJECT_ID)
        .authenticator(authenticator)
        .fetch_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = frontend.get_auth_token().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Rejected { status: 401, code: Some(code) } if code == "no_session"),
        "{error:?}"
    );
    assert_eq!(
        api.token_fetches(),
        0,
        "the backend never exchanged its key"
    );
}

#[tokio::test]
async fn a_backend_whose_key_is_wrong_answers_500_without_details() {
    let api = TestApi::start().await;
    let wrong = Client::new(
        &api.url,
        PROJECT_ID,
        "ffeeddccbbaa99887766554433221100.ffeeddccbbaa99887766554433221100",
    )
    .unwrap();
    let backend = start_backend(wrong).await;
    let authenticator = BackendUrlAuthenticator::new(&format!("{backend}/api/token"))
        .unwrap()
        .cookie("session", SESSION)
        .unwrap();
    let frontend = Client::with_authenticator(&api.url, PROJECT_ID, authenticator).unwrap();
    let error = frontend.get("/api/items").await.unwrap_err();
    assert!(error.is_transient(), "a 500 may be temporary: {error:?}");
    assert_eq!(api.api_calls(), 0);
}
