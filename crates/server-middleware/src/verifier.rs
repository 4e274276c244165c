//! [`CachedVerifier`]: the server's [`Verifier`] for [`auth_core::policy::decide`] — every step
//! through the verification cache, KDF work on the bounded fair pool (charged to the client,
//! and refused at no cost once the client's failure budget is spent), JWTs against the static
//! keys merged with the remote key set.

use std::sync::Arc;
use std::time::Instant;

use auth_cache::client::ClientId;
use auth_cache::verify::{Lookup, Outcome};
use auth_core::jwt::JwtError;
use auth_core::policy::{Checked, InvalidReason, RouteClass, Step, StepOutcome, Verifier};

use crate::response::Unavailable;
use crate::runtime::{Active, Merged};
use crate::telemetry;

/// Verifies steps for one request, from `client`, against one installed configuration.
pub(crate) struct CachedVerifier<'a> {
    active: &'a Active,
    client: Option<ClientId>,
}

impl<'a> CachedVerifier<'a> {
    pub(crate) fn new(active: &'a Active, client: Option<ClientId>) -> Self {
        Self { active, client }
    }

    /// A JWT step. A token naming a `kid` the remote set lacks triggers a (rate-limited)
    /// refetch, and when that brings a different set the token is checked once more against it.
    async fn jwt(&self, class: RouteClass, token: &str) -> Outcome {
        let Some(keys) = self.active.jwt.as_ref() else {
            return Err(InvalidReason::Jwt(JwtError::InvalidSignature));
        };
        let merged = keys.current();
        let outcome = self.jwt_with(&merged, class, token).await;
        #[cfg(feature = "jwks")]
        if outcome == Err(InvalidReason::Jwt(JwtError::UnknownKeyId))
            && let Some(jwks) = keys.jwks()
            && Box::pin(jwks.refetch_for_unknown_kid(merged.version)).await
        {
            return self.jwt_with(&keys.current(), class, token).await;
        }
        outcome
    }

    /// One JWT check through the cache, keyed by the remote set's version too, so a changed
    /// set (a kid appearing, a key withdrawn) is never answered from an entry made with the
    /// previous one.
    async fn jwt_with(&self, merged: &Merged, class: RouteClass, token: &str) -> Outcome {
        let active = self.active;
        let lookup = Lookup::new(active.generation, Step::Jwt, class, token)
            .with_key_version(merged.version);
        let compute = || async {
            let started = Instant::now();
            let checked = active.state.policy().check(
                Step::Jwt,
                class,
                token,
                Some(&merged.verifier),
                active.clock.unix_now(),
            );
            telemetry::jwt_verified(started.elapsed());
            Ok::<_, std::convert::Infallible>(self.record(checked))
        };
        match active.cache.get_or_verify(lookup, compute).await {
            Ok(verified) => {
                telemetry::cache_lookup(Step::Jwt, verified.from_cache);
                verified.outcome
            }
            Err(never) => match *never {},
        }
    }

    /// An API-key or admin step through the cache; PBKDF2 runs on the pool.
    async fn keyed(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Result<Outcome, Unavailable> {
        let active = self.active;
        let lookup = Lookup::new(active.generation, step, class, token);
        let compute = || self.compute_keyed(step, class, token);
        let verified = match active.cache.get_or_verify(lookup, compute).await {
            Ok(verified) => verified,
            Err(error) => {
                if let Unavailable::OverBudget(_) = *error {
                    active.budgets.hold_refusal().await;
                }
                return Err(*error);
            }
        };
        telemetry::cache_lookup(step, verified.from_cache);
        Ok(verified.outcome)
    }

    async fn compute_keyed(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Result<Outcome, Unavailable> {
        let active = self.active;
        let now = active.clock.unix_now();
        let policy = active.state.policy();
        let cost = policy.kdf_cost(step, class, token);
        if cost == 0 {
            return Ok(self.record(policy.check(step, class, token, None, now)));
        }
        // Charged before the work, so a client's concurrent requests cannot overshoot its
        // budget; settled with the runs that really failed.
        let charge = active
            .budgets
            .reserve(self.client, None, cost)
            .map_err(Unavailable::OverBudget)?;
        let state = Arc::clone(&active.state);
        let token = token.to_owned();
        let ran = active
            .pool
            .run(self.client, move || {
                let started = Instant::now();
                let checked = state.policy().check(step, class, &token, None, now);
                (checked, started.elapsed())
            })
            .await;
        let failures = match &ran {
            Ok((checked, _)) if checked.outcome.is_err() => checked.kdf_runs,
            _ => 0,
        };
        charge.settle(failures);
        let (checked, elapsed) = ran
            .inspect_err(|error| telemetry::kdf_refused(*error))
            .map_err(Unavailable::Pool)?;
        telemetry::kdf_ran(elapsed);
        Ok(self.record(checked))
    }

    /// A managed key (`kgm_…`, docs/keys.md): shape and checksum first (no I/O), then memory;
    /// only an id memory knows nothing about queries the store, charged to the client's failure
    /// budget before it runs (given back when the store has the id). An id memory knows to be
    /// unknown costs nothing and is not charged again. A store that cannot answer fails closed
    /// (503).
    async fn managed(
        &self,
        managed: &key_store::ManagedKeys,
        class: RouteClass,
        token: &str,
    ) -> Result<Outcome, Unavailable> {
        use auth_core::apikey::ApiKeyError;

        let (key_class, parsed) = match self.managed_now(managed, class, token) {
            ManagedNow::Decided(decided) => return decided,
            ManagedNow::FromStore(key_class, parsed) => (key_class, parsed),
        };
        // Memory knows nothing of this id: the store is asked, charged like a failed check.
        let budgets = &self.active.budgets;
        let charge = match budgets.reserve(self.client, None, 1) {
            Ok(charge) => charge,
            Err(over) => {
                budgets.hold_refusal().await;
                return Err(Unavailable::OverBudget(over));
            }
        };
        // Boxed: the store's query is the rare path, and large.
        let loaded = Box::pin(managed.load(parsed.id())).await;
        charge.settle(u32::from(matches!(loaded, Ok(None))));
        let key = match loaded {
            Ok(Some(key)) => key,
            Ok(None) => return Ok(Err(InvalidReason::ApiKey(ApiKeyError::NoMatch))),
            Err(error) => {
                tracing::warn!(%error, "the key store cannot be reached; refusing an uncached managed key with 503");
                return Err(Unavailable::Store);
            }
        };
        judged(managed.judge(&key, &parsed, key_class), class)
    }

    /// A managed key judged without the store: its shape, then what memory knows of its id.
    fn managed_now(
        &self,
        managed: &key_store::ManagedKeys,
        class: RouteClass,
        token: &str,
    ) -> ManagedNow {
        use auth_core::apikey::{ApiKeyError, ManagedToken};
        use key_store::{Cached, KeyClass};

        let refused = |error| ManagedNow::Decided(Ok(Err(InvalidReason::ApiKey(error))));
        let Some(key_class) = KeyClass::of_route(class) else {
            return refused(ApiKeyError::NoMatch);
        };
        let parsed = match ManagedToken::parse(token) {
            Ok(parsed) => parsed,
            Err(error) => return refused(error),
        };
        match managed.cached(parsed.id()) {
            Cached::Known(key) => {
                ManagedNow::Decided(judged(managed.judge(&key, &parsed, key_class), class))
            }
            Cached::Unknown => refused(ApiKeyError::NoMatch),
            Cached::Miss => ManagedNow::FromStore(key_class, parsed),
        }
    }

    /// Counts the work a step did and hands on its outcome.
    fn record(&self, checked: Checked) -> Outcome {
        let stats = self.active.cache.stats();
        stats.record_kdf_runs(checked.kdf_runs);
        if checked.jwt_verified {
            stats.record_jwt_verification();
        }
        checked.outcome
    }
}

/// What memory alone says of a managed key.
enum ManagedNow {
    Decided(Result<Outcome, Unavailable>),
    /// Only the store knows this id: the token's parts, for the lookup.
    FromStore(key_store::KeyClass, auth_core::apikey::ManagedToken),
}

/// A managed key's judgement as a step outcome.
fn judged(judged: key_store::Judged, class: RouteClass) -> Result<Outcome, Unavailable> {
    use auth_core::policy::Principal;
    use key_store::Judged;
    match judged {
        Judged::Allowed(key) => Ok(Ok(Principal::ManagedKey {
            class,
            id: key.record.id,
            name: Arc::from(key.record.name.as_str()),
        })),
        Judged::Refused(error) => Ok(Err(InvalidReason::ApiKey(error))),
        Judged::Limited(limited) => Err(Unavailable::RateLimited(limited)),
    }
}

impl Verifier for CachedVerifier<'_> {
    type Unavailable = Unavailable;

    /// A cached outcome, or a managed key memory knows. A cached JWT outcome of an unknown
    /// `kid` is left to [`Verifier::verify`], which may refetch the remote key set.
    fn verify_now(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Option<Result<StepOutcome, Unavailable>> {
        let active = self.active;
        if let Some(managed) = active.state.managed_keys()
            && step != Step::Jwt
            && auth_core::apikey::is_managed(token)
        {
            return match self.managed_now(managed, class, token) {
                ManagedNow::Decided(decided) => Some(decided),
                ManagedNow::FromStore(..) => None,
            };
        }
        let lookup = Lookup::new(active.generation, step, class, token);
        let verified = match step {
            Step::Jwt => {
                let keys = active.jwt.as_ref()?;
                let merged = keys.current();
                let may_refetch = keys.may_refetch();
                active
                    .cache
                    .get_now(lookup.with_key_version(merged.version), |outcome| {
                        !(may_refetch
                            && *outcome == Err(InvalidReason::Jwt(JwtError::UnknownKeyId)))
                    })?
            }
            Step::ApiKey | Step::Admin => active.cache.get_now(lookup, |_| true)?,
        };
        telemetry::cache_lookup(step, true);
        Some(Ok(verified.outcome))
    }

    async fn verify(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Result<StepOutcome, Unavailable> {
        if let Some(managed) = self.active.state.managed_keys()
            && step != Step::Jwt
            && auth_core::apikey::is_managed(token)
        {
            return self.managed(managed, class, token).await;
        }
        match step {
            Step::Jwt => Ok(self.jwt(class, token).await),
            Step::ApiKey | Step::Admin => self.keyed(step, class, token).await,
        }
    }
}
