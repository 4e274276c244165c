//! Configuration mistakes through the real binary: exit code 2, one precise message, no secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use auth_core::apikey::{generate_moose, generate_phc};
use support::{code, keygate, run, serve, stderr};

#[test]
fn a_bad_pem_reports_its_reason_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moose.config.toml");
    std::fs::write(
        &path,
        "[jwt]\nsecret = \"not a key at all\"\nissuer = \"i\"\naudience = \"a\"\n",
    )
    .unwrap();
    let out = run(keygate().args(["config", "check", "--config"]).arg(&path));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    let reason = auth_core::jwt::KeyError::NotPem.to_string();
    assert_eq!(err.matches(&reason).count(), 1, "{err}");
    assert_eq!(err.matches("not a PEM document").count(), 1, "{err}");
    assert!(
        err.contains("jwt.secret (") && err.contains("moose.config.toml:2)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_bad_stored_hash_reports_its_reason_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(keygate()
        .current_dir(dir.path())
        .args(["config", "check"])
        .env("MOOSE_INGEST_API_KEY", "0123"));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.matches("not a stored API-key hash").count(), 1, "{err}");
    assert!(err.contains("env MOOSE_INGEST_API_KEY"), "{err}");
}

#[test]
fn moose_admin_token_holding_a_stored_hash_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    for stored in [
        generate_moose().unwrap().stored,
        generate_phc(1000).unwrap().stored,
    ] {
        for args in [
            &["config", "check"][..],
            &["serve", "--listen", "127.0.0.1:0"],
        ] {
            let out = run(keygate()
                .current_dir(dir.path())
                .args(args)
                .env("MOOSE_ADMIN_TOKEN", &stored));
            assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("MOOSE_ADMIN_TOKEN holds a stored API-key hash"),
                "{err}"
            );
            assert!(err.contains("[authentication] admin_api_key"), "{err}");
            assert!(!err.contains(&stored), "the hash must not be echoed: {err}");
        }
    }
}

#[test]
fn serve_admin_token_flag_holding_a_stored_hash_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let stored = generate_moose().unwrap().stored;
    // Development mode (nothing configured) and a configured server refuse it alike.
    let config = dir.path().join("moose.config.toml");
    for configured in [false, true] {
        if configured {
            std::fs::write(&config, "[server]\n").unwrap();
        }
        let out = run(serve(dir.path()).args(["--admin-token", &stored]));
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--admin-token holds a stored API-key hash"),
            "{err}"
        );
        assert!(err.contains("[authentication] admin_api_key"), "{err}");
        assert!(!err.contains(&stored), "the hash must not be echoed: {err}");
    }
}
