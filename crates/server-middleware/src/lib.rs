#![doc = include_str!("../../../docs/embedding.md")]
//!
//! # Pieces
//! - [`AuthState`] (built with [`AuthState::builder`]) is one complete configuration — policy
//!   data only; the embedding application maps its own configuration onto the builder. This
//!   crate reads no files and no environment.
//! - [`AuthHandle`] is the runtime: it serves one state at a time and swaps it atomically
//!   ([`AuthHandle::replace`], or [`AuthHandle::reload`] with the callback given to
//!   [`HandleBuilder::reloader`]; a refused configuration leaves the old one serving). It owns
//!   the verification cache ([`auth_cache::verify`]), the bounded KDF pool
//!   ([`auth_cache::pool`]) and the running remote key sets.
//! - [`AuthHandle::require`] makes the [`AuthLayer`] that protects what it wraps with one
//!   class's policy; [`AuthHandle::by_path_prefix`] the one that classifies by path (the
//!   gateway's). [`Authenticated`] and [`Claims`] extract the result in handlers.
//! - [`CanonicalRequestLayer`] puts every request's path in the one normal form that is routed,
//!   judged and forwarded.
//! - Behind cargo features (all on by default): `jwks` — [`Jwks`] trusts the keys of a remote
//!   JWK set (refreshed every 10 min, refetched on an unknown `kid` at most once per 10 s, the
//!   last good set kept); `issuer` — [`token_issuer_router`] serves `POST /auth/token` and
//!   `GET /.well-known/jwks.json`; `admin` — [`admin_router`] serves `/admin/status` and
//!   `/admin/reload`; `prometheus` — [`install_prometheus_recorder`] and [`metrics_router`].
//!
//! # Costs
//! Verification results are cached by a keyed digest of the token (API-key successes 5 min,
//! JWTs until `exp`, failures 10 s, 10 000 entries), so a repeated credential costs a hash and a
//! lookup.
//! JWTs are verified inline; PBKDF2 runs on a bounded pool of blocking threads, and a request
//! that would need it while its queue is full gets 503 with `Retry-After` (cached credentials
//! keep working).
//!
//! # Decisions where the reference is silent
//! - Prefix classification judges a path's normal form and refuses one whose class would depend
//!   on how an upstream reads letter case or `;` parameters ([`auth_core::routes`]).
//! - The token issuer signs with `iss`/`aud` of the JWT settings; without JWT settings it needs
//!   its own (`TokenIssuer::with_claims`), which then also become this server's JWT check. Its
//!   public key is always added to the trusted keys. An issuer therefore makes JWTs a configured
//!   mechanism: `ingest`/`consumption` stop being open once an issuer exists.
//! - An unknown project id costs the same KDF work as a wrong key, and both get one
//!   byte-identical 401 `invalid_client` response.
//! - A refused reload answers 422 `reload_failed` (the message is the callback's error); without
//!   a callback 501. The KDF pool and cache are rebuilt on reload only if their settings changed.
//! - A shed request gets 503 `temporarily_unavailable` with `Retry-After: 1`; it is not cached.
//! - A token whose `kid` is not in the remote set waits for the refetch it triggers (bounded by
//!   `JwksSettings::timeout`) and is checked once more if the set changed. JWT outcomes are
//!   cached per key-set version, so neither a cached failure hides a new key nor a cached
//!   success outlives a withdrawn one. A reload with the same URL and settings keeps the
//!   running `Jwks` and its keys.

#[cfg(feature = "admin")]
mod admin;
mod canonical;
mod client;
mod cors;
mod extract;
#[cfg(feature = "forward-auth")]
mod forward_auth;
mod handle;
mod identity;
#[cfg(feature = "issuer")]
mod issuer;
#[cfg(feature = "jwks")]
pub mod jwks;
mod layer;
#[cfg(feature = "prometheus")]
mod prometheus;
mod response;
mod runtime;
mod state;
mod status;
pub mod telemetry;
mod verifier;

pub use auth_cache::budget::{BudgetSettings, BudgetSnapshot};
pub use auth_cache::pool::{KdfError, KdfPool, KdfSettings, PoolSnapshot};
pub use auth_cache::verify::CacheSettings;
pub use auth_core;
pub use auth_core::policy::{Principal, RouteClass};

#[cfg(feature = "admin")]
pub use admin::admin_router;
pub use canonical::{CanonicalFuture, CanonicalRequest, CanonicalRequestLayer};
pub use client::TrustedProxies;
pub use cors::{Cors, CorsFuture, CorsLayer, CorsSettings};
pub use extract::{Authenticated, Claims, ExtractError};
#[cfg(feature = "forward-auth")]
pub use forward_auth::{FORWARD_AUTH_PATH, forward_auth_router};
pub use handle::{AuthHandle, BoxError, HandleBuilder, HandleStats, ReloadError};
pub use identity::{IdentityHeaders, KEY_NAME_HEADER, METHOD_HEADER, SUBJECT_HEADER};
#[cfg(feature = "issuer")]
pub use issuer::{DEFAULT_TOKEN_TTL, IssuerError, Project, TokenIssuer, token_issuer_router};
#[cfg(feature = "jwks")]
pub use jwks::{FetchError, Jwks, JwksError, JwksSettings, JwksSource};
pub use key_store;
pub use layer::{Auth, AuthLayer, ResponseFuture};
#[cfg(feature = "prometheus")]
pub use prometheus::{
    METRICS_UPKEEP_INTERVAL, MetricsError, PrometheusHandle, install_prometheus_recorder,
    metrics_router,
};
pub use response::{
    RETRY_AFTER_SECONDS, Rejection, denial_response, error_response, invalid_path_response,
    overloaded_response, rate_limited_response, store_unavailable_response,
    too_many_requests_response, unauthorized_response,
};
pub use state::{AuthState, AuthStateBuilder, Budgets, StateError};
pub use status::{
    AdminStatus, BudgetStats, CacheStatus, ClassStatus, IssuerStatus, JwksFetchStatus, JwksStatus,
    JwtKeyStatus, JwtStatus, KdfStatus, ManagedKeysStatus, RouteStatus, Status,
};

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
