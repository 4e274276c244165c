//! The axum extractors: the principal and typed claims.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::Router;
use axum::routing::get;
use common::{Key, bearer, get as send_get, jwt_keys};
use server_middleware::{AuthHandle, AuthState, Authenticated, Claims};

#[derive(serde::Deserialize)]
struct TenantClaims {
    sub: String,
    tenant: String,
}

async fn tenant(Claims(claims): Claims<TenantClaims>) -> String {
    format!("{}@{}", claims.sub, claims.tenant)
}

async fn whoami(Authenticated(principal): Authenticated) -> String {
    principal.subject()
}

#[tokio::test]
async fn typed_claims_reach_handlers_and_other_principals_are_refused() {
    let key = Key::new();
    let handle = AuthHandle::new(
        AuthState::builder()
            .jwt(jwt_keys().verifier())
            .consumption_keys(key.set())
            .build()
            .unwrap(),
    );
    let app = Router::new()
        .route("/api/tenant", get(tenant))
        .route("/api/whoami", get(whoami))
        .layer(handle.by_path_prefix());
    let with_tenant =
        jwt_keys().token_with(serde_json::json!({"sub": "ann", "tenant": "acme"}), 60);
    let reply = send_get(&app, "/api/tenant", Some(&bearer(&with_tenant))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"ann@acme");

    let without_tenant = jwt_keys().token("ann", 60);
    let reply = send_get(&app, "/api/tenant", Some(&bearer(&without_tenant))).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "invalid_token");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with(r#"Bearer realm="keygate", error="invalid_token""#)
    );

    let reply = send_get(&app, "/api/tenant", Some(&bearer(&key.token))).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "this route accepts only JWTs");

    let reply = send_get(&app, "/api/whoami", Some(&bearer(&key.token))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        String::from_utf8(reply.body).unwrap(),
        format!("key:{}", auth_core::apikey::KeyId::of_stored(&key.stored))
    );
}

#[tokio::test]
async fn without_the_layer_the_extractor_reports_a_server_error() {
    let app = Router::new().route("/api/whoami", get(whoami));
    let reply = send_get(&app, "/api/whoami", None).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"], "server_error");
}
