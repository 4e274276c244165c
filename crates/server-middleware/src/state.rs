//! What the middleware enforces: one immutable [`AuthState`], swapped whole on reload.

use auth_cache::verify::CacheSettings;
use auth_core::apikey::{AdminCredential, KeySet};
use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
use auth_core::jwt::JwtVerifier;
use auth_core::policy::{ClassMechanisms, Mechanisms, RouteClass};
use auth_core::routes::RouteRules;

use crate::issuer::TokenIssuer;
use crate::jwks::{Jwks, JwksError, JwksSettings};
use crate::pool::KdfSettings;

/// The whole authentication configuration of a server. Built by [`AuthStateBuilder`], which
/// checks it; the embedding application maps its own configuration onto the builder.
#[derive(Debug, Clone)]
pub struct AuthState {
    ingest_keys: KeySet,
    consumption_keys: KeySet,
    jwt: Option<JwtVerifier>,
    jwks: Option<Jwks>,
    admin: AdminCredential,
    issuer: Option<TokenIssuer>,
    routes: RouteRules,
    cache: CacheSettings,
    kdf: KdfSettings,
    max_authorization_bytes: usize,
    mechanisms: Mechanisms,
}

/// A configuration that cannot be served. Messages name the setting, never a secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// An enforce flag is set but no JWT verification is configured (SPEC §5).
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
    /// A JWKS URL without the issuer and audience its tokens are checked against.
    #[error("jwks_url needs JWT settings: configure [jwt] issuer and audience")]
    JwksWithoutJwt,
    /// The JWKS URL cannot be used.
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

/// Builds an [`AuthState`]; every part is optional and defaults to "not configured".
#[derive(Debug, Clone, Default)]
pub struct AuthStateBuilder {
    ingest_keys: KeySet,
    consumption_keys: KeySet,
    jwt: Option<JwtVerifier>,
    jwks: Option<JwksSource>,
    jwks_settings: JwksSettings,
    enforce_ingest: bool,
    enforce_consumption: bool,
    admin: AdminCredential,
    issuer: Option<TokenIssuer>,
    routes: RouteRules,
    cache: CacheSettings,
    kdf: KdfSettings,
    max_authorization_bytes: Option<usize>,
}

impl AuthState {
    /// A builder with nothing configured.
    #[must_use]
    pub fn builder() -> AuthStateBuilder {
        AuthStateBuilder::default()
    }

    /// What [`auth_core::policy::plan`] is told is configured.
    #[must_use]
    pub fn mechanisms(&self) -> &Mechanisms {
        &self.mechanisms
    }

    /// The API keys of `class` (empty for classes without API keys).
    #[must_use]
    pub fn keys(&self, class: RouteClass) -> &KeySet {
        static EMPTY: std::sync::LazyLock<KeySet> = std::sync::LazyLock::new(KeySet::new);
        match class {
            RouteClass::Ingest => &self.ingest_keys,
            RouteClass::Consumption => &self.consumption_keys,
            RouteClass::Admin | RouteClass::Public => &EMPTY,
        }
    }

    /// The JWT verifier: the configured keys plus the token issuer's own key. Keys of the
    /// [`AuthState::jwks`] set are added to it for each verification.
    #[must_use]
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.jwt.as_ref()
    }

    /// The remote JWKS, if configured.
    #[must_use]
    pub fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// Keeps `previous`'s JWKS when it fetches the same URL the same way, so a reload neither
    /// forgets the fetched keys nor starts a second refresher.
    pub(crate) fn keep_running_jwks(mut self, previous: &Self) -> Self {
        if let (Some(new), Some(running)) = (&self.jwks, &previous.jwks)
            && new.same_source(running)
        {
            self.jwks = Some(running.clone());
        }
        self
    }

    /// The admin credential.
    #[must_use]
    pub fn admin(&self) -> &AdminCredential {
        &self.admin
    }

    /// The token issuer, if configured.
    #[must_use]
    pub fn issuer(&self) -> Option<&TokenIssuer> {
        self.issuer.as_ref()
    }

    /// The route rules (path prefix → class).
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
        [
            (RouteClass::Ingest, self.mechanisms.ingest),
            (RouteClass::Consumption, self.mechanisms.consumption),
        ]
        .into_iter()
        .filter(|(_, m)| m.is_open())
        .map(|(class, _)| class)
        .collect()
    }
}

impl AuthStateBuilder {
    /// API keys accepted on `ingest` routes.
    #[must_use]
    pub fn ingest_keys(mut self, keys: KeySet) -> Self {
        self.ingest_keys = keys;
        self
    }

    /// API keys accepted on `consumption` routes.
    #[must_use]
    pub fn consumption_keys(mut self, keys: KeySet) -> Self {
        self.consumption_keys = keys;
        self
    }

    /// JWT verification (`[jwt]`); `None` for none.
    #[must_use]
    pub fn jwt(mut self, verifier: impl Into<Option<JwtVerifier>>) -> Self {
        self.jwt = verifier.into();
        self
    }

    /// `[jwt] jwks_url`: a remote JWKS whose keys are trusted besides the verifier's (SPEC §4).
    /// Needs JWT settings ([`AuthStateBuilder::jwt`], or the token issuer's claims); a verifier
    /// without keys is fine. Checked by [`AuthStateBuilder::build`].
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks = Some(JwksSource::Url(url.into()));
        self
    }

    /// Fetch schedule and limits for [`AuthStateBuilder::jwks_url`] (defaults: SPEC §4).
    #[must_use]
    pub fn jwks_settings(mut self, settings: JwksSettings) -> Self {
        self.jwks_settings = settings;
        self
    }

    /// A ready [`Jwks`] instead of a URL (e.g. one shared with other components).
    #[must_use]
    pub fn jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = Some(JwksSource::Ready(jwks));
        self
    }

    /// `enforce_on_all_ingest_apis`: JWT only on `ingest` routes.
    #[must_use]
    pub fn enforce_jwt_on_ingest(mut self, enforce: bool) -> Self {
        self.enforce_ingest = enforce;
        self
    }

    /// `enforce_on_all_consumptions_apis`: JWT only on `consumption` routes.
    #[must_use]
    pub fn enforce_jwt_on_consumption(mut self, enforce: bool) -> Self {
        self.enforce_consumption = enforce;
        self
    }

    /// The admin credential (already resolved by precedence).
    #[must_use]
    pub fn admin(mut self, admin: AdminCredential) -> Self {
        self.admin = admin;
        self
    }

    /// The token issuer (SPEC §7); `None` for none.
    #[must_use]
    pub fn token_issuer(mut self, issuer: impl Into<Option<TokenIssuer>>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Route rules by path prefix (default [`RouteRules::moose_defaults`]).
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
    /// (`[server] max_authorization_bytes`; default
    /// [`DEFAULT_MAX_AUTHORIZATION_BYTES`]). [`AuthStateBuilder::build`] applies it to the JWT
    /// verifier too, so the two caps are always the same.
    #[must_use]
    pub fn max_authorization_bytes(mut self, max_bytes: usize) -> Self {
        self.max_authorization_bytes = Some(max_bytes);
        self
    }

    /// Checks the configuration and builds the state.
    ///
    /// The token issuer's public key is added to the JWT verifier, so issued tokens always pass.
    /// Its tokens carry `iss`/`aud` from the JWT settings; without JWT settings the issuer's own
    /// claims ([`TokenIssuer::with_claims`]) are used, and they then also become the JWT check.
    ///
    /// # Errors
    /// [`StateError`] for an enforce flag without JWT, an issuer without `iss`/`aud`, a pool without workers, or a JWKS URL that is unusable or lacks JWT
    /// settings.
    pub fn build(self) -> Result<AuthState, StateError> {
        if self.kdf.workers == 0 {
            return Err(StateError::NoKdfWorkers);
        }
        let max_authorization_bytes = self
            .max_authorization_bytes
            .unwrap_or(DEFAULT_MAX_AUTHORIZATION_BYTES);
        let (jwt, issuer) = combine_jwt_and_issuer(self.jwt, self.issuer)?;
        let jwt = jwt.map(|verifier| verifier.with_max_token_bytes(max_authorization_bytes));
        let jwks = match self.jwks {
            None => None,
            Some(_) if jwt.is_none() => return Err(StateError::JwksWithoutJwt),
            Some(JwksSource::Ready(jwks)) => Some(jwks),
            Some(JwksSource::Url(url)) => Some(Jwks::new(&url, self.jwks_settings)?),
        };
        let has_jwt = jwt.is_some();
        for (enforced, flag) in [
            (self.enforce_ingest, "enforce_on_all_ingest_apis"),
            (self.enforce_consumption, "enforce_on_all_consumptions_apis"),
        ] {
            if enforced && !has_jwt {
                return Err(StateError::EnforceWithoutJwt { flag });
            }
        }
        let mechanisms = Mechanisms {
            ingest: ClassMechanisms {
                jwt: has_jwt,
                enforce_jwt: self.enforce_ingest,
                api_keys: !self.ingest_keys.is_empty(),
            },
            consumption: ClassMechanisms {
                jwt: has_jwt,
                enforce_jwt: self.enforce_consumption,
                api_keys: !self.consumption_keys.is_empty(),
            },
            admin: self.admin.is_configured(),
        };
        Ok(AuthState {
            ingest_keys: self.ingest_keys,
            consumption_keys: self.consumption_keys,
            jwt,
            jwks,
            admin: self.admin,
            issuer,
            routes: self.routes,
            cache: self.cache,
            kdf: self.kdf,
            max_authorization_bytes,
            mechanisms,
        })
    }
}

/// Adds the issuer's key to the verifier and settles which `iss`/`aud` the issuer signs.
fn combine_jwt_and_issuer(
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
    let mut keys = jwt.map(|v| v.keys().to_vec()).unwrap_or_default();
    keys.push(issuer.signing_key().verifying_key().clone());
    let verifier = JwtVerifier::new(keys, settings.clone());
    Ok((Some(verifier), Some(issuer.with_claims(settings))))
}

/// Where the builder's JWKS comes from.
#[derive(Clone)]
enum JwksSource {
    Url(String),
    Ready(Jwks),
}

impl std::fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL may carry credentials; it is checked (and shown redacted) once built.
            Self::Url(_) => f.write_str("Url(..)"),
            Self::Ready(jwks) => jwks.fmt(f),
        }
    }
}
