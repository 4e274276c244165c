//! The token issuer of reference §7: projects exchange their key for a short-lived JWT.
//!
//! [`TokenIssuer`] is the configuration (part of [`AuthState`](crate::AuthState));
//! [`token_issuer_router`] serves `POST /auth/token` and `GET /.well-known/jwks.json`.

mod router;

use std::fmt;
use std::time::Duration;

use auth_core::apikey::{KeyCheck, KeySet};
use auth_core::jwt::{JwtSettings, KeyError, SigningKey, VerifyingKey};

pub use router::token_issuer_router;

/// Lifetime of issued tokens unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A project allowed to obtain tokens.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project id: it becomes the token's `sub`. Not a secret.
    pub id: String,
    /// The project key's stored hashes (several during a rotation).
    pub keys: KeySet,
}

/// The token issuer's configuration: signing key, token lifetime, projects.
#[derive(Clone)]
pub struct TokenIssuer {
    signing_key: SigningKey,
    jwks: serde_json::Value,
    ttl: Duration,
    projects: Vec<Project>,
    /// What an unknown project id's key is checked against: as costly as a known one.
    decoys: KeySet,
    /// Public keys of earlier signing keys: still trusted and published until removed.
    previous: Vec<VerifyingKey>,
    claims: Option<JwtSettings>,
}

/// Why a token issuer cannot be set up.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// The signing key's public half cannot be published as a JWK.
    #[error("the token issuer's key: {0}")]
    Key(#[from] KeyError),
    /// The OS random source failed while making the decoy hashes.
    #[error("the OS random source failed: {0}")]
    Random(String),
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.signing_key.kid())
            .field("ttl", &self.ttl)
            .field("projects", &self.project_ids().collect::<Vec<_>>())
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `signing_key` for `projects`, with [`DEFAULT_TOKEN_TTL`].
    ///
    /// # Errors
    /// [`IssuerError`] if the key's public half cannot be published as a JWK, or the random
    /// source fails.
    pub fn new(signing_key: SigningKey, projects: Vec<Project>) -> Result<Self, IssuerError> {
        let jwk = signing_key.verifying_key().to_jwk()?;
        let jwk = serde_json::to_value(jwk).map_err(|_| KeyError::Invalid)?;
        let decoys = KeySet::decoy_like(projects.iter().map(|p| &p.keys))
            .map_err(|error| IssuerError::Random(error.to_string()))?;
        Ok(Self {
            signing_key,
            jwks: serde_json::json!({ "keys": [jwk] }),
            ttl: DEFAULT_TOKEN_TTL,
            projects,
            decoys,
            previous: Vec::new(),
            claims: None,
        })
    }

    /// Keeps trusting — and publishing in the JWK set — the public keys of earlier signing keys
    /// (`[token_issuer] previous_public_keys`), so tokens they signed stay valid until they
    /// expire: rotate by adding the new key beside the old one, then retire the old one once
    /// its last token has expired (`docs/gateway.md`, "Rotating the issuer's key").
    ///
    /// # Errors
    /// [`IssuerError::Key`] if a key cannot be published as a JWK.
    pub fn with_previous_keys(mut self, keys: Vec<VerifyingKey>) -> Result<Self, IssuerError> {
        // Their tokens name them by thumbprint, as this issuer names its own key.
        let keys = keys
            .into_iter()
            .map(|key| match key.kid() {
                Some(_) => Ok(key),
                None => key.with_thumbprint_kid(),
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        let mut published = vec![self.signing_key.verifying_key().to_jwk()?];
        for key in &keys {
            published.push(key.to_jwk()?);
        }
        let published = serde_json::to_value(published).map_err(|_| KeyError::Invalid)?;
        self.jwks = serde_json::json!({ "keys": published });
        self.previous = keys;
        Ok(self)
    }

    /// Every key tokens of this issuer may be signed with: the signing key's, then the
    /// previous ones.
    #[must_use]
    pub fn trusted_keys(&self) -> Vec<VerifyingKey> {
        std::iter::once(self.signing_key.verifying_key().clone())
            .chain(self.previous.iter().cloned())
            .collect()
    }

    /// Sets the lifetime of issued tokens (`ttl_seconds`), at least one second.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The `iss`/`aud` to issue with when no JWT verification is configured; when it is, its
    /// settings win (the issuer's tokens must pass this server's check).
    #[must_use]
    pub fn with_claims(mut self, claims: JwtSettings) -> Self {
        self.claims = Some(claims);
        self
    }

    /// The signing key.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// Lifetime of issued tokens.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The `iss`/`aud` tokens are issued with (settled when the [`AuthState`](crate::AuthState)
    /// is built).
    #[must_use]
    pub fn claims(&self) -> Option<&JwtSettings> {
        self.claims.as_ref()
    }

    /// The configured project ids.
    pub fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.projects.iter().map(|p| p.id.as_str())
    }

    /// The JWKS document (`{"keys": [...]}`) with the issuer's public key.
    #[must_use]
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// Checks a project id and key. An unknown id's key is checked against decoy hashes that
    /// cost as much as the costliest project's of the key's format ([`KeySet::decoy_like`]), so
    /// neither the answer, nor its timing, nor the KDF counter tells which part was wrong.
    pub(crate) fn check(&self, project_id: &str, project_key: &str) -> KeyCheck {
        match self.project(project_id) {
            Some(project) => project.keys.verify(project_key),
            None => {
                let decoy = self.decoys.verify(project_key);
                KeyCheck {
                    result: Err(auth_core::apikey::ApiKeyError::NoMatch),
                    kdf_runs: decoy.kdf_runs,
                }
            }
        }
    }

    /// The KDF runs [`TokenIssuer::check`] costs for these credentials when they fail (the
    /// same for an unknown id as for a known one of the key's format).
    pub(crate) fn kdf_cost(&self, project_id: &str, project_key: &str) -> u32 {
        match self.project(project_id) {
            Some(project) => project.keys.kdf_cost(project_key),
            None => self.decoys.kdf_cost(project_key),
        }
    }

    /// The configured project named `project_id`.
    pub(crate) fn project(&self, project_id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == project_id)
    }

    /// Signs a token for `project_id` at `now` (Unix seconds).
    pub(crate) fn sign(&self, project_id: &str, now: u64) -> Result<String, IssueError> {
        let claims = self.claims.as_ref().ok_or(IssueError::NoClaims)?;
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|_| IssueError::Random)?;
        let payload = serde_json::json!({
            "iss": claims.issuer,
            "aud": claims.audience,
            "sub": project_id,
            "iat": now,
            "exp": now.saturating_add(self.ttl.as_secs()),
            "jti": hex::encode(jti),
        });
        self.signing_key
            .sign(&payload)
            .map_err(|_| IssueError::Signing)
    }
}

/// Why a token could not be issued (server-side conditions, never the client's input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IssueError {
    #[error("the issuer has no iss/aud settings")]
    NoClaims,
    #[error("the random source failed")]
    Random,
    #[error("signing failed")]
    Signing,
}
