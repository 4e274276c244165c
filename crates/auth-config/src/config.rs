//! The loaded configuration and what the server builds from it.

use std::path::{Path, PathBuf};

use auth_cache::budget::BudgetSettings;
use auth_cache::pool::KdfSettings;
use auth_cache::verify::CacheSettings;
use auth_core::apikey::{AdminCredential, KeySet};
use auth_core::jwt::JwtVerifier;
use auth_core::policy::PolicyParts;
use auth_core::secrecy::{ExposeSecret, SecretString};

use crate::catalog::ADMIN_TOKEN_VARIABLE;
use crate::layers::Layers;
use crate::{
    ConfigError, ConfigWarning, Explained, LoadOptions, ServerSettings, TokenIssuerSettings,
};

/// A validated keygate configuration: the auth-core objects the server needs, plus where every
/// setting came from. `Debug` redacts every secret.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) ingest_keys: KeySet,
    pub(crate) consumption_keys: KeySet,
    pub(crate) admin_hashes: KeySet,
    pub(crate) admin_env_token: Option<SecretString>,
    pub(crate) jwt: Option<JwtVerifier>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) enforce_on_all_ingest_apis: bool,
    pub(crate) enforce_on_all_consumptions_apis: bool,
    pub(crate) token_issuer: Option<TokenIssuerSettings>,
    pub(crate) cache: CacheSettings,
    pub(crate) kdf: KdfSettings,
    pub(crate) client_budget: BudgetSettings,
    pub(crate) project_budget: BudgetSettings,
    pub(crate) server: ServerSettings,
    pub(crate) keys: crate::KeysSettings,
    pub(crate) file: Option<PathBuf>,
    pub(crate) explained: Vec<Explained>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Config {
    /// Reads the file (if any) and the environment, merges them (environment over file,
    /// documented variable names over the generic `<PREFIX>_<SECTION>__<KEY>` form) and validates
    /// the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting and its origin; never containing a secret.
    pub fn load(options: &LoadOptions) -> Result<Self, ConfigError> {
        let layers = Layers::load(options)?;
        crate::build::build(&layers)
    }

    /// Stored hashes accepted on `/ingest/` (`MOOSE_INGEST_API_KEY`, `[authentication] ingest_api_keys`).
    #[must_use]
    pub fn ingest_keys(&self) -> &KeySet {
        &self.ingest_keys
    }

    /// Stored hashes accepted on `/api/` (`MOOSE_CONSUMPTION_API_KEY`, `[authentication] consumption_api_keys`).
    #[must_use]
    pub fn consumption_keys(&self) -> &KeySet {
        &self.consumption_keys
    }

    /// The JWT verifier, when a key source (`jwt.secret`, `jwt.jwks_url` or the token issuer's
    /// key) is configured with issuer and audience. It holds the PEM key of `jwt.secret`, if
    /// any: the server adds the token issuer's public key and fetches the remote set's keys
    /// itself, so a verifier from only `jwks_url` or `private_key` has no keys yet.
    #[must_use]
    pub fn jwt_verifier(&self) -> Option<&JwtVerifier> {
        self.jwt.as_ref()
    }

    /// `[jwt] jwks_url`: a remote JWKS to fetch keys from (fetching is the server's job).
    #[must_use]
    pub fn jwks_url(&self) -> Option<&str> {
        self.jwks_url.as_deref()
    }

    /// `[jwt] enforce_on_all_ingest_apis`: JWT only on `/ingest/`.
    #[must_use]
    pub fn enforce_on_all_ingest_apis(&self) -> bool {
        self.enforce_on_all_ingest_apis
    }

    /// `[jwt] enforce_on_all_consumptions_apis`: JWT only on `/api/`.
    #[must_use]
    pub fn enforce_on_all_consumptions_apis(&self) -> bool {
        self.enforce_on_all_consumptions_apis
    }

    /// The plain-text admin token from `MOOSE_ADMIN_TOKEN`, if set. Redacted in `Debug`.
    #[must_use]
    pub fn admin_env_token(&self) -> Option<&SecretString> {
        self.admin_env_token.as_ref()
    }

    /// The admin hashes from `[authentication] admin_api_key`.
    #[must_use]
    pub fn admin_hashes(&self) -> &KeySet {
        &self.admin_hashes
    }

    /// The admin credential by the precedence of reference §5: `cli_token`
    /// (`serve --admin-token`), then `MOOSE_ADMIN_TOKEN`, then the `admin_api_key` hashes.
    /// Empty plain-text tokens count as absent. This is the only place the precedence is
    /// decided.
    #[must_use]
    pub fn admin_credential(&self, cli_token: Option<SecretString>) -> AdminCredential {
        let present = |t: Option<SecretString>| t.filter(|t| !t.expose_secret().is_empty());
        if let Some(token) = present(cli_token) {
            return AdminCredential::Plain {
                token,
                source: "--admin-token",
            };
        }
        if let Some(token) = present(self.admin_env_token.clone()) {
            return AdminCredential::Plain {
                token,
                source: ADMIN_TOKEN_VARIABLE,
            };
        }
        if self.admin_hashes.is_empty() {
            AdminCredential::None
        } else {
            AdminCredential::Hashed(self.admin_hashes.clone())
        }
    }

    /// Everything the policy is made of, with the admin credential chosen by
    /// [`Config::admin_credential`]. `auth_core::policy::Policy::new` (or the server's state
    /// builder) derives what each class accepts from it.
    #[must_use]
    pub fn policy_parts(&self, cli_token: Option<SecretString>) -> PolicyParts {
        PolicyParts {
            ingest_keys: self.ingest_keys.clone(),
            consumption_keys: self.consumption_keys.clone(),
            admin: self.admin_credential(cli_token),
            jwt: self.jwt.clone(),
            enforce_jwt_on_ingest: self.enforce_on_all_ingest_apis,
            enforce_jwt_on_consumption: self.enforce_on_all_consumptions_apis,
        }
    }

    /// `[token_issuer]`, when a private key is configured.
    #[must_use]
    pub fn token_issuer(&self) -> Option<&TokenIssuerSettings> {
        self.token_issuer.as_ref()
    }

    /// `[cache]`: the verification cache.
    #[must_use]
    pub fn cache(&self) -> &CacheSettings {
        &self.cache
    }

    /// `[cache]`: the KDF pool (`kdf_workers`, `kdf_queue`, `kdf_queue_per_client`).
    #[must_use]
    pub fn kdf(&self) -> &KdfSettings {
        &self.kdf
    }

    /// `[limits]`: the failure budget per client address.
    #[must_use]
    pub fn client_budget(&self) -> &BudgetSettings {
        &self.client_budget
    }

    /// `[limits]`: the failure budget per project id at the token endpoint.
    #[must_use]
    pub fn project_budget(&self) -> &BudgetSettings {
        &self.project_budget
    }

    /// `[server]`.
    #[must_use]
    pub fn server(&self) -> &ServerSettings {
        &self.server
    }

    /// `[keys]`: the managed-key store.
    #[must_use]
    pub fn keys(&self) -> &crate::KeysSettings {
        &self.keys
    }

    /// The configuration file that was read, if one was.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Every setting with its effective value (secrets redacted) and origin, in a fixed order;
    /// what `keygate config check --show-origin` prints.
    #[must_use]
    pub fn explain(&self) -> &[Explained] {
        &self.explained
    }

    /// Settings that load but probably do not do what was meant (e.g. API keys for a class that
    /// enforces JWT). The CLI prints them; they never stop loading.
    #[must_use]
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }
}
