//! Development mode: with no configuration at all, `serve` makes ephemeral credentials and
//! prints them with curl lines that work as printed.

use std::net::SocketAddr;

use anyhow::Result;
use auth_core::apikey::{AdminCredential, KeySet, StoredKey, generate_moose};
use auth_core::jwt::{JwtAlgorithm, JwtSettings, SigningKey, generate_key_pair};
use auth_core::secrecy::{ExposeSecret, SecretString};
use server_middleware::{AuthState, Project, TokenIssuer};

const DEV_ISSUER: &str = "keygate-dev";
const DEV_AUDIENCE: &str = "keygate-dev";
const DEV_PROJECT: &str = "dev";
const JWT_TTL_SECONDS: u64 = 3600;

/// Ephemeral credentials; they exist only in this process.
pub(crate) struct DevMode {
    api_key: SecretString,
    api_key_hash: String,
    admin_token: SecretString,
    admin_from_cli: bool,
    project_key: SecretString,
    project_hash: String,
    signing_key: SigningKey,
    jwt: String,
}

impl DevMode {
    pub(crate) fn new(cli_admin: Option<SecretString>) -> Result<Self> {
        let api_key = generate_moose()?;
        let project = generate_moose()?;
        let pair = generate_key_pair(JwtAlgorithm::Rs256)?;
        let signing_key = SigningKey::from_pem(pair.private_pem.expose_secret())?;
        let now = auth_cache::clock::unix_now();
        let jwt = signing_key.sign(&serde_json::json!({
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": "dev-user",
            "iat": now,
            "exp": now + JWT_TTL_SECONDS,
        }))?;
        let admin_from_cli = cli_admin.is_some();
        let admin_token = match cli_admin {
            Some(token) => token,
            None => generate_moose()?.bearer_token,
        };
        Ok(Self {
            api_key: api_key.bearer_token,
            api_key_hash: api_key.stored,
            admin_token,
            admin_from_cli,
            project_key: project.bearer_token,
            project_hash: project.stored,
            signing_key,
            jwt,
        })
    }

    pub(crate) fn state(
        &self,
        managed: Option<std::sync::Arc<key_store::ManagedKeys>>,
    ) -> Result<AuthState> {
        let keys = KeySet::from(vec![StoredKey::parse(&self.api_key_hash)?]);
        let settings = JwtSettings::new(DEV_ISSUER, DEV_AUDIENCE);
        let project = Project {
            id: DEV_PROJECT.to_owned(),
            keys: KeySet::from(vec![StoredKey::parse(&self.project_hash)?]),
        };
        let issuer =
            TokenIssuer::new(self.signing_key.clone(), vec![project])?.with_claims(settings);
        let source = if self.admin_from_cli {
            "--admin-token"
        } else {
            "development mode"
        };
        let mut builder = AuthState::builder();
        if let Some(managed) = managed {
            builder = builder.managed_keys(managed);
        }
        Ok(builder
            .ingest_keys(keys.clone())
            .consumption_keys(keys)
            // The issuer's key (which signed the printed JWT) becomes the trusted JWT key.
            .admin(AdminCredential::Plain {
                token: self.admin_token.clone(),
                source,
            })
            .token_issuer(issuer)
            .build()?)
    }

    /// Printed on stdout: this is the point of development mode, and nothing here outlives the process.
    pub(crate) fn print_banner(&self, addr: SocketAddr) {
        let base = format!("http://{addr}");
        let api_key = self.api_key.expose_secret();
        let admin = self.admin_token.expose_secret();
        let project_key = self.project_key.expose_secret();
        println!(
            "keygate is running in DEVELOPMENT MODE on {base}
(no moose.config.toml and no MOOSE_* variables were found; every credential below is ephemeral)

  API key (ingest + consumption):  {api_key}
  JWT (RS256, 1 h, iss/aud {DEV_ISSUER}):
    {jwt}
  token issuer project:            id {DEV_PROJECT}, key {project_key}
  admin token:                     {admin}

Try:
  curl -H 'Authorization: Bearer {api_key}' {base}/api/hello
  curl -H 'Authorization: Bearer {jwt}' {base}/ingest/hello
  curl -X POST -H 'Content-Type: application/json' -d '{{\"projectId\":\"{DEV_PROJECT}\",\"projectKey\":\"{project_key}\"}}' {base}/auth/token
  curl -H 'Authorization: Bearer {admin}' {base}/admin/status
  curl -i {base}/api/hello

Stop with Ctrl-C.",
            jwt = self.jwt,
        );
    }
}
