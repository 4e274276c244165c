//! Managed keys end to end (docs/keys.md): `keygate keys …` and the admin API against a SQLite
//! store, verified by a real `keygate serve`.

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
use support::net::{Behaviour, RecordingUpstream};
use support::{Server, code, keygate, run, serve, stderr, stdout};

const ADMIN: &str = "managed-keys-admin-token-0123456789";

fn store_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("keys.db").display())
}

/// `keygate keys …` against the store in `dir`.
fn keys(dir: &Path, args: &[&str]) -> std::process::Output {
    run(keygate()
        .current_dir(dir)
        .args(["keys", "--store", &store_url(dir)])
        .args(args))
}

fn create_json(dir: &Path, args: &[&str]) -> Value {
    let out = keys(dir, &[&["create", "--json"], args].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// A gateway whose `[keys] store` is the store in `dir`, polling every 100 ms.
fn gateway(dir: &Path, upstream: Option<&str>) -> Server {
    let config = format!(
        "[keys]\nstore = \"{}\"\nsync_interval_ms = 100\nlast_used_flush_seconds = 1\n",
        store_url(dir)
    );
    std::fs::write(dir.join("moose.config.toml"), config).unwrap();
    let mut cmd = serve(dir);
    cmd.env("MOOSE_ADMIN_TOKEN", ADMIN);
    if let Some(upstream) = upstream {
        cmd.args(["--upstream", upstream]);
    }
    Server::start(&mut cmd)
}

/// The key `id` in the output of `keys list --json`.
fn key_with_id<'a>(listed: &'a Value, id: &str) -> &'a Value {
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {listed}"))
}

async fn status(url: &str, token: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Polls until `url` answers `want` (at most `bound`); returns how long it took.
async fn until_status(url: &str, token: Option<&str>, want: u16, bound: Duration) -> Duration {
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

#[tokio::test(flavor = "multi_thread")]
async fn cli_round_trip_shows_the_token_once_and_a_revocation_reaches_the_gateway_within_a_second()
{
    let dir = tempfile::tempdir().unwrap();
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    // The store is created by the first `create`.
    let created = create_json(
        dir.path(),
        &[
            "--class",
            "consumption",
            "--name",
            "reporting",
            "--expires-in",
            "30d",
            "--meta",
            "team=data",
        ],
    );
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("kgm_{id}_")));
    assert_eq!(created["status"], "active");
    assert!(created["expiresAt"].as_u64().unwrap() > created["createdAt"].as_u64().unwrap());

    // The text form prints the token on one line, once.
    let text = keys(
        dir.path(),
        &["create", "--class", "ingest", "--name", "sensor"],
    );
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let text = stdout(&text);
    assert_eq!(text.matches("kgm_").count(), 1, "{text}");
    assert!(text.lines().any(|l| l.starts_with("Token: kgm_")), "{text}");

    // Listing never shows a token or a digest.
    for args in [&["list"][..], &["list", "--json"][..]] {
        let listed = keys(dir.path(), args);
        assert_eq!(code(&listed), 0, "{}", stderr(&listed));
        let listed = stdout(&listed);
        assert!(
            listed.contains(&id) && listed.contains("reporting"),
            "{listed}"
        );
        assert!(
            !listed.contains("kgm_") && !listed.contains(&token[21..60]),
            "{listed}"
        );
    }
    let json: Value =
        serde_json::from_str(&stdout(&keys(dir.path(), &["list", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let reporting = key_with_id(&json, &id);
    assert_eq!(reporting["meta"]["team"], "data");

    let server = gateway(dir.path(), Some(&upstream.url("")));
    let api = server.url("/api/orders");
    // A client's own identity headers, in every spelling, never reach the upstream.
    let response = reqwest::Client::new()
        .get(&api)
        .bearer_auth(&token)
        .header("X-Keygate-Key-Name", "forged")
        .header("X_Keygate_Key_Name", "forged")
        .header("X-Keygate-Subject", "key:forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let seen = upstream.received();
    let last = seen.last().unwrap();
    assert_eq!(
        last.header("x-keygate-subject"),
        [format!("key:{id}").as_str()]
    );
    assert_eq!(last.header("x-keygate-key-name"), ["reporting"]);
    assert_eq!(last.header("x-keygate-method"), ["api_key"]);
    assert!(last.header("authorization").is_empty());
    // A consumption key opens no ingest route, and no class without credentials is open now.
    assert_eq!(status(&server.url("/ingest/x"), Some(&token)).await, 401);
    assert_eq!(status(&api, None).await, 401);

    // Revoked by another process (the CLI): refused within a second.
    let revoked = keys(dir.path(), &["revoke", &id]);
    assert_eq!(code(&revoked), 0, "{}", stderr(&revoked));
    let took = until_status(&api, Some(&token), 401, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");
    // The class stays protected although its only key is revoked.
    assert_eq!(status(&api, None).await, 401);

    // Last use was written in a batch (flush every second here).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let json: Value =
        serde_json::from_str(&stdout(&keys(dir.path(), &["list", "--json"]))).unwrap();
    let reporting = key_with_id(&json, &id);
    assert!(reporting["lastUsedAt"].as_u64().is_some(), "{reporting}");
    assert_eq!(reporting["status"], "revoked");

    let logs = server.logs();
    assert!(!logs.contains(&token[21..60]), "no secret in the logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_exit_2_and_unknown_ids_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = keys(dir.path(), &["list"]);
    assert_eq!(code(&missing), 2, "no store yet: {}", stderr(&missing));
    for args in [
        &[
            "create",
            "--class",
            "consumption",
            "--name",
            "x",
            "--expires-in",
            "soon",
        ][..],
        &[
            "create",
            "--class",
            "consumption",
            "--name",
            "x",
            "--rate-limit",
            "fast",
        ][..],
        &["create", "--class", "consumption", "--name", " x"][..],
        &[
            "create",
            "--class",
            "consumption",
            "--name",
            "x",
            "--meta",
            "novalue",
        ][..],
        &["revoke", "not-an-id"][..],
    ] {
        let out = keys(dir.path(), args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked") && !stderr(&out).contains("backtrace"));
    }
    let unsupported = run(keygate().args(["keys", "--store", "mysql://x", "list"]));
    assert_eq!(code(&unsupported), 2, "{}", stderr(&unsupported));
    assert!(stderr(&unsupported).contains("sqlite://"));
    create_json(dir.path(), &["--class", "ingest", "--name", "a"]);
    let unknown = keys(dir.path(), &["revoke", "0123456789abcdef"]);
    assert_eq!(code(&unknown), 1, "{}", stderr(&unknown));
    let taken = keys(dir.path(), &["create", "--class", "ingest", "--name", "a"]);
    assert_eq!(code(&taken), 2, "{}", stderr(&taken));
}

async fn admin(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_round_trip_with_reroll_grace_revoke_and_rate_limit() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let server = gateway(dir.path(), None);
    let keys_url = server.url("/admin/keys");

    // The routes need the admin credential.
    assert_eq!(status(&keys_url, None).await, 401);
    let response = reqwest::Client::new()
        .post(&keys_url)
        .bearer_auth("wrong")
        .json(&serde_json::json!({"class": "ingest", "name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let (code_, _, created) = admin(
        Method::POST,
        &keys_url,
        Some(serde_json::json!({"class": "ingest", "name": "pipeline", "meta": {"env": "prod"}})),
    )
    .await;
    assert_eq!(code_, 201, "{created}");
    let old = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let ingest = server.url("/ingest/events");
    assert_eq!(status(&ingest, Some(&old)).await, 200);

    let (code_, _, listed) = admin(Method::GET, &keys_url, None).await;
    assert_eq!(code_, 200);
    assert_eq!(listed["keys"][0]["name"], "pipeline");
    assert!(!listed.to_string().contains("kgm_"), "{listed}");

    // Reroll with a grace period: both tokens work; with none, only the new one.
    let reroll = server.url(&format!("/admin/keys/{id}/reroll"));
    let (code_, _, rerolled) = admin(
        Method::POST,
        &reroll,
        Some(serde_json::json!({"grace": "1h"})),
    )
    .await;
    assert_eq!(code_, 200, "{rerolled}");
    let new = rerolled["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(status(&ingest, Some(&old)).await, 200);
    assert_eq!(status(&ingest, Some(&new)).await, 200);
    let (code_, _, again) = admin(
        Method::POST,
        &reroll,
        Some(serde_json::json!({"grace": "0s"})),
    )
    .await;
    assert_eq!(code_, 200);
    let newest = again["token"].as_str().unwrap().to_owned();
    assert_eq!(status(&ingest, Some(&new)).await, 401);
    assert_eq!(status(&ingest, Some(&newest)).await, 200);

    // Revoke: refused at once on this replica.
    let (code_, _, revoked) = admin(
        Method::DELETE,
        &server.url(&format!("/admin/keys/{id}")),
        None,
    )
    .await;
    assert_eq!((code_, revoked["status"].as_str()), (200, Some("revoked")));
    assert_eq!(status(&ingest, Some(&newest)).await, 401);
    let (code_, _, _) = admin(
        Method::DELETE,
        &server.url("/admin/keys/0123456789abcdef"),
        None,
    )
    .await;
    assert_eq!(code_, 404);

    // Bad bodies are 400 with the JSON error body, never a 500.
    for body in [
        serde_json::json!({"class": "root", "name": "x"}),
        serde_json::json!({"class": "ingest"}),
        serde_json::json!({"class": "ingest", "name": "x", "expiresIn": "forever"}),
        serde_json::json!({"class": "ingest", "name": "x", "extra": 1}),
    ] {
        let (code_, _, error) = admin(Method::POST, &keys_url, Some(body.clone())).await;
        assert_eq!(
            (code_, error["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
    }
    let (code_, _, _) = admin(Method::DELETE, &server.url("/admin/keys/nothex"), None).await;
    assert_eq!(code_, 400);

    // The status report names the store and counts the classes it protects as protected.
    let (code_, _, report) = admin(Method::GET, &server.url("/admin/status"), None).await;
    assert_eq!(code_, 200);
    assert_eq!(report["managed_keys"]["engine"], "sqlite", "{report}");
    assert_eq!(report["ingest"]["open"], false, "{report}");

    // A managed admin key is an admin credential.
    let (code_, _, admin_key) = admin(
        Method::POST,
        &keys_url,
        Some(serde_json::json!({"class": "admin", "name": "ops"})),
    )
    .await;
    assert_eq!(code_, 201);
    let ops = admin_key["token"].as_str().unwrap();
    assert_eq!(status(&keys_url, Some(ops)).await, 200);
    assert_eq!(
        status(&server.url("/ingest/events"), Some(ops)).await,
        401,
        "admin keys open admin routes only"
    );

    // A rate-limited key: 429 with Retry-After and the ratelimit-headers draft's fields.
    let (_, _, limited) = admin(
        Method::POST,
        &keys_url,
        Some(serde_json::json!({"class": "consumption", "name": "limited", "rateLimit": "2/m"})),
    )
    .await;
    let token = limited["token"].as_str().unwrap();
    let api = server.url("/api/x");
    assert_eq!(status(&api, Some(token)).await, 200);
    assert_eq!(status(&api, Some(token)).await, 200);
    let response = reqwest::Client::new()
        .get(&api)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let headers = response.headers();
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["ratelimit-policy"], "\"key\";q=2;w=60");
    assert_eq!(headers["ratelimit"], "\"key\";r=0;t=30");
}

#[tokio::test(flavor = "multi_thread")]
async fn project_keys_exchange_at_the_token_endpoint_under_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = run(keygate()
        .args(["jwt", "keygen", "--out"])
        .arg(dir.path().join("jwt")));
    assert_eq!(code(&keygen), 0, "{}", stderr(&keygen));
    let pem = std::fs::read_to_string(dir.path().join("jwt/private.pem")).unwrap();
    let created = create_json(dir.path(), &["--class", "project", "--name", "my-project"]);
    let project_key = created["token"].as_str().unwrap().to_owned();
    let config = format!(
        "[jwt]\nissuer = \"https://keygate.test/\"\naudience = \"app\"\n\n\
         [token_issuer]\nprivate_key = \"\"\"\n{pem}\"\"\"\n\n\
         [keys]\nstore = \"{}\"\nsync_interval_ms = 100\n",
        store_url(dir.path())
    );
    std::fs::write(dir.path().join("moose.config.toml"), config).unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let token_url = server.url("/auth/token");
    let exchange = |id: &'static str, key: String| {
        let url = token_url.clone();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({"projectId": id, "projectKey": key}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (code_, body) = exchange("my-project", project_key.clone()).await;
    assert_eq!(code_, 200, "{body}");
    let jwt = body["token"].as_str().unwrap();
    assert_eq!(status(&server.url("/api/x"), Some(jwt)).await, 200);
    // The key under another name, and the key itself on a route, are refused.
    let (code_, body) = exchange("other-project", project_key.clone()).await;
    assert_eq!(
        (code_, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(status(&server.url("/api/x"), Some(&project_key)).await, 401);
    // Revoked: no more tokens.
    let revoked = keys(dir.path(), &["revoke", created["id"].as_str().unwrap()]);
    assert_eq!(code(&revoked), 0);
    let started = Instant::now();
    while exchange("my-project", project_key.clone()).await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "revocation not seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
