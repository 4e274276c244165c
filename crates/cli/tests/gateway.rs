//! `keygate serve` end to end: the real binary, real HTTP on ephemeral ports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::net::SocketAddr;

use auth_core::apikey::generate_moose;
use auth_core::secrecy::ExposeSecret;
use serde_json::Value;
use support::{Server, code, keygate, run, run_with_stdin, serve, stderr};

/// The value after `label` on the banner line that contains it.
fn banner_value(banner: &str, label: &str) -> String {
    let line = banner
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("{label} in {banner}"));
    line.split_whitespace().last().unwrap().to_owned()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(url: &str, token: &str) -> (u16, Value) {
    let response = http().get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn development_mode_prints_credentials_and_curl_lines_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let banner = server.banner.clone();
    assert!(banner.contains("DEVELOPMENT MODE"), "{banner}");
    let api_key = banner_value(&banner, "API key (ingest + consumption):");
    let admin = banner_value(&banner, "admin token:");
    let jwt = banner
        .lines()
        .skip_while(|l| !l.contains("JWT (RS256"))
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let project_key = banner_value(&banner, "token issuer project:");

    let (status, body) = get_json(&server.url("/api/hello"), &api_key).await;
    assert_eq!(
        (status, body["auth_method"].as_str()),
        (200, Some("api_key"))
    );
    let (status, body) = get_json(&server.url("/ingest/hello"), &jwt).await;
    assert_eq!((status, body["subject"].as_str()), (200, Some("dev-user")));

    let issued: Value = http()
        .post(server.url("/auth/token"))
        .json(&serde_json::json!({ "projectId": "dev", "projectKey": project_key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, body) = get_json(&server.url("/api/x"), issued["token"].as_str().unwrap()).await;
    assert_eq!((status, body["subject"].as_str()), (200, Some("dev")));

    let status_response = http()
        .get(server.url("/admin/status"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(status_response.status(), 200);
    let text = status_response.text().await.unwrap();
    for secret in [&api_key, &admin, &project_key, &jwt] {
        assert!(
            !text.contains(secret.as_str()),
            "admin status leaks a credential"
        );
    }
    let anonymous = http().get(server.url("/api/hello")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        r#"Bearer realm="keygate""#
    );

    // The printed curl lines, run as printed (when curl is installed).
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok()
    {
        let lines: Vec<&str> = banner
            .lines()
            .filter(|l| l.trim_start().starts_with("curl "))
            .collect();
        assert_eq!(lines.len(), 5, "{banner}");
        for line in lines.iter().filter(|l| !l.contains("curl -i")) {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("{} -sS -f", line.trim())])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    #[cfg(unix)]
    assert!(
        server.terminate().success(),
        "SIGTERM is a graceful, successful stop"
    );
}

/// An upstream that answers with what it received, and echoes request bodies.
async fn start_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use axum::extract::Request;
    async fn mirror(request: Request) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    Value::String(v.to_str().unwrap_or("?").to_owned()),
                )
            })
            .collect();
        let method = request.method().to_string();
        let uri = request.uri().to_string();
        let body = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap();
        axum::Json(
            serde_json::json!({ "method": method, "uri": uri, "headers": headers, "body_len": body.len() }),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(mirror);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_proxies_authenticated_requests_and_answers_502_when_the_upstream_is_down() {
    let (upstream, task) = start_upstream().await;
    let key = generate_moose().unwrap();
    let token = key.bearer_token.expose_secret().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        serve(dir.path())
            .args(["--upstream", &format!("http://{upstream}/base")])
            .env("MOOSE_CONSUMPTION_API_KEY", &key.stored),
    );

    let body = vec![b'x'; 1 << 20];
    let response = http()
        .post(server.url("/api/items?limit=5&q=a%20b"))
        .bearer_auth(&token)
        .header("x-keygate-subject", "forged")
        .header("x-custom", "kept")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/base/api/items?limit=5&q=a%20b");
    assert_eq!(seen["body_len"], body.len());
    let headers = &seen["headers"];
    assert!(
        headers.get("authorization").is_none(),
        "Authorization is stripped"
    );
    assert_eq!(headers["x-keygate-method"], "api_key");
    assert!(
        headers["x-keygate-subject"]
            .as_str()
            .unwrap()
            .starts_with("key:"),
        "not the forged value"
    );
    assert_eq!(headers["x-custom"], "kept");

    let anonymous = http().get(server.url("/api/items")).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "refused before reaching the upstream"
    );
    let public = http().get(server.url("/public/page")).send().await.unwrap();
    assert_eq!(
        public.status(),
        200,
        "public paths are proxied without credentials"
    );

    task.abort();
    let _ = task.await;
    let down = http()
        .get(server.url("/api/items"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 502);
    let body: Value = down.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway");
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_refuses_a_broken_configuration_and_keeps_serving() {
    let (first, second) = (generate_moose().unwrap(), generate_moose().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("moose.config.toml");
    let write = |hash: &str| {
        std::fs::write(
            &config,
            format!("[authentication]\nconsumption_api_keys = [\"{hash}\"]\n"),
        )
        .unwrap();
    };
    write(&first.stored);
    let server = Server::start(serve(dir.path()).env("MOOSE_ADMIN_TOKEN", "admin-secret-123"));
    let first_token = first.bearer_token.expose_secret();
    let second_token = second.bearer_token.expose_secret();
    assert_eq!(get_json(&server.url("/api/a"), first_token).await.0, 200);

    write("this-is-not-a-hash");
    let reload = |token: &'static str| {
        let url = server.url("/admin/reload");
        async move { http().post(url).bearer_auth(token).send().await.unwrap() }
    };
    let refused = reload("admin-secret-123").await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("consumption_api_keys"), "{text}");
    assert_eq!(
        get_json(&server.url("/api/a"), first_token).await.0,
        200,
        "the old configuration still serves"
    );

    write(&second.stored);
    assert_eq!(reload("wrong-admin-token").await.status(), 401);
    assert_eq!(reload("admin-secret-123").await.status(), 200);
    assert_eq!(get_json(&server.url("/api/a"), second_token).await.0, 200);
    assert_eq!(
        get_json(&server.url("/api/a"), first_token).await.0,
        401,
        "reload clears cached keys"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_token_precedence_holds_on_the_server_and_in_remote() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        serve(dir.path())
            .args(["--admin-token", "cli-token-1"])
            .env("MOOSE_ADMIN_TOKEN", "env-token-2"),
    );
    assert_eq!(
        get_json(&server.url("/admin/status"), "cli-token-1")
            .await
            .0,
        200
    );
    assert_eq!(
        get_json(&server.url("/admin/status"), "env-token-2")
            .await
            .0,
        401,
        "--admin-token wins"
    );

    let url = server.base.clone();
    let by_flag = tokio::task::spawn_blocking({
        let url = url.clone();
        move || run(keygate().args(["remote", "status", "--url", &url, "--token", "cli-token-1"]))
    })
    .await
    .unwrap();
    assert_eq!(code(&by_flag), 0, "{}", stderr(&by_flag));
    let body: Value = serde_json::from_slice(&by_flag.stdout).unwrap();
    assert!(body.is_object());

    let by_env = tokio::task::spawn_blocking({
        let url = url.clone();
        let cwd = dir.path().to_owned();
        move || {
            run(keygate()
                .current_dir(cwd)
                .args(["remote", "status", "--url", &url])
                .env("MOOSE_ADMIN_TOKEN", "cli-token-1"))
        }
    })
    .await
    .unwrap();
    assert_eq!(code(&by_env), 0, "{}", stderr(&by_env));

    let flag_beats_env = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            run(keygate()
                .args(["remote", "reload", "--url", &url, "--token", "env-token-2"])
                .env("MOOSE_ADMIN_TOKEN", "cli-token-1"))
        }
    })
    .await
    .unwrap();
    assert_eq!(
        code(&flag_beats_env),
        1,
        "--token is used even when the variable is set"
    );

    let hash_only = dir.path().join("hash-only.toml");
    std::fs::write(
        &hash_only,
        format!(
            "[authentication]\nadmin_api_key = \"{}\"\n",
            "ab".repeat(20)
        ),
    )
    .unwrap();
    let explained = run(keygate()
        .args(["remote", "status", "--url", &url, "--config"])
        .arg(&hash_only));
    assert_eq!(code(&explained), 2);
    assert!(
        stderr(&explained).contains("MOOSE_ADMIN_TOKEN"),
        "{}",
        stderr(&explained)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_command_exchanges_a_project_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let project_key = banner_value(&server.banner, "token issuer project:");
    let url = server.base.clone();
    let (ok, bad) = tokio::task::spawn_blocking(move || {
        let args = ["token", "--url", &url, "--project-id", "dev", "--json"];
        (
            run_with_stdin(keygate().args(args), &project_key),
            run_with_stdin(keygate().args(args), "wrong.key"),
        )
    })
    .await
    .unwrap();
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let token: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(token["expiresIn"], 3600);
    let (status, _) = get_json(&server.url("/api/x"), token["token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("refused"), "{}", stderr(&bad));
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_verify_and_serve_trust_keys_from_a_remote_jwks() {
    use auth_core::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
    let pair = generate_key_pair(JwtAlgorithm::Es256).unwrap();
    let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    let jwks = serde_json::json!({ "keys": [signer.verifying_key().to_jwk().unwrap()] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let idp = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("moose.config.toml");
    std::fs::write(
        &config,
        format!(
            "[jwt]\njwks_url = \"http://{idp}/jwks.json\"\nissuer = \"https://idp/\"\naudience = \"app\"\n\
             enforce_on_all_consumptions_apis = true\n"
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = signer
        .sign(&serde_json::json!({ "iss": "https://idp/", "aud": "app", "sub": "carol", "exp": now + 600 }))
        .unwrap();

    let verified = tokio::task::spawn_blocking({
        let (config, token) = (config.clone(), token.clone());
        move || {
            run(keygate()
                .args(["jwt", "verify", "--config"])
                .arg(config)
                .arg(token))
        }
    })
    .await
    .unwrap();
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));
    let claims: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(claims["sub"], "carol");

    let server = Server::start(&mut serve(dir.path()));
    let (status, body) = get_json(&server.url("/api/orders"), &token).await;
    assert_eq!((status, body["subject"].as_str()), (200, Some("carol")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_issuers_key_is_trusted_once() {
    use auth_core::jwt::{JwtAlgorithm, generate_key_pair};
    let kids = |status: &Value| -> Vec<String> {
        status["jwt"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap_or("(none)").to_owned())
            .collect()
    };
    // Development mode: the printed JWT is signed by the issuer's key, listed once.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let admin = banner_value(&server.banner, "admin token:");
    let (status, body) = get_json(&server.url("/admin/status"), &admin).await;
    assert_eq!(status, 200);
    let issuer_kid = body["token_issuer"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(kids(&body), [issuer_kid]);

    // Configured: [jwt] secret plus the issuer's private key are two keys, each once.
    let (idp, issuer) = (
        generate_key_pair(JwtAlgorithm::Es256).unwrap(),
        generate_key_pair(JwtAlgorithm::EdDsa).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"i\"\naudience = \"a\"\n\
             [token_issuer]\nprivate_key = \"\"\"\n{}\"\"\"\n",
            idp.public_pem,
            issuer.private_pem.expose_secret()
        ),
    )
    .unwrap();
    let server =
        Server::start(serve(dir.path()).env("MOOSE_ADMIN_TOKEN", "admin-token-for-kids-1"));
    let (status, body) = get_json(&server.url("/admin/status"), "admin-token-for-kids-1").await;
    assert_eq!(status, 200);
    let listed = kids(&body);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0], "(none)", "the PEM key has no kid");
    assert_eq!(listed[1], body["token_issuer"]["kid"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_every_decision_and_cache_lookup_of_the_gateway() {
    let key = generate_moose().unwrap();
    let token = key.bearer_token.expose_secret().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let admin = "admin-token-for-the-metrics-test";
    let server = Server::start(
        serve(dir.path())
            .env("MOOSE_CONSUMPTION_API_KEY", &key.stored)
            .env("MOOSE_ADMIN_TOKEN", admin),
    );
    // Five requests on one connection and three on others: the counters are kept per process,
    // whichever worker serves a request.
    let client = http();
    for _ in 0..5 {
        let status = client
            .get(server.url("/api/items"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    for _ in 0..3 {
        assert_eq!(get_json(&server.url("/api/items"), &token).await.0, 200);
    }
    assert_eq!(
        get_json(&server.url("/api/items"), "wrong.token").await.0,
        401
    );
    let metrics = http()
        .get(server.url("/admin/metrics"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in {metrics}"))
    };
    assert_eq!(
        value(
            r#"keygate_auth_decisions_total{class="consumption",method="api_key",outcome="allowed"}"#
        ),
        8
    );
    assert_eq!(
        value(r#"keygate_auth_cache_lookups_total{step="api_key",result="hit"}"#),
        7
    );
    assert_eq!(
        value(r#"keygate_auth_cache_lookups_total{step="api_key",result="miss"}"#),
        2,
        "the key's first check and the wrong token's"
    );
}
