//! The gateway attacked as an attacker would: raw requests the client libraries would have
//! "fixed", an upstream that records exactly what reaches it, and connection-level abuse.
//! docs/security.md states the invariants these tests attack.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

#[path = "../../auth-core/tests/oracle/upstreams.rs"]
mod upstreams;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use auth_core::apikey::{GeneratedKey, generate_moose};
use auth_core::secrecy::ExposeSecret;
use support::net::{Behaviour, RecordingUpstream, get, raw, read_response, time_until_closed};
use support::{Server, serve};
use upstreams::upstream_classes;

/// A configuration with an ingest key, a consumption key and an admin token, behind `upstream`.
struct Gateway {
    server: Server,
    upstream: RecordingUpstream,
    ingest: GeneratedKey,
    consumption: GeneratedKey,
    _dir: tempfile::TempDir,
}

const ADMIN_TOKEN: &str = "admin-token-for-hardening-tests";

impl Gateway {
    fn start(extra_config: &str, behaviour: Behaviour, base_path: &str) -> Self {
        let upstream = RecordingUpstream::start(behaviour);
        let (ingest, consumption) = (generate_moose().unwrap(), generate_moose().unwrap());
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            &format!(
                "[authentication]\ningest_api_keys = [\"{}\"]\nconsumption_api_keys = [\"{}\"]\n{extra_config}",
                ingest.stored, consumption.stored
            ),
        );
        let server = Server::start(
            serve(dir.path())
                .args(["--upstream", &upstream.url(base_path)])
                .env("MOOSE_ADMIN_TOKEN", ADMIN_TOKEN),
        );
        Self {
            server,
            upstream,
            ingest,
            consumption,
            _dir: dir,
        }
    }

    fn bearer(key: &GeneratedKey) -> String {
        format!("Authorization: Bearer {}", key.bearer_token.expose_secret())
    }
}

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("moose.config.toml"), text).unwrap();
}

#[test]
fn the_class_keygate_decides_is_the_class_of_the_path_the_upstream_receives() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let attacks = [
        "/api/orders/../../public",
        "/api/orders/%2e%2e/%2e%2e/public",
        "/api/orders/%2E%2E/%2E%2E/public",
        "/api/orders/..%2f..%2fpublic",
        "/api/orders/..%5c..%5cpublic",
        "/api/orders/..%2F..%2Fpublic",
        "/api;jsessionid=1/x",
        "/..;/api/x",
        "/admin;a=b/users",
        "/public/..;/api/x",
        "/public/%2e%2e;x/api/x",
        "/public/.;/../api",
        "/ingest;x/../api/x",
        "/API/x",
        "/Api/x",
        "//api/x",
        "/./api/x",
        "/%61pi/x",
        "/a%70i/x",
        "/public%2f..%2fapi/x",
        "/api%00/x",
        "/api%3bx/y",
        "/public/%252e%252e/api",
        "/admin/u/../../ingest/x",
        "/api/x;jsessionid=1",
        "/public/x?next=/../api",
    ];
    for attack in attacks {
        let before = gateway.upstream.received().len();
        let response = get(gateway.server.addr(), attack, &[]);
        let received = gateway.upstream.received();
        if received.len() == before {
            assert!(
                matches!(response.status, 400 | 401),
                "{attack}: answered {} by keygate itself",
                response.status
            );
            continue;
        }
        let seen = received.last().unwrap();
        assert_eq!(response.status, 200, "{attack}");
        assert_eq!(
            upstream_classes(seen.target()),
            ["public"; 3],
            "{attack} reached the upstream as {} without credentials",
            seen.target()
        );
        assert_eq!(seen.header("x-keygate-method"), ["none"], "{attack}");
    }
    // A credential of one class cannot reach another class's handlers by spelling.
    let ingest = Gateway::bearer(&gateway.ingest);
    let response = get(gateway.server.addr(), "/admin/u/../../ingest/x", &[&ingest]);
    assert_eq!(response.status, 200);
    let seen = gateway.upstream.received().last().cloned().unwrap();
    assert_eq!(seen.line, "GET /ingest/x HTTP/1.1");
    assert_eq!(upstream_classes(seen.target()), ["ingest"; 3]);
    let response = get(gateway.server.addr(), "/ingest/../admin/users", &[&ingest]);
    assert_eq!(
        response.status, 401,
        "an ingest key is not an admin credential"
    );
}

#[test]
fn the_normal_form_is_forwarded_and_the_query_is_left_alone() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let key = Gateway::bearer(&gateway.consumption);
    let cases = [
        (
            "/api/orders/../items?x=/../y&z=%2e",
            "/api/items?x=/../y&z=%2e",
        ),
        ("//api//items/./42", "/api/items/42"),
        ("/api/%7euser/%c3%a9", "/api/~user/%C3%A9"),
        ("/api/x;jsessionid=1", "/api/x;jsessionid=1"),
        ("/api/x/..;y/z", "/api/z"),
    ];
    for (sent, expected) in cases {
        let response = get(gateway.server.addr(), sent, &[&key]);
        assert_eq!(response.status, 200, "{sent}");
        let seen = gateway.upstream.received().last().cloned().unwrap();
        assert_eq!(seen.target(), expected, "{sent}");
        assert_eq!(seen.header("x-keygate-method"), ["api_key"]);
    }
    // Encoded separators, encoded ';', NUL and climbing above the root are refused.
    for sent in [
        "/api/a%2fb",
        "/api/a%5Cb",
        "/api/a%3Bb",
        "/api/%00",
        "/../api/x",
    ] {
        let response = get(gateway.server.addr(), sent, &[&key]);
        assert_eq!(response.status, 400, "{sent}");
        assert!(
            response.body.contains("invalid_request"),
            "{sent}: {}",
            response.body
        );
    }
}

#[test]
fn keygates_own_routes_are_matched_in_the_normal_form_never_forwarded_in_another() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    for sent in [
        "/health",
        "/%68ealth",
        "/x/../health",
        "//health",
        "/./health",
    ] {
        let response = get(gateway.server.addr(), sent, &[]);
        assert_eq!(response.status, 200, "{sent}");
        assert!(
            response.body.contains("\"status\""),
            "{sent} is answered by keygate's /health: {}",
            response.body
        );
    }
    assert!(
        gateway.upstream.received().is_empty(),
        "{:?}",
        gateway.upstream.received()
    );
}

#[test]
fn the_base_path_cannot_be_escaped() {
    let gateway = Gateway::start("", Behaviour::Answer, "/svc");
    for escape in [
        "/../other/secret",
        "/%2e%2e/other/secret",
        "/x/../../other",
        "/..;/other",
    ] {
        let before = gateway.upstream.received().len();
        let response = get(gateway.server.addr(), escape, &[]);
        assert_eq!(response.status, 400, "{escape}");
        assert_eq!(
            gateway.upstream.received().len(),
            before,
            "{escape} was forwarded"
        );
    }
    let response = get(gateway.server.addr(), "/x/../y?q=1", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(
        gateway.upstream.received().last().unwrap().target(),
        "/svc/y?q=1"
    );
}

#[test]
fn identity_headers_are_only_ever_keygates_own() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let key = Gateway::bearer(&gateway.consumption);
    let response = get(
        gateway.server.addr(),
        "/api/me",
        &[
            &key,
            "X_Keygate_Subject: admin",
            "x-keygate-subject: admin",
            "X-KEYGATE-METHOD: admin_token",
            "X-Keygate-Claim-Email: forged@example.com",
            "X_Custom_Header: dropped",
            "X-Custom-Header: kept",
        ],
    );
    assert_eq!(response.status, 200);
    let seen = gateway.upstream.received().last().cloned().unwrap();
    let subject = seen.header("x-keygate-subject");
    assert_eq!(subject.len(), 1, "{:?}", seen.headers);
    assert!(subject[0].starts_with("key:"), "{subject:?}");
    assert_eq!(seen.header("x-keygate-method"), ["api_key"]);
    assert!(seen.header("x-keygate-claim-email").is_empty());
    assert!(
        seen.headers.iter().all(|(name, _)| !name.contains('_')),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.header("x-custom-header"), ["kept"]);
    assert!(seen.header("authorization").is_empty());
}

#[test]
fn underscores_in_headers_can_be_allowed_but_never_for_identity_headers() {
    let gateway = Gateway::start(
        "[server]\nunderscores_in_headers = true\n",
        Behaviour::Answer,
        "",
    );
    let response = get(
        gateway.server.addr(),
        "/public",
        &["X_Keygate_Subject: admin", "X_Custom: kept"],
    );
    assert_eq!(response.status, 200);
    let seen = gateway.upstream.received().last().cloned().unwrap();
    assert_eq!(seen.header("x_custom"), ["kept"]);
    assert_eq!(seen.header("x-keygate-subject"), ["anonymous"]);
    assert!(seen.header("x_keygate_subject").is_empty());
}

#[test]
fn connect_trace_and_asterisk_targets_are_answered_by_keygate() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let addr = gateway.server.addr();
    let connect = raw(
        addr,
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    );
    assert_eq!(connect.status, 405);
    assert!(connect.header("allow").is_some_and(|a| a.contains("GET")));
    let trace = raw(
        addr,
        b"TRACE /public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(trace.status, 405);
    let options = raw(
        addr,
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(options.status, 400);
    assert!(
        gateway.upstream.received().is_empty(),
        "nothing was forwarded"
    );
}

#[test]
fn a_malformed_request_body_is_the_clients_fault() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let response = raw(
        gateway.server.addr(),
        b"POST /public/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 400, "{}", response.body);
    assert!(
        response.body.contains("invalid_request"),
        "{}",
        response.body
    );
}

#[test]
fn a_jwt_subject_that_cannot_be_a_header_is_refused_not_dropped() {
    use auth_core::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
    let pair = generate_key_pair(JwtAlgorithm::Es256).unwrap();
    let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    let config = format!(
        "[jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"https://idp/\"\naudience = \"app\"\n",
        pair.public_pem
    );
    let gateway = Gateway::start(&config, Behaviour::Answer, "");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = |sub: &str| {
        signer
            .sign(&serde_json::json!({ "iss": "https://idp/", "aud": "app", "sub": sub, "exp": now + 600 }))
            .unwrap()
    };
    let good = format!("Authorization: Bearer {}", token("alice"));
    assert_eq!(get(gateway.server.addr(), "/api/x", &[&good]).status, 200);
    assert_eq!(
        gateway
            .upstream
            .received()
            .last()
            .unwrap()
            .header("x-keygate-subject"),
        ["alice"]
    );
    let before = gateway.upstream.received().len();
    for sub in ["admin\r\nX-Keygate-Subject: root", "a\nb", " admin"] {
        let bad = format!("Authorization: Bearer {}", token(sub));
        let response = get(gateway.server.addr(), "/api/x", &[&bad]);
        assert_eq!(response.status, 401, "{sub:?}");
        assert!(
            response
                .header("www-authenticate")
                .is_some_and(|h| h.contains("invalid_token")),
            "{}",
            response.head
        );
    }
    assert_eq!(
        gateway.upstream.received().len(),
        before,
        "nothing was forwarded"
    );
}

const FAST_TIMEOUTS: &str = "[server]\nrequest_head_timeout_seconds = 1\nkeep_alive_timeout_seconds = 3\n\
client_body_timeout_seconds = 1\nupstream_timeout_seconds = 1\nshutdown_timeout_seconds = 2\n";

#[test]
fn silent_and_trickling_connections_are_closed_after_the_head_timeout() {
    let gateway = Gateway::start(FAST_TIMEOUTS, Behaviour::Answer, "");
    let addr = gateway.server.addr();
    let mut silent: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut trickle = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    let writer = {
        let mut stream = trickle.try_clone().unwrap();
        std::thread::spawn(move || {
            for byte in b"GET /public HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa" {
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let closed =
        time_until_closed(&mut trickle, Duration::from_secs(8)).expect("a trickled head is cut");
    assert!(started.elapsed() < Duration::from_secs(4), "{closed:?}");
    let _ = writer.join();
    for stream in &mut silent {
        assert!(
            time_until_closed(stream, Duration::from_secs(5)).is_some(),
            "a silent connection is closed"
        );
    }
    assert_eq!(get(addr, "/public", &[]).status, 200, "still serving");
}

#[test]
fn keep_alive_connections_live_until_the_idle_timeout_not_the_head_timeout() {
    let gateway = Gateway::start(FAST_TIMEOUTS, Behaviour::Answer, "");
    let mut stream = TcpStream::connect(gateway.server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    let idle_since = Instant::now();
    // Past the 1 s head timeout, the idle connection still serves a second request.
    std::thread::sleep(Duration::from_millis(1800));
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 200);
    let idle_since_second = Instant::now();
    let closed = time_until_closed(&mut stream, Duration::from_secs(8)).expect("idle is closed");
    let idle = idle_since_second.elapsed();
    assert!(
        idle >= Duration::from_millis(2500) && idle < Duration::from_secs(6),
        "closed after {idle:?} ({closed:?}); first idle at {idle_since:?}"
    );
}

#[test]
fn a_stalled_request_body_gets_408_and_a_stalled_upstream_body_is_cut() {
    let gateway = Gateway::start(FAST_TIMEOUTS, Behaviour::Answer, "");
    let mut stream = TcpStream::connect(gateway.server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"POST /public/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
        )
        .unwrap();
    let response = read_response(&mut stream).expect("an answer");
    assert_eq!(response.status, 408, "{}", response.body);

    let stalled = Gateway::start(
        FAST_TIMEOUTS,
        Behaviour::StallMidBody(Duration::from_secs(30)),
        "",
    );
    let mut stream = TcpStream::connect(stalled.server.addr()).unwrap();
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let closed = time_until_closed(&mut stream, Duration::from_secs(10));
    assert!(
        closed.is_some_and(|_| started.elapsed() < Duration::from_secs(5)),
        "the client is released when the upstream stalls: {closed:?}"
    );
}

/// Sends `count` keep-alive `GET`s on one connection, `pause` apart; the statuses.
fn keep_alive_gets(
    addr: std::net::SocketAddr,
    headers: &str,
    count: usize,
    pause: Duration,
) -> Vec<u16> {
    keep_alive_gets_as("HTTP/1.1", addr, headers, count, pause)
}

/// [`keep_alive_gets`] with the request line's `version`.
fn keep_alive_gets_as(
    version: &str,
    addr: std::net::SocketAddr,
    headers: &str,
    count: usize,
    pause: Duration,
) -> Vec<u16> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (0..count)
        .map(|_| {
            std::thread::sleep(pause);
            stream
                .write_all(
                    format!("GET /api/x {version}\r\nHost: x\r\n{headers}\r\n\r\n").as_bytes(),
                )
                .unwrap();
            read_response(&mut stream).map_or(0, |response| response.status)
        })
        .collect()
}

#[test]
fn upstream_connections_are_reused_and_one_the_upstream_closed_is_replaced() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let bearer = Gateway::bearer(&gateway.consumption);
    let statuses = keep_alive_gets(gateway.server.addr(), &bearer, 20, Duration::ZERO);
    assert_eq!(statuses, [200; 20]);
    let received = gateway.upstream.received();
    assert_eq!(received.len(), 20);
    let upstream_authority = gateway.upstream.addr.to_string();
    assert_eq!(
        received[19].header("host"),
        [upstream_authority.as_str()],
        "the upstream is asked for by its own name"
    );
    assert_eq!(
        gateway.upstream.connections(),
        1,
        "one client connection's requests share one upstream connection"
    );

    // The upstream closes each connection after its answer, without saying so first.
    let closing = Gateway::start("", Behaviour::AnswerThenClose, "");
    let bearer = Gateway::bearer(&closing.consumption);
    let statuses = keep_alive_gets(
        closing.server.addr(),
        &bearer,
        5,
        Duration::from_millis(100),
    );
    assert_eq!(
        statuses, [200; 5],
        "a closed upstream connection is never used again"
    );
    assert_eq!(closing.upstream.connections(), 5);
}

#[test]
fn an_http_1_0_client_is_forwarded_in_the_gateways_own_version_on_one_upstream_connection() {
    let gateway = Gateway::start("", Behaviour::Answer, "");
    let bearer = Gateway::bearer(&gateway.consumption);
    let statuses = keep_alive_gets_as(
        "HTTP/1.0",
        gateway.server.addr(),
        &format!("{bearer}\r\nConnection: keep-alive"),
        5,
        Duration::ZERO,
    );
    assert_eq!(
        statuses, [200; 5],
        "a kept-alive HTTP/1.0 connection serves them all"
    );
    let received = gateway.upstream.received();
    assert_eq!(received.len(), 5);
    for request in &received {
        assert_eq!(request.line, "GET /api/x HTTP/1.1", "RFC 9110 §2.5");
        assert!(
            request.header("connection").is_empty(),
            "{:?}",
            request.headers
        );
    }
    assert_eq!(
        gateway.upstream.connections(),
        1,
        "an HTTP/1.0 client's requests share one upstream connection"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_drains_in_flight_requests_even_with_a_half_sent_head_connected() {
    let mut gateway = Gateway::start(
        FAST_TIMEOUTS
            .replace(
                "request_head_timeout_seconds = 1",
                "request_head_timeout_seconds = 60",
            )
            .as_str(),
        Behaviour::AnswerAfter(Duration::from_millis(800)),
        "",
    );
    let addr = gateway.server.addr();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /public HTTP/1.1\r\nHost: x\r\nX-Half: ")
        .unwrap();
    let in_flight = std::thread::spawn(move || get(addr, "/public/slow", &[]).status);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    gateway.server.signal("TERM");
    assert_eq!(
        in_flight.join().unwrap(),
        200,
        "the in-flight request finished"
    );
    let status = gateway
        .server
        .wait_for_exit(Duration::from_secs(8))
        .expect("the drain is bounded");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}

#[cfg(unix)]
#[test]
fn sighup_reloads_like_the_admin_endpoint_and_refuses_a_bad_configuration() {
    let mut gateway = Gateway::start("", Behaviour::Answer, "");
    let dir = gateway._dir.path().to_owned();
    let addr = gateway.server.addr();
    let fresh = generate_moose().unwrap();
    let fresh_header = Gateway::bearer(&fresh);
    assert_eq!(get(addr, "/api/x", &[&fresh_header]).status, 401);
    write_config(
        &dir,
        &format!(
            "[authentication]\nconsumption_api_keys = [\"{}\"]\n",
            fresh.stored
        ),
    );
    gateway.server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(addr, "/api/x", &[&fresh_header]).status != 200 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload: {}",
            gateway.server.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    write_config(
        &dir,
        "[authentication]\nconsumption_api_keys = [\"not-a-hash\"]\n",
    );
    gateway.server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gateway.server.logs().contains("reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            gateway.server.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gateway.server.is_running(), "SIGHUP does not kill keygate");
    assert_eq!(
        get(addr, "/api/x", &[&fresh_header]).status,
        200,
        "the previous configuration keeps serving"
    );
}

#[cfg(unix)]
#[test]
fn sighup_does_not_kill_development_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&mut serve(dir.path()));
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.is_running());
    assert_eq!(get(server.addr(), "/health", &[]).status, 200);
}

/// 300 silent connections under a 256-descriptor limit: the gateway refuses what does not fit
/// with 503, logs it, and serves valid clients again once the head timeout frees the slots.
#[cfg(target_os = "linux")]
#[test]
fn a_descriptor_limit_does_not_lock_out_valid_clients() {
    let upstream = RecordingUpstream::start(Behaviour::Answer);
    let dir = tempfile::tempdir().unwrap();
    // A 3 s head timeout: long enough that all 300 connections are open at once, also on a
    // loaded machine.
    write_config(
        dir.path(),
        &FAST_TIMEOUTS.replace(
            "request_head_timeout_seconds = 1",
            "request_head_timeout_seconds = 3",
        ),
    );
    let keygate = env!("CARGO_BIN_EXE_keygate");
    // `ulimit -n` in sh sets the soft and the hard limit, so keygate cannot raise it.
    let mut command = std::process::Command::new("sh");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MOOSE_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(dir.path())
        .env("MOOSE_ADMIN_TOKEN", ADMIN_TOKEN)
        .args([
            "-c",
            &format!(
                "ulimit -n 256 && exec '{keygate}' serve --listen 127.0.0.1:0 --upstream {}",
                upstream.url("")
            ),
        ]);
    let server = Server::start(&mut command);
    let addr = server.addr();
    // Open them all at once, then see which were answered: a refusal is a 503 sent at once, a
    // held connection is silent until the head timeout closes it.
    let streams: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = 0;
    for mut stream in streams {
        stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut first = [0u8; 12];
        if std::io::Read::read(&mut stream, &mut first).is_ok_and(|n| n == first.len()) {
            assert_eq!(&first, b"HTTP/1.1 503");
            refused += 1;
        }
    }
    assert!(
        refused >= 150,
        "connections beyond the limit are refused: {refused}"
    );
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        if read_response(&mut stream).is_some_and(|r| r.status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "valid clients stay locked out");
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = server.logs();
    assert!(logs.contains("max_connections lowered"), "{logs}");
    assert!(logs.contains("connection limit is reached"), "{logs}");
}
