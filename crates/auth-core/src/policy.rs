//! The access policy of SPEC §5 as pure functions.
//!
//! [`plan`] decides, from the route class, the parsed header and what is configured, whether a
//! request is allowed, denied, or which verifications to attempt in which order. [`decide`] runs
//! such a plan with a [`Verifier`]. The server runs plans itself (asynchronously, through its
//! caches); tests and simple embeddings use [`decide`]. Neither does I/O.

use std::fmt;
use std::sync::Arc;

use crate::apikey::{ApiKeyError, KeyId};
use crate::header::{BearerToken, Credentials, MalformedHeader};
use crate::jwt::{Claims, JwtError, looks_like_jwt};

/// Which protection a path falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// `/ingest/` by default.
    Ingest,
    /// `/api/` by default.
    Consumption,
    /// `/admin/` by default: API keys only.
    Admin,
    /// Everything else: no authentication.
    Public,
}

impl RouteClass {
    /// The lower-case name used in logs, metrics and status output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Consumption => "consumption",
            Self::Admin => "admin",
            Self::Public => "public",
        }
    }
}

impl fmt::Display for RouteClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is configured for `ingest` or `consumption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassMechanisms {
    /// A usable JWT configuration exists.
    pub jwt: bool,
    /// The class's `enforce_on_all_*` flag: JWT only.
    pub enforce_jwt: bool,
    /// At least one API key is configured for the class.
    pub api_keys: bool,
}

impl ClassMechanisms {
    /// Whether requests to the class pass without credentials (startup warns about it).
    #[must_use]
    pub fn is_open(&self) -> bool {
        !self.enforce_jwt && !self.jwt && !self.api_keys
    }
}

/// Everything [`plan`] needs to know about the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mechanisms {
    /// `/ingest/` mechanisms.
    pub ingest: ClassMechanisms,
    /// `/api/` mechanisms.
    pub consumption: ClassMechanisms,
    /// Whether any admin credential (plain-text token or hash) is configured.
    pub admin: bool,
}

/// One verification to attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Verify as a JWT.
    Jwt,
    /// Verify against the class's API keys.
    ApiKey,
    /// Verify against the admin credential.
    Admin,
}

/// Who a request was allowed as.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Principal {
    /// A public route: nobody was asked.
    Public,
    /// A protected class with nothing configured.
    Open(RouteClass),
    /// A verified JWT.
    Jwt(Arc<Claims>),
    /// A verified API key of a class.
    ApiKey {
        /// The class the key is configured for.
        class: RouteClass,
        /// Which configured key matched.
        key_id: KeyId,
    },
    /// The admin credential; `key_id` is `None` for a plain-text admin token.
    Admin {
        /// Which configured hash matched, if it was a hash.
        key_id: Option<KeyId>,
    },
}

impl Principal {
    /// A subject for logs and the `X-Keygate-Subject` header (never a secret).
    #[must_use]
    pub fn subject(&self) -> String {
        match self {
            Self::Public | Self::Open(_) => "anonymous".to_owned(),
            Self::Jwt(claims) => claims.subject().to_owned(),
            Self::ApiKey { key_id, .. } => format!("key:{key_id}"),
            Self::Admin { key_id: Some(id) } => format!("admin:{id}"),
            Self::Admin { key_id: None } => "admin".to_owned(),
        }
    }

    /// The mechanism name for the `X-Keygate-Method` header and metrics.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Self::Public | Self::Open(_) => "none",
            Self::Jwt(_) => "jwt",
            Self::ApiKey { .. } => "api_key",
            Self::Admin { .. } => "admin_token",
        }
    }
}

/// Why a presented token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// JWT verification failed.
    Jwt(JwtError),
    /// API-key verification failed.
    ApiKey(ApiKeyError),
    /// The class enforces JWT and the token is not one.
    JwtRequired,
    /// Only JWT is configured for the class and the token is not one.
    NotAJwt,
    /// No admin credential is configured, so admin requests are always refused.
    AdminNotConfigured,
    /// The token is valid, but its subject cannot be passed upstream as a header value
    /// (control characters, or white space at either end).
    SubjectNotForwardable,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jwt(e) => e.fmt(f),
            Self::ApiKey(e) => e.fmt(f),
            Self::JwtRequired => f.write_str("this route accepts only JWTs"),
            Self::NotAJwt => f.write_str("the token is not a JWT"),
            Self::AdminNotConfigured => f.write_str("admin access is not configured"),
            Self::SubjectNotForwardable => {
                f.write_str("the token's subject cannot be passed to the upstream service")
            }
        }
    }
}

/// Why a request was refused, with its RFC 6750 rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// No `Authorization: Bearer` header.
    NoCredentials,
    /// The header breaks the grammar.
    Malformed(MalformedHeader),
    /// The token was checked and refused.
    InvalidToken(InvalidReason),
}

/// The realm in every `WWW-Authenticate` challenge.
pub const REALM: &str = "keygate";

impl Denial {
    /// HTTP status: 400 for malformed requests, 401 otherwise.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) => 400,
            Self::NoCredentials | Self::InvalidToken(_) => 401,
        }
    }

    /// The RFC 6750 `error` code; `None` when no credentials were sent.
    #[must_use]
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::NoCredentials => None,
            Self::Malformed(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
        }
    }

    /// A human sentence for the JSON body and `error_description` (no secrets, no quotes).
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::NoCredentials => {
                "authentication required: send Authorization: Bearer <token>".to_owned()
            }
            Self::Malformed(reason) => reason.to_string(),
            Self::InvalidToken(reason) => reason.to_string(),
        }
    }

    /// The `WWW-Authenticate` header value (RFC 6750 §3).
    #[must_use]
    pub fn www_authenticate(&self) -> String {
        match self.error_code() {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(code) => format!(
                "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{}\"",
                self.message().replace(['"', '\\'], "'")
            ),
        }
    }

    /// The JSON body: `{"error": "<code>", "message": "<text>"}` (`unauthorized` when no code).
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.error_code().unwrap_or("unauthorized"),
            "message": self.message(),
        })
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<'a> {
    /// Let it through as this principal.
    Allow(Principal),
    /// Refuse it.
    Deny(Denial),
    /// Verify `token` with each step in order; the first success allows.
    Verify {
        /// The presented token.
        token: BearerToken<'a>,
        /// Verifications to try, in order.
        steps: &'static [Step],
    },
}

/// Decides what a request needs (SPEC §5), without verifying anything.
#[must_use]
pub fn plan<'a>(
    class: RouteClass,
    credentials: Result<Credentials<'a>, MalformedHeader>,
    mechanisms: &Mechanisms,
) -> Plan<'a> {
    let class_mechanisms = match class {
        RouteClass::Public => return Plan::Allow(Principal::Public),
        RouteClass::Ingest => mechanisms.ingest,
        RouteClass::Consumption => mechanisms.consumption,
        RouteClass::Admin => return plan_admin(credentials, mechanisms.admin),
    };
    if class_mechanisms.is_open() {
        return Plan::Allow(Principal::Open(class));
    }
    let token = match credentials {
        Err(malformed) => return Plan::Deny(Denial::Malformed(malformed)),
        Ok(Credentials::None) => return Plan::Deny(Denial::NoCredentials),
        Ok(Credentials::Bearer(token)) => token,
    };
    let jwt_shaped = looks_like_jwt(token.as_str());
    let ClassMechanisms {
        jwt,
        enforce_jwt,
        api_keys,
    } = class_mechanisms;
    let steps: &'static [Step] = if enforce_jwt {
        // An enforce flag without JWT settings is a startup error; here it fails closed.
        if !jwt_shaped || !jwt {
            return Plan::Deny(Denial::InvalidToken(InvalidReason::JwtRequired));
        }
        &[Step::Jwt]
    } else {
        match (jwt && jwt_shaped, api_keys) {
            (true, true) => &[Step::Jwt, Step::ApiKey],
            (true, false) => &[Step::Jwt],
            (false, true) => &[Step::ApiKey],
            (false, false) => return Plan::Deny(Denial::InvalidToken(InvalidReason::NotAJwt)),
        }
    };
    Plan::Verify { token, steps }
}

fn plan_admin(credentials: Result<Credentials<'_>, MalformedHeader>, configured: bool) -> Plan<'_> {
    match credentials {
        Err(malformed) => Plan::Deny(Denial::Malformed(malformed)),
        Ok(Credentials::None) => Plan::Deny(Denial::NoCredentials),
        Ok(Credentials::Bearer(_)) if !configured => {
            Plan::Deny(Denial::InvalidToken(InvalidReason::AdminNotConfigured))
        }
        Ok(Credentials::Bearer(token)) => Plan::Verify {
            token,
            steps: &[Step::Admin],
        },
    }
}

/// Verifications [`decide`] delegates; the server's implementation adds caching.
pub trait Verifier {
    /// Verifies a JWT.
    ///
    /// # Errors
    /// Why the JWT was refused.
    fn jwt(&self, token: &str) -> Result<Arc<Claims>, JwtError>;
    /// Verifies an API key of `class`.
    ///
    /// # Errors
    /// Why the key was refused.
    fn api_key(&self, class: RouteClass, token: &str) -> Result<KeyId, ApiKeyError>;
    /// Verifies the admin credential; `Ok(None)` for a matching plain-text token.
    ///
    /// # Errors
    /// Why the token was refused.
    fn admin(&self, token: &str) -> Result<Option<KeyId>, ApiKeyError>;
}

/// Runs one verification step, turning its outcome into a principal or the reason it failed.
///
/// # Errors
/// The [`InvalidReason`] of the failed step.
pub fn run_step<V: Verifier + ?Sized>(
    step: Step,
    class: RouteClass,
    token: &str,
    verifier: &V,
) -> Result<Principal, InvalidReason> {
    match step {
        Step::Jwt => verifier
            .jwt(token)
            .map(Principal::Jwt)
            .map_err(InvalidReason::Jwt),
        Step::ApiKey => verifier
            .api_key(class, token)
            .map(|key_id| Principal::ApiKey { class, key_id })
            .map_err(InvalidReason::ApiKey),
        Step::Admin => verifier
            .admin(token)
            .map(|key_id| Principal::Admin { key_id })
            .map_err(InvalidReason::ApiKey),
    }
}

/// Combines the failures of every attempted step into one reason: a JWT's own error is the most
/// useful to a client that sent a JWT, so it wins over the API-key fallback's.
#[must_use]
pub fn combine_failures(failures: &[InvalidReason]) -> InvalidReason {
    failures
        .iter()
        .find(|r| matches!(r, InvalidReason::Jwt(_)))
        .or_else(|| failures.last())
        .copied()
        .unwrap_or(InvalidReason::NotAJwt)
}

/// The whole policy: plan, then verify with `verifier`.
///
/// # Errors
/// The [`Denial`] to send to the client.
pub fn decide<V: Verifier + ?Sized>(
    class: RouteClass,
    credentials: Result<Credentials<'_>, MalformedHeader>,
    mechanisms: &Mechanisms,
    verifier: &V,
) -> Result<Principal, Denial> {
    match plan(class, credentials, mechanisms) {
        Plan::Allow(principal) => Ok(principal),
        Plan::Deny(denial) => Err(denial),
        Plan::Verify { token, steps } => {
            let mut failures = Vec::with_capacity(steps.len());
            for &step in steps {
                match run_step(step, class, token.as_str(), verifier) {
                    Ok(principal) => return Ok(principal),
                    Err(reason) => failures.push(reason),
                }
            }
            Err(Denial::InvalidToken(combine_failures(&failures)))
        }
    }
}
