//! `config check` and `jwt verify` through the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::path::Path;

use support::{code, keygate, run, run_with_stdin, stderr, stdout};

fn keygen(dir: &Path) -> (String, String) {
    let out = run(keygate().args(["jwt", "keygen", "--out"]).arg(dir));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let private = std::fs::read_to_string(dir.join("private.pem")).unwrap();
    let public = std::fs::read_to_string(dir.join("public.pem")).unwrap();
    (private, public)
}

fn write_config(dir: &Path, secret_pem: &str) -> std::path::PathBuf {
    let path = dir.join("moose.config.toml");
    let text = format!(
        "[jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"https://issuer.example/\"\naudience = \"my-moose-app\"\n",
        secret_pem
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_check_shows_each_setting_with_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keygen(dir.path());
    let path = write_config(dir.path(), &public);
    let out = run(keygate()
        .args(["config", "check", "--show-origin", "--config"])
        .arg(&path)
        .env("MOOSE_CONSUMPTION_API_KEY", "ab".repeat(20)));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("configuration OK"), "{text}");
    assert!(text.contains("consumption  JWT, then API keys"), "{text}");
    assert!(text.contains("ingest       JWT"), "{text}");
    assert!(text.contains("admin        refused"), "{text}");
    let issuer = text
        .lines()
        .find(|l| l.starts_with("jwt.issuer"))
        .expect("jwt.issuer line");
    let file = std::fs::read_to_string(&path).unwrap();
    let line = file.lines().position(|l| l.starts_with("issuer")).unwrap() + 1;
    assert!(
        issuer.contains(&format!("moose.config.toml:{line})")),
        "{issuer}"
    );
    assert!(text.contains("MOOSE_CONSUMPTION_API_KEY"), "{text}");
}

#[test]
fn a_private_key_where_the_public_key_belongs_exits_2_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = keygen(dir.path());
    let path = write_config(dir.path(), &private);
    let out = run(keygate().args(["config", "check", "--config"]).arg(&path));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("jwt.secret") && err.contains("moose.config.toml"),
        "{err}"
    );
    let body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!err.contains(&body[..40]), "the key must not be echoed");
    assert!(!err.contains("panicked"));
}

#[test]
fn jwt_verify_prints_claims_for_valid_tokens_and_exits_1_for_invalid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keygen(dir.path());
    let path = write_config(dir.path(), &public);
    let signed = run(keygate()
        .args([
            "jwt",
            "sign",
            "--iss",
            "https://issuer.example/",
            "--aud",
            "my-moose-app",
            "--sub",
            "bob",
            "--key",
        ])
        .arg(dir.path().join("private.pem")));
    let token = stdout(&signed).trim().to_owned();

    let ok = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(&path)
        .arg(&token));
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let claims: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(claims["sub"], "bob");

    let from_stdin = run_with_stdin(
        keygate().args(["jwt", "verify", "--config"]).arg(&path),
        &token,
    );
    assert_eq!(code(&from_stdin), 0, "{}", stderr(&from_stdin));

    let wrong_aud = run(keygate()
        .args([
            "jwt",
            "sign",
            "--iss",
            "https://issuer.example/",
            "--aud",
            "other",
            "--key",
        ])
        .arg(dir.path().join("private.pem")));
    let bad = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(&path)
        .arg(stdout(&wrong_aud).trim()));
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("audience"), "{}", stderr(&bad));

    let unconfigured = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(dir.path().join("missing.toml"))
        .arg(&token));
    assert_eq!(code(&unconfigured), 2);
}
