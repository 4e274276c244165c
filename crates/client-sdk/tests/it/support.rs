//! The keygate server the tests talk to: a token issuer (`POST /auth/token`, reference §7) and a
//! JWT-protected API (`/api/*`), in one in-process axum app.
//!
//! Everything about the server lives here so that the tests can be re-pointed at the real
//! server-middleware issuer by changing only this module.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::apikey::{KeySet, StoredKey, generate_moose};
use auth_core::header::Credentials;
use auth_core::jwt::{JwtAlgorithm, JwtSettings, JwtVerifier, SigningKey, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub(crate) const ISSUER: &str = "keygate-test";
pub(crate) const AUDIENCE: &str = "keygate-api";
pub(crate) const PROJECT_ID: &str = "my-project";
/// The lifetime of the JWTs themselves; what the issuer *reports* is set per test.
const JWT_TTL: u64 = 3600;

/// A running test server.
pub(crate) struct TestApi {
    pub(crate) url: String,
    /// The project key (a `moose` bearer token) that the issuer accepts for [`PROJECT_ID`].
    pub(crate) project_key: String,
    state: Arc<ApiState>,
}

struct ApiState {
    keys: KeySet,
    signing: SigningKey,
    verifier: JwtVerifier,
    expires_in: Mutex<Value>,
    token_delay: Mutex<Duration>,
    token_endpoint_down: AtomicBool,
    token_fetches: AtomicUsize,
    api_calls: AtomicUsize,
    reject_all: AtomicBool,
    revoked: Mutex<HashSet<String>>,
    /// Whether 401s for revoked tokens are staggered (see `stagger_rejections`).
    stagger_rejections: AtomicBool,
    /// (401s for revoked tokens, requests accepted) so far, for staggering.
    progress: watch::Sender<(usize, usize)>,
    issued: Mutex<Vec<String>>,
    presented: Mutex<Vec<String>>,
}

impl TestApi {
    /// Starts the server on 127.0.0.1 with an ephemeral port; tokens report `expiresIn: 3600`.
    pub(crate) async fn start() -> Self {
        let key = generate_moose().unwrap();
        let pair = generate_key_pair(JwtAlgorithm::EdDsa).unwrap();
        let signing = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
        let verifier = JwtVerifier::new(
            vec![signing.verifying_key().clone()],
            JwtSettings::new(ISSUER, AUDIENCE),
        );
        let state = Arc::new(ApiState {
            keys: KeySet::from(vec![StoredKey::parse(&key.stored).unwrap()]),
            signing,
            verifier,
            expires_in: Mutex::new(json!(3600)),
            token_delay: Mutex::new(Duration::ZERO),
            token_endpoint_down: AtomicBool::new(false),
            token_fetches: AtomicUsize::new(0),
            api_calls: AtomicUsize::new(0),
            reject_all: AtomicBool::new(false),
            revoked: Mutex::new(HashSet::new()),
            stagger_rejections: AtomicBool::new(false),
            progress: watch::Sender::new((0, 0)),
            issued: Mutex::new(Vec::new()),
            presented: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/auth/token", post(issue_token))
            .route("/api/{*rest}", any(protected))
            .with_state(Arc::clone(&state));
        let url = serve(app).await;
        Self {
            url,
            project_key: key.bearer_token.expose_secret().to_owned(),
            state,
        }
    }

    /// Requests to the token endpoint so far (including refused and failed ones).
    pub(crate) fn token_fetches(&self) -> usize {
        self.state.token_fetches.load(Ordering::SeqCst)
    }

    /// Requests to `/api/*` so far.
    pub(crate) fn api_calls(&self) -> usize {
        self.state.api_calls.load(Ordering::SeqCst)
    }

    /// What the issuer reports as `expiresIn` from now on (any JSON, to test odd values).
    pub(crate) fn set_expires_in(&self, value: Value) {
        *self.state.expires_in.lock().unwrap() = value;
    }

    /// Delays every token response.
    pub(crate) fn set_token_delay(&self, delay: Duration) {
        *self.state.token_delay.lock().unwrap() = delay;
    }

    /// Makes the token endpoint answer 503 (or recover).
    pub(crate) fn set_token_endpoint_down(&self, down: bool) {
        self.state.token_endpoint_down.store(down, Ordering::SeqCst);
    }

    /// Makes `/api/*` answer 401 to every token (or stop doing so).
    pub(crate) fn set_reject_all(&self, reject: bool) {
        self.state.reject_all.store(reject, Ordering::SeqCst);
    }

    /// Makes `/api/*` answer 401 to `token` (a server-side revocation).
    pub(crate) fn revoke(&self, token: &str) {
        self.state.revoked.lock().unwrap().insert(token.to_owned());
    }

    /// Orders two concurrent requests bearing a revoked token so that the second one's 401
    /// arrives late: the first 401 is sent once both requests have arrived, the second only
    /// after a request with a valid token has been accepted, i.e. after the first caller
    /// has already replaced the token in its cache. (Each wait is at most 5 s.)
    pub(crate) fn stagger_rejections(&self) {
        self.state.stagger_rejections.store(true, Ordering::SeqCst);
    }

    /// Tokens issued so far, in order.
    pub(crate) fn issued(&self) -> Vec<String> {
        self.state.issued.lock().unwrap().clone()
    }

    /// Bearer tokens presented to `/api/*` so far, in order.
    pub(crate) fn presented(&self) -> Vec<String> {
        self.state.presented.lock().unwrap().clone()
    }
}

/// Serves `app` on 127.0.0.1 with an ephemeral port and returns its base URL.
pub(crate) async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

async fn issue_token(State(state): State<Arc<ApiState>>, body: Json<Value>) -> Response {
    let n = state.token_fetches.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = *state.token_delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if state.token_endpoint_down.load(Ordering::SeqCst) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try later");
    }
    let (Some(project_id), Some(project_key)) = (
        body.get("projectId").and_then(Value::as_str),
        body.get("projectKey").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "projectId and projectKey",
        );
    };
    if project_id != PROJECT_ID || state.keys.verify(project_key).result.is_err() {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid client credentials",
        );
    }
    let now = unix_now();
    let token = state
        .signing
        .sign(&json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": project_id,
            "iat": now, "exp": now + JWT_TTL, "jti": format!("jti-{n}"),
        }))
        .unwrap();
    state.issued.lock().unwrap().push(token.clone());
    let expires_in = state.expires_in.lock().unwrap().clone();
    Json(json!({"token": token, "expiresIn": expires_in})).into_response()
}

async fn protected(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.api_calls.fetch_add(1, Ordering::SeqCst);
    let values = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes());
    let token = match auth_core::header::parse_authorization_headers(
        values,
        auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES,
    ) {
        Ok(Credentials::Bearer(token)) => token.as_str().to_owned(),
        Ok(Credentials::None) => {
            return error(StatusCode::UNAUTHORIZED, "invalid_token", "no credentials");
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_request", "malformed"),
    };
    state.presented.lock().unwrap().push(token.clone());
    if state.reject_all.load(Ordering::SeqCst) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "token rejected");
    }
    let revoked = state.revoked.lock().unwrap().contains(&token);
    if revoked {
        let mut number = 0;
        state.progress.send_modify(|(rejections, _)| {
            *rejections += 1;
            number = *rejections;
        });
        if state.stagger_rejections.load(Ordering::SeqCst) {
            let mut progress = state.progress.subscribe();
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                progress.wait_for(|(rejections, accepted)| match number {
                    1 => *rejections >= 2,
                    _ => *accepted >= 1,
                }),
            )
            .await;
        }
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "token revoked");
    }
    match state.verifier.verify(&token, unix_now()) {
        Ok(claims) => {
            state.progress.send_modify(|(_, accepted)| *accepted += 1);
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Json(json!({"sub": claims.subject(), "path": uri.path(), "body": body})).into_response()
        }
        Err(_) => error(StatusCode::UNAUTHORIZED, "invalid_token", "invalid token"),
    }
}
