//! Reload swaps the configuration atomically; a broken one is refused and the old one serves.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use auth_core::apikey::AdminCredential;
use auth_core::secrecy::SecretString;
use axum::body::Body;
use common::{Key, bearer, echo_app, get, send};
use http::Request;
use server_middleware::{AuthHandle, AuthState, BoxError, ReloadError, admin_router};

const ADMIN: &str = "reload-admin-token-123456";

/// What the reload callback will return next: a key to configure, or an error.
type Next = Arc<Mutex<Result<String, String>>>;

fn state_with(stored: &str) -> Result<AuthState, BoxError> {
    let keys = auth_core::apikey::KeySet::from(vec![auth_core::apikey::StoredKey::parse(stored)?]);
    Ok(AuthState::builder()
        .consumption_keys(keys)
        .admin(AdminCredential::Plain {
            token: SecretString::from(ADMIN),
            source: "--admin-token",
        })
        .build()?)
}

async fn post_reload(app: &axum::Router) -> common::Reply {
    let request = Request::post("/admin/reload")
        .header("authorization", bearer(ADMIN))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_keys_and_a_broken_config_keeps_the_old_one() {
    let (old, new) = (Key::new(), Key::new());
    let next: Next = Arc::new(Mutex::new(Ok(new.stored.clone())));
    let reloader = {
        let next = Arc::clone(&next);
        move || -> Result<AuthState, BoxError> {
            match &*next.lock().unwrap() {
                Ok(stored) => state_with(stored),
                Err(message) => Err(message.clone().into()),
            }
        }
    };
    let handle = AuthHandle::with_reloader(state_with(&old.stored).unwrap(), reloader);
    let app = echo_app()
        .merge(admin_router(handle.clone()))
        .layer(handle.by_path_prefix());

    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&old.token))).await.status,
        200
    );
    let first_generation = handle.generation();

    let reloaded = post_reload(&app).await;
    assert_eq!(reloaded.status, 200);
    assert_eq!(reloaded.json()["status"], "reloaded");
    assert_eq!(reloaded.json()["generation"], handle.generation());
    assert_ne!(handle.generation(), first_generation);
    // The old key was cached as valid; the new generation must not serve it.
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&old.token))).await.status,
        401
    );
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&new.token))).await.status,
        200
    );

    *next.lock().unwrap() = Err("moose.config.toml:3: [jwt] issuer must be a string".into());
    let generation = handle.generation();
    let refused = post_reload(&app).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["error"], "reload_failed");
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("[jwt] issuer must be a string"),
        "{message}"
    );
    assert!(
        message.contains("previous configuration stays active"),
        "{message}"
    );
    assert_eq!(handle.generation(), generation);
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&new.token))).await.status,
        200
    );

    // Without the admin token the reload route is refused like any admin route.
    let anonymous = send(
        &app,
        Request::post("/admin/reload").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn reload_without_a_callback_is_refused_and_replace_works_directly() {
    let (old, new) = (Key::new(), Key::new());
    let handle = AuthHandle::new(state_with(&old.stored).unwrap());
    assert_eq!(handle.reload().await, Err(ReloadError::NotConfigured));
    let app = echo_app()
        .merge(admin_router(handle.clone()))
        .layer(handle.by_path_prefix());
    assert_eq!(post_reload(&app).await.status, 501);
    handle.replace(state_with(&new.stored).unwrap());
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&new.token))).await.status,
        200
    );
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&old.token))).await.status,
        401
    );
}
