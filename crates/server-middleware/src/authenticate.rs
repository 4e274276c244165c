//! The request pipeline: plan with `auth_core::policy`, then run each step through the cache,
//! with JWTs checked inline and KDF work sent to the pool.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_cache::verify::{Outcome, VerifyStats};
use auth_core::apikey::{AdminCredential, ApiKeyError, KeyId, KeySet, token_format};
use auth_core::header::Credentials;
use auth_core::jwt::{Claims, JwtError, JwtVerifier, looks_like_jwt};
use auth_core::path::PathError;
use auth_core::policy::{
    Denial, InvalidReason, Plan, Principal, RouteClass, Step, Verifier, combine_failures, plan,
    run_step,
};
use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::handle::Active;
use crate::jwks::Merged;
use crate::pool::KdfError;
use crate::state::AuthState;
use crate::telemetry;

/// Why a request is not let through, and so which response it gets.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The policy refused it: 400 or 401 as RFC 6750 says.
    Denied(Denial),
    /// Verifying it needs the KDF pool, which is full (or failing): 503 with `Retry-After`.
    Overloaded,
    /// Its path cannot be judged safely (see [`auth_core::path`]): 400 `invalid_request`.
    InvalidPath(PathError),
}

impl From<KdfError> for Rejection {
    fn from(_: KdfError) -> Self {
        Self::Overloaded
    }
}

pub(crate) async fn authenticate(
    active: &Arc<Active>,
    class: RouteClass,
    headers: &HeaderMap,
) -> Result<Principal, Rejection> {
    let credentials = auth_core::header::parse_authorization_headers(
        headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()),
        active.state.max_authorization_bytes(),
    );
    let (token, steps) = match plan(class, credentials, active.state.mechanisms()) {
        Plan::Allow(principal) => return Ok(principal),
        Plan::Deny(denial) => return Err(Rejection::Denied(denial)),
        Plan::Verify { token, steps } => (token.as_str(), steps),
    };
    let mut failures = Vec::new();
    for &step in steps {
        match verify_step(active, step, class, token).await? {
            Ok(principal) => return Ok(principal),
            Err(reason) => failures.push(reason),
        }
    }
    Err(Rejection::Denied(Denial::InvalidToken(combine_failures(
        &failures,
    ))))
}

/// The credential kind a request presented, for metrics and logs of refused requests.
pub(crate) fn presented_method(
    class: RouteClass,
    headers: &HeaderMap,
    max_authorization_bytes: usize,
) -> &'static str {
    let credentials = auth_core::header::parse_authorization_headers(
        headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()),
        max_authorization_bytes,
    );
    match credentials {
        Ok(Credentials::Bearer(_)) if class == RouteClass::Admin => "admin_token",
        Ok(Credentials::Bearer(token)) if looks_like_jwt(token.as_str()) => "jwt",
        Ok(Credentials::Bearer(_)) => "api_key",
        Ok(Credentials::None) | Err(_) => "none",
    }
}

async fn verify_step(
    active: &Arc<Active>,
    step: Step,
    class: RouteClass,
    token: &str,
) -> Result<Outcome, Rejection> {
    if step == Step::Jwt {
        return Ok(verify_jwt(active, class, token).await);
    }
    let compute = || compute_step(active, step, class, token);
    let verified = active
        .cache
        .get_or_verify(active.generation, step, class, token, compute)
        .await
        .map_err(|error| Rejection::from(*error))?;
    telemetry::cache_lookup(step, verified.from_cache);
    Ok(verified.outcome)
}

/// The JWT step. A token naming a `kid` the JWKS set lacks triggers a (rate-limited) refetch,
/// and when that brings a different set the token is checked once more against it before
/// answering.
async fn verify_jwt(active: &Arc<Active>, class: RouteClass, token: &str) -> Outcome {
    let Some(keys) = active.jwt.as_ref() else {
        return Err(InvalidReason::Jwt(JwtError::InvalidSignature));
    };
    let merged = keys.current();
    let outcome = verify_jwt_with(active, &merged, class, token).await;
    let Some(jwks) = keys.jwks() else {
        return outcome;
    };
    if outcome != Err(InvalidReason::Jwt(JwtError::UnknownKeyId))
        || !jwks.refetch_for_unknown_kid(merged.version).await
    {
        return outcome;
    }
    verify_jwt_with(active, &keys.current(), class, token).await
}

/// One JWT check through the cache. Outcomes are cached per configuration generation *and*
/// JWKS version, so a changed key set (a kid appearing, a key withdrawn) is never answered
/// from an entry made with the previous one.
async fn verify_jwt_with(
    active: &Arc<Active>,
    merged: &Merged,
    class: RouteClass,
    token: &str,
) -> Outcome {
    let generation = jwt_generation(active.generation, merged.version);
    let compute = || async {
        let stats = active.cache.stats();
        let started = Instant::now();
        let verifier = StateVerifier::new(&active.state, stats).with_jwt(&merged.verifier);
        let outcome = run_step(Step::Jwt, class, token, &verifier);
        telemetry::jwt_verified(started.elapsed());
        Ok::<_, Infallible>(outcome)
    };
    match active
        .cache
        .get_or_verify(generation, Step::Jwt, class, token, compute)
        .await
    {
        Ok(verified) => {
            telemetry::cache_lookup(Step::Jwt, verified.from_cache);
            verified.outcome
        }
        Err(never) => match *never {},
    }
}

/// The cache generation of JWT outcomes: generations stay far below 2^40, so adding the JWKS
/// version above them gives every (generation, version) pair its own key space.
fn jwt_generation(generation: u64, jwks_version: u64) -> u64 {
    generation.wrapping_add(jwks_version.wrapping_shl(40))
}

async fn compute_step(
    active: &Arc<Active>,
    step: Step,
    class: RouteClass,
    token: &str,
) -> Result<Outcome, KdfError> {
    let stats = Arc::clone(active.cache.stats());
    if !needs_kdf(&active.state, step, class, token) {
        let outcome = run_step(
            step,
            class,
            token,
            &StateVerifier::new(&active.state, &stats),
        );
        return Ok(outcome);
    }
    let state = Arc::clone(&active.state);
    let token = token.to_owned();
    let (outcome, elapsed) = active
        .pool
        .run(move || {
            let started = Instant::now();
            let outcome = run_step(step, class, &token, &StateVerifier::new(&state, &stats));
            (outcome, started.elapsed())
        })
        .await
        .inspect_err(|error| telemetry::kdf_refused(*error))?;
    telemetry::kdf_ran(elapsed);
    Ok(outcome)
}

/// Whether checking `token` in `step` runs PBKDF2 (tokens refused on shape alone do not).
fn needs_kdf(state: &AuthState, step: Step, class: RouteClass, token: &str) -> bool {
    match step {
        Step::Jwt => false,
        Step::ApiKey => keyset_needs_kdf(state.keys(class), token),
        Step::Admin => match state.admin() {
            AdminCredential::Hashed(keys) => keyset_needs_kdf(keys, token),
            _ => false,
        },
    }
}

fn keyset_needs_kdf(keys: &KeySet, token: &str) -> bool {
    token_format(token).is_ok_and(|format| keys.keys().iter().any(|k| k.format() == format))
}

/// [`Verifier`] over one configuration, counting the work it does.
pub(crate) struct StateVerifier<'a> {
    state: &'a AuthState,
    stats: &'a VerifyStats,
    jwt: Option<&'a JwtVerifier>,
}

impl<'a> StateVerifier<'a> {
    pub(crate) fn new(state: &'a AuthState, stats: &'a VerifyStats) -> Self {
        Self {
            state,
            stats,
            jwt: state.jwt(),
        }
    }

    /// Verifies JWTs with `verifier` (the state's keys merged with a JWKS set).
    pub(crate) fn with_jwt(mut self, verifier: &'a JwtVerifier) -> Self {
        self.jwt = Some(verifier);
        self
    }
}

impl Verifier for StateVerifier<'_> {
    fn jwt(&self, token: &str) -> Result<Arc<Claims>, JwtError> {
        let Some(verifier) = self.jwt else {
            return Err(JwtError::InvalidSignature);
        };
        self.stats.record_jwt_verification();
        verifier.verify(token, unix_now()).map(Arc::new)
    }

    fn api_key(&self, class: RouteClass, token: &str) -> Result<KeyId, ApiKeyError> {
        let check = self.state.keys(class).verify(token);
        self.stats.record_kdf_runs(check.kdf_runs);
        check.result
    }

    fn admin(&self, token: &str) -> Result<Option<KeyId>, ApiKeyError> {
        match self.state.admin() {
            AdminCredential::Hashed(keys) => {
                let check = keys.verify(token);
                self.stats.record_kdf_runs(check.kdf_runs);
                check.result.map(Some)
            }
            other => other.verify(token),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
