//! The token issuer over a real TCP listener: round trip, JWKS, uniform refusals, bad bodies.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use auth_core::jwt::{JwtAlgorithm, JwtSettings};
use axum::Router;
use axum::routing::get;
use common::{AUDIENCE, ISSUER, JwtKeys, Key, jwt_keys};
use server_middleware::{
    AuthHandle, AuthState, Claims, Project, StateError, TokenIssuer, token_issuer_router,
};

struct Server {
    base: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Self { base, client }
    }

    async fn post_token(&self, body: &str, json: bool) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/auth/token", self.base))
            .body(body.to_owned());
        if json {
            request = request.header("content-type", "application/json");
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send().await.unwrap()
    }
}

fn token_body(id: &str, key: &str) -> String {
    serde_json::json!({ "projectId": id, "projectKey": key }).to_string()
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

fn app(handle: &AuthHandle) -> Router {
    async fn claims(Claims(claims): Claims) -> axum::Json<serde_json::Value> {
        axum::Json(claims)
    }
    Router::new()
        .route("/api/claims", get(claims))
        .merge(token_issuer_router(handle.clone()))
        .layer(handle.by_path_prefix())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_tokens_pass_this_servers_jwt_check_and_refusals_are_identical() {
    let project_key = Key::new();
    let issuer_keys = JwtKeys::new(JwtAlgorithm::Rs256);
    let issuer = TokenIssuer::new(
        issuer_keys.signer.clone(),
        vec![Project {
            id: "proj-a".into(),
            keys: project_key.set(),
        }],
    )
    .unwrap()
    .with_ttl(std::time::Duration::from_secs(900));
    let api_key = Key::new();
    // [jwt] trusts another key only; the issuer's key must be trusted anyway.
    let handle = AuthHandle::new(
        AuthState::builder()
            .jwt(jwt_keys().verifier())
            .consumption_keys(api_key.set())
            .token_issuer(issuer)
            .build()
            .unwrap(),
    );
    let server = Server::start(app(&handle)).await;

    let issued = server
        .post_token(&token_body("proj-a", &project_key.token), true)
        .await;
    assert_eq!(issued.status(), 200);
    assert_eq!(issued.headers()["cache-control"], "no-store");
    let issued = json(issued).await;
    assert_eq!(issued["expiresIn"], 900);
    let token = issued["token"].as_str().unwrap().to_owned();

    let claims = server.get("/api/claims", Some(&token)).await;
    assert_eq!(claims.status(), 200);
    let claims = json(claims).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["sub"], "proj-a");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    let jti = claims["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
        "{jti}"
    );
    assert_eq!(server.get("/api/claims", None).await.status(), 401);

    let jwks = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status(), 200);
    let jwks = json(jwks).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], issuer_keys.signer.kid());
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0].get("d").is_none(), "no private parts");

    // Wrong key for a known project, and an unknown project: byte-identical answers.
    let wrong_key = server
        .post_token(&token_body("proj-a", &api_key.token), true)
        .await;
    let wrong_id = server
        .post_token(&token_body("proj-b", &project_key.token), true)
        .await;
    assert_eq!(wrong_key.status(), 401);
    assert_eq!(wrong_id.status(), 401);
    let strip_date = |headers: &reqwest::header::HeaderMap| {
        let mut headers = headers.clone();
        headers.remove("date");
        headers
    };
    assert_eq!(
        strip_date(wrong_key.headers()),
        strip_date(wrong_id.headers())
    );
    let (wrong_key, wrong_id) = (
        wrong_key.bytes().await.unwrap(),
        wrong_id.bytes().await.unwrap(),
    );
    assert_eq!(wrong_key, wrong_id);
    let body: serde_json::Value = serde_json::from_slice(&wrong_key).unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_our_400_json_and_never_echo_the_body() {
    let project_key = Key::new();
    let issuer = TokenIssuer::new(
        jwt_keys().signer.clone(),
        vec![Project {
            id: "p".into(),
            keys: project_key.set(),
        }],
    )
    .unwrap()
    .with_claims(JwtSettings::new(ISSUER, AUDIENCE));
    let handle = AuthHandle::new(AuthState::builder().token_issuer(issuer).build().unwrap());
    let server = Server::start(app(&handle)).await;
    let secretish = "kg_do-not-echo-me";
    for (body, json_type, message) in [
        ("{not json", true, "not valid JSON"),
        (r#"{"projectId": "p"}"#, true, "must be"),
        (
            &*format!(r#"{{"projectId": 1, "projectKey": "{secretish}"}}"#),
            true,
            "must be",
        ),
        (&*format!(r#"["{secretish}"]"#), true, "must be"),
        (&*token_body("p", &project_key.token), false, "Content-Type"),
    ] {
        let response = server.post_token(body, json_type).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let text = response.text().await.unwrap();
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reply["error"], "invalid_request", "{body}");
        assert!(
            reply["message"].as_str().unwrap().contains(message),
            "{text}"
        );
        assert!(
            !text.contains(secretish) && !text.contains(&project_key.token),
            "{text}"
        );
    }
    // Without [jwt], the issuer's own claims make its tokens verifiable here.
    let issued = json(
        server
            .post_token(&token_body("p", &project_key.token), true)
            .await,
    )
    .await;
    let token = issued["token"].as_str().unwrap();
    assert_eq!(server.get("/api/claims", Some(token)).await.status(), 200);
}

#[tokio::test]
async fn an_issuer_needs_iss_and_aud_and_routes_404_without_an_issuer() {
    let issuer = TokenIssuer::new(jwt_keys().signer.clone(), Vec::new()).unwrap();
    assert_eq!(
        AuthState::builder()
            .token_issuer(issuer)
            .build()
            .unwrap_err(),
        StateError::IssuerWithoutClaims
    );
    let handle = AuthHandle::new(AuthState::builder().build().unwrap());
    let app = app(&handle);
    let reply = common::get(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, 404);
    let request = http::Request::post("/auth/token")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(token_body("p", "k")))
        .unwrap();
    assert_eq!(common::send(&app, request).await.status, 404);
}
