//! Fixtures shared by the integration tests: keys, tokens, an echo app and request helpers.
// Helpers outside `#[test]` functions: panicking on a broken fixture is the point.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::apikey::{GeneratedKey, KeySet, StoredKey, generate_moose};
use auth_core::jwt::{
    JwtAlgorithm, JwtSettings, JwtVerifier, SigningKey, VerifyingKey, generate_key_pair,
};
use auth_core::secrecy::ExposeSecret;
use axum::Router;
use axum::body::Body;
use axum::routing::any;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use server_middleware::Authenticated;
use tower::ServiceExt;

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "keygate-tests";

/// A generated API key: the bearer token and its stored hash.
pub struct Key {
    pub token: String,
    pub stored: String,
}

impl Key {
    pub fn new() -> Self {
        let GeneratedKey {
            bearer_token,
            stored,
            ..
        } = generate_moose().unwrap();
        Self {
            token: bearer_token.expose_secret().to_owned(),
            stored,
        }
    }

    pub fn set(&self) -> KeySet {
        KeySet::from(vec![StoredKey::parse(&self.stored).unwrap()])
    }
}

/// A JWT key pair: the signer for tests and the PEM public key the server is configured with.
pub struct JwtKeys {
    pub signer: SigningKey,
    pub public_pem: String,
}

impl JwtKeys {
    pub fn new(alg: JwtAlgorithm) -> Self {
        let pair = generate_key_pair(alg).unwrap();
        Self {
            signer: SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap(),
            public_pem: pair.public_pem,
        }
    }

    pub fn verifier(&self) -> JwtVerifier {
        JwtVerifier::new(
            vec![VerifyingKey::from_pem(&self.public_pem).unwrap()],
            JwtSettings::new(ISSUER, AUDIENCE),
        )
    }

    /// A token for `sub` expiring `exp_in` seconds from now (negative: in the past).
    pub fn token(&self, sub: &str, exp_in: i64) -> String {
        self.token_with(serde_json::json!({ "sub": sub }), exp_in)
    }

    pub fn token_with(&self, extra: serde_json::Value, exp_in: i64) -> String {
        let now = now();
        let mut claims = serde_json::json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now.saturating_add_signed(exp_in),
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        self.signer.sign(&claims).unwrap()
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// EdDSA keys shared by the tests of one binary (generation is not free).
pub fn jwt_keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| JwtKeys::new(JwtAlgorithm::EdDsa))
}

/// Routes under every class that echo who the request was allowed as.
pub fn echo_app() -> Router {
    async fn echo(Authenticated(principal): Authenticated) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({
            "method": principal.method(),
            "subject": principal.subject(),
        }))
    }
    Router::new()
        .route("/ingest/{*rest}", any(echo))
        .route("/api/{*rest}", any(echo))
        .route("/admin/{*rest}", any(echo))
        .route("/public/{*rest}", any(echo))
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends `GET path` with an optional `Authorization` value through `app` in process.
pub async fn get(app: &Router, path: &str, authorization: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
