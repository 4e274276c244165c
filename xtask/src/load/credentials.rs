//! Credentials for the run, made with the binary under test as an operator would
//! (`keygate generate hash-token`, `keygate jwt keygen`, `keygate jwt sign`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// `iss` and `aud` of the run's JWTs (`[jwt] issuer`/`audience`).
pub(super) const JWT_ISSUER: &str = "keygate-load";
/// The token issuer's project.
pub(super) const PROJECT_ID: &str = "load";

/// A stored hash and the bearer token that matches it.
#[derive(Debug, Clone)]
pub(super) struct ApiKey {
    pub(super) hash: String,
    pub(super) token: String,
}

/// Everything the gateways are configured with, and what the clients present.
#[derive(Debug, Clone)]
pub(super) struct Credentials {
    /// The `moose` consumption key of the cached API-key route.
    pub(super) api_key: ApiKey,
    /// `phc` consumption keys at the default 600 000 iterations, each used once (first use).
    pub(super) phc: Vec<ApiKey>,
    /// `[jwt] secret` (RS256 public key) and a token it verifies.
    pub(super) jwt_public_pem: String,
    pub(super) jwt: String,
    /// `[token_issuer] private_key` (EdDSA) and the project's key.
    pub(super) issuer_private_pem: String,
    pub(super) project_key: ApiKey,
    /// A managed consumption key (docs/keys.md) in the run's SQLite key store.
    pub(super) managed_key: String,
    /// `[keys] store` of the run.
    pub(super) managed_store: String,
}

impl Credentials {
    /// Makes every credential; `phc_keys` `phc` keys (about 0.1 s each: the hash is a PBKDF2
    /// at 600 000 iterations).
    pub(super) fn create(keygate: &Path, work: &Path, phc_keys: usize) -> Result<Self> {
        let api_key = hash_token(keygate, &[])?;
        let project_key = hash_token(keygate, &[])?;
        let phc = (0..phc_keys)
            .map(|_| hash_token(keygate, &["--format", "phc"]))
            .collect::<Result<Vec<_>>>()?;
        let jwt_keys = work.join("jwt-keys");
        output(
            Command::new(keygate)
                .args(["jwt", "keygen", "--force", "--alg", "RS256", "--out"])
                .arg(&jwt_keys),
        )?;
        let jwt = output(
            Command::new(keygate)
                .args(["jwt", "sign", "--iss", JWT_ISSUER, "--aud", JWT_ISSUER])
                .args(["--sub", "load-client", "--ttl", "86400", "--key"])
                .arg(jwt_keys.join("private.pem")),
        )?;
        let issuer_keys = work.join("issuer-keys");
        output(
            Command::new(keygate)
                .args(["jwt", "keygen", "--force", "--alg", "EdDSA", "--out"])
                .arg(&issuer_keys),
        )?;
        let managed_store = format!("sqlite://{}", work.join("keys.db").display());
        let created = output(
            Command::new(keygate)
                .args(["keys", "--store", &managed_store, "create", "--json"])
                .args(["--class", "consumption", "--name", "load"]),
        )?;
        let created: serde_json::Value =
            serde_json::from_str(&created).context("keys create printed no JSON")?;
        let managed_key = created
            .get("token")
            .and_then(serde_json::Value::as_str)
            .context("keys create printed no token")?
            .to_owned();
        Ok(Self {
            managed_key,
            managed_store,
            api_key,
            phc,
            jwt_public_pem: std::fs::read_to_string(jwt_keys.join("public.pem"))?,
            jwt: jwt.trim().to_owned(),
            issuer_private_pem: std::fs::read_to_string(issuer_keys.join("private.pem"))?,
            project_key,
        })
    }
}

/// `keygate generate hash-token --json` with `extra` arguments.
fn hash_token(keygate: &Path, extra: &[&str]) -> Result<ApiKey> {
    let text = output(
        Command::new(keygate)
            .args(["generate", "hash-token", "--json"])
            .args(extra),
    )?;
    let json: serde_json::Value =
        serde_json::from_str(&text).context("hash-token printed no JSON")?;
    let field = |name: &str| {
        json.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("hash-token printed no {name}"))
    };
    Ok(ApiKey {
        hash: field("api_key_hash")?,
        token: field("bearer_token")?,
    })
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().context("could not run keygate")?;
    if !out.status.success() {
        bail!("keygate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
