//! Property tests: whatever the file or the environment holds, loading returns `Ok` or a
//! `ConfigError` — never a panic — and no error repeats a value it was given.
//! Case counts come from `PROPTEST_CASES` (CI: 256).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use auth_config::{Config, Env, LoadOptions};
use common::{SECRET, dir_with};
use proptest::prelude::*;

const KNOWN: &[(&str, &[&str])] = &[
    (
        "authentication",
        &[
            "admin_api_key",
            "ingest_api_keys",
            "consumption_api_keys",
            "admin_token",
        ],
    ),
    (
        "jwt",
        &[
            "secret",
            "issuer",
            "audience",
            "enforce_on_all_ingest_apis",
            "enforce_on_all_consumptions_apis",
            "leeway_seconds",
            "jwks_url",
        ],
    ),
    ("token_issuer", &["private_key", "ttl_seconds", "projects"]),
    (
        "cache",
        &[
            "api_key_ttl_seconds",
            "failure_ttl_seconds",
            "max_entries",
            "kdf_workers",
            "kdf_queue",
        ],
    ),
    (
        "server",
        &[
            "listen",
            "upstream",
            "request_head_timeout_seconds",
            "keep_alive_timeout_seconds",
            "client_body_timeout_seconds",
            "upstream_timeout_seconds",
            "max_connections",
            "shutdown_timeout_seconds",
            "underscores_in_headers",
            "max_authorization_bytes",
        ],
    ),
];

const ENV_NAMES: &[&str] = &[
    "MOOSE_INGEST_API_KEY",
    "MOOSE_CONSUMPTION_API_KEY",
    "MOOSE_ADMIN_TOKEN",
    "MOOSE_JWT_PUBLIC_KEY",
    "MOOSE_JWT_ISSUER",
    "MOOSE_JWT_AUDIENCE",
    "MOOSE_JWT__SECRET",
    "MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS",
    "MOOSE_JWT__LEEWAY_SECONDS",
    "MOOSE_JWT__JWKS_URL",
    "MOOSE_TOKEN_ISSUER__PRIVATE_KEY",
    "MOOSE_TOKEN_ISSUER__PROJECTS",
    "MOOSE_TOKEN_ISSUER__TTL_SECONDS",
    "MOOSE_CACHE__MAX_ENTRIES",
    "MOOSE_CACHE__KDF_WORKERS",
    "MOOSE_SERVER__LISTEN",
    "MOOSE_SERVER__UPSTREAM",
    "MOOSE_AUTHENTICATION__NOPE",
    "MOOSE_JWT__",
    "MOOSE_",
];

/// A TOML basic string of any text.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML value of any type; text values carry the secret marker.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<String>().prop_map(|s| toml_string(&format!("{SECRET}{s}"))),
        prop::collection::vec(any::<String>(), 0..3).prop_map(|v| {
            let items: Vec<_> = v
                .iter()
                .map(|s| toml_string(&format!("{SECRET}{s}")))
                .collect();
            format!("[{}]", items.join(", "))
        }),
        Just(format!(
            "[{{ id = {}, key_hash = 1 }}]",
            toml_string(SECRET)
        )),
    ]
}

fn load_file(bytes: &[u8], env: Env) -> Result<Config, auth_config::ConfigError> {
    let dir = dir_with(None);
    std::fs::write(dir.path().join("moose.config.toml"), bytes).unwrap();
    Config::load(&LoadOptions::new().with_directory(dir.path()).with_env(env))
}

fn no_env() -> Env {
    Env::from_pairs::<_, &str, &str>([])
}

proptest! {
    #[test]
    fn arbitrary_bytes_as_the_file_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = load_file(&bytes, no_env());
    }

    #[test]
    fn arbitrary_values_for_known_keys_never_panic_or_leak(
        entries in prop::collection::vec((0..KNOWN.len(), 0..8usize, toml_value()), 0..6)
    ) {
        let mut toml = String::new();
        for (section, key, value) in &entries {
            let (section, keys) = KNOWN[*section];
            let key = keys[key % keys.len()];
            toml.push_str(&format!("[{section}]\n{key} = {value}\n"));
        }
        if let Err(err) = load_file(toml.as_bytes(), no_env()) {
            prop_assert!(!err.to_string().contains(SECRET), "{}", err);
            prop_assert!(!format!("{err:?}").contains(SECRET), "{:?}", err);
        }
    }

    #[test]
    fn arbitrary_environment_values_never_panic_or_leak(
        vars in prop::collection::vec((0..ENV_NAMES.len(), any::<String>(), any::<bool>()), 0..6)
    ) {
        let pairs: Vec<(String, String)> = vars
            .iter()
            .map(|(name, value, marked)| {
                let value = if *marked { format!("{SECRET}{value}") } else { value.clone() };
                (ENV_NAMES[*name].to_owned(), value)
            })
            .collect();
        let dir = dir_with(None);
        let options = LoadOptions::new().with_directory(dir.path()).with_env(Env::from_pairs(pairs));
        let _ = options.is_unconfigured();
        if let Err(err) = Config::load(&options) {
            prop_assert!(!err.to_string().contains(SECRET), "{}", err);
            prop_assert!(!format!("{err:?}").contains(SECRET), "{:?}", err);
        }
    }

    #[cfg(unix)]
    #[test]
    fn arbitrary_environment_bytes_never_panic(
        vars in prop::collection::vec((0..ENV_NAMES.len(), prop::collection::vec(any::<u8>(), 0..64)), 0..6)
    ) {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let env = Env::from_pairs(
            vars.into_iter().map(|(name, bytes)| (OsString::from(ENV_NAMES[name]), OsString::from_vec(bytes))),
        );
        let dir = dir_with(None);
        let _ = Config::load(&LoadOptions::new().with_directory(dir.path()).with_env(env));
    }
}
