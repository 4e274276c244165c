//! The gateway's status report: mechanisms per class, key ids, cache and KDF statistics.
//! Nothing in it is a secret. The report's types are in [`types`].

pub(crate) mod types;

use auth_core::apikey::{AdminCredential, KeySet};
use auth_core::policy::{ClassMechanisms, RouteClass};

use crate::handle::AuthHandle;
pub use types::{
    AdminStatus, BudgetStats, CacheStatus, ClassStatus, IssuerStatus, JwksFetchStatus, JwksStatus,
    JwtKeyStatus, JwtStatus, KdfStatus, ManagedKeysStatus, RouteStatus, Status,
};

impl Status {
    /// The status of `handle` now.
    #[must_use]
    pub fn of(handle: &AuthHandle) -> Self {
        let state = handle.state();
        let stats = handle.stats();
        // Classes the managed keys protect count as protected (api_key).
        let mechanisms = state.effective_mechanisms();
        let class = |m: ClassMechanisms, keys: &KeySet| ClassStatus {
            mechanisms: [(m.jwt, "jwt"), (m.api_keys && !m.enforce_jwt, "api_key")]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect(),
            enforce_jwt: m.enforce_jwt,
            open: m.is_open(),
            key_ids: key_ids(keys),
        };
        let admin = match state.admin() {
            AdminCredential::Plain { source, .. } => AdminStatus {
                credential: "plain_token",
                source: Some(source),
                key_ids: Vec::new(),
            },
            AdminCredential::Hashed(keys) => AdminStatus {
                credential: "api_key",
                source: None,
                key_ids: key_ids(keys),
            },
            _ => AdminStatus {
                credential: "none",
                source: None,
                key_ids: Vec::new(),
            },
        };
        let settings = state.cache_settings();
        Self {
            generation: handle.generation(),
            ingest: class(mechanisms.ingest, state.keys(RouteClass::Ingest)),
            consumption: class(mechanisms.consumption, state.keys(RouteClass::Consumption)),
            admin,
            jwt: state.jwt().map(|v| JwtStatus {
                issuer: v.settings().issuer.clone(),
                audience: v.settings().audience.clone(),
                leeway_seconds: v.settings().leeway_seconds,
                keys: v
                    .keys()
                    .iter()
                    .map(|k| JwtKeyStatus {
                        alg: k.algorithm().as_str(),
                        kid: k.kid().map(str::to_owned),
                    })
                    .collect(),
                jwks: jwks_status(handle),
            }),
            token_issuer: issuer_status(&state),
            routes: state
                .routes()
                .iter()
                .map(|rule| RouteStatus {
                    prefix: rule.prefix().to_owned(),
                    class: rule.class().as_str(),
                })
                .collect(),
            cache: CacheStatus {
                entries: stats.cache_entries,
                max_entries: settings.max_entries,
                hits: stats.verify.hits,
                misses: stats.verify.misses,
                evictions: stats.verify.evictions,
                jwt_verifications: stats.verify.jwt_verifications,
                api_key_ttl_seconds: settings.api_key_ttl.as_secs(),
                failure_ttl_seconds: settings.failure_ttl.as_secs(),
            },
            kdf: KdfStatus {
                runs: stats.verify.kdf_runs,
                pool: stats.kdf,
            },
            budgets: handle.budget_stats(),
            trusted_proxies: state
                .trusted_proxies()
                .networks()
                .iter()
                .map(ToString::to_string)
                .collect(),
            managed_keys: state.managed_keys().map(|managed| ManagedKeysStatus {
                engine: managed.engine(),
                cached: managed.cached_count(),
                store_lookups: managed.store_lookups(),
                sync_interval_ms: u64::try_from(managed.settings().sync_interval.as_millis())
                    .unwrap_or(u64::MAX),
            }),
        }
    }
}

#[cfg(feature = "jwks")]
fn jwks_status(handle: &AuthHandle) -> Option<JwksStatus> {
    handle.jwks().map(|jwks| jwks.status())
}

#[cfg(not(feature = "jwks"))]
fn jwks_status(_: &AuthHandle) -> Option<JwksStatus> {
    None
}

#[cfg(feature = "issuer")]
fn issuer_status(state: &crate::AuthState) -> Option<IssuerStatus> {
    state.issuer().map(|issuer| IssuerStatus {
        kid: issuer.signing_key().kid().to_owned(),
        alg: issuer.signing_key().verifying_key().algorithm().as_str(),
        ttl_seconds: issuer.ttl().as_secs(),
        projects: issuer.project_ids().map(str::to_owned).collect(),
    })
}

#[cfg(not(feature = "issuer"))]
fn issuer_status(_: &crate::AuthState) -> Option<IssuerStatus> {
    None
}

fn key_ids(keys: &KeySet) -> Vec<String> {
    keys.ids().map(|id| id.to_string()).collect()
}
