//! keygate's server side: a tower/axum layer that enforces the keygate policy (API keys and
//! JWTs per route class, SPEC §5), axum extractors for who was let in, the token issuer of
//! SPEC §7, and the admin pieces of a gateway (status, reload, Prometheus metrics).
//!
//! ```
//! use auth_core::apikey::{KeySet, StoredKey, generate_moose};
//! use auth_core::secrecy::ExposeSecret;
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use server_middleware::{AuthHandle, AuthState, Authenticated};
//! use tower::ServiceExt;
//!
//! // What `keygate generate hash-token` prints: a token for the client, a hash for the server.
//! let key = generate_moose()?;
//! let state = AuthState::builder()
//!     .consumption_keys(KeySet::from(vec![StoredKey::parse(&key.stored)?]))
//!     .build()?;
//! let auth = AuthHandle::new(state);
//! let app = Router::new()
//!     .route("/api/hello", get(|Authenticated(who): Authenticated| async move { who.subject() }))
//!     .layer(auth.layer());
//!
//! tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//!     let bearer = format!("Bearer {}", key.bearer_token.expose_secret());
//!     let request = Request::get("/api/hello").header("authorization", bearer).body(Body::empty())?;
//!     assert_eq!(app.clone().oneshot(request).await?.status(), 200);
//!
//!     let anonymous = app.oneshot(Request::get("/api/hello").body(Body::empty())?).await?;
//!     assert_eq!(anonymous.status(), 401);
//!     assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="keygate""#);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! - [`AuthState`] (built with [`AuthState::builder`]) is one complete configuration; the
//!   embedding application maps its own configuration onto it. This crate reads no files and
//!   no environment.
//! - [`AuthHandle`] serves one state at a time and swaps it atomically: [`AuthHandle::replace`],
//!   or [`AuthHandle::reload`] with the callback given to [`AuthHandle::with_reloader`] (a
//!   refused configuration leaves the old one serving). It owns the verification cache
//!   ([`auth_cache::verify`]) and the bounded KDF pool ([`KdfPool`]).
//! - [`AuthLayer`] / [`Auth`] enforce it per request; [`Authenticated`] and [`Claims`] extract
//!   the result in handlers.
//! - [`token_issuer_router`] serves `POST /auth/token` and `GET /.well-known/jwks.json`.
//! - [`Jwks`] (via [`AuthStateBuilder::jwks_url`]) trusts the keys of a remote JWK set besides
//!   the configured ones: refreshed every 10 min, refetched on an unknown `kid` (at most once per
//!   10 s, one fetch at a time), the last good set kept when a fetch fails. See [`jwks`].
//! - [`admin_router`] serves `/admin/status`, `/admin/reload` and `/admin/metrics`.
//!
//! # Costs
//! Verification results are cached by SHA-256 of the token (API-key successes 5 min, JWTs until
//! `exp`, failures 10 s, 10 000 entries), so a repeated credential costs a hash and a lookup.
//! JWTs are verified inline; PBKDF2 runs on a bounded pool of blocking threads, and a request
//! that would need it while its queue is full gets 503 with `Retry-After` (cached credentials
//! keep working).
//!
//! # Decisions where the spec is silent
//! - Paths are classified after percent-decoding, dot-segment removal, slash collapsing and
//!   ASCII case folding, and `/api` counts as `/api/` ([`RoutePrefixes`]), so a spelling an
//!   upstream would normalise cannot bypass the policy. Nested routers use the original URI.
//! - The token issuer signs with `iss`/`aud` of the JWT settings; without JWT settings it needs
//!   its own ([`TokenIssuer::with_claims`]), which then also become this server's JWT check. Its
//!   public key is always added to the trusted keys. An issuer therefore makes JWTs a configured
//!   mechanism: `ingest`/`consumption` stop being open once an issuer exists.
//! - An unknown project id costs the same KDF work as a wrong key, and both get one
//!   byte-identical 401 `invalid_client` response.
//! - A refused reload answers 422 `reload_failed` (the message is the callback's error); without
//!   a callback 501. The KDF pool and cache are rebuilt on reload only if their settings changed.
//! - A shed request gets 503 `temporarily_unavailable` with `Retry-After: 1`; it is not cached.
//! - A token whose `kid` is not in the JWKS set waits for the refetch it triggers (bounded by
//!   [`JwksSettings::timeout`]) and is checked once more if the set changed. JWT outcomes are
//!   cached per key-set version, so neither a cached failure hides a new key nor a cached
//!   success outlives a withdrawn one. A reload with the same URL and settings keeps the
//!   running `Jwks` and its keys.

mod admin;
mod authenticate;
mod canonical;
mod extract;
mod handle;
mod issuer;
pub mod jwks;
mod layer;
mod pool;
mod response;
mod state;
mod status;
pub mod telemetry;

pub use auth_cache::verify::CacheSettings;
pub use auth_core;

pub use admin::{admin_router, install_prometheus_recorder};
pub use authenticate::Rejection;
pub use canonical::{CanonicalFuture, CanonicalRequest, CanonicalRequestLayer};
pub use extract::{Authenticated, Claims, ExtractError};
pub use handle::{AuthHandle, BoxError, HandleStats, ReloadError};
pub use issuer::{DEFAULT_TOKEN_TTL, Project, TokenIssuer, token_issuer_router};
pub use jwks::{FetchError, Jwks, JwksError, JwksSettings};
pub use layer::{Auth, AuthLayer, ResponseFuture};
pub use pool::{KdfError, KdfPool, KdfSettings, PoolSnapshot};
pub use response::{
    RETRY_AFTER_SECONDS, denial_response, error_response, invalid_path_response,
    overloaded_response,
};
pub use state::{AuthState, AuthStateBuilder, StateError};
pub use status::{
    AdminStatus, CacheStatus, ClassStatus, IssuerStatus, JwksFetchStatus, JwksStatus, JwtKeyStatus,
    JwtStatus, KdfStatus, RouteStatus, Status,
};
