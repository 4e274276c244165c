//! [`AuthHandle`]: the live configuration, swapped atomically on reload, plus the caches and
//! the KDF pool that outlive it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use auth_cache::verify::{StatsSnapshot, VerificationCache, VerifyStats};
use auth_core::policy::{Principal, RouteClass};
use http::HeaderMap;
use tracing::Instrument;

use crate::authenticate::{Rejection, authenticate};
use crate::jwks::JwtKeys;
use crate::layer::AuthLayer;
use crate::pool::{KdfPool, PoolCounters, PoolSnapshot};
use crate::state::AuthState;
use crate::telemetry;

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

/// One installed configuration with the cache generation it verifies under.
pub(crate) struct Active {
    pub(crate) state: Arc<AuthState>,
    pub(crate) generation: u64,
    pub(crate) cache: Arc<VerificationCache>,
    pub(crate) pool: KdfPool,
    /// The state's JWT keys merged with its JWKS set; `None` without JWT.
    pub(crate) jwt: Option<JwtKeys>,
}

impl Active {
    fn new(
        state: AuthState,
        generation: u64,
        cache: Arc<VerificationCache>,
        pool: KdfPool,
    ) -> Self {
        // Building the merged view starts the JWKS refresher when a runtime is at hand.
        let jwt = state
            .jwt()
            .map(|verifier| JwtKeys::new(verifier.clone(), state.jwks().cloned()));
        Self {
            state: Arc::new(state),
            generation,
            cache,
            pool,
            jwt,
        }
    }
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

impl AuthHandle {
    /// A handle serving `state`, without reload support.
    #[must_use]
    pub fn new(state: AuthState) -> Self {
        Self::build(state, None)
    }

    /// A handle serving `state`; [`AuthHandle::reload`] calls `reloader` (on a blocking thread)
    /// for the next configuration. The callback is where the application reads its files.
    #[must_use]
    pub fn with_reloader<F>(state: AuthState, reloader: F) -> Self
    where
        F: Fn() -> Result<AuthState, BoxError> + Send + Sync + 'static,
    {
        Self::build(state, Some(Arc::new(reloader)))
    }

    fn build(state: AuthState, reloader: Option<Arc<Reloader>>) -> Self {
        let verify_stats = Arc::<VerifyStats>::default();
        let pool_counters = Arc::<PoolCounters>::default();
        let cache = Arc::new(VerificationCache::with_stats(
            *state.cache_settings(),
            Arc::clone(&verify_stats),
        ));
        let pool = KdfPool::with_counters(*state.kdf_settings(), Arc::clone(&pool_counters));
        warn_open_classes(&state);
        let active = Active::new(state, cache.generation(), cache, pool);
        Self {
            shared: Arc::new(Shared {
                active: ArcSwap::from_pointee(active),
                reloader,
                install_lock: Mutex::new(()),
                reload_lock: tokio::sync::Mutex::new(()),
                verify_stats,
                pool_counters,
            }),
        }
    }

    /// The layer that enforces this handle's configuration.
    #[must_use]
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.clone())
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

    pub(crate) fn stats_handle(&self) -> Arc<VerifyStats> {
        Arc::clone(&self.shared.verify_stats)
    }

    pub(crate) fn active(&self) -> Arc<Active> {
        self.shared.active.load_full()
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
        let state = state.keep_running_jwks(&old.state);
        let cache = if old.cache.settings() == state.cache_settings() {
            Arc::clone(&old.cache)
        } else {
            Arc::new(VerificationCache::with_stats(
                *state.cache_settings(),
                Arc::clone(&self.shared.verify_stats),
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
        self.shared
            .active
            .store(Arc::new(Active::new(state, generation, cache, pool)));
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

    /// Applies the policy to a request's path and headers, through the cache and the pool.
    /// This is what [`AuthLayer`] does for every request.
    ///
    /// # Errors
    /// [`Rejection`] describing the response to send.
    pub async fn authorize(&self, path: &str, headers: &HeaderMap) -> Result<Principal, Rejection> {
        let active = self.active();
        let class = active
            .state
            .routes()
            .classify(path)
            .map_err(Rejection::InvalidPath)?;
        if class == RouteClass::Public {
            return Ok(Principal::Public);
        }
        let span = telemetry::auth_span(class);
        let result = authenticate(&active, class, headers)
            .instrument(span.clone())
            .await;
        let max_bytes = active.state.max_authorization_bytes();
        telemetry::observe(&span, class, headers, max_bytes, &result);
        result
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
