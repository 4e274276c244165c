//! The forward-auth endpoint, `/auth/verify`: asked directly in each proxy's convention, and
//! end to end behind a real nginx (`auth_request`) and a real Caddy (`forward_auth`) configured
//! exactly as docs/forward-auth/ shows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use auth_core::apikey::generate_moose;
use auth_core::secrecy::ExposeSecret;
use support::net::{Behaviour, RecordingUpstream, get, raw};
use support::proxies::{caddy, free_port, nginx};
use support::{Server, component, serve};

const NGINX_CONF: &str = include_str!("../../../docs/forward-auth/nginx.conf");
const CADDYFILE: &str = include_str!("../../../docs/forward-auth/Caddyfile");

/// keygate trusting 127.0.0.1 as its proxy; `[[server.routes]]` makes `/public` public.
fn start_keygate(dir: &Path, key_hash: &str, extra: &str) -> Server {
    std::fs::write(
        dir.join("moose.config.toml"),
        format!(
            "[authentication]\nconsumption_api_keys = [\"{key_hash}\"]\n\
             [server]\ntrusted_proxies = [\"127.0.0.1\"]\n{extra}\n\
             [[server.routes]]\nprefix = \"/public\"\nclass = \"public\"\n"
        ),
    )
    .unwrap();
    Server::start(&mut serve(dir))
}

fn from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

/// Asks `/auth/verify{suffix}` with `headers`; status, subject, method and challenge.
async fn ask(
    server: &Server,
    suffix: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Option<String>, Option<String>) {
    let mut request = from("127.0.0.1").get(server.url(&format!("/auth/verify{suffix}")));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let get = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        response.status().as_u16(),
        get("x-keygate-subject"),
        get("x-keygate-method"),
        get("www-authenticate"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_convention_is_judged_like_the_gateway_would() {
    let key = generate_moose().unwrap();
    let bearer = format!("Bearer {}", key.bearer_token.expose_secret());
    let dir = tempfile::tempdir().unwrap();
    let server = start_keygate(dir.path(), &key.stored, "");
    let auth = ("authorization", bearer.as_str());
    let conventions: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "",
            vec![
                ("x-original-uri", "/api/items?x=1"),
                ("x-original-method", "POST"),
            ],
        ),
        (
            "",
            vec![("x-original-url", "https://app.example/api/items?x=1")],
        ),
        (
            "",
            vec![
                ("x-forwarded-uri", "/api/items"),
                ("x-forwarded-method", "GET"),
            ],
        ),
        ("/api/items", vec![]),
    ];
    for (suffix, headers) in &conventions {
        let (status, subject, method, challenge) = ask(&server, suffix, headers).await;
        assert_eq!(status, 401, "{headers:?}");
        assert!(challenge.unwrap().starts_with("Bearer"), "{headers:?}");
        assert_eq!((subject, method), (None, None));
        let mut with_key = headers.clone();
        with_key.push(auth);
        let (status, subject, method, _) = ask(&server, suffix, &with_key).await;
        assert_eq!(status, 200, "{headers:?}");
        assert_eq!(subject.unwrap(), format!("key:{}", key_id(&key.stored)));
        assert_eq!(method.as_deref(), Some("api_key"));
    }
    // A public path: 200 with both identity headers, also without a credential.
    let (status, subject, method, _) = ask(&server, "", &[("x-original-uri", "/public/a")]).await;
    assert_eq!(status, 200);
    assert_eq!(subject.as_deref(), Some("anonymous"));
    assert_eq!(method.as_deref(), Some("none"));
    // A bad credential on a public path is ignored, as the gateway ignores it.
    let (status, ..) = ask(
        &server,
        "",
        &[
            ("x-original-uri", "/public/a"),
            ("authorization", "Bearer nope"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

fn key_id(stored: &str) -> String {
    auth_core::apikey::KeyId::of_stored(stored).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn uris_not_in_normal_form_and_disagreeing_conventions_are_refused() {
    let key = generate_moose().unwrap();
    let bearer = format!("Bearer {}", key.bearer_token.expose_secret());
    let dir = tempfile::tempdir().unwrap();
    let server = start_keygate(dir.path(), &key.stored, "");
    for uri in [
        "/public/../api/items",
        "/public/%2e%2e/api/items",
        "/public/%2E%2E/api/items",
        "/public/..;/api/items",
        "/api;v=1/items",
        "/public/a%2Fb",
        "/public//x",
        "/public/%61",
        "/public/a\\b",
    ] {
        let (status, subject, ..) = ask(&server, "", &[("x-original-uri", uri)]).await;
        assert_eq!(status, 400, "{uri}");
        assert_eq!(subject, None);
        // Refused with a valid key too: the upstream would read another path than judged.
        let (status, ..) = ask(
            &server,
            "",
            &[("x-original-uri", uri), ("authorization", &bearer)],
        )
        .await;
        assert_eq!(status, 400, "{uri}");
    }
    // Envoy's appended path: refused the same way when not normal (sent raw, not via reqwest,
    // which would resolve the dot segments itself).
    for target in [
        "/auth/verify/public/../api/items",
        "/auth/verify/public/%2e%2e/api/x",
    ] {
        let response = get(server.addr(), target, &[]);
        assert_eq!(response.status, 400, "{target}: {}", response.head);
        assert!(response.header("x-keygate-subject").is_none());
    }
    // A client adds another convention's header that the proxy passes along: refused, whichever
    // order, rather than judged on the less protected one.
    for headers in [
        vec![
            ("x-original-uri", "/api/items"),
            ("x-forwarded-uri", "/public/x"),
        ],
        vec![
            ("x-forwarded-uri", "/public/x"),
            ("x-original-uri", "/api/items"),
        ],
        vec![
            ("x-original-uri", "/api/items"),
            ("x-original-url", "http://h/public/x"),
        ],
        vec![
            ("x-original-uri", "/api/items"),
            ("x-original-method", "GET"),
            ("x-forwarded-method", "OPTIONS"),
        ],
    ] {
        let (status, subject, ..) = ask(&server, "", &headers).await;
        assert_eq!(status, 400, "{headers:?}");
        assert_eq!(subject, None);
    }
    let (status, ..) = ask(&server, "/public/x", &[("x-original-uri", "/api/items")]).await;
    assert_eq!(status, 400, "Envoy's path and a header disagree");
    // The same header twice.
    let response = get(
        server.addr(),
        "/auth/verify",
        &["X-Original-URI: /api/items", "X-Original-URI: /public/x"],
    );
    assert_eq!(response.status, 400, "{}", response.head);
    // Nothing names the request.
    assert_eq!(ask(&server, "", &[]).await.0, 400);
    assert_eq!(
        ask(
            &server,
            "",
            &[("x-original-uri", "/x"), ("x-original-method", "TRACE")]
        )
        .await
        .0,
        405
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_trusted_proxies_are_answered_and_no_body_is_read() {
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start_keygate(dir.path(), &key.stored, "");
    let response = from("127.0.0.2")
        .get(server.url("/auth/verify"))
        .header("x-original-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("x-keygate-subject").is_none());
    // A request announcing a large body it never sends is answered at once.
    let started = Instant::now();
    let answer = raw(
        server.addr(),
        b"POST /auth/verify HTTP/1.1\r\nHost: k\r\nX-Original-URI: /public/x\r\n\
          Content-Length: 100000000\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Off by default without trusted proxies: /auth/verify is then an ordinary public path.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moose.config.toml"),
        format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n",
            key.stored
        ),
    )
    .unwrap();
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let plain = Server::start(serve(dir.path()).args(["--upstream", &upstream.url("")]));
    let response = from("127.0.0.1")
        .get(plain.url("/auth/verify"))
        .header("x-original-uri", "/api/items")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        upstream.received().last().unwrap().target(),
        "/auth/verify",
        "forwarded like any public path, not answered"
    );
}

/// The documented proxy configuration with its placeholder addresses replaced.
fn addresses(config: &str, listen: u16, keygate: SocketAddr, app: SocketAddr) -> String {
    config
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{listen}"))
        .replace("127.0.0.1:4000", &keygate.to_string())
        .replace("127.0.0.1:8080", &app.to_string())
}

/// `GET target` sent raw (no client-side path cleaning) to the proxy, naming it as the host.
fn through(proxy: SocketAddr, target: &str) -> support::net::RawResponse {
    raw(
        proxy,
        format!("GET {target} HTTP/1.1\r\nHost: {proxy}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// What every proxy must do with keygate deciding, asked through the proxy at `proxy`.
async fn assert_proxy_enforces_keygate(
    proxy: SocketAddr,
    upstream: &RecordingUpstream,
    token: &str,
    what: &str,
) {
    let base = format!("http://{proxy}");
    let client = from("127.0.0.1");
    // Allowed: the app sees keygate's identity headers, not the client's copies.
    let response = client
        .get(format!("{base}/api/items?page=2"))
        .bearer_auth(token)
        .header("x-keygate-subject", "root")
        .header("x-keygate-method", "admin_token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{what}");
    let seen = upstream.received().last().cloned().unwrap();
    assert_eq!(seen.target(), "/api/items?page=2", "{what}");
    assert_eq!(
        seen.header("x-keygate-subject").len(),
        1,
        "{what}: {seen:?}"
    );
    assert!(
        seen.header("x-keygate-subject")[0].starts_with("key:"),
        "{what}"
    );
    assert_eq!(seen.header("x-keygate-method"), ["api_key"], "{what}");
    // Public: both headers, never a placeholder.
    let response = client
        .get(format!("{base}/public/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{what}");
    let seen = upstream.received().last().cloned().unwrap();
    assert_eq!(seen.header("x-keygate-subject"), ["anonymous"], "{what}");
    assert_eq!(seen.header("x-keygate-method"), ["none"], "{what}");

    let count = upstream.received().len();
    // Refused: keygate's own 401 and challenge reach the client.
    let response = client
        .get(format!("{base}/api/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "{what}");
    let challenge = response.headers().get("www-authenticate").unwrap();
    assert!(challenge.to_str().unwrap().starts_with("Bearer"), "{what}");
    let response = client
        .get(format!("{base}/api/items"))
        .bearer_auth("not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "{what}");
    let challenge = response.headers().get("www-authenticate").unwrap();
    assert!(
        challenge.to_str().unwrap().contains("invalid_token"),
        "{what}"
    );
    // Refused, not turned into 500: a path the upstream would read differently.
    for target in [
        "/public/%2e%2e/api/items",
        "/public/../api/items",
        "/api;x=1/items",
    ] {
        let answer = through(proxy, target);
        assert!(
            answer.status == 400 || answer.status == 404,
            "{what}: {target}: {}",
            answer.head
        );
        assert_ne!(answer.status, 500, "{what}: {target}");
    }
    // A client's own convention header cannot make a protected path public.
    let response = client
        .get(format!("{base}/api/items"))
        .header("x-original-uri", "/public/x")
        .header("x-forwarded-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert!(
        response.status() == 400 || response.status() == 401,
        "{what}: {}",
        response.status()
    );
    assert_eq!(
        upstream.received().len(),
        count,
        "{what}: nothing refused was forwarded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_auth_request_enforces_keygate_as_documented() {
    let Some(binary) = component("nginx") else {
        return;
    };
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keygate = start_keygate(dir.path(), &key.stored, "");
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let listen = free_port();
    let proxy = nginx(
        &binary,
        dir.path(),
        &addresses(NGINX_CONF, listen, keygate.addr(), upstream.addr),
        listen,
    );
    assert_proxy_enforces_keygate(
        proxy.addr,
        &upstream,
        key.bearer_token.expose_secret(),
        "nginx",
    )
    .await;
    // nginx turns a 400 from auth_request into 500 unless the error_page maps it: keygate's own
    // 400 must reach the client.
    let answer = through(proxy.addr, "/public/%2e%2e/api/items");
    assert_eq!(answer.status, 400, "{}\n{}", answer.head, proxy.log());
    assert!(answer.body.contains("invalid_request"), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_passes_429_and_retry_after_on() {
    let Some(binary) = component("nginx") else {
        return;
    };
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keygate = start_keygate(dir.path(), &key.stored, "[limits]\nfailures_per_client = 2");
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let listen = free_port();
    let proxy = nginx(
        &binary,
        dir.path(),
        &addresses(NGINX_CONF, listen, keygate.addr(), upstream.addr),
        listen,
    );
    // The client is told apart by nginx's X-Forwarded-For: 127.0.0.2 runs out, 127.0.0.1 not;
    // each failure counts once (nginx asks again only for what it would turn into 500).
    for expected in [401, 401, 429, 429] {
        let wrong = generate_moose().unwrap();
        let response = from("127.0.0.2")
            .get(format!("http://{}/api/items", proxy.addr))
            .bearer_auth(wrong.bearer_token.expose_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{}", proxy.log());
        if expected == 429 {
            let retry = response.headers().get("retry-after").unwrap();
            assert!(retry.to_str().unwrap().parse::<u64>().unwrap() >= 1);
        }
    }
    let response = from("127.0.0.1")
        .get(format!("http://{}/api/items", proxy.addr))
        .bearer_auth(key.bearer_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_forward_auth_enforces_keygate_as_documented() {
    let Some(binary) = component("caddy") else {
        return;
    };
    let key = generate_moose().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keygate = start_keygate(dir.path(), &key.stored, "");
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let listen = free_port();
    let proxy = caddy(
        &binary,
        dir.path(),
        &addresses(CADDYFILE, listen, keygate.addr(), upstream.addr),
        listen,
    );
    assert_proxy_enforces_keygate(
        proxy.addr,
        &upstream,
        key.bearer_token.expose_secret(),
        "caddy",
    )
    .await;
    let answer = through(proxy.addr, "/public/%2e%2e/api/items");
    assert_eq!(answer.status, 400, "{}\n{}", answer.head, proxy.log());
}
