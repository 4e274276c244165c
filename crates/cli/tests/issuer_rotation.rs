//! Rotating the token issuer's signing key without an outage, through the real binary and the
//! documented procedure (docs/gateway.md, "Rotating the issuer's key"): `keygate jwt keygen` →
//! publish the new public key → switch → retire the old one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

use std::path::Path;

use auth_core::apikey::generate_moose;
use auth_core::secrecy::ExposeSecret;
use base64::Engine;
use serde_json::Value;
use support::{Server, code, keygate, run, serve, stderr};

const ADMIN: &str = "admin-token-for-rotation-tests";

/// `keygate jwt keygen --out <dir>/<name>`: (private PEM, public PEM).
fn keygen(dir: &Path, name: &str) -> (String, String) {
    let out_dir = dir.join(name);
    let out = run(keygate()
        .args(["jwt", "keygen", "--alg", "es256", "--out"])
        .arg(&out_dir));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    (
        std::fs::read_to_string(out_dir.join("private.pem")).unwrap(),
        std::fs::read_to_string(out_dir.join("public.pem")).unwrap(),
    )
}

fn config(project_hash: &str, private: &str, extra_public: &[&str]) -> String {
    let previous: Vec<String> = extra_public
        .iter()
        .map(|pem| format!("\"\"\"\n{pem}\"\"\""))
        .collect();
    format!(
        "[jwt]\nissuer = \"https://keygate.test/\"\naudience = \"app\"\n\
         [token_issuer]\nprivate_key = \"\"\"\n{private}\"\"\"\n\
         previous_public_keys = [{}]\n\
         [[token_issuer.projects]]\nid = \"web\"\nkey_hash = \"{project_hash}\"\n",
        previous.join(", ")
    )
}

struct Gateway {
    server: Server,
    project_key: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn reload(&self, dir: &Path, text: &str) {
        std::fs::write(dir.join("moose.config.toml"), text).unwrap();
        let response = self
            .http
            .post(self.server.url("/admin/reload"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    async fn token(&self) -> String {
        let body: Value = self
            .http
            .post(self.server.url("/auth/token"))
            .json(&serde_json::json!({ "projectId": "web", "projectKey": self.project_key }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// Status and `WWW-Authenticate` of a consumption call with `token`.
    async fn call(&self, token: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.server.url("/api/orders"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status().as_u16(), challenge)
    }

    /// The `kid`s published in the JWK set, sorted.
    async fn published(&self) -> Vec<String> {
        let set: Value = self
            .http
            .get(self.server.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut kids: Vec<String> = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    }
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn sorted(mut kids: Vec<String>) -> Vec<String> {
    kids.sort();
    kids
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_rotation_invalidates_no_outstanding_token() {
    let dir = tempfile::tempdir().unwrap();
    let project = generate_moose().unwrap();
    let (old_private, old_public) = keygen(dir.path(), "old");
    std::fs::write(
        dir.path().join("moose.config.toml"),
        config(&project.stored, &old_private, &[]),
    )
    .unwrap();
    let gateway = Gateway {
        server: Server::start(serve(dir.path()).env("MOOSE_ADMIN_TOKEN", ADMIN)),
        project_key: project.bearer_token.expose_secret().to_owned(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let old_token = gateway.token().await;
    let old_kid = kid_of(&old_token);
    assert_eq!(gateway.call(&old_token).await.0, 200);
    assert_eq!(gateway.published().await, std::slice::from_ref(&old_kid));

    // 1. A new key, published before it signs anything: verifiers that cache the JWK set learn it.
    let (new_private, new_public) = keygen(dir.path(), "new");
    gateway
        .reload(
            dir.path(),
            &config(&project.stored, &old_private, &[&new_public]),
        )
        .await;
    let still_old = gateway.token().await;
    assert_eq!(kid_of(&still_old), old_kid, "the old key still signs");
    let published = gateway.published().await;
    assert_eq!(published.len(), 2);
    assert!(published.contains(&old_kid));

    // 2. Switch: the new key signs, the old one stays trusted and published.
    gateway
        .reload(
            dir.path(),
            &config(&project.stored, &new_private, &[&old_public]),
        )
        .await;
    let new_token = gateway.token().await;
    let new_kid = kid_of(&new_token);
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        gateway.published().await,
        sorted(vec![old_kid.clone(), new_kid.clone()])
    );
    for token in [&old_token, &still_old, &new_token] {
        assert_eq!(
            gateway.call(token).await.0,
            200,
            "no outstanding token fails"
        );
    }

    // 3. Retire the old key (after the longest token lifetime): its tokens end, nothing else.
    gateway
        .reload(dir.path(), &config(&project.stored, &new_private, &[]))
        .await;
    assert_eq!(gateway.published().await, [new_kid]);
    assert_eq!(gateway.call(&new_token).await.0, 200);
    let (status, challenge) = gateway.call(&old_token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("unknown key id"), "{challenge}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_kid_against_kid_selected_keys_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let project = generate_moose().unwrap();
    let (private, _) = keygen(dir.path(), "issuer");
    std::fs::write(
        dir.path().join("moose.config.toml"),
        config(&project.stored, &private, &[]),
    )
    .unwrap();
    let gateway = Gateway {
        server: Server::start(serve(dir.path()).env("MOOSE_ADMIN_TOKEN", ADMIN)),
        project_key: project.bearer_token.expose_secret().to_owned(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    // Signed by the issuer's own key, but with a header that names no kid.
    let now = auth_cache::clock::unix_now();
    let claims = serde_json::json!({
        "iss": "https://keygate.test/", "aud": "app", "sub": "web", "exp": now + 60
    });
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &key,
    )
    .unwrap();
    let (status, challenge) = gateway.call(&token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("names no key (kid)"), "{challenge}");
    assert!(!challenge.contains("algorithm"), "{challenge}");
    // The same claims with the kid keygate issues are accepted.
    assert_eq!(gateway.call(&gateway.token().await).await.0, 200);
}
