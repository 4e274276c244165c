//! Cross-origin access through the real binary (`[server] cors_*`): preflights answered by
//! keygate, every answer to an allowed origin readable by the page, nothing for anyone else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use auth_core::apikey::{generate_moose, generate_phc};
use auth_core::jwt::{JwtAlgorithm, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use reqwest::{Method, Response};
use support::{Server, serve};

const APP: &str = "https://app.example";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Asserts `response` is readable by a page of `APP`: its origin allowed, `Vary: Origin`, and the
/// refusal headers exposed.
fn assert_readable_by_app(response: &Response, what: &str) {
    assert_eq!(
        header(response, "access-control-allow-origin").as_deref(),
        Some(APP),
        "{what}: {:?}",
        response.headers()
    );
    let vary: Vec<&str> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        vary.iter().any(|v| v
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("origin"))),
        "{what}: Vary {vary:?}"
    );
    let exposed = header(response, "access-control-expose-headers").unwrap_or_default();
    for name in ["www-authenticate", "retry-after"] {
        assert!(exposed.contains(name), "{what}: exposes {exposed:?}");
    }
}

fn assert_no_cors(response: &Response, what: &str) {
    let cors: Vec<&str> = response
        .headers()
        .keys()
        .map(reqwest::header::HeaderName::as_str)
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

struct Setup {
    server: Server,
    key: String,
    _dir: tempfile::TempDir,
}

fn start() -> Setup {
    let key = generate_moose().unwrap();
    let issuer = generate_key_pair(JwtAlgorithm::Es256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n\
             [jwt]\nissuer = \"https://keygate.test/\"\naudience = \"app\"\n\
             [token_issuer]\nprivate_key = \"\"\"\n{}\"\"\"\n\
             [[token_issuer.projects]]\nid = \"web\"\nkey_hash = \"{}\"\n\
             [server]\ncors_allowed_origins = [\"{APP}\", \"http://localhost:3000\"]\n\
             cors_max_age_seconds = 300\nforward_auth = true\n\
             [limits]\nfailures_per_client = 2\n",
            key.stored,
            issuer.private_pem.expose_secret(),
            key.stored
        ),
    )
    .unwrap();
    let server = Server::start(serve(dir.path()).env("MOOSE_ADMIN_TOKEN", "admin-token-cors"));
    Setup {
        server,
        key: key.bearer_token.expose_secret().to_owned(),
        _dir: dir,
    }
}

async fn preflight(server: &Server, path: &str, origin: &str) -> Response {
    client()
        .request(Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn preflights_from_allowed_origins_are_answered_on_every_route_without_credentials() {
    let setup = start();
    for path in [
        "/api/items",
        "/auth/token",
        "/.well-known/jwks.json",
        "/ingest/x",
    ] {
        let response = preflight(&setup.server, path, APP).await;
        assert_eq!(response.status(), 204, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some(APP)
        );
        let methods = header(&response, "access-control-allow-methods").unwrap();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = header(&response, "access-control-allow-headers").unwrap();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
        assert_eq!(
            header(&response, "access-control-max-age").as_deref(),
            Some("300")
        );
        assert!(
            header(&response, "access-control-allow-credentials").is_none(),
            "credentials are off by default"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // The second origin on the list is answered with itself, never with the first.
    let other = preflight(&setup.server, "/api/items", "http://localhost:3000").await;
    assert_eq!(
        header(&other, "access-control-allow-origin").as_deref(),
        Some("http://localhost:3000")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_to_an_allowed_origin_is_readable_by_the_page() {
    let setup = start();
    let server = &setup.server;
    let send = |method: Method, path: &str| {
        client()
            .request(method, server.url(path))
            .header("origin", APP)
    };
    // 200: a valid key, and the token endpoint.
    let ok = send(Method::GET, "/api/items")
        .bearer_auth(&setup.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_readable_by_app(&ok, "200");
    let token = send(Method::POST, "/auth/token")
        .json(&serde_json::json!({ "projectId": "web", "projectKey": setup.key }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    assert_readable_by_app(&token, "token 200");
    // 400: a path keygate refuses before any decision.
    let bad = send(Method::GET, "/api/a%2Fb").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_readable_by_app(&bad, "400");
    // 401 with its challenge.
    let missing = send(Method::GET, "/api/items").send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(header(&missing, "www-authenticate").is_some());
    assert_readable_by_app(&missing, "401");
    // 403: the forward-auth endpoint answers trusted proxies only.
    let forbidden = send(Method::GET, "/auth/verify")
        .header("x-original-uri", "/api/items")
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_readable_by_app(&forbidden, "403");
    // 429: over the failure budget (two failures allowed).
    let mut last = None;
    for _ in 0..3 {
        let wrong = generate_moose().unwrap();
        last = Some(
            send(Method::GET, "/api/items")
                .bearer_auth(wrong.bearer_token.expose_secret())
                .send()
                .await
                .unwrap(),
        );
    }
    let limited = last.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(header(&limited, "retry-after").is_some());
    assert_readable_by_app(&limited, "429");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overloaded_key_pool_answers_503_the_page_can_read() {
    // One worker, one waiting slot: of six first uses at once, most are turned away.
    let keys: Vec<_> = (0..6).map(|_| generate_phc(100_000).unwrap()).collect();
    let stored: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.stored)).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[authentication]\nconsumption_api_keys = [{}]\n\
             [cache]\nkdf_workers = 1\nkdf_queue = 1\n\
             [server]\ncors_allowed_origins = [\"{APP}\"]\n",
            stored.join(", ")
        ),
    )
    .unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let calls = keys.iter().map(|key| {
        client()
            .get(server.url("/api/items"))
            .header("origin", APP)
            .bearer_auth(key.bearer_token.expose_secret())
            .send()
    });
    let responses = futures_join_all(calls).await;
    let unavailable: Vec<&Response> = responses.iter().filter(|r| r.status() == 503).collect();
    assert!(
        !unavailable.is_empty(),
        "{:?}",
        responses.iter().map(Response::status).collect::<Vec<_>>()
    );
    for response in unavailable {
        assert!(header(response, "retry-after").is_some());
        assert_readable_by_app(response, "503");
    }
}

/// Sends every request at once; the answers in order.
async fn futures_join_all(
    calls: impl Iterator<
        Item = impl std::future::Future<Output = reqwest::Result<Response>> + Send + 'static,
    >,
) -> Vec<Response> {
    let tasks: Vec<_> = calls.map(tokio::spawn).collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap().unwrap());
    }
    responses
}

#[tokio::test(flavor = "multi_thread")]
async fn other_origins_and_requests_without_origin_get_no_cors_headers() {
    let setup = start();
    let server = &setup.server;
    for origin in [
        "https://evil.example",
        "https://app.example.evil.example",
        "https://APP.example",
        "http://app.example",
        "null",
    ] {
        let response = preflight(server, "/api/items", origin).await;
        assert_eq!(
            response.status(),
            401,
            "{origin}: a preflight from elsewhere is an ordinary unauthenticated request"
        );
        assert_no_cors(&response, origin);
        let ok = client()
            .get(server.url("/api/items"))
            .header("origin", origin)
            .bearer_auth(&setup.key)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_no_cors(&ok, origin);
    }
    // Without Origin nothing changes: OPTIONS is judged like any request, no CORS, no Vary.
    let options = client()
        .request(Method::OPTIONS, server.url("/api/items"))
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 401);
    assert_no_cors(&options, "OPTIONS without Origin");
    let plain = client()
        .get(server.url("/api/items"))
        .bearer_auth(&setup.key)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_no_cors(&plain, "no Origin");
    assert!(plain.headers().get("vary").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_allowed_origins_there_is_no_cors_at_all() {
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n",
            key.stored
        ),
    )
    .unwrap();
    let server = Server::start(&mut serve(dir.path()));
    let response = preflight(&server, "/api/items", APP).await;
    assert_eq!(response.status(), 401);
    assert_no_cors(&response, "no [server] cors_allowed_origins");
}
