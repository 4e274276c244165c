//! Every setting keygate reads: its section, key and documented environment name.
//!
//! This table drives the environment mapping, the unknown-key check and `explain()`, so the
//! three cannot disagree.

/// Sections of `moose.config.toml` that keygate owns. Other top-level sections belong to Moose
/// and are ignored.
pub(crate) const SECTIONS: [&str; 7] = [
    "authentication",
    "jwt",
    "token_issuer",
    "cache",
    "server",
    "limits",
    "keys",
];

/// The plain-text admin token's documented variable (after the prefix); it has no file key.
pub(crate) const ADMIN_TOKEN_ENV: &str = "ADMIN_TOKEN";

/// The plain-text admin token's variable with the default prefix, as status output names it.
pub(crate) const ADMIN_TOKEN_VARIABLE: &str = "MOOSE_ADMIN_TOKEN";

/// One setting of a known section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) section: &'static str,
    pub(crate) key: &'static str,
    /// The documented variable after `<PREFIX>_`, which wins over the generic form.
    pub(crate) documented_env: Option<&'static str>,
}

const fn setting(section: &'static str, key: &'static str) -> Setting {
    Setting {
        section,
        key,
        documented_env: None,
    }
}

const fn documented(section: &'static str, key: &'static str, env: &'static str) -> Setting {
    Setting {
        section,
        key,
        documented_env: Some(env),
    }
}

pub(crate) const ADMIN_API_KEY: Setting = setting("authentication", "admin_api_key");
pub(crate) const INGEST_API_KEYS: Setting =
    documented("authentication", "ingest_api_keys", "INGEST_API_KEY");
pub(crate) const CONSUMPTION_API_KEYS: Setting = documented(
    "authentication",
    "consumption_api_keys",
    "CONSUMPTION_API_KEY",
);
pub(crate) const JWT_SECRET: Setting = documented("jwt", "secret", "JWT_PUBLIC_KEY");
pub(crate) const JWT_ISSUER: Setting = documented("jwt", "issuer", "JWT_ISSUER");
pub(crate) const JWT_AUDIENCE: Setting = documented("jwt", "audience", "JWT_AUDIENCE");
pub(crate) const JWT_ENFORCE_INGEST: Setting = setting("jwt", "enforce_on_all_ingest_apis");
pub(crate) const JWT_ENFORCE_CONSUMPTION: Setting =
    setting("jwt", "enforce_on_all_consumptions_apis");
pub(crate) const JWT_LEEWAY: Setting = setting("jwt", "leeway_seconds");
pub(crate) const JWT_JWKS_URL: Setting = setting("jwt", "jwks_url");
pub(crate) const ISSUER_PRIVATE_KEY: Setting = setting("token_issuer", "private_key");
pub(crate) const ISSUER_TTL: Setting = setting("token_issuer", "ttl_seconds");
pub(crate) const ISSUER_PROJECTS: Setting = setting("token_issuer", "projects");
pub(crate) const CACHE_API_KEY_TTL: Setting = setting("cache", "api_key_ttl_seconds");
pub(crate) const CACHE_FAILURE_TTL: Setting = setting("cache", "failure_ttl_seconds");
pub(crate) const CACHE_MAX_ENTRIES: Setting = setting("cache", "max_entries");
pub(crate) const CACHE_KDF_WORKERS: Setting = setting("cache", "kdf_workers");
pub(crate) const CACHE_KDF_QUEUE: Setting = setting("cache", "kdf_queue");
pub(crate) const SERVER_LISTEN: Setting = setting("server", "listen");
pub(crate) const SERVER_UPSTREAM: Setting = setting("server", "upstream");
pub(crate) const SERVER_REQUEST_HEAD_TIMEOUT: Setting =
    setting("server", "request_head_timeout_seconds");
pub(crate) const SERVER_KEEP_ALIVE_TIMEOUT: Setting =
    setting("server", "keep_alive_timeout_seconds");
pub(crate) const SERVER_CLIENT_BODY_TIMEOUT: Setting =
    setting("server", "client_body_timeout_seconds");
pub(crate) const SERVER_UPSTREAM_TIMEOUT: Setting = setting("server", "upstream_timeout_seconds");
pub(crate) const SERVER_MAX_CONNECTIONS: Setting = setting("server", "max_connections");
pub(crate) const SERVER_SHUTDOWN_TIMEOUT: Setting = setting("server", "shutdown_timeout_seconds");
pub(crate) const SERVER_UNDERSCORES_IN_HEADERS: Setting =
    setting("server", "underscores_in_headers");
pub(crate) const SERVER_TRUSTED_PROXIES: Setting = setting("server", "trusted_proxies");
pub(crate) const SERVER_ROUTES: Setting = setting("server", "routes");
pub(crate) const SERVER_CORS_ALLOWED_ORIGINS: Setting = setting("server", "cors_allowed_origins");
pub(crate) const SERVER_CORS_ALLOWED_METHODS: Setting = setting("server", "cors_allowed_methods");
pub(crate) const SERVER_CORS_ALLOWED_HEADERS: Setting = setting("server", "cors_allowed_headers");
pub(crate) const SERVER_CORS_MAX_AGE: Setting = setting("server", "cors_max_age_seconds");
pub(crate) const SERVER_CORS_ALLOW_CREDENTIALS: Setting =
    setting("server", "cors_allow_credentials");
pub(crate) const SERVER_FORWARD_AUTH: Setting = setting("server", "forward_auth");
pub(crate) const SERVER_CLAIM_HEADERS: Setting = setting("server", "claim_headers");
pub(crate) const SERVER_FORWARD_JWT: Setting = setting("server", "forward_jwt");
pub(crate) const ISSUER_PREVIOUS_PUBLIC_KEYS: Setting =
    setting("token_issuer", "previous_public_keys");
pub(crate) const CACHE_KDF_QUEUE_PER_CLIENT: Setting = setting("cache", "kdf_queue_per_client");
pub(crate) const LIMITS_FAILURE_WINDOW: Setting = setting("limits", "failure_window_seconds");
pub(crate) const LIMITS_FAILURES_PER_CLIENT: Setting = setting("limits", "failures_per_client");
pub(crate) const LIMITS_FAILURES_PER_PROJECT: Setting = setting("limits", "failures_per_project");
pub(crate) const LIMITS_MAX_TRACKED: Setting = setting("limits", "max_tracked");
pub(crate) const LIMITS_REFUSAL_DELAY: Setting = setting("limits", "refusal_delay_ms");
pub(crate) const SERVER_MAX_AUTHORIZATION_BYTES: Setting =
    setting("server", "max_authorization_bytes");
pub(crate) const KEYS_STORE: Setting = documented("keys", "store", "KEYS_STORE");
pub(crate) const KEYS_SYNC_INTERVAL: Setting = setting("keys", "sync_interval_ms");
pub(crate) const KEYS_LAST_USED_FLUSH: Setting = setting("keys", "last_used_flush_seconds");
pub(crate) const KEYS_MAX_CACHED: Setting = setting("keys", "max_cached");

/// Every setting, in the order `explain()` lists them.
pub(crate) const SETTINGS: [Setting; 49] = [
    ADMIN_API_KEY,
    INGEST_API_KEYS,
    CONSUMPTION_API_KEYS,
    JWT_SECRET,
    JWT_ISSUER,
    JWT_AUDIENCE,
    JWT_ENFORCE_INGEST,
    JWT_ENFORCE_CONSUMPTION,
    JWT_LEEWAY,
    JWT_JWKS_URL,
    ISSUER_PRIVATE_KEY,
    ISSUER_TTL,
    ISSUER_PROJECTS,
    CACHE_API_KEY_TTL,
    CACHE_FAILURE_TTL,
    CACHE_MAX_ENTRIES,
    CACHE_KDF_WORKERS,
    CACHE_KDF_QUEUE,
    SERVER_LISTEN,
    SERVER_UPSTREAM,
    SERVER_REQUEST_HEAD_TIMEOUT,
    SERVER_KEEP_ALIVE_TIMEOUT,
    SERVER_CLIENT_BODY_TIMEOUT,
    SERVER_UPSTREAM_TIMEOUT,
    SERVER_MAX_CONNECTIONS,
    SERVER_SHUTDOWN_TIMEOUT,
    SERVER_UNDERSCORES_IN_HEADERS,
    SERVER_MAX_AUTHORIZATION_BYTES,
    SERVER_TRUSTED_PROXIES,
    SERVER_ROUTES,
    SERVER_CORS_ALLOWED_ORIGINS,
    SERVER_CORS_ALLOWED_METHODS,
    SERVER_CORS_ALLOWED_HEADERS,
    SERVER_CORS_MAX_AGE,
    SERVER_CORS_ALLOW_CREDENTIALS,
    SERVER_FORWARD_AUTH,
    SERVER_CLAIM_HEADERS,
    SERVER_FORWARD_JWT,
    ISSUER_PREVIOUS_PUBLIC_KEYS,
    CACHE_KDF_QUEUE_PER_CLIENT,
    LIMITS_FAILURE_WINDOW,
    LIMITS_FAILURES_PER_CLIENT,
    LIMITS_FAILURES_PER_PROJECT,
    LIMITS_MAX_TRACKED,
    LIMITS_REFUSAL_DELAY,
    KEYS_STORE,
    KEYS_SYNC_INTERVAL,
    KEYS_LAST_USED_FLUSH,
    KEYS_MAX_CACHED,
];

/// Keys of one `[[token_issuer.projects]]` entry.
pub(crate) const PROJECT_KEYS: [&str; 2] = ["id", "key_hash"];

/// Keys of one `[[server.routes]]` entry.
pub(crate) const ROUTE_KEYS: [&str; 2] = ["prefix", "class"];

/// Settings whose environment value is TOML (a list of tables, or a table), not text.
pub(crate) const TOML_VALUED: [Setting; 3] = [ISSUER_PROJECTS, SERVER_ROUTES, SERVER_CLAIM_HEADERS];

impl Setting {
    /// The dotted name used in errors and `explain()`, e.g. `jwt.secret`.
    pub(crate) fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// `<PREFIX>_<SECTION>__<KEY>`, e.g. `MOOSE_JWT__SECRET`.
    #[cfg(test)]
    pub(crate) fn generic_env(&self, prefix: &str) -> String {
        format!(
            "{prefix}_{}__{}",
            self.section.to_ascii_uppercase(),
            self.key.to_ascii_uppercase()
        )
    }

    /// The documented variable with the prefix, e.g. `MOOSE_JWT_PUBLIC_KEY`.
    #[cfg(test)]
    pub(crate) fn documented_env(&self, prefix: &str) -> Option<String> {
        self.documented_env.map(|name| format!("{prefix}_{name}"))
    }

    pub(crate) fn find(section: &str, key: &str) -> Option<Self> {
        SETTINGS
            .iter()
            .find(|s| s.section == section && s.key == key)
            .copied()
    }
}

/// How an environment variable relates to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvName {
    /// A documented name such as `MOOSE_JWT_ISSUER`.
    Documented(Setting),
    /// `MOOSE_ADMIN_TOKEN`.
    AdminToken,
    /// `<PREFIX>_<SECTION>__<KEY>` for a known section; `key` is lower-cased and may be unknown.
    Generic { section: &'static str, key: String },
}

/// Classifies a variable name; `None` for variables keygate does not read (including
/// `MOOSE_<OTHER SECTION>__...`, which belong to Moose itself).
pub(crate) fn classify_env(prefix: &str, name: &str) -> Option<EnvName> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
    if rest == ADMIN_TOKEN_ENV {
        return Some(EnvName::AdminToken);
    }
    if let Some(setting) = SETTINGS.iter().find(|s| s.documented_env == Some(rest)) {
        return Some(EnvName::Documented(*setting));
    }
    let (section, key) = rest.split_once("__")?;
    let section = SECTIONS.iter().find(|s| s.eq_ignore_ascii_case(section))?;
    Some(EnvName::Generic {
        section,
        key: key.to_ascii_lowercase(),
    })
}

/// The error for a key keygate does not know in one of its sections, with a hint when the
/// intent is clear (a near-miss spelling, or a plain-text admin token in the wrong place).
pub(crate) fn unknown_setting(
    section: &str,
    key: &str,
    origin: crate::Origin,
) -> crate::ConfigError {
    let hint = if section == "authentication" && key == "admin_token" {
        Some(
            "the plain-text admin token is read only from MOOSE_ADMIN_TOKEN or --admin-token; \
             configuration files hold its hash in authentication.admin_api_key"
                .to_owned(),
        )
    } else {
        let keys = SETTINGS
            .iter()
            .filter(|s| s.section == section)
            .map(|s| s.key);
        closest(key, keys).map(|k| format!("did you mean {section}.{k}?"))
    };
    crate::ConfigError::UnknownSetting {
        // Names come from the operator's input: escape control characters before printing.
        setting: format!("{section}.{}", key.escape_debug()),
        origin,
        hint,
    }
}

/// The error for an unknown key in entry `index` of the list of tables `list` (whose entries
/// may hold `keys`).
pub(crate) fn unknown_entry_key(
    list: Setting,
    keys: &[&'static str],
    index: usize,
    key: &str,
    origin: crate::Origin,
) -> crate::ConfigError {
    crate::ConfigError::UnknownSetting {
        setting: format!("{}[{index}].{}", list.path(), key.escape_debug()),
        origin,
        hint: closest(key, keys.iter().copied()).map(|k| format!("did you mean {k}?")),
    }
}

/// The candidate within a small edit distance of `key`, if any.
fn closest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::damerau_levenshtein(candidate, key), candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_get_a_hint_when_the_intent_is_clear() {
        let err = unknown_setting("jwt", "isuer", crate::Origin::Default);
        assert!(
            err.to_string().ends_with("did you mean jwt.issuer?"),
            "{err}"
        );
        let err = unknown_setting("authentication", "ingest_api_key", crate::Origin::Default);
        assert!(
            err.to_string()
                .ends_with("did you mean authentication.ingest_api_keys?"),
            "{err}"
        );
        let err = unknown_setting("authentication", "admin_token", crate::Origin::Default);
        assert!(err.to_string().contains("MOOSE_ADMIN_TOKEN"), "{err}");
        let err = unknown_setting("cache", "completely_different", crate::Origin::Default);
        assert_eq!(
            err.to_string(),
            "unknown setting cache.completely_different (default)"
        );
    }

    #[test]
    fn env_names_are_classified() {
        assert_eq!(
            classify_env("MOOSE", "MOOSE_JWT_PUBLIC_KEY"),
            Some(EnvName::Documented(JWT_SECRET))
        );
        assert_eq!(
            classify_env("MOOSE", "MOOSE_ADMIN_TOKEN"),
            Some(EnvName::AdminToken)
        );
        assert_eq!(
            classify_env("MOOSE", "MOOSE_TOKEN_ISSUER__PRIVATE_KEY"),
            Some(EnvName::Generic {
                section: "token_issuer",
                key: "private_key".into()
            })
        );
        assert_eq!(
            classify_env("MOOSE", "MOOSE_JWT__ISUER"),
            Some(EnvName::Generic {
                section: "jwt",
                key: "isuer".into()
            })
        );
        assert_eq!(classify_env("MOOSE", "MOOSE_CLICKHOUSE_CONFIG__HOST"), None);
        assert_eq!(classify_env("MOOSE", "MOOSEJWT__SECRET"), None);
        assert_eq!(classify_env("MOOSE", "PATH"), None);
        assert_eq!(
            classify_env("KG", "KG_JWT_ISSUER"),
            Some(EnvName::Documented(JWT_ISSUER))
        );
        assert_eq!(classify_env("KG", "MOOSE_JWT_ISSUER"), None);
    }

    #[test]
    fn the_user_guide_documents_every_setting_and_variable() {
        let guide = include_str!("../../../docs/configuration.md");
        for setting in SETTINGS {
            let key = format!("`{}`", setting.key);
            let section = format!("### `[{}]`", setting.section);
            let body = guide.split(&section).nth(1).unwrap_or_default();
            let body = body.split("\n### ").next().unwrap_or_default();
            assert!(
                body.contains(&key),
                "{} is not in {section}",
                setting.path()
            );
            assert!(
                guide.contains(&setting.generic_env("MOOSE")),
                "{}",
                setting.path()
            );
            if let Some(name) = setting.documented_env("MOOSE") {
                assert!(guide.contains(&name), "{name}");
            }
        }
        assert!(guide.contains(&format!("MOOSE_{ADMIN_TOKEN_ENV}")));
    }

    #[test]
    fn every_setting_has_a_generic_name_that_maps_back_to_it() {
        for setting in SETTINGS {
            let name = setting.generic_env("MOOSE");
            assert_eq!(
                classify_env("MOOSE", &name),
                Some(EnvName::Generic {
                    section: setting.section,
                    key: setting.key.to_owned()
                }),
                "{name}"
            );
        }
    }
}
