//! What the middleware enforces: one immutable [`AuthState`] — policy data only, nothing that
//! runs — swapped whole on reload. The runtime that serves it (caches, KDF pool, JWKS fetchers)
//! is the [`AuthHandle`](crate::AuthHandle)'s.

use std::sync::Arc;

use auth_cache::budget::BudgetSettings;
use auth_cache::verify::CacheSettings;
use auth_core::apikey::{AdminCredential, KeySet, StoredKey, StoredKeyError};
use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
use auth_core::jwt::{JwtSettings, JwtVerifier, KeyError, VerifyingKey};
use auth_core::policy::{Mechanisms, Policy, PolicyError, PolicyParts, RouteClass};
use auth_core::routes::RouteRules;

use crate::client::TrustedProxies;
use crate::identity::IdentityHeaders;
#[cfg(feature = "issuer")]
use crate::issuer::TokenIssuer;
#[cfg(feature = "jwks")]
use crate::jwks::{JwksError, JwksSettings, JwksSource};
use auth_cache::pool::KdfSettings;

/// The whole authentication configuration of a server. Built by [`AuthStateBuilder`], which
/// checks it; the embedding application maps its own configuration onto the builder.
#[derive(Debug, Clone)]
pub struct AuthState {
    policy: Policy,
    #[cfg(feature = "jwks")]
    jwks: Option<JwksSource>,
    #[cfg(feature = "issuer")]
    issuer: Option<TokenIssuer>,
    routes: RouteRules,
    cache: CacheSettings,
    kdf: KdfSettings,
    max_authorization_bytes: usize,
    trusted_proxies: TrustedProxies,
    budgets: Budgets,
    identity: IdentityHeaders,
    managed: Option<Arc<key_store::ManagedKeys>>,
}

/// The failure budgets of a server (`[limits]`): per client address, and per project id at
/// the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Failures that cost a key derivation, per client.
    pub per_client: BudgetSettings,
    /// Failed token requests per presented project id.
    pub per_project: BudgetSettings,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            per_client: BudgetSettings::per_client(),
            per_project: BudgetSettings::per_project(),
        }
    }
}

/// A configuration that cannot be served. Messages name the setting, never a secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// An enforce flag is set but no JWT verification is configured (reference §5).
    #[error(
        "{flag} is set but no JWT verification is configured (set [jwt] secret, issuer and audience)"
    )]
    EnforceWithoutJwt {
        /// The flag's configuration name.
        flag: &'static str,
    },
    /// The token issuer has no `iss`/`aud` to put in its tokens.
    #[error(
        "the token issuer needs an issuer and audience: configure [jwt] issuer and audience, or give the issuer its own claims"
    )]
    IssuerWithoutClaims,
    /// A KDF pool without workers.
    #[error("the key-derivation pool needs at least one worker")]
    NoKdfWorkers,
    /// A stored API-key hash given as text does not parse.
    #[error("{what}: {source}")]
    StoredKey {
        /// Which keys (`consumption API key 2`, …).
        what: String,
        /// Why it does not parse.
        source: StoredKeyError,
    },
    /// A JWT public key given as PEM text is unusable.
    #[error("the JWT public key: {0}")]
    JwtKey(KeyError),
    /// A JWKS URL without the issuer and audience its tokens are checked against.
    #[cfg(feature = "jwks")]
    #[error("jwks_url needs JWT settings: configure [jwt] issuer and audience")]
    JwksWithoutJwt,
    /// The JWKS URL cannot be used.
    #[cfg(feature = "jwks")]
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

impl From<PolicyError> for StateError {
    fn from(error: PolicyError) -> Self {
        match error {
            PolicyError::EnforceWithoutJwt { flag } => Self::EnforceWithoutJwt { flag },
            // `PolicyError` is non-exhaustive; its only variant today is the one above.
            _ => Self::EnforceWithoutJwt {
                flag: "an enforce flag",
            },
        }
    }
}

/// Builds an [`AuthState`]; every part is optional and defaults to "not configured".
#[derive(Debug, Clone, Default)]
pub struct AuthStateBuilder {
    parts: PolicyParts,
    /// The first error of a part given as text, reported by [`AuthStateBuilder::build`].
    invalid: Option<StateError>,
    #[cfg(feature = "jwks")]
    jwks_url: Option<String>,
    #[cfg(feature = "jwks")]
    jwks_settings: JwksSettings,
    #[cfg(feature = "issuer")]
    issuer: Option<TokenIssuer>,
    routes: RouteRules,
    cache: CacheSettings,
    kdf: KdfSettings,
    max_authorization_bytes: Option<usize>,
    trusted_proxies: TrustedProxies,
    budgets: Budgets,
    identity: IdentityHeaders,
    managed: Option<Arc<key_store::ManagedKeys>>,
}

impl AuthState {
    /// A builder with nothing configured.
    #[must_use]
    pub fn builder() -> AuthStateBuilder {
        AuthStateBuilder::default()
    }

    /// The policy: keys, JWT verification, admin credential, enforce flags.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What [`auth_core::policy::plan`] is told is configured.
    #[must_use]
    pub fn mechanisms(&self) -> &Mechanisms {
        self.policy.mechanisms()
    }

    /// The API keys of `class` (empty for classes without API keys).
    #[must_use]
    pub fn keys(&self, class: RouteClass) -> &KeySet {
        self.policy.keys(class)
    }

    /// The JWT verifier: the configured keys plus the token issuer's own key. Keys of a remote
    /// JWKS are added to it by the handle, for each verification.
    #[must_use]
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.policy.jwt()
    }

    /// The remote JWKS to fetch keys from, if configured.
    #[cfg(feature = "jwks")]
    #[must_use]
    pub fn jwks(&self) -> Option<&JwksSource> {
        self.jwks.as_ref()
    }

    /// The admin credential.
    #[must_use]
    pub fn admin(&self) -> &AdminCredential {
        self.policy.admin()
    }

    /// The token issuer, if configured.
    #[cfg(feature = "issuer")]
    #[must_use]
    pub fn issuer(&self) -> Option<&TokenIssuer> {
        self.issuer.as_ref()
    }

    /// The route rules (path prefix → class) that prefix classification uses.
    #[must_use]
    pub fn routes(&self) -> &RouteRules {
        &self.routes
    }

    /// The verification-cache settings.
    #[must_use]
    pub fn cache_settings(&self) -> &CacheSettings {
        &self.cache
    }

    /// The KDF pool settings.
    #[must_use]
    pub fn kdf_settings(&self) -> &KdfSettings {
        &self.kdf
    }

    /// The size cap of the `Authorization` header and of the JWTs it carries, in bytes.
    #[must_use]
    pub fn max_authorization_bytes(&self) -> usize {
        self.max_authorization_bytes
    }

    /// Protected classes with nothing configured: they let every request through.
    #[must_use]
    pub fn open_classes(&self) -> Vec<RouteClass> {
        self.policy.open_classes()
    }

    /// The proxies whose forwarding headers name the client.
    #[must_use]
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    /// The failure budgets.
    #[must_use]
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// What the upstream is told about who was let in.
    #[must_use]
    pub fn identity_headers(&self) -> &IdentityHeaders {
        &self.identity
    }

    /// The managed keys (docs/keys.md), if a key store is attached.
    #[must_use]
    pub fn managed_keys(&self) -> Option<&Arc<key_store::ManagedKeys>> {
        self.managed.as_ref()
    }

    /// What [`auth_core::policy::plan`] is told is configured, with the classes the managed
    /// keys protect added: a class that has (or had) a managed key is never open.
    #[must_use]
    pub fn effective_mechanisms(&self) -> Mechanisms {
        let mut mechanisms = *self.policy.mechanisms();
        if let Some(managed) = &self.managed {
            use key_store::KeyClass;
            mechanisms.ingest.api_keys |= managed.protects(KeyClass::Ingest);
            mechanisms.consumption.api_keys |= managed.protects(KeyClass::Consumption);
            mechanisms.admin |= managed.protects(KeyClass::Admin);
        }
        mechanisms
    }
}

impl AuthStateBuilder {
    /// Every part of the policy at once (what `auth-config` loads): keys, admin credential,
    /// JWT verification and enforce flags.
    #[must_use]
    pub fn policy(mut self, parts: PolicyParts) -> Self {
        self.parts = parts;
        self
    }

    /// API keys accepted on `ingest` routes.
    #[must_use]
    pub fn ingest_keys(mut self, keys: KeySet) -> Self {
        self.parts.ingest_keys = keys;
        self
    }

    /// API keys accepted on `consumption` routes.
    #[must_use]
    pub fn consumption_keys(mut self, keys: KeySet) -> Self {
        self.parts.consumption_keys = keys;
        self
    }

    /// API keys accepted on `ingest` routes, as the stored hashes `keygate generate hash-token`
    /// prints; one that does not parse is reported by [`AuthStateBuilder::build`].
    #[must_use]
    pub fn ingest_key_hashes<I>(mut self, hashes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.parts.ingest_keys = self.parse_hashes("ingest", hashes);
        self
    }

    /// API keys accepted on `consumption` routes, as stored hashes (see
    /// [`AuthStateBuilder::ingest_key_hashes`]).
    #[must_use]
    pub fn consumption_key_hashes<I>(mut self, hashes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.parts.consumption_keys = self.parse_hashes("consumption", hashes);
        self
    }

    fn parse_hashes<I>(&mut self, class: &str, hashes: I) -> KeySet
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut keys = KeySet::new();
        for (index, hash) in hashes.into_iter().enumerate() {
            match StoredKey::parse(hash.as_ref()) {
                Ok(key) => keys.push(key),
                Err(source) => {
                    self.invalid.get_or_insert(StateError::StoredKey {
                        what: format!("{class} API key {}", index + 1),
                        source,
                    });
                }
            }
        }
        keys
    }

    /// JWT verification (`[jwt]`); `None` for none.
    #[must_use]
    pub fn jwt(mut self, verifier: impl Into<Option<JwtVerifier>>) -> Self {
        self.parts.jwt = verifier.into();
        self
    }

    /// JWT verification with one public key in PEM form (RSA, EC P-256 or Ed25519; a
    /// `CERTIFICATE` works too) for tokens with this `iss` and `aud`. A key that does not parse
    /// is reported by [`AuthStateBuilder::build`].
    #[must_use]
    pub fn jwt_public_key(mut self, pem: &str, issuer: &str, audience: &str) -> Self {
        match VerifyingKey::from_pem(pem) {
            Ok(key) => {
                self.parts.jwt = Some(JwtVerifier::new(
                    vec![key],
                    JwtSettings::new(issuer, audience),
                ));
            }
            Err(error) => {
                self.invalid.get_or_insert(StateError::JwtKey(error));
            }
        }
        self
    }

    /// `[jwt] jwks_url`: a remote JWKS whose keys are trusted besides the verifier's
    /// (reference §4). Needs JWT settings ([`AuthStateBuilder::jwt`], or the token issuer's
    /// claims); a verifier without keys is fine. Checked by [`AuthStateBuilder::build`].
    #[cfg(feature = "jwks")]
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Fetch schedule and limits for [`AuthStateBuilder::jwks_url`] (defaults: reference §4).
    #[cfg(feature = "jwks")]
    #[must_use]
    pub fn jwks_settings(mut self, settings: JwksSettings) -> Self {
        self.jwks_settings = settings;
        self
    }

    /// `enforce_on_all_ingest_apis`: JWT only on `ingest` routes.
    #[must_use]
    pub fn enforce_jwt_on_ingest(mut self, enforce: bool) -> Self {
        self.parts.enforce_jwt_on_ingest = enforce;
        self
    }

    /// `enforce_on_all_consumptions_apis`: JWT only on `consumption` routes.
    #[must_use]
    pub fn enforce_jwt_on_consumption(mut self, enforce: bool) -> Self {
        self.parts.enforce_jwt_on_consumption = enforce;
        self
    }

    /// The admin credential (already resolved by precedence).
    #[must_use]
    pub fn admin(mut self, admin: AdminCredential) -> Self {
        self.parts.admin = admin;
        self
    }

    /// The token issuer (reference §7); `None` for none.
    #[cfg(feature = "issuer")]
    #[must_use]
    pub fn token_issuer(mut self, issuer: impl Into<Option<TokenIssuer>>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Route rules by path prefix (default [`RouteRules::moose_defaults`]), used where the
    /// class comes from the path ([`AuthHandle::by_path_prefix`](crate::AuthHandle::by_path_prefix)).
    #[must_use]
    pub fn routes(mut self, routes: RouteRules) -> Self {
        self.routes = routes;
        self
    }

    /// Verification-cache settings.
    #[must_use]
    pub fn cache(mut self, cache: CacheSettings) -> Self {
        self.cache = cache;
        self
    }

    /// KDF pool settings.
    #[must_use]
    pub fn kdf(mut self, kdf: KdfSettings) -> Self {
        self.kdf = kdf;
        self
    }

    /// The size cap of the `Authorization` header (longer ones are answered 400) and of a JWT
    /// (`[server] max_authorization_bytes`; default [`DEFAULT_MAX_AUTHORIZATION_BYTES`]).
    /// [`AuthStateBuilder::build`] applies it to the JWT verifier too, so the two caps are
    /// always the same.
    #[must_use]
    pub fn max_authorization_bytes(mut self, max_bytes: usize) -> Self {
        self.max_authorization_bytes = Some(max_bytes);
        self
    }

    /// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// (`[server] trusted_proxies`; default none: the socket peer is the client).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The failure budgets (`[limits]`).
    #[must_use]
    pub fn budgets(mut self, budgets: Budgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// Claim headers and JWT forwarding for the upstream (`[server] claim_headers`,
    /// `forward_jwt`).
    #[must_use]
    pub fn identity_headers(mut self, identity: IdentityHeaders) -> Self {
        self.identity = identity;
        self
    }

    /// Managed keys from a key store (docs/keys.md), verified beside the configured ones. Keep
    /// the same `Arc` across reloads: it holds the caches and the store's connection.
    #[must_use]
    pub fn managed_keys(mut self, managed: Arc<key_store::ManagedKeys>) -> Self {
        self.managed = Some(managed);
        self
    }

    /// Checks the configuration and builds the state.
    ///
    /// The token issuer's public key is added to the trusted JWT keys here, and only here, so
    /// issued tokens always pass. Its tokens carry `iss`/`aud` from the JWT settings; without
    /// JWT settings the issuer's own claims ([`TokenIssuer::with_claims`]) are used, and they
    /// then also become the JWT check.
    ///
    /// # Errors
    /// [`StateError`] for a key given as text that does not parse, an enforce flag without JWT,
    /// an issuer without `iss`/`aud`, a pool without workers, or a JWKS URL that is unusable
    /// or lacks JWT settings.
    pub fn build(self) -> Result<AuthState, StateError> {
        if let Some(error) = self.invalid {
            return Err(error);
        }
        if self.kdf.workers == 0 {
            return Err(StateError::NoKdfWorkers);
        }
        let max_authorization_bytes = self
            .max_authorization_bytes
            .unwrap_or(DEFAULT_MAX_AUTHORIZATION_BYTES);
        let mut parts = self.parts;
        #[cfg(feature = "issuer")]
        let issuer = {
            let (jwt, issuer) = trust_issuer(parts.jwt.take(), self.issuer)?;
            parts.jwt = jwt;
            issuer
        };
        parts.jwt = parts
            .jwt
            .map(|verifier| verifier.with_max_token_bytes(max_authorization_bytes));
        #[cfg(feature = "jwks")]
        let jwks = match self.jwks_url {
            None => None,
            Some(_) if parts.jwt.is_none() => return Err(StateError::JwksWithoutJwt),
            Some(url) => Some(JwksSource::new(&url, self.jwks_settings)?),
        };
        Ok(AuthState {
            policy: Policy::new(parts)?,
            #[cfg(feature = "jwks")]
            jwks,
            #[cfg(feature = "issuer")]
            issuer,
            routes: self.routes,
            cache: self.cache,
            kdf: self.kdf,
            max_authorization_bytes,
            trusted_proxies: self.trusted_proxies,
            budgets: self.budgets,
            identity: self.identity,
            managed: self.managed,
        })
    }
}

/// Adds the issuer's key to the trusted JWT keys and settles which `iss`/`aud` it signs.
#[cfg(feature = "issuer")]
fn trust_issuer(
    jwt: Option<JwtVerifier>,
    issuer: Option<TokenIssuer>,
) -> Result<(Option<JwtVerifier>, Option<TokenIssuer>), StateError> {
    let Some(issuer) = issuer else {
        return Ok((jwt, None));
    };
    let settings = match &jwt {
        Some(verifier) => verifier.settings().clone(),
        None => issuer
            .claims()
            .cloned()
            .ok_or(StateError::IssuerWithoutClaims)?,
    };
    // The signing key and the previous ones still in rotation.
    let issuer_keys = issuer.trusted_keys();
    let verifier = match jwt {
        Some(verifier) => verifier.with_additional_keys(issuer_keys),
        None => JwtVerifier::new(issuer_keys, settings.clone()),
    };
    Ok((Some(verifier), Some(issuer.with_claims(settings))))
}
