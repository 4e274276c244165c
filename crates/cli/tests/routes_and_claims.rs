//! Route rules from the configuration and what the upstream learns about the caller (claim
//! headers, the forwarded JWT), through the real binary in front of a recording upstream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use auth_core::apikey::generate_moose;
use auth_core::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use support::net::{Behaviour, Received, RecordingUpstream};
use support::{Server, code, keygate, run, serve, stderr};

const ADMIN: &str = "admin-token-for-route-tests";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn start(dir: &std::path::Path, config: &str, upstream: &RecordingUpstream) -> Server {
    std::fs::write(dir.join("moose.config.toml"), config).unwrap();
    Server::start(
        serve(dir)
            .args(["--upstream", &upstream.url("")])
            .env("MOOSE_ADMIN_TOKEN", ADMIN),
    )
}

async fn status(server: &Server, path: &str, token: Option<&str>) -> u16 {
    let mut request = client().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

fn last(upstream: &RecordingUpstream) -> Received {
    upstream
        .received()
        .last()
        .cloned()
        .expect("a forwarded request")
}

#[tokio::test(flavor = "multi_thread")]
async fn route_rules_extend_the_moose_defaults_longest_prefix_first() {
    let key = generate_moose().unwrap();
    let token = key.bearer_token.expose_secret();
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\ningest_api_keys = [\"{}\"]\n\
             [[server.routes]]\nprefix = \"/api/moss-token\"\nclass = \"public\"\n\
             [[server.routes]]\nprefix = \"/api/moss-token/rotate\"\nclass = \"admin\"\n\
             [[server.routes]]\nprefix = \"/internal\"\nclass = \"admin\"\n\
             [[server.routes]]\nprefix = \"/ingest\"\nclass = \"consumption\"\n",
            key.stored, key.stored
        ),
        &upstream,
    );
    // The reference's backend route is public; its own auth guards it.
    assert_eq!(status(&server, "/api/moss-token", None).await, 200);
    let forwarded = last(&upstream);
    assert_eq!(forwarded.target(), "/api/moss-token");
    assert_eq!(forwarded.header("x-keygate-method"), ["none"]);
    assert_eq!(status(&server, "/api/moss-token/", None).await, 200);
    // Whole segments only, and the rest of /api stays protected.
    assert_eq!(status(&server, "/api/moss-tokens", None).await, 401);
    assert_eq!(status(&server, "/api/items", None).await, 401);
    assert_eq!(status(&server, "/api/items", Some(token)).await, 200);
    // Longest prefix wins, in both directions.
    assert_eq!(
        status(&server, "/api/moss-token/rotate", Some(token)).await,
        401
    );
    assert_eq!(
        status(&server, "/api/moss-token/rotate", Some(ADMIN)).await,
        200
    );
    assert_eq!(status(&server, "/internal/metrics", Some(token)).await, 401);
    assert_eq!(status(&server, "/internal/metrics", Some(ADMIN)).await, 200);
    // A rule for a default's prefix replaces it: /ingest now takes consumption keys only.
    assert_eq!(status(&server, "/ingest/events", Some(token)).await, 200);
    // Spellings whose class depends on how the upstream reads them are refused, not judged;
    // where every reading has the same class, the path is served.
    for path in ["/API/items", "/api/Moss-Token", "/api/moss-token;x=1"] {
        assert_eq!(status(&server, path, None).await, 400, "{path}");
    }
    assert_eq!(status(&server, "/API/moss-token", None).await, 200);
    assert_eq!(
        status(&server, "/api/moss-token/../items", None).await,
        401,
        "judged as the path it normalises to"
    );
    // The admin status names the effective table.
    let table: serde_json::Value = client()
        .get(server.url("/admin/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = table.to_string();
    assert!(text.contains("/api/moss-token"), "{text}");
}

#[test]
fn bad_route_rules_exit_2_naming_the_entry() {
    for (rule, expected) in [
        (
            "prefix = \"api/x\"\nclass = \"public\"",
            "must start with '/'",
        ),
        (
            "prefix = \"/api/x\"\nclass = \"everyone\"",
            "must be ingest, consumption, admin or public",
        ),
        ("prefix = \"/api/../admin\"\nclass = \"public\"", "'..'"),
        ("class = \"public\"", "prefix"),
        (
            "prefix = \"/api/x\"\nclass = \"public\"\nmethods = [\"GET\"]",
            "methods",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("moose.config.toml"),
            format!("[[server.routes]]\n{rule}\n"),
        )
        .unwrap();
        let out = run(keygate().current_dir(dir.path()).args(["config", "check"]));
        let text = stderr(&out);
        assert_eq!(code(&out), 2, "{rule}: {text}");
        assert!(text.contains("server.routes[0]"), "{rule}: {text}");
        assert!(text.contains(expected), "{rule}: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
    // Two rules for one prefix: the second is named.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        "[[server.routes]]\nprefix = \"/x\"\nclass = \"public\"\n\
         [[server.routes]]\nprefix = \"/x/\"\nclass = \"admin\"\n",
    )
    .unwrap();
    let out = run(keygate().current_dir(dir.path()).args(["config", "check"]));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("server.routes[1]"),
        "{}",
        stderr(&out)
    );
}

fn jwt_for(signing: &SigningKey, claims: serde_json::Value) -> String {
    let now = auth_cache::clock::unix_now();
    let mut claims = claims;
    let object = claims.as_object_mut().unwrap();
    object.insert("iss".into(), "https://idp.example/".into());
    object.insert("aud".into(), "moose-app".into());
    object.insert("exp".into(), (now + 300).into());
    signing.sign(&claims).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_reach_the_upstream_as_mapped_headers_and_only_from_keygate() {
    let pair = generate_key_pair(JwtAlgorithm::Es256).unwrap();
    let signing = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    let key = generate_moose().unwrap();
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n\
             [jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"https://idp.example/\"\naudience = \"moose-app\"\n\
             [server]\nforward_jwt = true\n\
             [server.claim_headers]\nemail = \"X-User-Email\"\ngroups = \"X-User-Groups\"\n",
            key.stored, pair.public_pem
        ),
        &upstream,
    );
    let jwt = jwt_for(
        &signing,
        serde_json::json!({ "sub": "alice", "email": "alice@example.com", "groups": ["ops", "dev"] }),
    );
    let forged = [
        ("X-User-Email", "mallory@example.com"),
        ("x-user-groups", "admins"),
        ("X-Keygate-Subject", "root"),
    ];
    let mut request = client().get(server.url("/api/orders")).bearer_auth(&jwt);
    for (name, value) in forged {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let seen = last(&upstream);
    assert_eq!(seen.header("x-user-email"), ["alice@example.com"]);
    assert_eq!(seen.header("x-user-groups"), [r#"["ops","dev"]"#]);
    assert_eq!(seen.header("x-keygate-subject"), ["alice"]);
    assert_eq!(seen.header("x-keygate-method"), ["jwt"]);
    assert_eq!(seen.header("authorization"), [format!("Bearer {jwt}")]);

    // An API key is never forwarded; mapped headers are still keygate's own (empty).
    let mut request = client()
        .get(server.url("/api/orders"))
        .bearer_auth(key.bearer_token.expose_secret());
    for (name, value) in forged {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let seen = last(&upstream);
    assert!(seen.header("authorization").is_empty(), "{seen:?}");
    assert_eq!(seen.header("x-user-email"), [""]);
    assert_eq!(seen.header("x-user-groups"), [""]);
    assert!(seen.header("x-keygate-subject")[0].starts_with("key:"));

    // On a public route too: the forged copies never arrive.
    let mut request = client().get(server.url("/"));
    for (name, value) in forged {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let seen = last(&upstream);
    assert_eq!(seen.header("x-user-email"), [""]);
    assert_eq!(seen.header("x-keygate-subject"), ["anonymous"]);

    // A claim that cannot be a header value faithfully refuses the token rather than dropping
    // or mangling the claim.
    let before = upstream.received().len();
    let jwt = jwt_for(
        &signing,
        serde_json::json!({ "sub": "bob", "email": "bob@example.com\r\nX-Admin: 1" }),
    );
    let response = client()
        .get(server.url("/api/orders"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(upstream.received().len(), before, "not forwarded");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_forward_jwt_the_upstream_never_sees_the_credential() {
    let pair = generate_key_pair(JwtAlgorithm::EdDsa).unwrap();
    let signing = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"https://idp.example/\"\naudience = \"moose-app\"\n\
             enforce_on_all_consumptions_apis = true\n",
            pair.public_pem
        ),
        &upstream,
    );
    let jwt = jwt_for(
        &signing,
        serde_json::json!({ "sub": "carol", "email": "c@x" }),
    );
    let response = client()
        .get(server.url("/api/orders"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = last(&upstream);
    assert!(seen.header("authorization").is_empty());
    assert!(seen.header("x-user-email").is_empty(), "nothing mapped");
    assert_eq!(seen.header("x-keygate-subject"), ["carol"]);
}
