//! Plain settings structs for the parts other crates map onto their own types.

use std::net::{Ipv4Addr, SocketAddr};

use auth_core::apikey::KeySet;
use auth_core::jwt::SigningKey;

/// `[cache]`: the server's verification caches and KDF pool (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long a verified API key stays cached (`api_key_ttl_seconds`, default 300; 0 = not cached).
    pub api_key_ttl_seconds: u64,
    /// How long a failed verification stays cached (`failure_ttl_seconds`, default 10; 0 = not cached).
    pub failure_ttl_seconds: u64,
    /// Entries per cache (`max_entries`, default 10000).
    pub max_entries: u64,
    /// Threads running PBKDF2 (`kdf_workers`); `None` = one per CPU core.
    pub kdf_workers: Option<usize>,
    /// KDF jobs that may wait before requests get 503 (`kdf_queue`, default 1024).
    pub kdf_queue: usize,
}

impl CacheSettings {
    /// Default of `api_key_ttl_seconds`.
    pub const DEFAULT_API_KEY_TTL_SECONDS: u64 = 300;
    /// Default of `failure_ttl_seconds`.
    pub const DEFAULT_FAILURE_TTL_SECONDS: u64 = 10;
    /// Default of `max_entries`.
    pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
    /// Default of `kdf_queue`.
    pub const DEFAULT_KDF_QUEUE: usize = 1024;
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            api_key_ttl_seconds: Self::DEFAULT_API_KEY_TTL_SECONDS,
            failure_ttl_seconds: Self::DEFAULT_FAILURE_TTL_SECONDS,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            kdf_workers: None,
            kdf_queue: Self::DEFAULT_KDF_QUEUE,
        }
    }
}

/// `[server]`: where `keygate serve` listens and what it protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Listen address (`listen`, default `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// Upstream to proxy authenticated requests to (`upstream`, an `http(s)://` URL); `None`
    /// = built-in echo handlers.
    pub upstream: Option<String>,
    /// `request_head_timeout_seconds` (default 10).
    pub request_head_timeout_seconds: u64,
    /// `keep_alive_timeout_seconds` (default 60).
    pub keep_alive_timeout_seconds: u64,
    /// `client_body_timeout_seconds` (default 30).
    pub client_body_timeout_seconds: u64,
    /// `upstream_timeout_seconds` (default 60).
    pub upstream_timeout_seconds: u64,
    /// `max_connections` (default 10000).
    pub max_connections: usize,
    /// `shutdown_timeout_seconds` (default 30).
    pub shutdown_timeout_seconds: u64,
    /// `underscores_in_headers` (default false).
    pub underscores_in_headers: bool,
}

impl ServerSettings {
    /// Default of `listen`.
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4000);
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: Self::DEFAULT_LISTEN,
            upstream: None,
            request_head_timeout_seconds: 10,
            keep_alive_timeout_seconds: 60,
            client_body_timeout_seconds: 30,
            upstream_timeout_seconds: 60,
            max_connections: 10_000,
            shutdown_timeout_seconds: 30,
            underscores_in_headers: false,
        }
    }
}

/// `[token_issuer]`: the backend token endpoint (SPEC §7).
#[derive(Debug, Clone)]
pub struct TokenIssuerSettings {
    /// The signing key (`private_key`). Its `Debug` shows only the public half.
    pub signing_key: SigningKey,
    /// Lifetime of issued tokens (`ttl_seconds`, default 3600).
    pub ttl_seconds: u64,
    /// `iss` of issued tokens (`[jwt] issuer`).
    pub issuer: String,
    /// `aud` of issued tokens (`[jwt] audience`).
    pub audience: String,
    /// Projects that may obtain tokens (`[[token_issuer.projects]]`).
    pub projects: Vec<Project>,
}

impl TokenIssuerSettings {
    /// Default of `ttl_seconds`.
    pub const DEFAULT_TTL_SECONDS: u64 = 3600;
}

/// One `[[token_issuer.projects]]` entry.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `projectId` clients send.
    pub id: String,
    /// The stored hash(es) their `projectKey` must match (`key_hash`: one, or several while rotating).
    pub keys: KeySet,
}
