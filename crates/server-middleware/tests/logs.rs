//! Everything the middleware logs, at TRACE, contains no token and no secret.
//! (Its own test binary: it installs the global subscriber.)
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth_core::apikey::AdminCredential;
use auth_core::secrecy::SecretString;
use axum::body::Body;
use axum::routing::get;
use common::{Key, bearer, get as send_get, jwt_keys, send};
use http::{HeaderMap, Request};
use server_middleware::{
    AuthHandle, AuthState, BoxError, Project, TokenIssuer, token_issuer_router,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_logs_contain_no_token_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let (ingest, project, admin_hash, wrong) = (Key::new(), Key::new(), Key::new(), Key::new());
    let admin_plain = "plain-admin-secret-0123456789";
    let issuer = TokenIssuer::new(
        jwt_keys().signer.clone(),
        vec![Project {
            id: "proj".into(),
            keys: project.set(),
        }],
    )
    .unwrap();
    let state = AuthState::builder()
        .ingest_keys(ingest.set())
        .jwt(jwt_keys().verifier())
        .admin(AdminCredential::Plain {
            token: SecretString::from(admin_plain),
            source: "--admin-token",
        })
        .token_issuer(issuer)
        .build()
        .unwrap();
    let handle = AuthHandle::with_reloader(state, || -> Result<AuthState, BoxError> {
        Err("bad config".into())
    });
    async fn show_headers(headers: HeaderMap) -> &'static str {
        tracing::info!(?headers, "handler saw headers");
        "ok"
    }
    let app = common::echo_app()
        .route("/api/headers", get(show_headers))
        .merge(token_issuer_router(handle.clone()))
        .merge(server_middleware::admin_router(handle.clone()))
        .layer(handle.by_path_prefix());

    let jwt = jwt_keys().token("alice", 600);
    let expired = jwt_keys().token("alice", -3600);
    let bearers = [
        ingest.token.clone(),
        wrong.token.clone(),
        jwt.clone(),
        expired.clone(),
        admin_plain.to_owned(),
        "opaque-garbage-token".to_owned(),
    ];
    for token in &bearers {
        for path in ["/ingest/x", "/api/headers", "/admin/x"] {
            send_get(&app, path, Some(&bearer(token))).await;
        }
    }
    send_get(&app, "/ingest/x", Some("Bearer secret-in-malformed header")).await;
    // A subject that tries to forge a log line and colour the terminal.
    let hostile = jwt_keys().token("evil\nFORGED keygate_auth outcome=allowed\u{1b}[2J", 600);
    assert_eq!(
        send_get(&app, "/api/headers", Some(&bearer(&hostile)))
            .await
            .status,
        200
    );
    let issued = send(
        &app,
        Request::post("/auth/token")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({"projectId": "proj", "projectKey": project.token}).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(issued.status, 200);
    let issued_token = issued.json()["token"].as_str().unwrap().to_owned();
    send(
        &app,
        Request::post("/auth/token")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({"projectId": "proj", "projectKey": wrong.token}).to_string(),
            ))
            .unwrap(),
    )
    .await;
    let reload = send(
        &app,
        Request::post("/admin/reload")
            .header("authorization", bearer(admin_plain))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reload.status, 422);
    // A hashed admin credential too.
    handle.replace(
        AuthState::builder()
            .admin(AdminCredential::Hashed(admin_hash.set()))
            .build()
            .unwrap(),
    );
    assert_eq!(
        send_get(&app, "/admin/x", Some(&bearer(&admin_hash.token)))
            .await
            .status,
        200
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The log saw the decisions (so an empty log cannot pass) ...
    for expected in [
        "keygate_auth",
        "outcome=",
        "key_id=",
        "request refused",
        "request authenticated",
        "Sensitive",
    ] {
        assert!(
            logs.contains(expected),
            "missing {expected:?} in logs:\n{logs}"
        );
    }
    // ... client-chosen text only escaped ...
    assert!(
        logs.contains("evil\\nFORGED"),
        "the subject is logged, escaped"
    );
    assert!(!logs.contains("\nFORGED"), "a forged log line");
    assert!(!logs.contains('\u{1b}'), "a raw escape character");
    // ... and none of the secrets.
    let secrets = [
        ingest.token.as_str(),
        wrong.token.as_str(),
        jwt.as_str(),
        expired.as_str(),
        admin_plain,
        "opaque-garbage-token",
        "secret-in-malformed",
        project.token.as_str(),
        issued_token.as_str(),
        admin_hash.token.as_str(),
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
        // Neither half of a moose token (token.salt) may appear on its own either.
        for half in secret.split('.') {
            if half.len() >= 16 {
                assert!(
                    !logs.contains(half),
                    "part of a secret leaked into the logs"
                );
            }
        }
    }
}
