//! Remote JWKS (reference §4): keys fetched over real HTTP from an identity provider on 127.0.0.1,
//! selected by `kid`, refreshed periodically, refetched (rate-limited, single-flight) on unknown
//! kids, and kept when the provider fails.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::apikey::AdminCredential;
use auth_core::jwt::{JwtAlgorithm, JwtSettings, JwtVerifier};
use auth_core::secrecy::SecretString;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get as get_route;
use common::{AUDIENCE, ISSUER, JwtKeys, bearer, echo_app, get};
use http::StatusCode;
use server_middleware::{
    AuthHandle, AuthState, FetchError, Jwks, JwksError, JwksSettings, StateError, TokenIssuer,
    admin_router,
};

/// What the test identity provider answers.
#[derive(Clone)]
enum Answer {
    Keys(serde_json::Value),
    Status(StatusCode),
    Body(String),
}

struct ProviderState {
    answer: Mutex<Answer>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
}

/// A JWKS endpoint that counts its fetches and can change its keys, fail or stall.
struct Provider {
    url: String,
    state: Arc<ProviderState>,
    task: tokio::task::JoinHandle<()>,
}

impl Provider {
    async fn start(keys: &[&JwtKeys]) -> Self {
        async fn serve(State(state): State<Arc<ProviderState>>) -> Response {
            state.fetches.fetch_add(1, Ordering::SeqCst);
            let delay = *state.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let answer = state.answer.lock().unwrap().clone();
            match answer {
                Answer::Keys(keys) => axum::Json(keys).into_response(),
                Answer::Status(status) => status.into_response(),
                Answer::Body(body) => body.into_response(),
            }
        }
        let state = Arc::new(ProviderState {
            answer: Mutex::new(Answer::Keys(jwks_of(keys))),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/jwks.json", get_route(serve))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, task }
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    fn publish(&self, keys: &[&JwtKeys]) {
        self.answer(Answer::Keys(jwks_of(keys)));
    }

    fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn jwks_of(keys: &[&JwtKeys]) -> serde_json::Value {
    let keys: Vec<_> = keys
        .iter()
        .map(|k| serde_json::to_value(k.signer.verifying_key().to_jwk().unwrap()).unwrap())
        .collect();
    serde_json::json!({ "keys": keys })
}

fn keys() -> JwtKeys {
    JwtKeys::new(JwtAlgorithm::EdDsa)
}

/// Settings for tests: no periodic refresh unless a test asks, short fetch timeout.
fn settings() -> JwksSettings {
    JwksSettings {
        refresh_interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(2),
        ..JwksSettings::default()
    }
}

/// A server whose only JWT keys come from `url`, enforcing JWT on `/api/`.
fn handle_for(url: &str, settings: JwksSettings) -> AuthHandle {
    AuthHandle::new(state_for(url, settings))
}

fn state_for(url: &str, settings: JwksSettings) -> AuthState {
    AuthState::builder()
        .jwt(JwtVerifier::new(
            Vec::new(),
            JwtSettings::new(ISSUER, AUDIENCE),
        ))
        .jwks_url(url)
        .jwks_settings(settings)
        .enforce_jwt_on_consumption(true)
        .admin(AdminCredential::Plain {
            token: SecretString::from(ADMIN),
            source: "MOOSE_ADMIN_TOKEN",
        })
        .build()
        .unwrap()
}

const ADMIN: &str = "jwks-admin-token-0123456789";

fn jwks(handle: &AuthHandle) -> Jwks {
    handle.jwks().unwrap()
}

/// Waits (bounded) until the JWKS has recorded `fetches` fetches.
async fn fetched(jwks: &Jwks, fetches: u64) {
    for _ in 0..500 {
        if jwks.status().fetches >= fetches {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the JWKS made {} fetches, expected {fetches}",
        jwks.status().fetches
    );
}

async fn status_of(app: &Router, token: &str) -> StatusCode {
    get(app, "/api/x", Some(&bearer(token))).await.status
}

#[tokio::test]
async fn tokens_signed_by_a_published_key_verify_and_others_do_not() {
    let (published, unpublished) = (keys(), keys());
    let provider = Provider::start(&[&published]).await;
    let handle = handle_for(&provider.url, settings());
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;

    let reply = get(&app, "/api/x", Some(&bearer(&published.token("alice", 60)))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["method"], "jwt");
    assert_eq!(reply.json()["subject"], "alice");

    let refused = get(&app, "/api/x", Some(&bearer(&unpublished.token("eve", 60)))).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        refused.json()["message"],
        "the token names an unknown key id"
    );
    // The unknown kid caused exactly one refetch, which did not bring it.
    assert_eq!(provider.fetches(), 2);
}

#[tokio::test]
async fn a_new_kid_is_picked_up_by_one_refetch() {
    let (first, second) = (keys(), keys());
    let provider = Provider::start(&[&first]).await;
    let handle = handle_for(&provider.url, settings());
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;
    assert_eq!(status_of(&app, &first.token("a", 60)).await, 200);

    provider.publish(&[&first, &second]);
    let token = second.token("b", 60);
    assert_eq!(status_of(&app, &token).await, 200);
    assert_eq!(provider.fetches(), 2);
    assert_eq!(jwks(&handle).version(), 2);

    // Known now: neither the same nor a new token of that key fetches again.
    assert_eq!(status_of(&app, &token).await, 200);
    assert_eq!(status_of(&app, &second.token("c", 60)).await, 200);
    assert_eq!(status_of(&app, &first.token("a", 60)).await, 200);
    assert_eq!(provider.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_an_unknown_kid_share_one_fetch() {
    let (first, second) = (keys(), keys());
    let provider = Provider::start(&[&first]).await;
    let handle = handle_for(&provider.url, settings());
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;

    // A slow provider, so that the requests overlap the fetch.
    provider.delay(Duration::from_millis(300));
    provider.publish(&[&first, &second]);
    // Distinct tokens: the verification cache cannot merge them, only the JWKS can.
    let requests = (0..50).map(|i| {
        let (app, token) = (app.clone(), second.token(&format!("user-{i}"), 60));
        tokio::spawn(async move { status_of(&app, &token).await })
    });
    let statuses = futures_util::future::join_all(requests).await;

    assert!(statuses.iter().all(|s| *s.as_ref().unwrap() == 200));
    assert_eq!(provider.fetches(), 2, "the initial fetch plus one refetch");
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let (published, stranger, latecomer) = (keys(), keys(), keys());
    let provider = Provider::start(&[&published]).await;
    let interval = Duration::from_millis(1500);
    let handle = handle_for(
        &provider.url,
        JwksSettings {
            unknown_kid_interval: interval,
            ..settings()
        },
    );
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;

    assert_eq!(status_of(&app, &stranger.token("s", 60)).await, 401);
    assert_eq!(provider.fetches(), 2);
    // A second unknown kid within the interval: no fetch, even though it is published now.
    provider.publish(&[&published, &latecomer]);
    let token = latecomer.token("l", 60);
    assert_eq!(status_of(&app, &token).await, 401);
    assert_eq!(status_of(&app, &stranger.token("s2", 60)).await, 401);
    assert_eq!(provider.fetches(), 2);

    // After the interval the same token (its failure still cached) triggers one refetch and
    // passes: the cached failure belongs to the previous key set.
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    assert_eq!(status_of(&app, &token).await, 200);
    assert_eq!(provider.fetches(), 3);
}

#[tokio::test]
async fn the_last_good_set_survives_a_failing_provider() {
    let published = keys();
    let provider = Provider::start(&[&published]).await;
    let handle = handle_for(
        &provider.url,
        JwksSettings {
            timeout: Duration::from_millis(300),
            max_response_bytes: 4096,
            ..settings()
        },
    );
    let app = echo_app().layer(handle.by_path_prefix());
    let jwks = jwks(&handle);
    fetched(&jwks, 1).await;
    let token = published.token("alice", 60);

    provider.answer(Answer::Status(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(jwks.refresh().await, Err(FetchError::Status(503)));
    provider.answer(Answer::Body("<html>maintenance</html>".to_owned()));
    assert_eq!(jwks.refresh().await, Err(FetchError::NotJwks));
    provider.answer(Answer::Body(
        serde_json::json!({ "keys": [], "pad": "x".repeat(5000) }).to_string(),
    ));
    assert_eq!(
        jwks.refresh().await,
        Err(FetchError::TooLarge { limit: 4096 })
    );
    provider.answer(Answer::Keys(serde_json::json!({ "keys": [
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }
    ] })));
    assert_eq!(
        jwks.refresh().await,
        Err(FetchError::NoUsableKeys { total: 1 })
    );
    provider.publish(&[]);
    provider.delay(Duration::from_secs(3));
    let started = std::time::Instant::now();
    assert_eq!(jwks.refresh().await, Err(FetchError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));

    assert_eq!(status_of(&app, &token).await, 200);
    assert_eq!(jwks.keys().len(), 1);
    assert_eq!(jwks.version(), 1);
    let status = jwks.status();
    assert_eq!(status.failures, 5);
    let last = status.last_fetch.unwrap();
    assert_eq!(last.outcome, "failed");
    assert_eq!(last.error.as_deref(), Some("the JWKS fetch timed out"));
}

#[tokio::test]
async fn a_provider_that_is_down_keeps_the_keys_and_answers_promptly() {
    let published = keys();
    let provider = Provider::start(&[&published]).await;
    let url = provider.url.clone();
    let handle = handle_for(&url, settings());
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;
    drop(provider);
    tokio::time::sleep(Duration::from_millis(50)).await;

    // An unknown kid makes the server try, fail, and answer 401 without waiting long.
    let started = std::time::Instant::now();
    assert_eq!(status_of(&app, &keys().token("eve", 60)).await, 401);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(jwks(&handle).status().failures, 1);
    assert_eq!(status_of(&app, &published.token("alice", 60)).await, 200);
}

#[tokio::test]
async fn periodic_refresh_picks_up_new_keys_and_withdraws_old_ones() {
    let (old, new) = (keys(), keys());
    let provider = Provider::start(&[&old]).await;
    let handle = handle_for(
        &provider.url,
        JwksSettings {
            refresh_interval: Duration::from_millis(100),
            ..settings()
        },
    );
    let app = echo_app().layer(handle.by_path_prefix());
    let jwks = jwks(&handle);
    fetched(&jwks, 1).await;
    let old_token = old.token("old", 60);
    assert_eq!(status_of(&app, &old_token).await, 200);

    provider.publish(&[&new]);
    for _ in 0..300 {
        if jwks.version() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(jwks.version(), 2);
    assert_eq!(jwks.status().last_fetch.unwrap().trigger, "periodic");

    let fetches = provider.fetches();
    assert_eq!(status_of(&app, &new.token("new", 60)).await, 200);
    // The withdrawn key no longer verifies, although its success was cached.
    assert_eq!(status_of(&app, &old_token).await, 401);
    assert!(
        provider.fetches() <= fetches + 2,
        "one refetch for the old kid at most"
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_refresher() {
    let provider = Provider::start(&[&keys()]).await;
    let handle = handle_for(
        &provider.url,
        JwksSettings {
            refresh_interval: Duration::from_millis(50),
            ..settings()
        },
    );
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 3).await;

    drop(app);
    drop(handle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fetches = provider.fetches();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(provider.fetches(), fetches);
}

#[tokio::test]
async fn the_token_issuers_key_stays_trusted_beside_the_jwks() {
    let (remote, issuer) = (keys(), keys());
    let provider = Provider::start(&[&remote]).await;
    let state = AuthState::builder()
        .jwt(JwtVerifier::new(
            Vec::new(),
            JwtSettings::new(ISSUER, AUDIENCE),
        ))
        .jwks_url(&provider.url)
        .jwks_settings(settings())
        .token_issuer(TokenIssuer::new(issuer.signer.clone(), Vec::new()).unwrap())
        .build()
        .unwrap();
    let handle = AuthHandle::new(state);
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;

    assert_eq!(status_of(&app, &remote.token("remote", 60)).await, 200);
    assert_eq!(status_of(&app, &issuer.token("issued", 60)).await, 200);
    assert_eq!(provider.fetches(), 1);
}

#[tokio::test]
async fn a_reload_with_the_same_url_keeps_the_running_jwks() {
    let (first, second) = (keys(), keys());
    let provider = Provider::start(&[&first]).await;
    let url = provider.url.clone();
    let handle = AuthHandle::with_reloader(state_for(&url, settings()), move || {
        Ok(state_for(&url, settings()))
    });
    let app = echo_app().layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;
    provider.publish(&[&first, &second]);
    assert_eq!(status_of(&app, &second.token("b", 60)).await, 200);

    handle.reload().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(jwks(&handle).version(), 2);
    assert_eq!(status_of(&app, &second.token("b", 60)).await, 200);
    assert_eq!(provider.fetches(), 2, "no new refresher, no refetch");
}

#[tokio::test]
async fn status_shows_the_jwks_without_secrets() {
    let published = keys();
    let provider = Provider::start(&[&published]).await;
    let url = format!("{}?access_token=s3cret", provider.url);
    let handle = handle_for(&url, settings());
    let app = echo_app()
        .merge(admin_router(handle.clone()))
        .layer(handle.by_path_prefix());
    fetched(&jwks(&handle), 1).await;

    let reply = get(&app, "/admin/status", Some(&bearer(ADMIN))).await;
    assert_eq!(reply.status, 200);
    assert!(!String::from_utf8_lossy(&reply.body).contains("s3cret"));
    let status = &reply.json()["jwt"]["jwks"];
    assert_eq!(status["url"], format!("{}?redacted", provider.url));
    assert_eq!(status["keys"][0]["kid"], published.signer.kid());
    assert_eq!(status["keys"][0]["alg"], "EdDSA");
    assert_eq!(status["version"], 1);
    assert_eq!(status["fetches"], 1);
    assert_eq!(status["last_fetch"]["outcome"], "ok");
    assert_eq!(status["last_fetch"]["trigger"], "periodic");
    assert_eq!(status["last_fetch"]["keys"], 1);
    assert!(status["last_success_unix"].as_u64().unwrap() >= common::now() - 60);
    assert_eq!(reply.json()["jwt"]["keys"], serde_json::json!([]));
}

#[test]
fn the_builder_checks_the_jwks_configuration() {
    let no_jwt = AuthState::builder()
        .jwks_url("https://idp.test/jwks")
        .build()
        .unwrap_err();
    assert_eq!(no_jwt, StateError::JwksWithoutJwt);

    let verifier = JwtVerifier::new(Vec::new(), JwtSettings::new(ISSUER, AUDIENCE));
    let bad_url = AuthState::builder()
        .jwt(verifier.clone())
        .jwks_url("idp.test/jwks")
        .build()
        .unwrap_err();
    assert_eq!(
        bad_url,
        StateError::Jwks(JwksError::InvalidUrl("it does not parse"))
    );

    // A JWKS URL is a usable JWT configuration for the enforce flags.
    let state = AuthState::builder()
        .jwt(verifier)
        .jwks_url("https://idp.test/jwks")
        .enforce_jwt_on_ingest(true)
        .enforce_jwt_on_consumption(true)
        .build()
        .unwrap();
    assert!(state.mechanisms().ingest.enforce_jwt && state.mechanisms().consumption.jwt);
    assert_eq!(state.jwks().unwrap().url(), "https://idp.test/jwks");
}
