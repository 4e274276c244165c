//! The access policy (reference §5), decided in one place.
//!
//! [`plan`] decides, from the route class, the parsed header and what is configured, whether a
//! request is allowed, denied, or which verifications to attempt in which order. [`decide`] runs
//! such a plan with a [`Verifier`] — asynchronously, so that the server's verifier can consult
//! its cache, wait for a KDF worker or fetch a key set, while this crate itself needs no runtime.
//! [`decide_now`] runs the same plan as far as the verifier answers at once (a cache hit), so a
//! cached request is decided without a future; [`Pending::finish`] and [`resume`] go on from
//! there.
//! [`Policy`] holds what a server checks tokens against and runs one step uncached
//! ([`Policy::check`]); [`Direct`] is the verifier that does only that. Nothing here does I/O.

mod decide;
mod rules;

use std::fmt;
use std::sync::Arc;

use crate::apikey::{ApiKeyError, KeyId, ManagedKeyId};
use crate::header::{BearerToken, Credentials, MalformedHeader};
use crate::jwt::{Claims, JwtError};

pub use decide::{
    Pending, Progress, Refusal, Resume, StepOutcome, Verifier, decide, decide_now, resume,
};
pub use rules::{Checked, Direct, Policy, PolicyError, PolicyParts};

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

    /// One line for logs and `keygate config check`: what the class accepts.
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match (self.enforce_jwt, self.jwt, self.api_keys) {
            (true, _, _) => "JWT only (enforced)",
            (false, true, true) => "JWT, then API keys",
            (false, true, false) => "JWT",
            (false, false, true) => "API keys",
            (false, false, false) => "OPEN: no authentication configured",
        }
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
    /// A managed key (docs/keys.md) of a class.
    ManagedKey {
        /// The key's class (`Admin` for managed admin keys).
        class: RouteClass,
        /// The key's id.
        id: ManagedKeyId,
        /// The key's name, as created (not a secret).
        name: Arc<str>,
    },
    /// The admin credential; `key_id` is `None` for a plain-text admin token.
    Admin {
        /// Which configured hash matched, if it was a hash.
        key_id: Option<KeyId>,
    },
}

/// `label` and then `id` in lower-case hex, as the ids' `Display` spells them: built directly,
/// since a subject is made for every request forwarded with identity headers.
fn labelled_hex(label: &str, id: &[u8]) -> String {
    let mut text = String::with_capacity(label.len() + 2 * id.len());
    text.push_str(label);
    for byte in id {
        for nibble in [byte >> 4, byte & 0x0f] {
            text.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    text
}

impl Principal {
    /// A subject for logs and the `X-Keygate-Subject` header (never a secret).
    #[must_use]
    pub fn subject(&self) -> String {
        match self {
            Self::Public | Self::Open(_) => "anonymous".to_owned(),
            Self::Jwt(claims) => claims.subject().to_owned(),
            Self::ApiKey { key_id, .. } => labelled_hex("key:", key_id.as_bytes()),
            Self::ManagedKey { id, .. } => labelled_hex("key:", id.as_bytes()),
            Self::Admin { key_id: Some(id) } => labelled_hex("admin:", id.as_bytes()),
            Self::Admin { key_id: None } => "admin".to_owned(),
        }
    }

    /// The kind of credential that let the request in.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        match self {
            Self::Public | Self::Open(_) => CredentialKind::None,
            Self::Jwt(_) => CredentialKind::Jwt,
            Self::ApiKey { .. } => CredentialKind::ApiKey,
            Self::ManagedKey {
                class: RouteClass::Admin,
                ..
            }
            | Self::Admin { .. } => CredentialKind::AdminToken,
            Self::ManagedKey { .. } => CredentialKind::ApiKey,
        }
    }

    /// The mechanism name for the `X-Keygate-Method` header: [`CredentialKind::as_str`].
    #[must_use]
    pub fn method(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// A kind of credential, as the `X-Keygate-Method` header, logs and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// None (a public route, an open class, or no credential sent).
    None,
    /// A JWT.
    Jwt,
    /// An API key of `ingest` or `consumption`.
    ApiKey,
    /// The admin credential.
    AdminToken,
}

impl CredentialKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 4] = [Self::None, Self::Jwt, Self::ApiKey, Self::AdminToken];

    /// `none`, `jwt`, `api_key` or `admin_token`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
            Self::AdminToken => "admin_token",
        }
    }

    /// The kind a request presented on a route of `class` (before it is verified): a bearer
    /// token on an admin route is an admin token, a JWT-shaped one a JWT, any other an API key.
    #[must_use]
    pub fn presented(
        class: RouteClass,
        credentials: &Result<Credentials<'_>, MalformedHeader>,
    ) -> Self {
        match credentials {
            Ok(Credentials::Bearer(_)) if class == RouteClass::Admin => Self::AdminToken,
            Ok(Credentials::Bearer(token)) if token.looks_like_jwt() => Self::Jwt,
            Ok(Credentials::Bearer(_)) => Self::ApiKey,
            Ok(Credentials::None) | Err(_) => Self::None,
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
            None => challenge(None),
            Some(code) => challenge(Some((code, &self.message()))),
        }
    }

    /// The `error` member of the JSON body: the RFC 6750 code, `unauthorized` when none.
    #[must_use]
    pub fn body_error(&self) -> &'static str {
        self.error_code().unwrap_or("unauthorized")
    }
}

/// An RFC 6750 §3 `WWW-Authenticate` challenge: `Bearer realm="keygate"`, with the error code
/// and its description when there is one. Every challenge keygate sends is written here; the
/// description's quotes and backslashes become `'` so the quoted string stays well-formed.
#[must_use]
pub fn challenge(error: Option<(&str, &str)>) -> String {
    match error {
        None => format!("Bearer realm=\"{REALM}\""),
        Some((code, description)) => format!(
            "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ),
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

/// Decides what a request needs (reference §5), without verifying anything.
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
    let jwt_shaped = token.looks_like_jwt();
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

/// Combines the failures of every attempted step into one reason: a JWT's own error is the most
/// useful to a client that sent a JWT, so it wins over the API-key fallback's.
#[must_use]
pub fn combine_failures(failures: &[InvalidReason]) -> InvalidReason {
    let mut combined = Failures::default();
    for &failure in failures {
        combined.push(failure);
    }
    combined.combined()
}

/// The failures of a decision's steps as [`combine_failures`] reads them, kept without
/// allocating: the first JWT failure and the latest failure.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Failures {
    first_jwt: Option<InvalidReason>,
    latest: Option<InvalidReason>,
}

impl Failures {
    pub(crate) fn push(&mut self, failure: InvalidReason) {
        if self.first_jwt.is_none() && matches!(failure, InvalidReason::Jwt(_)) {
            self.first_jwt = Some(failure);
        }
        self.latest = Some(failure);
    }

    pub(crate) fn combined(self) -> InvalidReason {
        self.first_jwt
            .or(self.latest)
            .unwrap_or(InvalidReason::NotAJwt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_spell_ids_as_their_display_does() {
        let key_id = KeyId::of_stored("moose-stored-hash");
        let id = ManagedKeyId::parse("00ff10a9b2c3d4e5").unwrap();
        let cases = [
            (
                Principal::ApiKey {
                    class: RouteClass::Consumption,
                    key_id,
                },
                format!("key:{key_id}"),
            ),
            (
                Principal::ManagedKey {
                    class: RouteClass::Ingest,
                    id,
                    name: Arc::from("n"),
                },
                "key:00ff10a9b2c3d4e5".to_owned(),
            ),
            (
                Principal::Admin {
                    key_id: Some(key_id),
                },
                format!("admin:{key_id}"),
            ),
            (Principal::Admin { key_id: None }, "admin".to_owned()),
            (Principal::Public, "anonymous".to_owned()),
        ];
        for (principal, subject) in cases {
            assert_eq!(principal.subject(), subject);
        }
    }
}
