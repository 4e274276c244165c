//! Status output and Prometheus metrics: what a gateway's admin routes show.
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use auth_core::apikey::{AdminCredential, KeyId};
use auth_core::secrecy::SecretString;
use axum::body::Body;
use common::{Key, bearer, echo_app, get, jwt_keys, send};
use http::Request;
use metrics_exporter_prometheus::PrometheusBuilder;
use server_middleware::{AuthHandle, AuthState, admin_router};

const ADMIN: &str = "status-admin-token-0123456789";

fn setup() -> (AuthHandle, Key, Key) {
    let (ingest, consumption) = (Key::new(), Key::new());
    let handle = AuthHandle::new(
        AuthState::builder()
            .ingest_keys(ingest.set())
            .consumption_keys(consumption.set())
            .jwt(jwt_keys().verifier())
            .enforce_jwt_on_consumption(true)
            .admin(AdminCredential::Plain {
                token: SecretString::from(ADMIN),
                source: "MOOSE_ADMIN_TOKEN",
            })
            .build()
            .unwrap(),
    );
    (handle, ingest, consumption)
}

#[tokio::test]
async fn status_shows_mechanisms_key_ids_and_statistics_but_no_secret() {
    let (handle, ingest, consumption) = setup();
    let app = echo_app()
        .merge(admin_router(handle.clone()))
        .layer(handle.by_path_prefix());
    assert_eq!(
        get(&app, "/ingest/x", Some(&bearer(&ingest.token)))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&app, "/ingest/x", Some(&bearer(&ingest.token)))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&app, "/api/x", Some(&bearer(&jwt_keys().token("bob", 60))))
            .await
            .status,
        200
    );

    assert_eq!(get(&app, "/admin/status", None).await.status, 401);
    let reply = get(&app, "/admin/status", Some(&bearer(ADMIN))).await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8(reply.body.clone()).unwrap();
    for secret in [ADMIN, ingest.token.as_str(), consumption.token.as_str()] {
        assert!(!text.contains(secret), "status leaks a secret: {text}");
    }
    let status = reply.json();
    assert_eq!(
        status["ingest"]["mechanisms"],
        serde_json::json!(["jwt", "api_key"])
    );
    assert_eq!(
        status["consumption"]["mechanisms"],
        serde_json::json!(["jwt"])
    );
    assert_eq!(status["consumption"]["enforce_jwt"], true);
    assert_eq!(
        status["ingest"]["key_ids"],
        serde_json::json!([KeyId::of_stored(&ingest.stored).to_string()])
    );
    assert_eq!(status["admin"]["credential"], "plain_token");
    assert_eq!(status["admin"]["source"], "MOOSE_ADMIN_TOKEN");
    assert_eq!(status["jwt"]["issuer"], common::ISSUER);
    assert_eq!(status["jwt"]["keys"][0]["alg"], "EdDSA");
    assert_eq!(status["cache"]["max_entries"], 10_000);
    assert_eq!(status["cache"]["hits"], 1);
    // The API key, the JWT, and the admin token of this very status request.
    assert_eq!(status["cache"]["misses"], 3);
    assert_eq!(status["cache"]["jwt_verifications"], 1);
    assert_eq!(status["kdf"]["runs"], 1);
    assert_eq!(status["kdf"]["rejected"], 0);
    assert!(status["kdf"]["workers"].as_u64().unwrap() >= 1);
    assert_eq!(status["generation"], handle.generation());
}

#[test]
fn metrics_count_decisions_cache_lookups_and_latencies() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let (handle, ingest, _) = setup();
    let app = echo_app()
        .merge(
            admin_router(handle.clone())
                .merge(server_middleware::metrics_router(prometheus.clone())),
        )
        .layer(handle.by_path_prefix());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let metrics_text = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            for _ in 0..2 {
                assert_eq!(
                    get(&app, "/ingest/x", Some(&bearer(&ingest.token)))
                        .await
                        .status,
                    200
                );
            }
            assert_eq!(
                get(&app, "/api/x", Some(&bearer(&ingest.token)))
                    .await
                    .status,
                401
            );
            assert_eq!(
                get(&app, "/api/x", Some(&bearer(&jwt_keys().token("b", 60))))
                    .await
                    .status,
                200
            );
            let reply = send(
                &app,
                Request::get("/admin/metrics")
                    .header("authorization", bearer(ADMIN))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(reply.status, 200);
            assert!(
                reply
                    .header("content-type")
                    .unwrap()
                    .starts_with("text/plain")
            );
            String::from_utf8(reply.body).unwrap()
        })
    });
    for line in [
        r#"keygate_auth_decisions_total{class="ingest",method="api_key",outcome="allowed"} 2"#,
        r#"keygate_auth_decisions_total{class="consumption",method="api_key",outcome="invalid_token"} 1"#,
        r#"keygate_auth_decisions_total{class="consumption",method="jwt",outcome="allowed"} 1"#,
        r#"keygate_auth_decisions_total{class="admin",method="admin_token",outcome="allowed"} 1"#,
        r#"keygate_auth_cache_lookups_total{step="api_key",result="miss"} 1"#,
        r#"keygate_auth_cache_lookups_total{step="api_key",result="hit"} 1"#,
        "keygate_kdf_duration_seconds_count 1",
        "keygate_jwt_verify_duration_seconds_count 1",
    ] {
        assert!(
            metrics_text.contains(line),
            "missing {line:?} in:\n{metrics_text}"
        );
    }
    assert!(!metrics_text.contains(&ingest.token));
}
