//! Where the layer is mounted is the policy: `require(class)` protects exactly what it wraps,
//! whatever the paths; prefix classification is asked for by name.

mod common;

use axum::Router;
use axum::routing::get;
use common::{Key, bearer, get as send_get};
use server_middleware::{AuthState, RouteClass};

#[tokio::test]
async fn require_protects_the_routes_it_wraps_whatever_their_paths() {
    let (consumption, ingest) = (Key::new(), Key::new());
    let auth = AuthState::builder()
        .consumption_key_hashes([&consumption.stored])
        .ingest_key_hashes([&ingest.stored])
        .into_handle()
        .unwrap();
    let protected = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route("/reports/daily", get(|| async { "report" }))
        .route_layer(auth.require(RouteClass::Consumption));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/events",
            get(|| async { "events" }).layer(auth.require(RouteClass::Ingest)),
        )
        .merge(protected);

    for path in ["/orders", "/reports/daily"] {
        assert_eq!(send_get(&app, path, None).await.status, 401, "{path}");
        let ok = send_get(&app, path, Some(&bearer(&consumption.token))).await;
        assert_eq!(ok.status, 200, "{path}");
        let wrong_class = send_get(&app, path, Some(&bearer(&ingest.token))).await;
        assert_eq!(wrong_class.status, 401, "an ingest key on {path}");
    }
    assert_eq!(
        send_get(&app, "/events", Some(&bearer(&ingest.token)))
            .await
            .status,
        200
    );
    assert_eq!(
        send_get(&app, "/events", Some(&bearer(&consumption.token)))
            .await
            .status,
        401
    );
    assert_eq!(
        send_get(&app, "/health", None).await.status,
        200,
        "not wrapped"
    );
}

#[tokio::test]
async fn prefix_classification_is_asked_for_by_name() {
    let key = Key::new();
    let auth = AuthState::builder()
        .consumption_key_hashes([&key.stored])
        .into_handle()
        .unwrap();
    let app = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route("/api/orders", get(|| async { "orders" }))
        .layer(auth.by_path_prefix());
    assert_eq!(send_get(&app, "/api/orders", None).await.status, 401);
    assert_eq!(
        send_get(&app, "/orders", None).await.status,
        200,
        "outside the Moose prefixes a path is public by prefix"
    );
}

#[test]
fn a_hash_that_does_not_parse_is_reported_by_build() {
    let error = AuthState::builder()
        .consumption_key_hashes(["0f6c8d0e2b1f4f3c9a8e7d6c5b4a39281706f5e4", "not-a-hash"])
        .build()
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("consumption API key 2:"), "{message}");
    assert!(!message.contains("not-a-hash"), "{message}");
    let pem = AuthState::builder()
        .jwt_public_key(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "i",
            "a",
        )
        .build()
        .unwrap_err();
    assert!(pem.to_string().starts_with("the JWT public key:"), "{pem}");
}
