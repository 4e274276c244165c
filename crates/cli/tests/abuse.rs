//! Floods of bad credentials cost the attacker, not the valid clients: failure budgets per
//! client address and per project id, trusted proxies, the token endpoint's oracle and its logs.
//! Clients are told apart by source address on 127.0.0.0/8 (the "attacker" is 127.0.0.2).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::net::IpAddr;
use std::path::Path;

use auth_core::apikey::{GeneratedKey, generate_moose, generate_phc};
use auth_core::secrecy::ExposeSecret;
use serde_json::Value;
use support::{Server, serve};

const ADMIN: &str = "admin-token-for-abuse-tests";

fn from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

fn start(dir: &Path, config: &str) -> Server {
    std::fs::write(dir.join("moose.config.toml"), config).unwrap();
    Server::start(serve(dir).env("MOOSE_ADMIN_TOKEN", ADMIN))
}

/// A server with one consumption key and these `[limits]` lines.
fn start_with_key(dir: &Path, key: &GeneratedKey, limits: &str) -> Server {
    start(
        dir,
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n[limits]\n{limits}",
            key.stored
        ),
    )
}

async fn status(server: &Server) -> Value {
    from("127.0.0.1")
        .get(server.url("/admin/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn kdf_runs(server: &Server) -> u64 {
    status(server).await["kdf"]["runs"].as_u64().unwrap()
}

async fn call(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    extra: &[(&str, &str)],
) -> (u16, Option<String>) {
    let mut request = client.get(server.url("/api/orders")).bearer_auth(token);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry)
}

/// A token of the `moose` shape that matches no key: it costs one KDF run to refuse.
fn random_moose() -> String {
    generate_moose()
        .unwrap()
        .bearer_token
        .expose_secret()
        .to_owned()
}

fn token(key: &GeneratedKey) -> String {
    key.bearer_token.expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_over_its_failure_budget_gets_429_at_no_kdf_cost_and_nobody_else_does() {
    let (cached, fresh, late) = (
        generate_moose().unwrap(),
        generate_moose().unwrap(),
        generate_moose().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\", \"{}\", \"{}\"]\n\
             [limits]\nfailures_per_client = 3\nfailure_window_seconds = 60\n\
             refusal_delay_ms = 0\n",
            cached.stored, fresh.stored, late.stored
        ),
    );
    let (attacker, other) = (from("127.0.0.2"), from("127.0.0.1"));
    assert_eq!(call(&attacker, &server, &token(&cached), &[]).await.0, 200);
    let before = kdf_runs(&server).await;
    for _ in 0..3 {
        assert_eq!(call(&attacker, &server, &random_moose(), &[]).await.0, 401);
    }
    assert_eq!(kdf_runs(&server).await, before + 3);
    for _ in 0..20 {
        let (status, retry) = call(&attacker, &server, &random_moose(), &[]).await;
        assert_eq!(status, 429);
        let retry: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=120).contains(&retry), "{retry}");
    }
    assert_eq!(
        kdf_runs(&server).await,
        before + 3,
        "refused at no KDF cost"
    );
    // Over budget, the attacker's own cached key still works, a new one does not.
    assert_eq!(call(&attacker, &server, &token(&cached), &[]).await.0, 200);
    assert_eq!(call(&attacker, &server, &token(&late), &[]).await.0, 429);
    // Another client is served: its first use of a key runs the KDF.
    assert_eq!(call(&other, &server, &token(&fresh), &[]).await.0, 200);
    assert_eq!(kdf_runs(&server).await, before + 4);
    let budgets = &status(&server).await["budgets"]["clients"];
    assert_eq!(budgets["failures_recorded"], 3);
    assert!(budgets["refused"].as_u64().unwrap() >= 21, "{budgets}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_concurrent_failures_cannot_overshoot_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_moose().unwrap();
    let server = start_with_key(
        dir.path(),
        &key,
        "failures_per_client = 3\nrefusal_delay_ms = 0\n",
    );
    let attacker = from("127.0.0.2");
    let before = kdf_runs(&server).await;
    let burst: Vec<_> = (0..24)
        .map(|_| {
            let (attacker, url) = (attacker.clone(), server.url("/api/orders"));
            tokio::spawn(async move {
                let response = attacker
                    .get(url)
                    .bearer_auth(random_moose())
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in burst {
        statuses.push(request.await.unwrap());
    }
    // Each request is charged before its KDF runs, so however many are in flight at once, only
    // the budget's worth run: exactly three 401s, the rest refused at no cost.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        21,
        "{statuses:?}"
    );
    assert_eq!(kdf_runs(&server).await, before + 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_phc_token_is_charged_one_failure_per_key_it_was_checked_against() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<GeneratedKey> = (0..3).map(|_| generate_phc(1000).unwrap()).collect();
    let stored: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.stored)).collect();
    let server = start(
        dir.path(),
        &format!(
            "[authentication]\nconsumption_api_keys = [{}]\n\
             [limits]\nfailures_per_client = 5\nrefusal_delay_ms = 0\n",
            stored.join(", ")
        ),
    );
    let attacker = from("127.0.0.2");
    let wrong = || token(&generate_phc(1000).unwrap());
    let before = kdf_runs(&server).await;
    assert_eq!(call(&attacker, &server, &wrong(), &[]).await.0, 401);
    assert_eq!(kdf_runs(&server).await, before + 3, "one run per phc key");
    assert_eq!(call(&attacker, &server, &wrong(), &[]).await.0, 401);
    // 6 runs spent of a budget of 5: refused, although only two requests failed.
    assert_eq!(call(&attacker, &server, &wrong(), &[]).await.0, 429);
    assert_eq!(kdf_runs(&server).await, before + 6);
    let budgets = &status(&server).await["budgets"]["clients"];
    assert_eq!(budgets["failures_recorded"], 6, "{budgets}");
    // A valid key from another client is served.
    assert_eq!(
        call(&from("127.0.0.1"), &server, &token(&keys[2]), &[])
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_budget_refusal_is_held_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_moose().unwrap();
    let server = start_with_key(
        dir.path(),
        &key,
        "failures_per_client = 1\nrefusal_delay_ms = 400\n",
    );
    let attacker = from("127.0.0.2");
    assert_eq!(call(&attacker, &server, &token(&key), &[]).await.0, 200);
    assert_eq!(call(&attacker, &server, &random_moose(), &[]).await.0, 401);
    let started = std::time::Instant::now();
    let (status, retry) = call(&attacker, &server, &random_moose(), &[]).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "the refusal waited {:?}",
        started.elapsed()
    );
    // Only refusals are held: the client's cached valid key is answered as before.
    assert_eq!(call(&attacker, &server, &token(&key), &[]).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_trusted_proxies_name_the_client() {
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n\
             [server]\ntrusted_proxies = [\"127.0.0.1\"]\n\
             [limits]\nfailures_per_client = 2\nrefusal_delay_ms = 0\n",
            key.stored
        ),
    );
    let (proxy, untrusted) = (from("127.0.0.1"), from("127.0.0.2"));
    let spoof = [("x-forwarded-for", "198.51.100.7")];
    // Through the trusted proxy, 198.51.100.7 spends its budget.
    for _ in 0..2 {
        assert_eq!(call(&proxy, &server, &random_moose(), &spoof).await.0, 401);
    }
    assert_eq!(call(&proxy, &server, &random_moose(), &spoof).await.0, 429);
    // Another client behind the same proxy is not affected; the client named by the rightmost
    // untrusted hop is, whatever the client wrote to the left of it.
    let other = [("x-forwarded-for", "198.51.100.8")];
    assert_eq!(call(&proxy, &server, &random_moose(), &other).await.0, 401);
    let prepended = [("x-forwarded-for", "203.0.113.1, 198.51.100.7")];
    assert_eq!(
        call(&proxy, &server, &random_moose(), &prepended).await.0,
        429
    );
    let forwarded = [("forwarded", "for=198.51.100.7;proto=https")];
    assert_eq!(
        call(&proxy, &server, &random_moose(), &forwarded).await.0,
        429
    );
    // From an untrusted peer the header is not believed: 127.0.0.2 is the client.
    assert_eq!(
        call(&untrusted, &server, &random_moose(), &spoof).await.0,
        401
    );
    assert_eq!(call(&untrusted, &server, &token(&key), &spoof).await.0, 200);
    let shown = status(&server).await["trusted_proxies"].clone();
    assert_eq!(shown, serde_json::json!(["127.0.0.1/32"]));
}

/// Two projects, one per key format (the phc one at 1000 iterations to keep the test quick).
struct Issuer {
    server: Server,
    moose: GeneratedKey,
    phc: GeneratedKey,
    _dir: tempfile::TempDir,
}

impl Issuer {
    fn start(limits: &str) -> Self {
        let (moose, phc) = (generate_moose().unwrap(), generate_phc(1000).unwrap());
        let pair = auth_core::jwt::generate_key_pair(auth_core::jwt::JwtAlgorithm::EdDsa).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = start(
            dir.path(),
            &format!(
                "[jwt]\nissuer = \"i\"\naudience = \"a\"\n\
                 [token_issuer]\nprivate_key = \"\"\"\n{}\"\"\"\n\
                 [[token_issuer.projects]]\nid = \"moose-project\"\nkey_hash = \"{}\"\n\
                 [[token_issuer.projects]]\nid = \"phc-project\"\nkey_hash = \"{}\"\n{limits}",
                pair.private_pem.expose_secret(),
                moose.stored,
                phc.stored
            ),
        );
        Self {
            server,
            moose,
            phc,
            _dir: dir,
        }
    }

    async fn post(&self, client: &reqwest::Client, body: String) -> reqwest::Response {
        client
            .post(self.server.url("/auth/token"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, client: &reqwest::Client, id: &str, key: &str) -> u16 {
        let body = serde_json::json!({ "projectId": id, "projectKey": key }).to_string();
        self.post(client, body).await.status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_project_costs_what_a_known_one_costs_and_failures_are_cached() {
    let issuer = Issuer::start("");
    let client = from("127.0.0.1");
    for (known, wrong) in [
        ("moose-project", random_moose()),
        ("phc-project", token(&generate_phc(1000).unwrap())),
    ] {
        let before = kdf_runs(&issuer.server).await;
        assert_eq!(issuer.token(&client, known, &wrong).await, 401);
        let known_cost = kdf_runs(&issuer.server).await - before;
        let before = kdf_runs(&issuer.server).await;
        assert_eq!(issuer.token(&client, "no-such-project", &wrong).await, 401);
        let unknown_cost = kdf_runs(&issuer.server).await - before;
        assert_eq!(known_cost, 1, "{known}");
        assert_eq!(
            unknown_cost, known_cost,
            "{known}: unknown ids cost the same"
        );
        // The same wrong key again is answered from the failure cache.
        let before = kdf_runs(&issuer.server).await;
        assert_eq!(issuer.token(&client, known, &wrong).await, 401);
        assert_eq!(
            kdf_runs(&issuer.server).await,
            before,
            "{known}: cached failure"
        );
    }
    assert_eq!(
        issuer
            .token(&client, "moose-project", &token(&issuer.moose))
            .await,
        200
    );
    assert_eq!(
        issuer
            .token(&client, "phc-project", &token(&issuer.phc))
            .await,
        200
    );
    // An oversized body is 413, not 400.
    let huge =
        serde_json::json!({ "projectId": "x".repeat(20_000), "projectKey": "y" }).to_string();
    assert_eq!(issuer.post(&client, huge).await.status(), 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_has_budgets_per_client_and_per_project() {
    let issuer = Issuer::start(
        "[limits]\nfailures_per_client = 3\nfailures_per_project = 5\nrefusal_delay_ms = 0\n",
    );
    let attacker = from("127.0.0.2");
    for _ in 0..3 {
        assert_eq!(
            issuer
                .token(&attacker, "moose-project", &random_moose())
                .await,
            401
        );
    }
    let before = kdf_runs(&issuer.server).await;
    let response = issuer
        .post(
            &attacker,
            serde_json::json!({ "projectId": "moose-project", "projectKey": random_moose() })
                .to_string(),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(kdf_runs(&issuer.server).await, before);
    // Other clients keep their own budget, but the project id's budget is shared: two more
    // failures from elsewhere spend it.
    let (second, third) = (from("127.0.0.3"), from("127.0.0.4"));
    assert_eq!(
        issuer
            .token(&second, "moose-project", &random_moose())
            .await,
        401
    );
    assert_eq!(
        issuer.token(&third, "moose-project", &random_moose()).await,
        401
    );
    assert_eq!(
        issuer
            .token(&second, "moose-project", &random_moose())
            .await,
        429
    );
    assert_eq!(
        issuer
            .token(&second, "phc-project", &token(&issuer.phc))
            .await,
        200
    );
    // The project's valid key, once cached, is served even now.
    let legit = from("127.0.0.5");
    assert_eq!(
        issuer
            .token(&legit, "phc-project", &token(&issuer.phc))
            .await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_project_ids_never_reach_the_log_as_given() {
    let issuer = Issuer::start("");
    let client = from("127.0.0.1");
    let key_like = token(&issuer.moose);
    let hostile = [
        "x\ntoken issued project=admin".to_owned(),
        "\u{1b}[31mred\u{1b}[0m".to_owned(),
        "z".repeat(16 * 1024 - 64),
        // A client that swapped the two fields: the key sits in projectId.
        key_like.clone(),
    ];
    for id in &hostile {
        assert_eq!(issuer.token(&client, id, "moose-project").await, 401);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logs = issuer.server.logs();
    assert!(logs.contains("unknown (sha256 "), "{logs}");
    assert!(
        !logs.contains("\ntoken issued project=admin"),
        "a forged line: {logs}"
    );
    assert!(!logs.contains('\u{1b}'), "raw ESC in the log");
    assert!(
        !logs.contains(&"z".repeat(100)),
        "an unbounded id in the log"
    );
    assert!(!logs.contains(&key_like), "the key in the log");
    for line in logs.lines() {
        assert!(line.len() < 2000, "a line of {} bytes", line.len());
    }
}
