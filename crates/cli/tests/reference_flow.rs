//! The client-side reference flow end to end, against the real gateway binary:
//! keygate (token issuer) ← a backend holding the project key ← a frontend with a custom
//! authenticator. The project key must never reach the frontend.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::apikey::generate_moose;
use auth_core::jwt::{JwtAlgorithm, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use client_sdk::{BackendUrlAuthenticator, Client};
use support::{Server, serve};

const SESSION: &str = "session=frontend-user-7";

/// The reference's backend: `/api/token` forwards `client.get_auth_token()` to logged-in users.
async fn start_backend(client: Client, calls: Arc<AtomicUsize>) -> String {
    async fn token(
        State((client, calls)): State<(Client, Arc<AtomicUsize>)>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        calls.fetch_add(1, Ordering::SeqCst);
        if headers.get("cookie").and_then(|c| c.to_str().ok()) != Some(SESSION) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match client.get_auth_token().await {
            Ok(token) => axum::Json(token).into_response(),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to retrieve token",
            )
                .into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/api/token", axum::routing::get(token))
        .with_state((client, calls));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/token")
}

#[tokio::test(flavor = "multi_thread")]
async fn frontend_calls_the_api_with_tokens_from_its_backend_and_never_sees_the_project_key() {
    let project = generate_moose().unwrap();
    let project_key = project.bearer_token.expose_secret().to_owned();
    let issuer_key = generate_key_pair(JwtAlgorithm::Rs256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[jwt]\nissuer = \"https://keygate.test/\"\naudience = \"moss-app\"\n\
             [token_issuer]\nprivate_key = \"\"\"\n{}\"\"\"\nttl_seconds = 600\n\
             [[token_issuer.projects]]\nid = \"my-project\"\nkey_hash = \"{}\"\n",
            issuer_key.private_pem.expose_secret(),
            project.stored
        ),
    )
    .unwrap();
    let server = Server::start(&mut serve(dir.path()));

    // Backend: holds the project key, exchanges it at /auth/token.
    let backend_client = Client::new(&server.base, "my-project", project_key.clone()).unwrap();
    let backend_calls = Arc::new(AtomicUsize::new(0));
    let token_url = start_backend(backend_client, Arc::clone(&backend_calls)).await;

    // Frontend: a custom authenticator that asks the backend, with its session cookie.
    let authenticator = BackendUrlAuthenticator::new(&token_url)
        .unwrap()
        .cookie("session", "frontend-user-7")
        .unwrap();
    let frontend = Client::with_authenticator(&server.base, "my-project", authenticator).unwrap();

    for _ in 0..5 {
        let response = frontend.get("/api/orders").await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["subject"], "my-project");
        assert_eq!(body["auth_method"], "jwt");
    }
    assert_eq!(
        backend_calls.load(Ordering::SeqCst),
        1,
        "the frontend's token is cached"
    );

    // Everything the frontend receives from its backend: headers and body of the token route.
    let raw = reqwest::Client::new()
        .get(&token_url)
        .header("cookie", SESSION)
        .send()
        .await
        .unwrap();
    let headers = format!("{:?}", raw.headers());
    let body = raw.text().await.unwrap();
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let jwt = token["token"].as_str().unwrap();
    let decoded: String = jwt
        .split('.')
        .take(2)
        .map(|segment| {
            use base64::Engine;
            String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(segment)
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    let (token_half, salt_half) = project_key.split_once('.').unwrap();
    for seen in [&headers, &body, &decoded, &format!("{frontend:?}")] {
        assert!(
            !seen.contains(token_half) && !seen.contains(salt_half),
            "project key leaked: {seen}"
        );
    }
    assert!(token["expiresIn"].as_u64().unwrap() <= 600);

    // Without the session the backend refuses, and so the frontend gets the error, not a token.
    let anonymous = BackendUrlAuthenticator::new(&token_url).unwrap();
    let stranger = Client::with_authenticator(&server.base, "my-project", anonymous).unwrap();
    assert!(stranger.get("/api/orders").await.is_err());
}
