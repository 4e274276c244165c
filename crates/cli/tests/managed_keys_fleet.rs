//! Two `keygate serve` replicas sharing one PostgreSQL that the test starts itself (docs/keys.md,
//! "A fleet"): a revocation through replica A is refused by replica B within a second; with the
//! database killed, cached keys keep working and uncached ones fail closed with 503; once it is
//! back, they work again without a restart.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::postgres::Postgres;
use support::{Server, code, keygate, run, serve, stderr, stdout};

const ADMIN: &str = "fleet-admin-token-0123456789abcdef";

fn replica(dir: &Path, store: &str) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let config = format!("[keys]\nstore = \"{store}\"\nsync_interval_ms = 100\n");
    std::fs::write(dir.join("moose.config.toml"), config).unwrap();
    let mut cmd = serve(dir);
    cmd.env("MOOSE_ADMIN_TOKEN", ADMIN);
    Server::start(&mut cmd)
}

async fn status(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn until_status(url: &str, token: &str, want: u16, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = status(url, token).await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{url} still answers {got}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cli_create(store: &str, name: &str) -> (String, String) {
    let out = run(keygate().args([
        "keys",
        "--store",
        store,
        "create",
        "--class",
        "consumption",
        "--name",
        name,
        "--json",
    ]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_sharing_postgres_see_revocations_within_a_second_and_survive_a_dead_database() {
    let Some(pg) = Postgres::start() else { return };
    let store = pg.url();
    // The CLI creates the schema (migrations) and a key.
    let (first_id, first) = cli_create(&store, "fleet-one");
    let a = replica(&pg.dir().join("a"), &store);
    let b = replica(&pg.dir().join("b"), &store);
    let (api_a, api_b) = (a.url("/api/orders"), b.url("/api/orders"));
    assert_eq!(status(&api_a, &first).await, 200);
    assert_eq!(status(&api_b, &first).await, 200);

    // Revoked through A's admin API: B refuses it within a second.
    let response = reqwest::Client::new()
        .delete(a.url(&format!("/admin/keys/{first_id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let took = until_status(&api_b, &first, 401, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(1),
        "revocation reached B after {took:?}"
    );

    // A key created through A is usable on B (looked up once, then cached).
    let created: Value = reqwest::Client::new()
        .post(a.url("/admin/keys"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"class": "consumption", "name": "fleet-two"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cached = created["token"].as_str().unwrap().to_owned();
    assert_eq!(status(&api_b, &cached).await, 200);
    // A key B has never seen.
    let (_, fresh) = cli_create(&store, "fleet-three");

    pg.kill();
    assert_eq!(
        status(&api_b, &cached).await,
        200,
        "a cached key keeps working"
    );
    assert_eq!(
        status(&api_b, &first).await,
        401,
        "a cached revocation holds"
    );
    assert_eq!(
        status(&api_b, &fresh).await,
        503,
        "an uncached key fails closed"
    );
    let body: Value = reqwest::Client::new()
        .get(&api_b)
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    pg.restart();
    until_status(&api_b, &fresh, 200, Duration::from_secs(30)).await;
    assert_eq!(status(&api_a, &fresh).await, 200);
    let logs = b.logs();
    assert!(!logs.contains(&fresh[21..60]) && !logs.contains(&cached[21..60]));
}
