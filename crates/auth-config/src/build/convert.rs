//! Reading each setting: conversion, per-value validation and its `explain()` line.

use std::net::SocketAddr;
use std::time::Duration;

use std::net::IpAddr;

use auth_cache::budget::BudgetSettings;
use auth_cache::pool::KdfSettings;
use auth_cache::verify::CacheSettings;
use auth_core::policy::RouteClass;
use auth_core::routes::{RouteRule, RouteRules, RulePrefixError};
use ipnet::IpNet;

use auth_core::apikey::KeySet;
use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES;
use auth_core::jwt::{DEFAULT_LEEWAY_SECONDS, SigningKey, VerifyingKey};
use auth_core::secrecy::SecretString;

use super::Read;
use crate::catalog::{
    ADMIN_API_KEY, CACHE_API_KEY_TTL, CACHE_FAILURE_TTL, CACHE_KDF_QUEUE,
    CACHE_KDF_QUEUE_PER_CLIENT, CACHE_KDF_WORKERS, CACHE_MAX_ENTRIES, CONSUMPTION_API_KEYS,
    INGEST_API_KEYS, ISSUER_PREVIOUS_PUBLIC_KEYS, ISSUER_PRIVATE_KEY, ISSUER_PROJECTS, ISSUER_TTL,
    JWT_AUDIENCE, JWT_ENFORCE_CONSUMPTION, JWT_ENFORCE_INGEST, JWT_ISSUER, JWT_JWKS_URL,
    JWT_LEEWAY, JWT_SECRET, LIMITS_FAILURE_WINDOW, LIMITS_FAILURES_PER_CLIENT,
    LIMITS_FAILURES_PER_PROJECT, LIMITS_MAX_TRACKED, LIMITS_REFUSAL_DELAY, SERVER_CLAIM_HEADERS,
    SERVER_CLIENT_BODY_TIMEOUT, SERVER_CORS_ALLOW_CREDENTIALS, SERVER_CORS_ALLOWED_HEADERS,
    SERVER_CORS_ALLOWED_METHODS, SERVER_CORS_ALLOWED_ORIGINS, SERVER_CORS_MAX_AGE,
    SERVER_FORWARD_AUTH, SERVER_FORWARD_JWT, SERVER_KEEP_ALIVE_TIMEOUT, SERVER_LISTEN,
    SERVER_MAX_AUTHORIZATION_BYTES, SERVER_MAX_CONNECTIONS, SERVER_REQUEST_HEAD_TIMEOUT,
    SERVER_ROUTES, SERVER_SHUTDOWN_TIMEOUT, SERVER_TRUSTED_PROXIES, SERVER_UNDERSCORES_IN_HEADERS,
    SERVER_UPSTREAM, SERVER_UPSTREAM_TIMEOUT, Setting,
};
use crate::catalog::{KEYS_LAST_USED_FLUSH, KEYS_MAX_CACHED, KEYS_STORE, KEYS_SYNC_INTERVAL};
use crate::explain::{NOT_SET, REDACTED, describe_keys};
use crate::layers::Layers;
use crate::read::{RawProject, Sourced};
use crate::{ConfigError, Explained, KeysSettings, Origin, ServerSettings, TokenIssuerSettings};

/// Headers keygate sets or removes for the upstream itself (besides the hop-by-hop ones); no
/// claim may be mapped to them.
const RESERVED_HEADERS: [&str; 2] = ["authorization", "host"];

/// A PEM as written: literal `\n` sequences (how PEMs often travel in `.env` files) become line
/// breaks when the value has no real ones.
fn unescape_pem(text: &str) -> String {
    if !text.contains('\n') && text.contains("\\n") {
        text.replace("\\n", "\n")
    } else {
        text.to_owned()
    }
}

/// What a route prefix must be, for the error message.
fn prefix_problem(error: RulePrefixError) -> &'static str {
    match error {
        RulePrefixError::NoLeadingSlash => "must start with '/'",
        RulePrefixError::Root => {
            "must name at least one path segment ('/' alone would match everything)"
        }
        RulePrefixError::EmptySegment => "must not contain empty segments ('//')",
        RulePrefixError::DotSegment => "must not contain '.' or '..' segments",
        _ => "may contain only letters, digits, '-', '.', '_', '~' and '/'",
    }
}

fn describe_routes(rules: &RouteRules) -> String {
    let shown: Vec<String> = rules
        .iter()
        .map(|rule| format!("{} -> {}", rule.prefix(), rule.class()))
        .collect();
    shown.join(", ")
}

/// Reads settings one by one, converting and validating each, and records its `explain()` line.
pub(super) struct Builder<'a> {
    pub(super) layers: &'a Layers,
    pub(super) explained: Vec<Explained>,
}

impl Builder<'_> {
    /// Reads every setting in `explain()` order.
    pub(super) fn read_all(&mut self) -> Result<Read, ConfigError> {
        Ok(Read {
            admin_hashes: self.keys(ADMIN_API_KEY)?,
            admin_env_token: self.admin_token(),
            ingest: self.keys(INGEST_API_KEYS)?,
            consumption: self.keys(CONSUMPTION_API_KEYS)?,
            secret: self.public_key(JWT_SECRET)?,
            issuer: self.text(JWT_ISSUER)?,
            audience: self.text(JWT_AUDIENCE)?,
            enforce_ingest: self.flag(JWT_ENFORCE_INGEST)?,
            enforce_consumption: self.flag(JWT_ENFORCE_CONSUMPTION)?,
            leeway: self.number(JWT_LEEWAY, DEFAULT_LEEWAY_SECONDS, 0..=3600, "0 to 3600")?,
            jwks_url: self.url(JWT_JWKS_URL)?,
            private_key: self.private_key(ISSUER_PRIVATE_KEY)?,
            previous_public_keys: self.public_keys(ISSUER_PREVIOUS_PUBLIC_KEYS)?,
            ttl: self.number(
                ISSUER_TTL,
                TokenIssuerSettings::DEFAULT_TTL_SECONDS,
                1..=86_400,
                "1 to 86400",
            )?,
            projects: self.projects()?,
            cache: self.cache()?,
            limits: self.limits()?,
            server: self.server()?,
            keys: self.keys_section()?,
        })
    }

    /// `[keys]`: the managed-key store and its intervals.
    fn keys_section(&mut self) -> Result<KeysSettings, ConfigError> {
        let defaults = KeysSettings::default();
        let store = self
            .layers
            .text(KEYS_STORE)?
            .filter(|(t, _)| !t.trim().is_empty());
        let (store, store_configured) = match store {
            Some((url, origin)) => {
                let url = url.trim().to_owned();
                let known = url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://");
                if !known {
                    return Err(ConfigError::InvalidValue {
                        setting: KEYS_STORE.path(),
                        origin,
                        problem: "must be sqlite://PATH or postgres://USER@HOST:PORT/DB",
                    });
                }
                // The URL may carry a database password: shown without it.
                let shown = match url.split_once("://") {
                    Some((scheme, rest)) if rest.contains('@') => {
                        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                        format!("{scheme}://{REDACTED}@{host}")
                    }
                    _ => url.clone(),
                };
                self.explain(KEYS_STORE.path(), shown, origin);
                (url, true)
            }
            None => {
                self.explain(KEYS_STORE.path(), defaults.store.clone(), Origin::Default);
                (defaults.store, false)
            }
        };
        let sync_ms = self.number(
            KEYS_SYNC_INTERVAL,
            KeysSettings::DEFAULT_SYNC_INTERVAL_MS,
            50..=60_000,
            "50 to 60000",
        )?;
        let flush = self.number(
            KEYS_LAST_USED_FLUSH,
            KeysSettings::DEFAULT_LAST_USED_FLUSH_SECONDS,
            1..=3600,
            "1 to 3600",
        )?;
        let max_cached = self.number(
            KEYS_MAX_CACHED,
            KeysSettings::DEFAULT_MAX_CACHED,
            1000..=10_000_000,
            "1000 to 10000000",
        )?;
        Ok(KeysSettings {
            store,
            store_configured,
            sync_interval: Duration::from_millis(sync_ms),
            last_used_flush: Duration::from_secs(flush),
            max_cached,
        })
    }

    fn explain(&mut self, setting: impl Into<String>, value: impl Into<String>, origin: Origin) {
        self.explained.push(Explained {
            setting: setting.into(),
            value: value.into(),
            origin,
        });
    }

    fn explain_unset(&mut self, setting: Setting) {
        self.explain(setting.path(), NOT_SET, Origin::Default);
    }

    fn keys(&mut self, setting: Setting) -> Result<Option<Sourced<KeySet>>, ConfigError> {
        let keys = self.layers.key_set(setting)?;
        match &keys {
            Some((keys, origin)) => {
                self.explain(setting.path(), describe_keys(keys), origin.clone())
            }
            None => self.explain_unset(setting),
        }
        Ok(keys)
    }

    fn admin_token(&mut self) -> Option<Sourced<SecretString>> {
        let token = self.layers.admin_token.clone();
        match &token {
            Some((_, origin)) => self.explain("admin token", REDACTED, origin.clone()),
            None => self.explain("admin token", NOT_SET, Origin::Default),
        }
        token
    }

    /// Text; empty or blank counts as not set (as an empty environment variable does).
    fn text(&mut self, setting: Setting) -> Result<Option<Sourced<String>>, ConfigError> {
        let text = self
            .layers
            .text(setting)?
            .filter(|(t, _)| !t.trim().is_empty());
        match &text {
            Some((value, origin)) => self.explain(setting.path(), value.clone(), origin.clone()),
            None => self.explain_unset(setting),
        }
        Ok(text)
    }

    fn flag(&mut self, setting: Setting) -> Result<Sourced<bool>, ConfigError> {
        self.flag_or(setting, false)
    }

    fn flag_or(&mut self, setting: Setting, default: bool) -> Result<Sourced<bool>, ConfigError> {
        let flag = self
            .layers
            .flag(setting)?
            .unwrap_or((default, Origin::Default));
        self.explain(setting.path(), flag.0.to_string(), flag.1.clone());
        Ok(flag)
    }

    fn number(
        &mut self,
        setting: Setting,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        allowed: &'static str,
    ) -> Result<u64, ConfigError> {
        let (value, origin) = self
            .layers
            .number(setting, range, allowed)?
            .unwrap_or((default, Origin::Default));
        self.explain(setting.path(), value.to_string(), origin);
        Ok(value)
    }

    fn optional_number(
        &mut self,
        setting: Setting,
        range: std::ops::RangeInclusive<u64>,
        allowed: &'static str,
        unset: &'static str,
    ) -> Result<Option<u64>, ConfigError> {
        let value = self.layers.number(setting, range, allowed)?;
        match &value {
            Some((value, origin)) => {
                self.explain(setting.path(), value.to_string(), origin.clone())
            }
            None => self.explain(setting.path(), unset, Origin::Default),
        }
        Ok(value.map(|(v, _)| v))
    }

    /// Text of a PEM key (see [`unescape_pem`]).
    fn pem(&self, setting: Setting) -> Result<Option<Sourced<String>>, ConfigError> {
        Ok(self
            .layers
            .text(setting)?
            .filter(|(t, _)| !t.trim().is_empty())
            .map(|(text, origin)| (unescape_pem(&text), origin)))
    }

    fn public_key(
        &mut self,
        setting: Setting,
    ) -> Result<Option<Sourced<VerifyingKey>>, ConfigError> {
        let Some((pem, origin)) = self.pem(setting)? else {
            self.explain_unset(setting);
            return Ok(None);
        };
        let key = VerifyingKey::from_pem(&pem).map_err(|reason| ConfigError::Key {
            setting: setting.path(),
            origin: origin.clone(),
            reason,
        })?;
        self.explain(
            setting.path(),
            format!("{} public key", key.algorithm()),
            origin.clone(),
        );
        Ok(Some((key, origin)))
    }

    fn private_key(
        &mut self,
        setting: Setting,
    ) -> Result<Option<Sourced<SigningKey>>, ConfigError> {
        let Some((pem, origin)) = self.pem(setting)? else {
            self.explain_unset(setting);
            return Ok(None);
        };
        let key = SigningKey::from_pem(&pem).map_err(|reason| ConfigError::Key {
            setting: setting.path(),
            origin: origin.clone(),
            reason,
        })?;
        let kid: String = key.kid().chars().take(8).collect();
        self.explain(
            setting.path(),
            format!(
                "{REDACTED} ({} private key, kid {kid}...)",
                key.verifying_key().algorithm()
            ),
            origin.clone(),
        );
        Ok(Some((key, origin)))
    }

    /// A list of public-key PEMs (an array, or one PEM in the environment).
    fn public_keys(
        &mut self,
        setting: Setting,
    ) -> Result<Option<Sourced<Vec<VerifyingKey>>>, ConfigError> {
        let Some(entries) = self.layers.text_list(setting)? else {
            self.explain_unset(setting);
            return Ok(None);
        };
        let mut keys = Vec::with_capacity(entries.len());
        let mut origin = Origin::Default;
        for (text, entry_origin) in entries {
            let pem = unescape_pem(&text);
            let key = VerifyingKey::from_pem(&pem).map_err(|reason| ConfigError::Key {
                setting: setting.path(),
                origin: entry_origin.clone(),
                reason,
            })?;
            keys.push(key);
            origin = entry_origin;
        }
        let shown: Vec<String> = keys
            .iter()
            .map(|key| format!("{} public key", key.algorithm()))
            .collect();
        self.explain(setting.path(), shown.join(", "), origin.clone());
        Ok(Some((keys, origin)))
    }

    /// An absolute `http://` or `https://` URL.
    fn url(&mut self, setting: Setting) -> Result<Option<Sourced<String>>, ConfigError> {
        let url = self.text(setting)?;
        if let Some((text, origin)) = &url {
            let uri = text.trim().parse::<http::Uri>().ok();
            let usable = uri.as_ref().is_some_and(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some()
            });
            if !usable {
                return Err(ConfigError::InvalidValue {
                    setting: setting.path(),
                    origin: origin.clone(),
                    problem: "must be an absolute http:// or https:// URL",
                });
            }
        }
        Ok(url.map(|(text, origin)| (text.trim().to_owned(), origin)))
    }

    fn projects(&mut self) -> Result<Option<Sourced<Vec<RawProject>>>, ConfigError> {
        let projects = self.layers.projects()?;
        match &projects {
            Some((list, origin)) if list.is_empty() => {
                self.explain(ISSUER_PROJECTS.path(), "(none)", origin.clone());
            }
            Some((list, _)) => {
                for (index, project) in list.iter().enumerate() {
                    self.explain(
                        format!("{}[{index}]", ISSUER_PROJECTS.path()),
                        format!(
                            "id={}, key_hash={}",
                            project.id,
                            describe_keys(&project.keys)
                        ),
                        project.origin.clone(),
                    );
                }
            }
            None => self.explain(ISSUER_PROJECTS.path(), "(none)", Origin::Default),
        }
        Ok(projects)
    }

    /// `[cache]`: the verification cache and the KDF pool, as the types that use them.
    fn cache(&mut self) -> Result<(CacheSettings, KdfSettings), ConfigError> {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let defaults = CacheSettings::default();
        let cache = CacheSettings {
            api_key_ttl: Duration::from_secs(self.number(
                CACHE_API_KEY_TTL,
                defaults.api_key_ttl.as_secs(),
                0..=86_400,
                "0 to 86400",
            )?),
            failure_ttl: Duration::from_secs(self.number(
                CACHE_FAILURE_TTL,
                defaults.failure_ttl.as_secs(),
                0..=3600,
                "0 to 3600",
            )?),
            max_entries: self.number(
                CACHE_MAX_ENTRIES,
                defaults.max_entries,
                1..=10_000_000,
                "1 to 10000000",
            )?,
            ..defaults
        };
        let kdf = KdfSettings {
            workers: self
                .optional_number(
                    CACHE_KDF_WORKERS,
                    1..=1024,
                    "1 to 1024",
                    "(one per CPU core)",
                )?
                .map_or_else(KdfSettings::default_workers, size),
            queue: size(self.number(
                CACHE_KDF_QUEUE,
                KdfSettings::DEFAULT_QUEUE as u64,
                1..=1_000_000,
                "1 to 1000000",
            )?),
            queue_per_client: size(self.number(
                CACHE_KDF_QUEUE_PER_CLIENT,
                KdfSettings::DEFAULT_QUEUE_PER_CLIENT as u64,
                1..=1_000_000,
                "1 to 1000000",
            )?),
        };
        Ok((cache, kdf))
    }

    fn server(&mut self) -> Result<ServerSettings, ConfigError> {
        let (listen, origin) = match self.layers.text(SERVER_LISTEN)? {
            Some((text, origin)) => {
                let listen =
                    text.trim()
                        .parse::<SocketAddr>()
                        .map_err(|_| ConfigError::InvalidValue {
                            setting: SERVER_LISTEN.path(),
                            origin: origin.clone(),
                            problem: "must be an IP address and port, e.g. 127.0.0.1:4000",
                        })?;
                (listen, origin)
            }
            None => (ServerSettings::DEFAULT_LISTEN, Origin::Default),
        };
        self.explain(SERVER_LISTEN.path(), listen.to_string(), origin);
        let upstream = self.url(SERVER_UPSTREAM)?.map(|(url, _)| url);
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let mut timeout = |setting, default| self.number(setting, default, 1..=3600, "1 to 3600");
        let request_head_timeout_seconds = timeout(
            SERVER_REQUEST_HEAD_TIMEOUT,
            ServerSettings::DEFAULT_REQUEST_HEAD_TIMEOUT_SECONDS,
        )?;
        let keep_alive_timeout_seconds = timeout(
            SERVER_KEEP_ALIVE_TIMEOUT,
            ServerSettings::DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
        )?;
        let client_body_timeout_seconds = timeout(
            SERVER_CLIENT_BODY_TIMEOUT,
            ServerSettings::DEFAULT_CLIENT_BODY_TIMEOUT_SECONDS,
        )?;
        let upstream_timeout_seconds = timeout(
            SERVER_UPSTREAM_TIMEOUT,
            ServerSettings::DEFAULT_UPSTREAM_TIMEOUT_SECONDS,
        )?;
        let trusted_proxies = self.networks(SERVER_TRUSTED_PROXIES)?;
        Ok(ServerSettings {
            listen,
            upstream,
            request_head_timeout_seconds,
            keep_alive_timeout_seconds,
            client_body_timeout_seconds,
            upstream_timeout_seconds,
            max_connections: size(self.number(
                SERVER_MAX_CONNECTIONS,
                ServerSettings::DEFAULT_MAX_CONNECTIONS as u64,
                1..=1_000_000,
                "1 to 1000000",
            )?),
            shutdown_timeout_seconds: self.number(
                SERVER_SHUTDOWN_TIMEOUT,
                ServerSettings::DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
                0..=3600,
                "0 to 3600",
            )?,
            underscores_in_headers: self
                .flag_or(
                    SERVER_UNDERSCORES_IN_HEADERS,
                    ServerSettings::DEFAULT_UNDERSCORES_IN_HEADERS,
                )?
                .0,
            max_authorization_bytes: size(self.number(
                SERVER_MAX_AUTHORIZATION_BYTES,
                DEFAULT_MAX_AUTHORIZATION_BYTES as u64,
                1024..=262_144,
                "1024 to 262144",
            )?),
            trusted_proxies: trusted_proxies.clone(),
            routes: self.routes()?,
            cors_allowed_origins: self.origins(SERVER_CORS_ALLOWED_ORIGINS)?,
            cors_allowed_methods: self.methods(SERVER_CORS_ALLOWED_METHODS)?,
            cors_allowed_headers: self.header_names(SERVER_CORS_ALLOWED_HEADERS)?,
            cors_max_age_seconds: self.number(
                SERVER_CORS_MAX_AGE,
                ServerSettings::DEFAULT_CORS_MAX_AGE_SECONDS,
                0..=86_400,
                "0 to 86400",
            )?,
            cors_allow_credentials: self.flag(SERVER_CORS_ALLOW_CREDENTIALS)?.0,
            // On by default once proxies are trusted: that is what the endpoint is for.
            forward_auth: self
                .flag_or(SERVER_FORWARD_AUTH, !trusted_proxies.is_empty())?
                .0,
            claim_headers: self.claim_headers()?,
            forward_jwt: self.flag(SERVER_FORWARD_JWT)?.0,
        })
    }

    /// `[[server.routes]]`: rules on top of the Moose defaults (a rule for the same prefix
    /// replaces the default one).
    fn routes(&mut self) -> Result<RouteRules, ConfigError> {
        let mut rules = RouteRules::moose_defaults();
        let Some(routes) = self.layers.routes()? else {
            self.explain(
                SERVER_ROUTES.path(),
                describe_routes(&rules),
                Origin::Default,
            );
            return Ok(rules);
        };
        let mut origin = Origin::Default;
        let mut configured: Vec<String> = Vec::with_capacity(routes.len());
        for route in routes {
            let name = format!("{}[{}]", SERVER_ROUTES.path(), route.index);
            let (class_name, class_origin) = route.class;
            let class = match class_name.trim() {
                "ingest" => RouteClass::Ingest,
                "consumption" => RouteClass::Consumption,
                "admin" => RouteClass::Admin,
                "public" => RouteClass::Public,
                _ => {
                    return Err(ConfigError::InvalidValue {
                        setting: format!("{name}.class"),
                        origin: class_origin,
                        problem: "must be ingest, consumption, admin or public",
                    });
                }
            };
            let (prefix, prefix_origin) = route.prefix;
            let rule = RouteRule::new(prefix.trim(), class).map_err(|error| {
                ConfigError::InvalidValue {
                    setting: format!("{name}.prefix"),
                    origin: prefix_origin.clone(),
                    problem: prefix_problem(error),
                }
            })?;
            // Two rules for one prefix (also `/x` and `/x/`): one of them is a mistake.
            if configured.iter().any(|seen| seen == rule.prefix()) {
                return Err(ConfigError::InvalidValue {
                    setting: format!("{name}.prefix"),
                    origin: prefix_origin,
                    problem: "an earlier [[server.routes]] entry has the same prefix",
                });
            }
            configured.push(rule.prefix().to_owned());
            rules.insert(rule);
            origin = prefix_origin;
        }
        self.explain(SERVER_ROUTES.path(), describe_routes(&rules), origin);
        Ok(rules)
    }

    /// Exact browser origins: `scheme://host[:port]`, nothing more.
    fn origins(&mut self, setting: Setting) -> Result<Vec<String>, ConfigError> {
        self.list(
            setting,
            |text| {
                let uri = text.parse::<http::Uri>().ok()?;
                let exact = matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.authority().is_some()
                    && !text.ends_with('/')
                    && uri
                        .path_and_query()
                        .is_none_or(|pq| pq.as_str().is_empty() || pq.as_str() == "/");
                exact.then(|| text.to_ascii_lowercase())
            },
            "each entry must be an exact origin such as https://app.example (scheme, host and \
             port; no path, no trailing slash, no wildcard)",
        )
    }

    fn methods(&mut self, setting: Setting) -> Result<Vec<http::Method>, ConfigError> {
        let methods = self.list(
            setting,
            |text| text.to_ascii_uppercase().parse::<http::Method>().ok(),
            "each entry must be an HTTP method such as GET or POST",
        )?;
        Ok(if methods.is_empty() {
            ServerSettings::default_cors_methods()
        } else {
            methods
        })
    }

    fn header_names(&mut self, setting: Setting) -> Result<Vec<String>, ConfigError> {
        self.list(
            setting,
            |text| {
                http::HeaderName::from_bytes(text.as_bytes())
                    .ok()
                    .map(|name| name.as_str().to_owned())
            },
            "each entry must be a header name",
        )
    }

    /// A list setting whose entries `parse` accepts; `problem` names what an entry must be.
    fn list<T: std::fmt::Display>(
        &mut self,
        setting: Setting,
        parse: impl Fn(&str) -> Option<T>,
        problem: &'static str,
    ) -> Result<Vec<T>, ConfigError> {
        let Some(entries) = self.layers.text_list(setting)? else {
            self.explain_unset(setting);
            return Ok(Vec::new());
        };
        let mut values = Vec::with_capacity(entries.len());
        let mut origin = Origin::Default;
        for (text, entry_origin) in entries {
            let value = parse(&text).ok_or_else(|| ConfigError::InvalidValue {
                setting: setting.path(),
                origin: entry_origin.clone(),
                problem,
            })?;
            values.push(value);
            origin = entry_origin;
        }
        let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
        self.explain(setting.path(), shown.join(", "), origin);
        Ok(values)
    }

    /// `[server.claim_headers]`: JWT claim → upstream header name.
    fn claim_headers(&mut self) -> Result<Vec<(String, http::HeaderName)>, ConfigError> {
        let Some(entries) = self.layers.text_table(SERVER_CLAIM_HEADERS)? else {
            self.explain_unset(SERVER_CLAIM_HEADERS);
            return Ok(Vec::new());
        };
        let mut headers: Vec<(String, http::HeaderName)> = Vec::with_capacity(entries.len());
        let mut origin = Origin::Default;
        for (claim, (name, name_origin)) in entries {
            let setting = format!("{}.{}", SERVER_CLAIM_HEADERS.path(), claim.escape_debug());
            let invalid = |problem| ConfigError::InvalidValue {
                setting: setting.clone(),
                origin: name_origin.clone(),
                problem,
            };
            let header = http::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| invalid("must be a header name such as X-User-Email"))?;
            if (RESERVED_HEADERS.contains(&header.as_str())
                || auth_core::header::HOP_BY_HOP_HEADERS.contains(&header.as_str()))
                || header.as_str().starts_with("x-keygate-")
            {
                return Err(invalid(
                    "is a header keygate sets or removes itself (Authorization, Host, \
                     hop-by-hop headers, X-Keygate-*)",
                ));
            }
            if headers.iter().any(|(_, other)| *other == header) {
                return Err(invalid("another claim is mapped to the same header"));
            }
            headers.push((claim, header));
            origin = name_origin;
        }
        let shown: Vec<String> = headers
            .iter()
            .map(|(claim, header)| format!("{claim} -> {header}"))
            .collect();
        self.explain(SERVER_CLAIM_HEADERS.path(), shown.join(", "), origin);
        Ok(headers)
    }

    /// A list of IP addresses and CIDR networks (an address is a /32 or /128 network).
    fn networks(&mut self, setting: Setting) -> Result<Vec<IpNet>, ConfigError> {
        let Some(entries) = self.layers.text_list(setting)? else {
            self.explain_unset(setting);
            return Ok(Vec::new());
        };
        let mut networks = Vec::with_capacity(entries.len());
        let mut origin = Origin::Default;
        for (text, entry_origin) in entries {
            let network = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::InvalidValue {
                    setting: setting.path(),
                    origin: entry_origin.clone(),
                    problem: "each entry must be an IP address or a CIDR network, e.g. 10.0.0.0/8",
                })?;
            networks.push(network.trunc());
            origin = entry_origin;
        }
        let shown: Vec<String> = networks.iter().map(ToString::to_string).collect();
        self.explain(setting.path(), shown.join(", "), origin);
        Ok(networks)
    }

    /// `[limits]`: the failure budgets, per client address and per project id.
    fn limits(&mut self) -> Result<(BudgetSettings, BudgetSettings), ConfigError> {
        let window = Duration::from_secs(self.number(
            LIMITS_FAILURE_WINDOW,
            BudgetSettings::DEFAULT_WINDOW.as_secs(),
            1..=86_400,
            "1 to 86400",
        )?);
        let failures = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let per_client = failures(self.number(
            LIMITS_FAILURES_PER_CLIENT,
            u64::from(BudgetSettings::DEFAULT_FAILURES_PER_CLIENT),
            1..=1_000_000,
            "1 to 1000000",
        )?);
        let per_project = failures(self.number(
            LIMITS_FAILURES_PER_PROJECT,
            u64::from(BudgetSettings::DEFAULT_FAILURES_PER_PROJECT),
            1..=1_000_000,
            "1 to 1000000",
        )?);
        let max_tracked = self.number(
            LIMITS_MAX_TRACKED,
            BudgetSettings::DEFAULT_MAX_TRACKED,
            1000..=10_000_000,
            "1000 to 10000000",
        )?;
        let refusal_delay = Duration::from_millis(self.number(
            LIMITS_REFUSAL_DELAY,
            u64::try_from(BudgetSettings::DEFAULT_REFUSAL_DELAY.as_millis()).unwrap_or(u64::MAX),
            0..=60_000,
            "0 to 60000",
        )?);
        let budget = |failures| BudgetSettings {
            window,
            failures,
            max_tracked,
            refusal_delay,
        };
        Ok((budget(per_client), budget(per_project)))
    }
}
