//! [`Policy`]: what a server checks tokens against, and one verification step without a cache.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::sync::Arc;

use super::{ClassMechanisms, InvalidReason, Mechanisms, Principal, RouteClass, Step};
use super::{StepOutcome, Verifier};
use crate::apikey::{AdminCredential, KeySet};
use crate::jwt::{JwtError, JwtVerifier};

/// The parts of a [`Policy`], as configured.
#[derive(Debug, Clone, Default)]
pub struct PolicyParts {
    /// API keys accepted on `ingest` routes.
    pub ingest_keys: KeySet,
    /// API keys accepted on `consumption` routes.
    pub consumption_keys: KeySet,
    /// The admin credential (already chosen by precedence).
    pub admin: AdminCredential,
    /// JWT verification, with every statically trusted key.
    pub jwt: Option<JwtVerifier>,
    /// `enforce_on_all_ingest_apis`: JWT only on `ingest` routes.
    pub enforce_jwt_on_ingest: bool,
    /// `enforce_on_all_consumptions_apis`: JWT only on `consumption` routes.
    pub enforce_jwt_on_consumption: bool,
}

/// Why a set of [`PolicyParts`] is not a policy.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// An enforce flag is set but no JWT verification is configured (reference §5).
    #[error(
        "{flag} is set but no JWT verification is configured (set [jwt] secret, issuer and audience)"
    )]
    EnforceWithoutJwt {
        /// The flag's configuration name.
        flag: &'static str,
    },
}

/// What a server accepts on each route class. [`Policy::mechanisms`] is what [`super::plan`] is
/// told; [`Policy::check`] runs one step against the configured keys.
#[derive(Debug, Clone)]
pub struct Policy {
    parts: PolicyParts,
    mechanisms: Mechanisms,
}

/// One step's outcome with the work it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Who the token authenticates, or why not.
    pub outcome: StepOutcome,
    /// PBKDF2 computations run (0 for tokens refused on shape alone).
    pub kdf_runs: u32,
    /// Whether a JWT signature and its claims were checked.
    pub jwt_verified: bool,
}

impl Policy {
    /// Checks the parts and derives the mechanisms of each class.
    ///
    /// # Errors
    /// [`PolicyError::EnforceWithoutJwt`] for an enforce flag without JWT verification.
    pub fn new(parts: PolicyParts) -> Result<Self, PolicyError> {
        let jwt = parts.jwt.is_some();
        for (enforced, flag) in [
            (parts.enforce_jwt_on_ingest, "enforce_on_all_ingest_apis"),
            (
                parts.enforce_jwt_on_consumption,
                "enforce_on_all_consumptions_apis",
            ),
        ] {
            if enforced && !jwt {
                return Err(PolicyError::EnforceWithoutJwt { flag });
            }
        }
        let mechanisms = Mechanisms {
            ingest: ClassMechanisms {
                jwt,
                enforce_jwt: parts.enforce_jwt_on_ingest,
                api_keys: !parts.ingest_keys.is_empty(),
            },
            consumption: ClassMechanisms {
                jwt,
                enforce_jwt: parts.enforce_jwt_on_consumption,
                api_keys: !parts.consumption_keys.is_empty(),
            },
            admin: parts.admin.is_configured(),
        };
        Ok(Self { parts, mechanisms })
    }

    /// What is configured, per class.
    #[must_use]
    pub fn mechanisms(&self) -> &Mechanisms {
        &self.mechanisms
    }

    /// The API keys of `class` (empty for classes without API keys).
    #[must_use]
    pub fn keys(&self, class: RouteClass) -> &KeySet {
        static EMPTY: std::sync::LazyLock<KeySet> = std::sync::LazyLock::new(KeySet::new);
        match class {
            RouteClass::Ingest => &self.parts.ingest_keys,
            RouteClass::Consumption => &self.parts.consumption_keys,
            RouteClass::Admin | RouteClass::Public => &EMPTY,
        }
    }

    /// The admin credential.
    #[must_use]
    pub fn admin(&self) -> &AdminCredential {
        &self.parts.admin
    }

    /// JWT verification with the statically trusted keys, if configured.
    #[must_use]
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.parts.jwt.as_ref()
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

    /// The PBKDF2 runs checking `token` in `step` costs at most (0 for tokens refused on shape
    /// alone), so the caller can move the check off an async reactor and charge it to the
    /// client's failure budget before it runs.
    #[must_use]
    pub fn kdf_cost(&self, step: Step, class: RouteClass, token: &str) -> u32 {
        match step {
            Step::Jwt => 0,
            Step::ApiKey => self.keys(class).kdf_cost(token),
            Step::Admin => match self.admin() {
                AdminCredential::Hashed(keys) => keys.kdf_cost(token),
                _ => 0,
            },
        }
    }

    /// Runs `step` for `token` on `class`, uncached. `jwt` verifies JWT steps: [`Policy::jwt`],
    /// or those keys together with a remote key set. `now` is the time in Unix seconds.
    #[must_use]
    pub fn check(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
        jwt: Option<&JwtVerifier>,
        now: u64,
    ) -> Checked {
        let mut checked = Checked {
            outcome: Err(InvalidReason::NotAJwt),
            kdf_runs: 0,
            jwt_verified: false,
        };
        checked.outcome = match step {
            Step::Jwt => match jwt {
                None => Err(InvalidReason::Jwt(JwtError::InvalidSignature)),
                Some(verifier) => {
                    checked.jwt_verified = true;
                    verifier
                        .verify(token, now)
                        .map(|claims| Principal::Jwt(Arc::new(claims)))
                        .map_err(InvalidReason::Jwt)
                }
            },
            Step::ApiKey => {
                let check = self.keys(class).verify(token);
                checked.kdf_runs = check.kdf_runs;
                check
                    .result
                    .map(|key_id| Principal::ApiKey { class, key_id })
                    .map_err(InvalidReason::ApiKey)
            }
            Step::Admin => {
                let result = match self.admin() {
                    AdminCredential::Hashed(keys) => {
                        let check = keys.verify(token);
                        checked.kdf_runs = check.kdf_runs;
                        check.result.map(Some)
                    }
                    other => other.verify(token),
                };
                result
                    .map(|key_id| Principal::Admin { key_id })
                    .map_err(InvalidReason::ApiKey)
            }
        };
        checked
    }
}

/// The [`Verifier`] that checks every step against a [`Policy`] directly, at time `now` (Unix
/// seconds): no cache, no pool. Tests and small embeddings use it; servers add a cache.
#[derive(Debug, Clone, Copy)]
pub struct Direct<'a> {
    policy: &'a Policy,
    now: u64,
}

impl<'a> Direct<'a> {
    /// Checks against `policy` at `now`.
    #[must_use]
    pub fn new(policy: &'a Policy, now: u64) -> Self {
        Self { policy, now }
    }
}

impl Verifier for Direct<'_> {
    type Unavailable = Infallible;

    fn verify(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> impl Future<Output = Result<StepOutcome, Infallible>> + Send {
        let checked = self
            .policy
            .check(step, class, token, self.policy.jwt(), self.now);
        ready(Ok(checked.outcome))
    }
}
