//! With the KDF queue full, new keys get 503 + Retry-After while cached keys keep working.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Key, bearer, echo_app, get};
use server_middleware::{AuthHandle, AuthState, KdfSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_new_keys_and_serves_cached_ones() {
    let (cached, fresh) = (Key::new(), Key::new());
    let mut keys = cached.set();
    keys.push(auth_core::apikey::StoredKey::parse(&fresh.stored).unwrap());
    let handle = AuthHandle::new(
        AuthState::builder()
            .consumption_keys(keys)
            .kdf(KdfSettings {
                workers: 1,
                queue: 0,
                ..KdfSettings::default()
            })
            .build()
            .unwrap(),
    );
    let app = echo_app().layer(handle.by_path_prefix());
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&cached.token)))
            .await
            .status,
        200
    );

    // Occupy the only worker until released.
    let (release, gate) = mpsc::channel::<()>();
    let pool = handle.kdf_pool();
    let blocker = tokio::spawn(async move {
        pool.run(None, move || gate.recv_timeout(Duration::from_secs(30)))
            .await
    });
    for _ in 0..500 {
        if handle.stats().kdf.running == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handle.stats().kdf.running, 1);

    let shed = get(&app, "/api/x", Some(&bearer(&fresh.token))).await;
    assert_eq!(shed.status, 503);
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(shed.json()["error"], "temporarily_unavailable");
    assert_eq!(handle.stats().kdf.rejected, 1);

    let served = get(&app, "/api/x", Some(&bearer(&cached.token))).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json()["method"], "api_key");

    release.send(()).unwrap();
    assert!(blocker.await.unwrap().unwrap().is_ok());
    // The shed request was not cached as a failure: the same key now works.
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&fresh.token)))
            .await
            .status,
        200
    );
    assert_eq!(handle.stats().verify.kdf_runs, 2);
}
