//! Plain settings structs for the parts other crates map onto their own types.

use std::net::{Ipv4Addr, SocketAddr};

use auth_core::apikey::KeySet;
use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
use auth_core::jwt::SigningKey;

/// `[keys]`: the managed-key store (docs/keys.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysSettings {
    /// `sqlite://PATH` or `postgres://…` (default [`KeysSettings::DEFAULT_STORE`]).
    pub store: String,
    /// Whether `store` was set (file or environment) rather than defaulted: a configured store
    /// is opened (and a SQLite file created) at start, the default one only if its file exists.
    pub store_configured: bool,
    /// How often replicas poll the store for revocations and new keys.
    pub sync_interval: std::time::Duration,
    /// How often last-used times are written.
    pub last_used_flush: std::time::Duration,
    /// Known keys kept in memory.
    pub max_cached: u64,
}

impl KeysSettings {
    /// The default store: a SQLite file in the working directory, created on first use.
    pub const DEFAULT_STORE: &'static str = "sqlite://keygate-keys.db";
    /// Default poll interval in milliseconds.
    pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 250;
    /// Default last-used flush interval in seconds.
    pub const DEFAULT_LAST_USED_FLUSH_SECONDS: u64 = 10;
    /// Default number of cached keys.
    pub const DEFAULT_MAX_CACHED: u64 = 100_000;
}

impl Default for KeysSettings {
    fn default() -> Self {
        Self {
            store: Self::DEFAULT_STORE.to_owned(),
            store_configured: false,
            sync_interval: std::time::Duration::from_millis(Self::DEFAULT_SYNC_INTERVAL_MS),
            last_used_flush: std::time::Duration::from_secs(Self::DEFAULT_LAST_USED_FLUSH_SECONDS),
            max_cached: Self::DEFAULT_MAX_CACHED,
        }
    }
}

/// `[server]`: where `keygate serve` listens, what it protects, and the limits of its
/// connections. The gateway applies these; auth-config only loads and validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Listen address (`listen`, default `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// Upstream to proxy authenticated requests to (`upstream`, an `http(s)://` URL); `None`
    /// = built-in echo handlers.
    pub upstream: Option<String>,
    /// Time a client has to send a whole request head once it has started one
    /// (`request_head_timeout_seconds`, default 10, 1 to 3600).
    pub request_head_timeout_seconds: u64,
    /// An idle keep-alive connection is closed after this (`keep_alive_timeout_seconds`,
    /// default 60, 1 to 3600).
    pub keep_alive_timeout_seconds: u64,
    /// Longest pause between two pieces of a request body (`client_body_timeout_seconds`,
    /// default 30, 1 to 3600).
    pub client_body_timeout_seconds: u64,
    /// Longest wait for the upstream's response head, and longest pause between two pieces of
    /// its response body (`upstream_timeout_seconds`, default 60, 1 to 3600).
    pub upstream_timeout_seconds: u64,
    /// Open client connections; above it new connections are answered 503 and closed
    /// (`max_connections`, default 10000, 1 to 1000000). The gateway lowers it to fit the
    /// process's file-descriptor limit.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may finish before the process exits
    /// (`shutdown_timeout_seconds`, default 30, 0 to 3600).
    pub shutdown_timeout_seconds: u64,
    /// Whether inbound headers whose names contain `_` are kept (`underscores_in_headers`,
    /// default `false`: they are dropped before proxying, as with nginx's
    /// `underscores_in_headers off`, because CGI/WSGI/Rack fold `_` into `-` and
    /// `X_Keygate_Subject` would otherwise forge `X-Keygate-Subject`).
    pub underscores_in_headers: bool,
    /// Size cap of the `Authorization` header and of a bearer token / JWT
    /// (`max_authorization_bytes`, default
    /// [`auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES`], 1024 to 262144). The verifier of
    /// [`Config::jwt_verifier`](crate::Config::jwt_verifier) already applies it to JWTs.
    pub max_authorization_bytes: usize,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client
    /// (`trusted_proxies`, IP addresses or CIDR networks; default none: the socket peer is the
    /// client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Route classes by path prefix: the Moose defaults plus `[[server.routes]]`.
    pub routes: auth_core::routes::RouteRules,
    /// Exact browser origins allowed cross-origin (`cors_allowed_origins`; none: no CORS).
    pub cors_allowed_origins: Vec<String>,
    /// Methods a CORS preflight allows (`cors_allowed_methods`).
    pub cors_allowed_methods: Vec<http::Method>,
    /// Request headers a preflight allows besides `authorization, content-type`
    /// (`cors_allowed_headers`, lower-case).
    pub cors_allowed_headers: Vec<String>,
    /// How long browsers may cache a preflight (`cors_max_age_seconds`, default 600).
    pub cors_max_age_seconds: u64,
    /// Whether pages may send cookies cross-origin (`cors_allow_credentials`, default false).
    pub cors_allow_credentials: bool,
    /// Whether `/auth/verify` answers (`forward_auth`; default: when `trusted_proxies` is set).
    pub forward_auth: bool,
    /// JWT claims passed upstream as headers (`[server.claim_headers]`: claim → header).
    pub claim_headers: Vec<(String, http::HeaderName)>,
    /// Whether the verified JWT itself is forwarded in `Authorization` (`forward_jwt`).
    pub forward_jwt: bool,
}

impl ServerSettings {
    /// Default of `cors_max_age_seconds`.
    pub const DEFAULT_CORS_MAX_AGE_SECONDS: u64 = 600;

    /// Default of `cors_allowed_methods`.
    #[must_use]
    pub fn default_cors_methods() -> Vec<http::Method> {
        use http::Method;
        vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ]
    }

    /// Default of `listen`.
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4000);
    /// Default of `request_head_timeout_seconds`.
    pub const DEFAULT_REQUEST_HEAD_TIMEOUT_SECONDS: u64 = 10;
    /// Default of `keep_alive_timeout_seconds`.
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS: u64 = 60;
    /// Default of `client_body_timeout_seconds`.
    pub const DEFAULT_CLIENT_BODY_TIMEOUT_SECONDS: u64 = 30;
    /// Default of `upstream_timeout_seconds`.
    pub const DEFAULT_UPSTREAM_TIMEOUT_SECONDS: u64 = 60;
    /// Default of `max_connections`.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// Default of `shutdown_timeout_seconds`.
    pub const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;
    /// Default of `underscores_in_headers`.
    pub const DEFAULT_UNDERSCORES_IN_HEADERS: bool = false;
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: Self::DEFAULT_LISTEN,
            upstream: None,
            request_head_timeout_seconds: Self::DEFAULT_REQUEST_HEAD_TIMEOUT_SECONDS,
            keep_alive_timeout_seconds: Self::DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
            client_body_timeout_seconds: Self::DEFAULT_CLIENT_BODY_TIMEOUT_SECONDS,
            upstream_timeout_seconds: Self::DEFAULT_UPSTREAM_TIMEOUT_SECONDS,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout_seconds: Self::DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
            underscores_in_headers: Self::DEFAULT_UNDERSCORES_IN_HEADERS,
            max_authorization_bytes: DEFAULT_MAX_AUTHORIZATION_BYTES,
            trusted_proxies: Vec::new(),
            routes: auth_core::routes::RouteRules::moose_defaults(),
            cors_allowed_origins: Vec::new(),
            cors_allowed_methods: Self::default_cors_methods(),
            cors_allowed_headers: Vec::new(),
            cors_max_age_seconds: Self::DEFAULT_CORS_MAX_AGE_SECONDS,
            cors_allow_credentials: false,
            forward_auth: false,
            claim_headers: Vec::new(),
            forward_jwt: false,
        }
    }
}

/// `[token_issuer]`: the backend token endpoint (reference §7).
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
    /// Public keys of earlier signing keys, still trusted and published in the JWK set until
    /// removed (`previous_public_keys`), so rotating the signing key invalidates no token.
    pub previous_public_keys: Vec<auth_core::jwt::VerifyingKey>,
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
