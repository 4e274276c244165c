//! `[server] max_authorization_bytes`: one cap for the `Authorization` header and the JWT in it,
//! through the real `keygate serve` and `keygate jwt verify`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::path::{Path, PathBuf};

use auth_core::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use support::{Server, code, keygate, run, serve, stderr};

const ISSUER: &str = "https://idp.example/";
const AUDIENCE: &str = "my-moose-app";

/// A config trusting a fresh ES256 key, plus its signer; `extra` goes into `[server]`.
fn setup(dir: &Path, extra: &str) -> (PathBuf, SigningKey) {
    let pair = generate_key_pair(JwtAlgorithm::Es256).unwrap();
    let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
    let path = dir.join("moose.config.toml");
    let text = format!(
        "[jwt]\nsecret = \"\"\"\n{}\"\"\"\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n\
         enforce_on_all_consumptions_apis = true\n\n[server]\n{extra}\n",
        pair.public_pem
    );
    std::fs::write(&path, text).unwrap();
    (path, signer)
}

/// A valid JWT of roughly `bytes` bytes (group claims, as identity providers issue them).
fn jwt_of_about(signer: &SigningKey, bytes: usize) -> String {
    let groups: Vec<String> = (0..bytes / 32)
        .map(|i| format!("group-{i:06}-abcdef"))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = signer
        .sign(&serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "big", "exp": now + 600, "groups": groups,
        }))
        .unwrap();
    assert!(
        token.len() > bytes * 9 / 10 && token.len() < bytes * 11 / 10,
        "{}",
        token.len()
    );
    token
}

async fn status(server: &Server, token: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url("/api/hello"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn by_default_a_12_kib_jwt_passes_and_a_20_kib_header_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let (path, signer) = setup(dir.path(), "");
    let server = Server::start(serve(dir.path()).arg("--config").arg(&path));
    let twelve = jwt_of_about(&signer, 12 * 1024);
    let twenty = jwt_of_about(&signer, 20 * 1024);
    assert_eq!(status(&server, &twelve).await, 200);
    let response = reqwest::Client::new()
        .get(server.url("/api/hello"))
        .bearer_auth(&twenty)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_request"), "{challenge}");

    // `jwt verify` uses the same configured JWT settings.
    let ok = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(&path)
        .arg(&twelve));
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let too_large = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(&path)
        .arg(&twenty));
    assert_eq!(code(&too_large), 1);
    assert!(
        stderr(&too_large).contains("longer than 16384 bytes"),
        "{}",
        stderr(&too_large)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raised_max_authorization_bytes_accepts_a_20_kib_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let (path, signer) = setup(dir.path(), "max_authorization_bytes = 32768");
    let server = Server::start(serve(dir.path()).arg("--config").arg(&path));
    let twenty = jwt_of_about(&signer, 20 * 1024);
    assert_eq!(status(&server, &twenty).await, 200);
    assert_eq!(
        status(&server, &jwt_of_about(&signer, 40 * 1024)).await,
        400
    );

    let ok = run(keygate()
        .args(["jwt", "verify", "--config"])
        .arg(&path)
        .arg(&twenty));
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
}

#[test]
fn an_out_of_range_max_authorization_bytes_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = setup(dir.path(), "max_authorization_bytes = 512");
    let out = run(keygate().args(["config", "check", "--config"]).arg(&path));
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("server.max_authorization_bytes (")
            && err.contains("is 512; allowed is 1024 to 262144"),
        "{err}"
    );
}
