//! Which source wins: defaults < file < `MOOSE_<SECTION>__<KEY>` < documented names, and the
//! loading rules around them (file discovery, prefix, empty variables, development mode).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use std::time::Duration;

use auth_config::{Config, ConfigError, Env, LoadOptions, Origin};
use auth_core::apikey::{StoredKey, generate_moose};
use auth_core::policy::Policy;
use auth_core::secrecy::ExposeSecret;
use common::{dir_with, ed25519, explained, file_origin, load, options, rsa, toml_string};

/// Sets `jwt.issuer` in each chosen source to a value naming the source; checks the winner.
#[test]
fn issuer_precedence_matrix() {
    for mask in 0u8..8 {
        let (in_file, in_generic, in_documented) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
        let toml = in_file.then_some("[jwt]\nissuer = \"from-file\"\n");
        let mut env = Vec::new();
        if in_generic {
            env.push(("MOOSE_JWT__ISSUER", "from-generic"));
        }
        if in_documented {
            env.push(("MOOSE_JWT_ISSUER", "from-documented"));
        }
        let dir = dir_with(toml);
        let config = Config::load(&options(&dir, &env)).unwrap();
        let issuer = explained(&config, "jwt.issuer");
        let (value, origin) = if in_documented {
            ("from-documented", "env MOOSE_JWT_ISSUER".to_owned())
        } else if in_generic {
            ("from-generic", "env MOOSE_JWT__ISSUER".to_owned())
        } else if in_file {
            ("from-file", file_origin(&dir, 2))
        } else {
            ("(not set)", "default".to_owned())
        };
        assert_eq!(issuer.value, value, "mask {mask}");
        assert_eq!(issuer.origin.to_string(), origin, "mask {mask}");
    }
}

/// The same matrix for a key list, checked through the key ids that end up configured.
#[test]
fn ingest_key_precedence_matrix() {
    let keys: Vec<_> = (0..3).map(|_| generate_moose().unwrap()).collect();
    let id = |i: usize| StoredKey::parse(&keys[i].stored).unwrap().id();
    for mask in 1u8..8 {
        let toml = format!(
            "[authentication]\ningest_api_keys = [{}]\n",
            toml_string(&keys[0].stored)
        );
        let mut env = Vec::new();
        if mask & 2 != 0 {
            env.push((
                "MOOSE_AUTHENTICATION__INGEST_API_KEYS",
                keys[1].stored.as_str(),
            ));
        }
        if mask & 4 != 0 {
            env.push(("MOOSE_INGEST_API_KEY", keys[2].stored.as_str()));
        }
        let dir = dir_with((mask & 1 != 0).then_some(toml.as_str()));
        let config = Config::load(&options(&dir, &env)).unwrap();
        let winner = if mask & 4 != 0 {
            2
        } else if mask & 2 != 0 {
            1
        } else {
            0
        };
        assert_eq!(
            config.ingest_keys().ids().collect::<Vec<_>>(),
            vec![id(winner)],
            "mask {mask}"
        );
        let token = keys[winner].bearer_token.expose_secret();
        assert_eq!(config.ingest_keys().verify(token).result, Ok(id(winner)));
    }
}

#[test]
fn generic_names_reach_every_section() {
    let key = generate_moose().unwrap();
    let projects = format!(
        "[{{ id = \"p1\", key_hash = {} }}]",
        toml_string(&key.stored)
    );
    let previous = rsa().public_pem.clone();
    let env = [
        ("MOOSE_AUTHENTICATION__ADMIN_API_KEY", key.stored.as_str()),
        (
            "MOOSE_AUTHENTICATION__CONSUMPTION_API_KEYS",
            key.stored.as_str(),
        ),
        ("MOOSE_JWT__SECRET", rsa().public_pem.as_str()),
        ("MOOSE_JWT__ISSUER", "iss"),
        ("MOOSE_JWT__AUDIENCE", "aud"),
        ("MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS", "TRUE"),
        ("MOOSE_JWT__ENFORCE_ON_ALL_CONSUMPTIONS_APIS", "no"),
        ("MOOSE_JWT__LEEWAY_SECONDS", "5"),
        (
            "MOOSE_JWT__JWKS_URL",
            "https://idp.example/.well-known/jwks.json",
        ),
        (
            "MOOSE_TOKEN_ISSUER__PRIVATE_KEY",
            ed25519().private_pem.expose_secret(),
        ),
        ("MOOSE_TOKEN_ISSUER__TTL_SECONDS", "600"),
        ("MOOSE_TOKEN_ISSUER__PROJECTS", projects.as_str()),
        ("MOOSE_CACHE__API_KEY_TTL_SECONDS", "60"),
        ("MOOSE_CACHE__FAILURE_TTL_SECONDS", "0"),
        ("MOOSE_CACHE__MAX_ENTRIES", "50"),
        ("MOOSE_CACHE__KDF_WORKERS", "3"),
        ("MOOSE_CACHE__KDF_QUEUE", "7"),
        ("MOOSE_CACHE__KDF_QUEUE_PER_CLIENT", "2"),
        ("MOOSE_LIMITS__FAILURE_WINDOW_SECONDS", "90"),
        ("MOOSE_LIMITS__FAILURES_PER_CLIENT", "4"),
        ("MOOSE_LIMITS__FAILURES_PER_PROJECT", "6"),
        ("MOOSE_LIMITS__MAX_TRACKED", "5000"),
        ("MOOSE_LIMITS__REFUSAL_DELAY_MS", "250"),
        (
            "MOOSE_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.7, ::1",
        ),
        ("MOOSE_SERVER__LISTEN", "0.0.0.0:8080"),
        ("MOOSE_SERVER__UPSTREAM", "http://127.0.0.1:9000"),
        ("MOOSE_SERVER__REQUEST_HEAD_TIMEOUT_SECONDS", "11"),
        ("MOOSE_SERVER__KEEP_ALIVE_TIMEOUT_SECONDS", "12"),
        ("MOOSE_SERVER__CLIENT_BODY_TIMEOUT_SECONDS", "13"),
        ("MOOSE_SERVER__UPSTREAM_TIMEOUT_SECONDS", "14"),
        ("MOOSE_SERVER__MAX_CONNECTIONS", "15"),
        ("MOOSE_SERVER__SHUTDOWN_TIMEOUT_SECONDS", "16"),
        ("MOOSE_SERVER__UNDERSCORES_IN_HEADERS", "yes"),
        ("MOOSE_SERVER__MAX_AUTHORIZATION_BYTES", "20000"),
        (
            "MOOSE_SERVER__ROUTES",
            r#"[{ prefix = "/api/moss-token", class = "public" }, { prefix = "/v2", class = "admin" }]"#,
        ),
        (
            "MOOSE_SERVER__CORS_ALLOWED_ORIGINS",
            "https://app.example, http://localhost:3000",
        ),
        ("MOOSE_SERVER__CORS_ALLOWED_METHODS", "GET, POST"),
        ("MOOSE_SERVER__CORS_ALLOWED_HEADERS", "X-Request-Id"),
        ("MOOSE_SERVER__CORS_MAX_AGE_SECONDS", "120"),
        ("MOOSE_SERVER__CORS_ALLOW_CREDENTIALS", "true"),
        ("MOOSE_SERVER__FORWARD_AUTH", "false"),
        ("MOOSE_SERVER__FORWARD_JWT", "true"),
        (
            "MOOSE_SERVER__CLAIM_HEADERS",
            r#"{ email = "X-User-Email" }"#,
        ),
        (
            "MOOSE_TOKEN_ISSUER__PREVIOUS_PUBLIC_KEYS",
            previous.as_str(),
        ),
        (
            "MOOSE_KEYS__STORE",
            "postgres://keygate:s3cret@db.internal:5432/keys",
        ),
        ("MOOSE_KEYS__SYNC_INTERVAL_MS", "500"),
        ("MOOSE_KEYS__LAST_USED_FLUSH_SECONDS", "30"),
        ("MOOSE_KEYS__MAX_CACHED", "2000"),
    ];
    let config = load(None, &env).unwrap();
    let keys = config.keys();
    assert_eq!(
        keys.store,
        "postgres://keygate:s3cret@db.internal:5432/keys"
    );
    assert!(keys.store_configured);
    assert_eq!(
        (
            keys.sync_interval.as_millis(),
            keys.last_used_flush.as_secs(),
            keys.max_cached
        ),
        (500, 30, 2000)
    );
    let shown = config
        .explain()
        .iter()
        .find(|e| e.setting == "keys.store")
        .unwrap();
    assert!(
        !shown.value.contains("s3cret") && shown.value.ends_with("@db.internal:5432/keys"),
        "the store URL is shown without its password: {shown}"
    );
    assert_eq!(config.admin_hashes().keys().len(), 1);
    assert_eq!(config.consumption_keys().keys().len(), 1);
    let verifier = config.jwt_verifier().unwrap();
    assert_eq!(verifier.settings().leeway_seconds, 5);
    assert_eq!(
        verifier.keys().len(),
        1,
        "the PEM key; the server adds the token issuer's key"
    );
    assert!(config.enforce_on_all_ingest_apis());
    assert!(!config.enforce_on_all_consumptions_apis());
    assert_eq!(
        config.jwks_url(),
        Some("https://idp.example/.well-known/jwks.json")
    );
    let issuer = config.token_issuer().unwrap();
    assert_eq!(issuer.ttl_seconds, 600);
    assert_eq!(
        (issuer.issuer.as_str(), issuer.audience.as_str()),
        ("iss", "aud")
    );
    assert_eq!(issuer.projects[0].id, "p1");
    assert_eq!(
        issuer.projects[0]
            .keys
            .verify(key.bearer_token.expose_secret())
            .result,
        Ok(StoredKey::parse(&key.stored).unwrap().id())
    );
    let cache = config.cache();
    assert_eq!(
        (
            cache.api_key_ttl.as_secs(),
            cache.failure_ttl.as_secs(),
            cache.max_entries
        ),
        (60, 0, 50)
    );
    assert_eq!((config.kdf().workers, config.kdf().queue), (3, 7));
    assert_eq!(config.server().listen.to_string(), "0.0.0.0:8080");
    assert_eq!(config.server().max_authorization_bytes, 20_000);
    assert_eq!(verifier.settings().max_token_bytes, 20_000);
    assert_eq!(config.kdf().queue_per_client, 2);
    let (client, project) = (config.client_budget(), config.project_budget());
    assert_eq!(
        (client.window.as_secs(), client.failures, client.max_tracked),
        (90, 4, 5000)
    );
    assert_eq!((project.window.as_secs(), project.failures), (90, 6));
    assert_eq!(
        (client.refusal_delay, project.refusal_delay),
        (Duration::from_millis(250), Duration::from_millis(250))
    );
    let proxies: Vec<String> = config
        .server()
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
    let server = config.server();
    assert_eq!(
        server.routes.classify("/api/moss-token"),
        Ok(auth_core::policy::RouteClass::Public)
    );
    assert_eq!(
        server.routes.classify("/v2/x"),
        Ok(auth_core::policy::RouteClass::Admin)
    );
    assert_eq!(
        server.cors_allowed_origins,
        ["https://app.example", "http://localhost:3000"]
    );
    assert_eq!(
        server.cors_allowed_methods,
        [http::Method::GET, http::Method::POST]
    );
    assert_eq!(server.cors_allowed_headers, ["x-request-id"]);
    assert_eq!(server.cors_max_age_seconds, 120);
    assert!(server.cors_allow_credentials && server.forward_jwt);
    assert!(
        !server.forward_auth,
        "explicitly off despite trusted proxies"
    );
    assert_eq!(server.claim_headers.len(), 1);
    assert_eq!(server.claim_headers[0].1.as_str(), "x-user-email");
    assert_eq!(config.token_issuer().unwrap().previous_public_keys.len(), 1);
    assert_eq!(
        config.server().upstream.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    // Every explained setting names the variable it came from.
    for entry in config.explain() {
        if entry.value != "(not set)" {
            assert!(matches!(entry.origin, Origin::Env { .. }), "{entry}");
        }
    }
}

#[test]
fn file_settings_of_every_section_with_lines() {
    let key = generate_moose().unwrap();
    let toml = format!(
        r#"[authentication]
admin_api_key = {key}
ingest_api_keys = [
  {key},
]

[jwt]
jwks_url = "https://idp.example/jwks.json"
issuer = "iss"
audience = "aud"
leeway_seconds = 0

[token_issuer]
private_key = {private}
ttl_seconds = 120

[[token_issuer.projects]]
id = "first"
key_hash = {key}

[[token_issuer.projects]]
id = "second"
key_hash = [{key}]

[cache]
max_entries = 1

[server]
listen = "[::1]:4001"
"#,
        key = toml_string(&key.stored),
        private = toml_string(ed25519().private_pem.expose_secret())
    );
    let dir = dir_with(Some(&toml));
    let config = Config::load(&options(&dir, &[])).unwrap();
    assert!(
        config.jwt_verifier().unwrap().keys().is_empty(),
        "no static key: the server adds the issuer's, and fetches the remote set's"
    );
    assert_eq!(config.jwt_verifier().unwrap().settings().leeway_seconds, 0);
    let projects = &config.token_issuer().unwrap().projects;
    assert_eq!(
        projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(config.server().listen.to_string(), "[::1]:4001");
    assert_eq!(config.cache().max_entries, 1);
    for (setting, line) in [
        ("authentication.admin_api_key", 2),
        ("authentication.ingest_api_keys", 3),
        ("jwt.jwks_url", 8),
        ("token_issuer.private_key", 14),
        ("token_issuer.ttl_seconds", 15),
        ("token_issuer.projects[0]", 17),
        ("token_issuer.projects[1]", 21),
        ("cache.max_entries", 26),
        ("server.listen", 29),
    ] {
        assert_eq!(
            explained(&config, setting).origin.to_string(),
            file_origin(&dir, line),
            "{setting}"
        );
    }
    assert_eq!(
        explained(&config, "cache.kdf_queue").origin,
        Origin::Default
    );
    assert_eq!(
        config.file(),
        Some(dir.path().join("moose.config.toml").as_path())
    );
}

#[test]
fn defaults_when_nothing_is_configured() {
    let config = load(None, &[]).unwrap();
    assert!(config.ingest_keys().is_empty() && config.consumption_keys().is_empty());
    assert!(config.jwt_verifier().is_none() && config.token_issuer().is_none());
    assert_eq!(
        config.cache(),
        &auth_cache::verify::CacheSettings::default()
    );
    assert_eq!(config.kdf(), &auth_cache::pool::KdfSettings::default());
    assert_eq!(config.server(), &auth_config::ServerSettings::default());
    assert_eq!(config.server().listen.to_string(), "127.0.0.1:4000");
    assert_eq!(config.cache().api_key_ttl.as_secs(), 300);
    assert_eq!(config.cache().failure_ttl.as_secs(), 10);
    assert_eq!(config.cache().max_entries, 10_000);
    assert!(config.file().is_none());
    let policy = Policy::new(config.policy_parts(None)).unwrap();
    let mechanisms = policy.mechanisms();
    assert!(mechanisms.ingest.is_open() && mechanisms.consumption.is_open() && !mechanisms.admin);
    for entry in config.explain() {
        assert_eq!(entry.origin, Origin::Default, "{entry}");
    }
    assert_eq!(explained(&config, "jwt.leeway_seconds").value, "60");
    assert_eq!(explained(&config, "token_issuer.ttl_seconds").value, "3600");
    assert_eq!(explained(&config, "server.listen").value, "127.0.0.1:4000");
}

#[test]
fn explicit_path_custom_name_and_prefix() {
    let dir = dir_with(None);
    let path = dir.path().join("keygate.toml");
    std::fs::write(&path, "[jwt]\nissuer = \"from-explicit\"\n").unwrap();
    let env = Env::from_pairs([
        ("KG_JWT_AUDIENCE", "kg-aud"),
        ("MOOSE_JWT_AUDIENCE", "moose-aud"),
    ]);

    let explicit = LoadOptions::new()
        .with_config_path(Some(path.clone()))
        .with_env_prefix("KG_")
        .with_env(env.clone());
    let config = Config::load(&explicit).unwrap();
    assert_eq!(explained(&config, "jwt.issuer").value, "from-explicit");
    assert_eq!(explained(&config, "jwt.audience").value, "kg-aud");
    assert_eq!(
        explained(&config, "jwt.audience").origin.to_string(),
        "env KG_JWT_AUDIENCE"
    );

    let by_name = LoadOptions::new()
        .with_directory(dir.path())
        .with_file_name("keygate.toml")
        .with_env(env);
    let config = Config::load(&by_name).unwrap();
    assert_eq!(explained(&config, "jwt.issuer").value, "from-explicit");
    assert_eq!(explained(&config, "jwt.audience").value, "moose-aud");

    let missing = LoadOptions::new()
        .with_config_path(Some(dir.path().join("absent.toml")))
        .with_env(Env::from_pairs::<_, &str, &str>([]));
    assert!(matches!(
        Config::load(&missing),
        Err(ConfigError::FileNotFound { .. })
    ));
}

#[test]
fn moose_sections_and_variables_that_are_not_keygate_s_are_ignored() {
    let toml = "[clickhouse_config]\nhost = \"localhost\"\nport = 18123\n\n[features]\nstreaming_engine = true\n";
    let env = [
        ("MOOSE_CLICKHOUSE_CONFIG__HOST", "db"),
        ("MOOSE_LOGGER__LEVEL", "debug"),
        ("MOOSE_JWT", "not a section variable"),
        ("PATH", "/usr/bin"),
    ];
    let config = load(Some(toml), &env).unwrap();
    assert!(config.explain().iter().all(|e| e.origin == Origin::Default));
}

#[test]
fn empty_variables_count_as_unset() {
    let config = load(
        Some("[jwt]\nissuer = \"from-file\"\n"),
        &[
            ("MOOSE_JWT_ISSUER", ""),
            ("MOOSE_ADMIN_TOKEN", ""),
            ("MOOSE_INGEST_API_KEY", ""),
        ],
    )
    .unwrap();
    assert_eq!(explained(&config, "jwt.issuer").value, "from-file");
    assert!(config.admin_env_token().is_none());
    assert!(config.ingest_keys().is_empty());
}

#[test]
fn env_lists_are_comma_separated_and_phc_strings_survive() {
    let moose = generate_moose().unwrap();
    let phc = auth_core::apikey::generate_phc(1000).unwrap();
    let value = format!("{}, {}", moose.stored, phc.stored);
    let config = load(None, &[("MOOSE_CONSUMPTION_API_KEY", &value)]).unwrap();
    let keys = config.consumption_keys();
    assert_eq!(keys.keys().len(), 2);
    assert!(
        keys.verify(moose.bearer_token.expose_secret())
            .result
            .is_ok()
    );
    assert!(keys.verify(phc.bearer_token.expose_secret()).result.is_ok());
    assert_eq!(
        explained(&config, "authentication.consumption_api_keys").value,
        format!(
            "moose:{}, phc:{}",
            StoredKey::parse(&moose.stored).unwrap().id(),
            StoredKey::parse(&phc.stored).unwrap().id()
        )
    );
}

#[test]
fn pem_in_an_env_value_may_use_literal_backslash_n() {
    let one_line = rsa().public_pem.trim_end().replace('\n', "\\n");
    let config = load(
        None,
        &[
            ("MOOSE_JWT_PUBLIC_KEY", &one_line),
            ("MOOSE_JWT_ISSUER", "i"),
            ("MOOSE_JWT_AUDIENCE", "a"),
        ],
    )
    .unwrap();
    assert_eq!(config.jwt_verifier().unwrap().keys().len(), 1);
}

#[test]
fn development_mode_only_when_nothing_is_configured() {
    let empty = dir_with(None);
    assert!(options(&empty, &[]).is_unconfigured());
    assert!(
        options(
            &empty,
            &[("MOOSE_CLICKHOUSE_CONFIG__HOST", "x"), ("PATH", "/bin")]
        )
        .is_unconfigured()
    );
    assert!(options(&empty, &[("MOOSE_ADMIN_TOKEN", "")]).is_unconfigured());
    assert!(!options(&empty, &[("MOOSE_ADMIN_TOKEN", "t")]).is_unconfigured());
    assert!(!options(&empty, &[("MOOSE_JWT__ISSUER", "i")]).is_unconfigured());
    assert!(!options(&empty, &[("MOOSE_INGEST_API_KEY", "h")]).is_unconfigured());
    let with_file = dir_with(Some("[clickhouse_config]\n"));
    assert!(!options(&with_file, &[]).is_unconfigured());
    let explicit = options(&empty, &[]).with_config_path(Some(empty.path().join("x.toml")));
    assert!(!explicit.is_unconfigured());
}

#[test]
fn debug_of_the_config_redacts_every_secret() {
    let admin_token = "AdminTokenNobodyMayRead-42";
    let private = ed25519().private_pem.expose_secret();
    let private_body = private.lines().nth(1).unwrap();
    let config = load(
        Some(&format!(
            "[jwt]\nissuer = \"i\"\naudience = \"a\"\n[token_issuer]\nprivate_key = {}\n",
            toml_string(private)
        )),
        &[("MOOSE_ADMIN_TOKEN", admin_token)],
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains(admin_token), "{debug}");
    assert!(!debug.contains(private_body), "{debug}");
    let shown: String = config.explain().iter().map(ToString::to_string).collect();
    assert!(
        !shown.contains(admin_token) && !shown.contains(private_body),
        "{shown}"
    );
    assert_eq!(explained(&config, "admin token").value, "<redacted>");
    assert!(
        explained(&config, "token_issuer.private_key")
            .value
            .starts_with("<redacted> (EdDSA private key, kid ")
    );
}
