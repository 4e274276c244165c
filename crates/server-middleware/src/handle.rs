//! [`AuthHandle`]: the runtime. It serves one [`AuthState`] at a time, swaps it atomically on
//! reload, and owns what outlives a configuration: the verification cache, the KDF pool, the
//! running JWKS fetchers and their statistics.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use std::net::IpAddr;

use auth_cache::client::ClientId;
use auth_cache::clock::{Clock, SystemClock};
use auth_cache::pool::{KdfPool, PoolCounters, PoolSnapshot};
use auth_cache::verify::{StatsSnapshot, VerificationCache, VerifyStats};
use auth_core::header::{Credentials, MalformedHeader, parse_authorization_headers};
use auth_core::policy::{
    CredentialKind, Denial, Principal, Progress, Resume, RouteClass, decide_now,
};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use tracing::Instrument;

#[cfg(feature = "jwks")]
use crate::jwks::Jwks;
use crate::response::Rejection;
use crate::runtime::Active;
use crate::state::{AuthState, AuthStateBuilder, StateError};
use crate::status::types::BudgetStats;
use crate::telemetry::{self, Logged, Outcome};
use crate::verifier::CachedVerifier;

/// Any error a reload callback returns; its message is shown to the admin who asked.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Reloader = dyn Fn() -> Result<AuthState, BoxError> + Send + Sync;

/// Why a reload did not happen. The previous configuration stays active in every case.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// The handle was built without a reload callback.
    #[error("reloading is not available: no reload callback was configured")]
    NotConfigured,
    /// The callback refused the new configuration.
    #[error("the new configuration was refused: {0}; the previous configuration stays active")]
    Refused(String),
    /// The callback panicked or could not run.
    #[error("the reload callback failed to run; the previous configuration stays active")]
    Failed,
}

struct Shared {
    active: ArcSwap<Active>,
    reloader: Option<Arc<Reloader>>,
    /// Serialises installs, so generations and cache reuse are decided one at a time.
    install_lock: Mutex<()>,
    /// Serialises reloads, so two admins reloading at once run the callback one after another.
    reload_lock: tokio::sync::Mutex<()>,
    verify_stats: Arc<VerifyStats>,
    pool_counters: Arc<PoolCounters>,
    clock: Arc<dyn Clock>,
}

/// The middleware's shared state: clone it freely (it is an `Arc`).
#[derive(Clone)]
pub struct AuthHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for AuthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHandle")
            .field("generation", &self.generation())
            .field("reloadable", &self.shared.reloader.is_some())
            .finish_non_exhaustive()
    }
}

/// Statistics for status output and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleStats {
    /// Verification cache and verification counters.
    pub verify: StatsSnapshot,
    /// Approximate live cache entries.
    pub cache_entries: u64,
    /// The KDF pool.
    pub kdf: PoolSnapshot,
}

/// Builds an [`AuthHandle`] with a reload callback or another clock.
pub struct HandleBuilder {
    state: AuthState,
    reloader: Option<Arc<Reloader>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HandleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandleBuilder")
            .field("reloadable", &self.reloader.is_some())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl HandleBuilder {
    /// [`AuthHandle::reload`] calls `reloader` (on a blocking thread) for the next
    /// configuration. The callback is where the application reads its files.
    #[must_use]
    pub fn reloader<F>(mut self, reloader: F) -> Self
    where
        F: Fn() -> Result<AuthState, BoxError> + Send + Sync + 'static,
    {
        self.reloader = Some(Arc::new(reloader));
        self
    }

    /// The clock that decides expiry (the system clock by default; tests move their own).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The handle, serving the state.
    #[must_use]
    pub fn build(self) -> AuthHandle {
        let verify_stats = Arc::<VerifyStats>::default();
        let pool_counters = Arc::<PoolCounters>::default();
        let cache = Arc::new(VerificationCache::with_clock(
            *self.state.cache_settings(),
            Arc::clone(&verify_stats),
            Arc::clone(&self.clock),
        ));
        let pool = KdfPool::with_counters(*self.state.kdf_settings(), Arc::clone(&pool_counters));
        warn_open_classes(&self.state);
        let generation = cache.generation();
        let active = Active::new(
            self.state,
            generation,
            cache,
            pool,
            Arc::clone(&self.clock),
            None,
        );
        AuthHandle {
            shared: Arc::new(Shared {
                active: ArcSwap::from_pointee(active),
                reloader: self.reloader,
                install_lock: Mutex::new(()),
                reload_lock: tokio::sync::Mutex::new(()),
                verify_stats,
                pool_counters,
                clock: self.clock,
            }),
        }
    }
}

impl AuthStateBuilder {
    /// Builds the state and a handle serving it: the one call an embedding needs before
    /// [`AuthHandle::require`].
    ///
    /// # Errors
    /// [`StateError`] as [`AuthStateBuilder::build`].
    pub fn into_handle(self) -> Result<AuthHandle, StateError> {
        self.build().map(AuthHandle::new)
    }
}

impl AuthHandle {
    /// A handle serving `state`, without reload support.
    #[must_use]
    pub fn new(state: AuthState) -> Self {
        Self::builder(state).build()
    }

    /// A handle serving `state`; [`AuthHandle::reload`] calls `reloader` for the next
    /// configuration (see [`HandleBuilder::reloader`]).
    #[must_use]
    pub fn with_reloader<F>(state: AuthState, reloader: F) -> Self
    where
        F: Fn() -> Result<AuthState, BoxError> + Send + Sync + 'static,
    {
        Self::builder(state).reloader(reloader).build()
    }

    /// A builder for a handle serving `state`.
    #[must_use]
    pub fn builder(state: AuthState) -> HandleBuilder {
        HandleBuilder {
            state,
            reloader: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration being served now.
    #[must_use]
    pub fn state(&self) -> Arc<AuthState> {
        Arc::clone(&self.shared.active.load().state)
    }

    /// The cache generation of the configuration being served (it changes on every install).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.shared.active.load().generation
    }

    /// The pool KDF work runs on (the token endpoint uses it too).
    #[must_use]
    pub fn kdf_pool(&self) -> KdfPool {
        self.shared.active.load().pool.clone()
    }

    /// The clock that decides expiry.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.clock)
    }

    /// The running remote key set, if the configuration has one.
    #[cfg(feature = "jwks")]
    #[must_use]
    pub fn jwks(&self) -> Option<Jwks> {
        let active = self.shared.active.load();
        active.jwt.as_ref().and_then(|keys| keys.jwks()).cloned()
    }

    #[cfg_attr(
        not(feature = "issuer"),
        allow(dead_code, reason = "only the token issuer records outside a request")
    )]
    pub(crate) fn stats_handle(&self) -> Arc<VerifyStats> {
        Arc::clone(&self.shared.verify_stats)
    }

    /// Installs `state` now and returns its cache generation; every cached verification of the
    /// previous configuration is dropped.
    pub fn replace(&self, state: AuthState) -> u64 {
        let _installing = self
            .shared
            .install_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old = self.shared.active.load_full();
        let cache = if old.cache.settings() == state.cache_settings() {
            Arc::clone(&old.cache)
        } else {
            Arc::new(VerificationCache::with_clock(
                *state.cache_settings(),
                Arc::clone(&self.shared.verify_stats),
                Arc::clone(&self.shared.clock),
            ))
        };
        let pool = if old.pool.settings() == *state.kdf_settings() {
            old.pool.clone()
        } else {
            KdfPool::with_counters(
                *state.kdf_settings(),
                Arc::clone(&self.shared.pool_counters),
            )
        };
        // Generations only ever grow, also when the cache was rebuilt with a counter of its own.
        let generation = cache.invalidate_all().max(old.generation.wrapping_add(1));
        warn_open_classes(&state);
        let active = Active::new(
            state,
            generation,
            cache,
            pool,
            Arc::clone(&self.shared.clock),
            Some(&old),
        );
        self.shared.active.store(Arc::new(active));
        tracing::info!(generation, "keygate configuration installed");
        generation
    }

    /// Asks the reload callback for a new configuration and installs it; on any failure the
    /// previous configuration keeps serving. Returns the new cache generation.
    ///
    /// # Errors
    /// [`ReloadError`] when there is no callback, it refused, or it failed to run.
    pub async fn reload(&self) -> Result<u64, ReloadError> {
        let reloader = self
            .shared
            .reloader
            .clone()
            .ok_or(ReloadError::NotConfigured)?;
        let _reloading = self.shared.reload_lock.lock().await;
        let loaded = tokio::task::spawn_blocking(move || reloader())
            .await
            .map_err(|_| ReloadError::Failed)?;
        match loaded {
            Ok(state) => Ok(self.replace(state)),
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(error = %message, "keygate reload refused; keeping the previous configuration");
                Err(ReloadError::Refused(message))
            }
        }
    }

    /// Classifies `path` by the route rules' prefixes ([`AuthState::routes`]) and applies the
    /// policy for that class: what the gateway does, and what
    /// [`AuthHandle::by_path_prefix`] layers do for every request.
    ///
    /// # Errors
    /// [`Rejection`] describing the response to send.
    pub async fn authorize(
        &self,
        path: &str,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Result<Principal, Rejection> {
        match self.decide_now(Route::Path(path), headers, client) {
            Decision::Decided(decided) => decided,
            Decision::Pending(pending) => pending.finish(headers).await,
        }
    }

    /// Applies the policy of `class` to a request's headers, whatever its path: what
    /// [`AuthHandle::require`] layers do.
    ///
    /// # Errors
    /// [`Rejection`] describing the response to send.
    pub async fn authorize_class(
        &self,
        class: RouteClass,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Result<Principal, Rejection> {
        match self.decide_now(Route::Class(class), headers, client) {
            Decision::Decided(decided) => decided,
            Decision::Pending(pending) => pending.finish(headers).await,
        }
    }

    /// The decision for one request as far as it goes without waiting (through
    /// [`auth_core::policy::decide_now`]): a request whose steps the cache answers is decided
    /// here, with no future; the rest is [`PendingDecision::finish`]ed with the same headers.
    pub(crate) fn decide_now(
        &self,
        route: Route<'_>,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Decision {
        Self::decide_with(self.shared.active.load(), route, headers, client)
    }

    /// [`AuthHandle::decide_now`] for `request`, whose client ([`AuthHandle::client_of`]) is
    /// found by the same installed configuration that decides: one load of it per request.
    pub(crate) fn decide_request<B>(
        &self,
        route: Route<'_>,
        request: &http::Request<B>,
    ) -> Decision {
        let active = self.shared.active.load();
        let client = active.state.trusted_proxies().client_of(request);
        Self::decide_with(active, route, request.headers(), client)
    }

    fn decide_with(
        active: arc_swap::Guard<Arc<Active>>,
        route: Route<'_>,
        headers: &HeaderMap,
        client: Option<IpAddr>,
    ) -> Decision {
        let class = match route {
            Route::Class(class) => class,
            Route::Path(path) => match active.state.routes().classify(path) {
                Ok(class) => class,
                Err(invalid) => return Decision::Decided(Err(Rejection::InvalidPath(invalid))),
            },
        };
        if class == RouteClass::Public {
            return Decision::Decided(Ok(Principal::Public));
        }
        let credentials = presented_credentials(&active, headers);
        let presented = CredentialKind::presented(class, &credentials);
        let span = telemetry::auth_span(class);
        let verifier = CachedVerifier::new(&active, client.map(ClientId::of));
        let mechanisms = active.state.effective_mechanisms();
        let progress = span.in_scope(|| decide_now(class, credentials, &mechanisms, &verifier));
        match progress {
            Progress::Decided(decided) => {
                let decided = decided.map_err(Rejection::from);
                record(&span, class, presented, &decided);
                Decision::Decided(decided)
            }
            Progress::Pending(pending) => Decision::Pending(PendingDecision {
                active: arc_swap::Guard::into_inner(active),
                client,
                class,
                presented,
                span,
                resume: pending.detach(),
            }),
        }
    }

    /// The client of `request` by the current configuration's trusted proxies, from its
    /// `ConnectInfo` peer; `None` when the server runs without connect info (then no failure
    /// budget applies).
    #[must_use]
    pub fn client_of<B>(&self, request: &http::Request<B>) -> Option<IpAddr> {
        self.shared
            .active
            .load()
            .state
            .trusted_proxies()
            .client_of(request)
    }

    /// The failure budgets' counters, for status output.
    #[must_use]
    pub fn budget_stats(&self) -> BudgetStats {
        let active = self.shared.active.load();
        BudgetStats {
            clients: active.budgets.clients.snapshot(),
            projects: active.budgets.projects.snapshot(),
        }
    }

    #[cfg_attr(
        not(feature = "issuer"),
        allow(
            dead_code,
            reason = "the token issuer reads the installed configuration"
        )
    )]
    pub(crate) fn active(&self) -> Arc<Active> {
        self.shared.active.load_full()
    }

    /// Cache, verification and KDF statistics, read without locks.
    #[must_use]
    pub fn stats(&self) -> HandleStats {
        let active = self.shared.active.load();
        HandleStats {
            verify: self.shared.verify_stats.snapshot(),
            cache_entries: active.cache.entry_count(),
            kdf: active.pool.snapshot(),
        }
    }
}

/// The `Authorization` headers of a request, parsed under the installed size cap.
fn presented_credentials<'h>(
    active: &Active,
    headers: &'h HeaderMap,
) -> Result<Credentials<'h>, MalformedHeader> {
    parse_authorization_headers(
        headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()),
        active.state.max_authorization_bytes(),
    )
}

/// What a request is judged by: a class (a [`AuthHandle::require`] layer) or its path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route<'a> {
    Class(RouteClass),
    Path(&'a str),
}

/// [`AuthHandle::decide_now`]'s answer.
pub(crate) enum Decision {
    Decided(Result<Principal, Rejection>),
    Pending(PendingDecision),
}

/// A decision that must wait for the KDF pool, a verification or the key store; it holds the
/// configuration it was started with and owns nothing of the request.
pub(crate) struct PendingDecision {
    active: Arc<Active>,
    client: Option<IpAddr>,
    class: RouteClass,
    presented: CredentialKind,
    span: tracing::Span,
    resume: Resume,
}

impl PendingDecision {
    /// Finishes the decision for the same request's `headers`, in the decision's span.
    pub(crate) async fn finish(self, headers: &HeaderMap) -> Result<Principal, Rejection> {
        let Self {
            active,
            client,
            class,
            presented,
            span,
            resume,
        } = self;
        let credentials = presented_credentials(&active, headers);
        let verifier = CachedVerifier::new(&active, client.map(ClientId::of));
        let mechanisms = active.state.effective_mechanisms();
        let decided = auth_core::policy::resume(resume, credentials, &mechanisms, &verifier)
            .instrument(span.clone())
            .await
            .map_err(Rejection::from);
        record(&span, class, presented, &decided);
        decided
    }
}

/// Records a decision in its span, the log and the metrics.
fn record(
    span: &tracing::Span,
    class: RouteClass,
    presented: CredentialKind,
    decided: &Result<Principal, Rejection>,
) {
    match decided {
        Ok(principal) => {
            let logged = Logged::Allowed { principal };
            telemetry::record(span, class, principal.kind(), Outcome::Allowed, &logged);
        }
        Err(Rejection::Denied(denial)) => {
            let outcome = match denial {
                Denial::NoCredentials => Outcome::NoCredentials,
                Denial::Malformed(_) => Outcome::InvalidRequest,
                _ => Outcome::InvalidToken,
            };
            let logged = Logged::Refused { denial };
            telemetry::record(span, class, presented, outcome, &logged);
        }
        Err(Rejection::TooManyRequests { .. } | Rejection::RateLimited { .. }) => {
            telemetry::record(
                span,
                class,
                presented,
                Outcome::OverBudget,
                &Logged::OverBudget,
            );
        }
        Err(_) => telemetry::record(span, class, presented, Outcome::Overloaded, &Logged::Shed),
    }
}

fn warn_open_classes(state: &AuthState) {
    for class in state.open_classes() {
        tracing::warn!(
            class = class.as_str(),
            "no authentication is configured for {class} routes: they are open to everyone"
        );
    }
    if !state.mechanisms().admin {
        tracing::warn!(
            class = RouteClass::Admin.as_str(),
            "no admin credential is configured: every admin request is refused"
        );
    }
}
