//! The types of the status report (`GET /admin/status`). Nothing in them is a secret.

use auth_cache::budget::BudgetSnapshot;
use auth_cache::pool::PoolSnapshot;
use serde::Serialize;

/// The report `GET /admin/status` serves.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Cache generation of the configuration being served (changes on every reload).
    pub generation: u64,
    /// `ingest` routes.
    pub ingest: ClassStatus,
    /// `consumption` routes.
    pub consumption: ClassStatus,
    /// `admin` routes.
    pub admin: AdminStatus,
    /// JWT verification, if configured.
    pub jwt: Option<JwtStatus>,
    /// The token issuer, if configured.
    pub token_issuer: Option<IssuerStatus>,
    /// Route rules, longest prefix first; other paths are public.
    pub routes: Vec<RouteStatus>,
    /// Verification cache.
    pub cache: CacheStatus,
    /// KDF pool.
    pub kdf: KdfStatus,
    /// Failure budgets (`[limits]`).
    pub budgets: BudgetStats,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<String>,
    /// Managed keys (docs/keys.md), when a key store is attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_keys: Option<ManagedKeysStatus>,
}

/// The attached key store.
#[derive(Debug, Clone, Serialize)]
pub struct ManagedKeysStatus {
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// Keys in memory (approximate).
    pub cached: u64,
    /// Store queries made for presented ids since start.
    pub store_lookups: u64,
    /// How often the store's version is polled.
    pub sync_interval_ms: u64,
}

/// One protected class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassStatus {
    /// Accepted mechanisms: `jwt`, `api_key`; empty when the class is open.
    pub mechanisms: Vec<&'static str>,
    /// The class's enforce flag (JWT only).
    pub enforce_jwt: bool,
    /// Whether requests pass without credentials.
    pub open: bool,
    /// Ids of the configured API keys.
    pub key_ids: Vec<String>,
}

/// The admin class.
#[derive(Debug, Clone, Serialize)]
pub struct AdminStatus {
    /// `plain_token`, `api_key` or `none`.
    pub credential: &'static str,
    /// Where a plain-text token came from (`--admin-token`, `MOOSE_ADMIN_TOKEN`).
    pub source: Option<&'static str>,
    /// Ids of configured admin key hashes.
    pub key_ids: Vec<String>,
}

/// JWT verification.
#[derive(Debug, Clone, Serialize)]
pub struct JwtStatus {
    /// Required `iss`.
    pub issuer: String,
    /// Required audience.
    pub audience: String,
    /// Allowed clock skew.
    pub leeway_seconds: u64,
    /// Static trusted keys (PEM-configured ones have no `kid`; the token issuer's has its
    /// thumbprint). Keys fetched from a JWKS are listed under `jwks`.
    pub keys: Vec<JwtKeyStatus>,
    /// The remote JWKS, if configured.
    pub jwks: Option<JwksStatus>,
}

/// A remote JWKS (`[jwt] jwks_url`).
#[derive(Debug, Clone, Serialize)]
pub struct JwksStatus {
    /// The URL, with user info and query redacted.
    pub url: String,
    /// Version of the key set in use (grows when a fetch brings a different set).
    pub version: u64,
    /// Keys of the set in use: the last good one.
    pub keys: Vec<JwtKeyStatus>,
    /// Fetches made.
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// When the last successful fetch ended (Unix seconds).
    pub last_success_unix: Option<u64>,
    /// The last fetch, successful or not.
    pub last_fetch: Option<JwksFetchStatus>,
    /// Time between periodic refreshes.
    pub refresh_interval_seconds: u64,
}

/// One JWKS fetch.
#[derive(Debug, Clone, Serialize)]
pub struct JwksFetchStatus {
    /// When it ended (Unix seconds).
    pub at_unix: u64,
    /// `periodic`, `unknown_kid` or `manual`.
    pub trigger: &'static str,
    /// `ok` or `failed`.
    pub outcome: &'static str,
    /// Usable keys it brought, when it succeeded.
    pub keys: Option<usize>,
    /// Why it failed (never the URL or a secret).
    pub error: Option<String>,
}

/// One trusted JWT key.
#[derive(Debug, Clone, Serialize)]
pub struct JwtKeyStatus {
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: &'static str,
    /// The key id, if any.
    pub kid: Option<String>,
}

/// The token issuer.
#[derive(Debug, Clone, Serialize)]
pub struct IssuerStatus {
    /// `kid` of the signing key.
    pub kid: String,
    /// Signing algorithm.
    pub alg: &'static str,
    /// Lifetime of issued tokens.
    pub ttl_seconds: u64,
    /// Configured project ids.
    pub projects: Vec<String>,
}

/// One route rule.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStatus {
    /// The path prefix (whole segments), e.g. `/api`.
    pub prefix: String,
    /// `ingest`, `consumption`, `admin` or `public`.
    pub class: &'static str,
}

/// The verification cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStatus {
    /// Live entries (approximate).
    pub entries: u64,
    /// Bound.
    pub max_entries: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that verified.
    pub misses: u64,
    /// Entries evicted because the cache was full.
    pub evictions: u64,
    /// JWT verifications run.
    pub jwt_verifications: u64,
    /// Lifetime of API-key successes.
    pub api_key_ttl_seconds: u64,
    /// Lifetime of failures.
    pub failure_ttl_seconds: u64,
}

/// The KDF pool.
#[derive(Debug, Clone, Serialize)]
pub struct KdfStatus {
    /// PBKDF2 computations run.
    pub runs: u64,
    /// Pool load and counters.
    #[serde(flatten)]
    pub pool: PoolSnapshot,
}

/// The failure budgets now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetStats {
    /// Per client address.
    pub clients: BudgetSnapshot,
    /// Per project id at the token endpoint.
    pub projects: BudgetSnapshot,
}
