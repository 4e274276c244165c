//! `[server]`: defaults, the file, the generic environment names, and the allowed ranges.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use auth_config::{ConfigError, ServerSettings};
use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
use common::{dir_with, explained, file_origin, load, options, rsa, toml_string};

#[test]
fn defaults_when_nothing_is_set() {
    let config = load(None, &[]).unwrap();
    let server = config.server();
    assert_eq!(*server, ServerSettings::default());
    assert_eq!(server.request_head_timeout_seconds, 10);
    assert_eq!(server.keep_alive_timeout_seconds, 60);
    assert_eq!(server.client_body_timeout_seconds, 30);
    assert_eq!(server.upstream_timeout_seconds, 60);
    assert_eq!(server.max_connections, 10_000);
    assert_eq!(server.shutdown_timeout_seconds, 30);
    assert!(!server.underscores_in_headers);
    assert_eq!(server.max_authorization_bytes, 16_384);
    assert_eq!(
        server.max_authorization_bytes,
        DEFAULT_MAX_AUTHORIZATION_BYTES
    );
    let line = explained(&config, "server.max_authorization_bytes");
    assert_eq!(
        (line.value.as_str(), line.origin.to_string()),
        ("16384", "default".to_owned())
    );
    assert_eq!(
        explained(&config, "server.underscores_in_headers").value,
        "false"
    );
}

#[test]
fn every_setting_is_read_from_the_file_with_its_line() {
    let toml = "[server]\nrequest_head_timeout_seconds = 5\nkeep_alive_timeout_seconds = 120\n\
                client_body_timeout_seconds = 15\nupstream_timeout_seconds = 90\n\
                max_connections = 50000\nshutdown_timeout_seconds = 0\n\
                underscores_in_headers = true\nmax_authorization_bytes = 65536\n";
    let dir = dir_with(Some(toml));
    let config = auth_config::Config::load(&options(&dir, &[])).unwrap();
    let server = config.server();
    assert_eq!(
        (
            server.request_head_timeout_seconds,
            server.keep_alive_timeout_seconds,
            server.client_body_timeout_seconds,
            server.upstream_timeout_seconds,
            server.max_connections,
            server.shutdown_timeout_seconds,
            server.underscores_in_headers,
            server.max_authorization_bytes,
        ),
        (5, 120, 15, 90, 50_000, 0, true, 65_536)
    );
    let line = explained(&config, "server.max_authorization_bytes");
    assert_eq!(line.origin.to_string(), file_origin(&dir, 9));
    assert_eq!(
        explained(&config, "server.shutdown_timeout_seconds")
            .origin
            .to_string(),
        file_origin(&dir, 7)
    );
}

#[test]
fn every_setting_has_a_generic_environment_name() {
    let config = load(
        Some("[server]\nmax_connections = 5\n"),
        &[
            ("MOOSE_SERVER__REQUEST_HEAD_TIMEOUT_SECONDS", "3"),
            ("MOOSE_SERVER__KEEP_ALIVE_TIMEOUT_SECONDS", "4"),
            ("MOOSE_SERVER__CLIENT_BODY_TIMEOUT_SECONDS", "6"),
            ("MOOSE_SERVER__UPSTREAM_TIMEOUT_SECONDS", "7"),
            ("MOOSE_SERVER__MAX_CONNECTIONS", "8"),
            ("MOOSE_SERVER__SHUTDOWN_TIMEOUT_SECONDS", "9"),
            ("MOOSE_SERVER__UNDERSCORES_IN_HEADERS", "on"),
            ("MOOSE_SERVER__MAX_AUTHORIZATION_BYTES", "2048"),
        ],
    )
    .unwrap();
    let server = config.server();
    assert_eq!(
        (
            server.request_head_timeout_seconds,
            server.keep_alive_timeout_seconds,
            server.client_body_timeout_seconds,
            server.upstream_timeout_seconds,
            server.max_connections,
            server.shutdown_timeout_seconds,
            server.underscores_in_headers,
            server.max_authorization_bytes,
        ),
        (3, 4, 6, 7, 8, 9, true, 2048)
    );
    assert_eq!(
        explained(&config, "server.max_connections")
            .origin
            .to_string(),
        "env MOOSE_SERVER__MAX_CONNECTIONS"
    );
}

#[test]
fn values_outside_their_ranges_are_refused_with_the_range() {
    for (name, value, allowed) in [
        ("REQUEST_HEAD_TIMEOUT_SECONDS", "0", "1 to 3600"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "3601", "1 to 3600"),
        ("CLIENT_BODY_TIMEOUT_SECONDS", "0", "1 to 3600"),
        ("UPSTREAM_TIMEOUT_SECONDS", "0", "1 to 3600"),
        ("MAX_CONNECTIONS", "0", "1 to 1000000"),
        ("MAX_CONNECTIONS", "1000001", "1 to 1000000"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "3601", "0 to 3600"),
        ("MAX_AUTHORIZATION_BYTES", "1023", "1024 to 262144"),
        ("MAX_AUTHORIZATION_BYTES", "262145", "1024 to 262144"),
    ] {
        let variable = format!("MOOSE_SERVER__{name}");
        let err = load(None, &[(&variable, value)]).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "server.{} (env {variable}) is {value}; allowed is {allowed}",
                name.to_ascii_lowercase()
            )
        );
    }
    // The edges are allowed.
    let config = load(
        None,
        &[
            ("MOOSE_SERVER__SHUTDOWN_TIMEOUT_SECONDS", "0"),
            ("MOOSE_SERVER__MAX_CONNECTIONS", "1000000"),
            ("MOOSE_SERVER__MAX_AUTHORIZATION_BYTES", "262144"),
        ],
    )
    .unwrap();
    assert_eq!(config.server().max_authorization_bytes, 262_144);
    let err = load(Some("[server]\nunderscores_in_headers = \"maybe\"\n"), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::WrongType { .. }), "{err:?}");
}

#[test]
fn the_jwt_verifier_takes_the_same_size_cap() {
    let toml = format!(
        "[jwt]\nsecret = {}\nissuer = \"i\"\naudience = \"a\"\n",
        toml_string(&rsa().public_pem)
    );
    let config = load(Some(&toml), &[]).unwrap();
    let verifier = config.jwt_verifier().unwrap();
    assert_eq!(
        verifier.settings().max_token_bytes,
        DEFAULT_MAX_AUTHORIZATION_BYTES
    );
    let config = load(
        Some(&toml),
        &[("MOOSE_SERVER__MAX_AUTHORIZATION_BYTES", "40000")],
    )
    .unwrap();
    assert_eq!(
        config.jwt_verifier().unwrap().settings().max_token_bytes,
        40_000
    );
}
