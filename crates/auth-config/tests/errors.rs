//! One test per error path: the message names the setting and where it was set, and neither the
//! message nor `Debug` contains the secret the input carried.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use auth_config::{Config, ConfigError, Env, LoadOptions};
use auth_core::apikey::{StoredKeyError, generate_moose};
use auth_core::jwt::KeyError;
use auth_core::secrecy::ExposeSecret;
use common::{
    P384_PUBLIC, RSA_1024_PUBLIC, SECRET, assert_no_secret, dir_with, ed25519, file_origin,
    options, rsa, toml_string,
};
use tempfile::TempDir;

/// Loads and returns the error (with the directory, for file origins).
fn fail(toml: Option<&str>, env: &[(&str, &str)]) -> (TempDir, ConfigError) {
    let dir = dir_with(toml);
    let err = Config::load(&options(&dir, env)).expect_err("the configuration must be refused");
    (dir, err)
}

/// The message starts with `setting (origin)` — the shape every per-setting error has.
fn assert_names(err: &ConfigError, setting: &str, origin: &str) {
    let message = err.to_string();
    assert!(
        message.contains(&format!("{setting} ({origin})")),
        "{message}"
    );
    assert_eq!(
        err.origin().map(ToString::to_string).as_deref(),
        Some(origin),
        "{message}"
    );
}

fn no_env() -> Env {
    Env::from_pairs::<_, &str, &str>([])
}

#[test]
fn explicit_file_that_does_not_exist() {
    let dir = dir_with(None);
    let path = dir.path().join("missing.toml");
    let err = Config::load(
        &LoadOptions::new()
            .with_config_path(Some(path.clone()))
            .with_env(no_env()),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::FileNotFound { .. }));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn file_that_cannot_be_read() {
    // A directory where the file should be: it exists, but reading it fails.
    let dir = dir_with(None);
    std::fs::create_dir(dir.path().join("moose.config.toml")).unwrap();
    let err = Config::load(&options(&dir, &[])).unwrap_err();
    assert!(matches!(err, ConfigError::FileUnreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("moose.config.toml"), "{err}");
}

#[test]
fn file_that_is_not_utf8() {
    let dir = dir_with(None);
    let mut bytes = format!("[jwt]\nissuer = \"{SECRET}").into_bytes();
    bytes.extend([0xff, 0xfe, b'"', b'\n']);
    std::fs::write(dir.path().join("moose.config.toml"), bytes).unwrap();
    let err = Config::load(&options(&dir, &[])).unwrap_err();
    assert!(matches!(err, ConfigError::FileNotUtf8 { .. }));
    assert_no_secret(&err, SECRET);
}

#[test]
fn toml_syntax_error_names_the_line_not_the_text() {
    let toml = format!("[jwt]\nissuer = \"i\"\nsecret = {SECRET} unquoted\n");
    let (dir, err) = fail(Some(&toml), &[]);
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: invalid TOML", file_origin(&dir, 3))),
        "{err}"
    );
    assert_no_secret(&err, SECRET);
}

#[test]
fn toml_syntax_error_in_an_env_project_list() {
    let value = format!("[{{ id = {SECRET}");
    let (_, err) = fail(None, &[("MOOSE_TOKEN_ISSUER__PROJECTS", &value)]);
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert!(
        err.to_string()
            .starts_with("env MOOSE_TOKEN_ISSUER__PROJECTS: invalid TOML"),
        "{err}"
    );
    assert_no_secret(&err, SECRET);
}

#[test]
fn unknown_key_in_a_known_section_of_the_file() {
    let (dir, err) = fail(Some("[jwt]\nisuer = \"https://issuer/\"\n"), &[]);
    assert!(matches!(err, ConfigError::UnknownSetting { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "unknown setting jwt.isuer ({}); did you mean jwt.issuer?",
            file_origin(&dir, 2)
        )
    );
}

#[test]
fn unknown_key_in_a_known_section_of_the_environment() {
    let (_, err) = fail(None, &[("MOOSE_JWT__ISUER", SECRET)]);
    assert!(matches!(err, ConfigError::UnknownSetting { .. }));
    assert_names(&err, "jwt.isuer", "env MOOSE_JWT__ISUER");
    assert_no_secret(&err, SECRET);
}

#[test]
fn plain_admin_token_in_the_file_is_refused_with_a_hint() {
    let toml = format!("[authentication]\nadmin_token = \"{SECRET}\"\n");
    let (dir, err) = fail(Some(&toml), &[]);
    assert_names(&err, "authentication.admin_token", &file_origin(&dir, 2));
    assert!(err.to_string().contains("MOOSE_ADMIN_TOKEN"), "{err}");
    assert_no_secret(&err, SECRET);
}

#[test]
fn unknown_key_in_a_project_entry() {
    let key = generate_moose().unwrap();
    let toml = format!(
        "[[token_issuer.projects]]\nid = \"p\"\nkey_hsh = {}\n",
        toml_string(&key.stored)
    );
    let (dir, err) = fail(Some(&toml), &[]);
    assert_names(
        &err,
        "token_issuer.projects[0].key_hsh",
        &file_origin(&dir, 3),
    );
    assert!(err.to_string().ends_with("did you mean key_hash?"), "{err}");
}

#[test]
fn known_section_that_is_not_a_table() {
    let toml = format!("jwt = \"{SECRET}\"\n");
    let (dir, err) = fail(Some(&toml), &[]);
    assert!(matches!(
        err,
        ConfigError::WrongType {
            expected: "a table",
            ..
        }
    ));
    assert_names(&err, "jwt", &file_origin(&dir, 1));
    assert_no_secret(&err, SECRET);
}

#[test]
fn non_boolean_flag_from_the_environment() {
    let (_, err) = fail(None, &[("MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS", SECRET)]);
    assert!(matches!(err, ConfigError::WrongType { .. }));
    assert_names(
        &err,
        "jwt.enforce_on_all_ingest_apis",
        "env MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS",
    );
    assert!(err.to_string().contains("must be true or false"), "{err}");
    assert_no_secret(&err, SECRET);
}

#[test]
fn non_boolean_flag_in_the_file() {
    let (dir, err) = fail(Some("[jwt]\nenforce_on_all_consumptions_apis = 1.5\n"), &[]);
    assert_names(
        &err,
        "jwt.enforce_on_all_consumptions_apis",
        &file_origin(&dir, 2),
    );
    assert!(
        err.to_string()
            .ends_with("must be true or false, found a float"),
        "{err}"
    );
}

#[test]
fn number_that_is_not_a_number() {
    let (dir, err) = fail(Some(&format!("[cache]\nmax_entries = \"{SECRET}\"\n")), &[]);
    assert!(matches!(
        err,
        ConfigError::WrongType {
            expected: "a whole number",
            ..
        }
    ));
    assert_names(&err, "cache.max_entries", &file_origin(&dir, 2));
    assert_no_secret(&err, SECRET);
}

#[test]
fn numbers_out_of_range() {
    let (dir, err) = fail(Some("[jwt]\nleeway_seconds = -1\n"), &[]);
    assert!(matches!(err, ConfigError::OutOfRange { value: -1, .. }));
    assert_names(&err, "jwt.leeway_seconds", &file_origin(&dir, 2));
    assert!(
        err.to_string().ends_with("is -1; allowed is 0 to 3600"),
        "{err}"
    );

    let (_, err) = fail(None, &[("MOOSE_TOKEN_ISSUER__TTL_SECONDS", "0")]);
    assert_names(
        &err,
        "token_issuer.ttl_seconds",
        "env MOOSE_TOKEN_ISSUER__TTL_SECONDS",
    );
    let (_, err) = fail(None, &[("MOOSE_CACHE__KDF_WORKERS", "0")]);
    assert_names(&err, "cache.kdf_workers", "env MOOSE_CACHE__KDF_WORKERS");
    let (_, err) = fail(
        None,
        &[("MOOSE_CACHE__MAX_ENTRIES", "99999999999999999999999999")],
    );
    assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err:?}");
}

#[test]
fn listen_address_that_does_not_parse() {
    let (_, err) = fail(None, &[("MOOSE_SERVER__LISTEN", SECRET)]);
    assert!(matches!(err, ConfigError::InvalidValue { .. }));
    assert_names(&err, "server.listen", "env MOOSE_SERVER__LISTEN");
    assert_no_secret(&err, SECRET);
}

#[test]
fn urls_that_are_not_http() {
    let (dir, err) = fail(Some("[jwt]\njwks_url = \"ftp://idp/jwks\"\n"), &[]);
    assert_names(&err, "jwt.jwks_url", &file_origin(&dir, 2));
    let value = format!("{SECRET} not a url");
    let (_, err) = fail(None, &[("MOOSE_SERVER__UPSTREAM", &value)]);
    assert_names(&err, "server.upstream", "env MOOSE_SERVER__UPSTREAM");
    assert_no_secret(&err, SECRET);
}

#[cfg(unix)]
#[test]
fn environment_value_that_is_not_utf8() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let dir = dir_with(None);
    let env = Env::from_pairs([(
        OsString::from("MOOSE_ADMIN_TOKEN"),
        OsString::from_vec(vec![b'a', 0xff]),
    )]);
    let err =
        Config::load(&LoadOptions::new().with_directory(dir.path()).with_env(env)).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }));
    assert_names(&err, "admin token", "env MOOSE_ADMIN_TOKEN");
    // A variable keygate does not read may hold anything.
    let env = Env::from_pairs([(OsString::from("OTHER"), OsString::from_vec(vec![0xff]))]);
    assert!(Config::load(&LoadOptions::new().with_directory(dir.path()).with_env(env)).is_ok());
}

#[test]
fn project_entries_that_cannot_be_used() {
    let key = toml_string(&generate_moose().unwrap().stored);
    let head = format!(
        "[jwt]\nissuer = \"i\"\naudience = \"a\"\n[token_issuer]\nprivate_key = {}\n",
        toml_string(ed25519().private_pem.expose_secret())
    );
    // A missing field points at the entry's [[token_issuer.projects]] header (line 6), a bad one
    // at its own line.
    for (entries, setting, line) in [
        (
            format!("[[token_issuer.projects]]\nkey_hash = {key}\n"),
            "token_issuer.projects[0].id",
            6,
        ),
        (
            format!("[[token_issuer.projects]]\nid = \"\"\nkey_hash = {key}\n"),
            "token_issuer.projects[0].id",
            7,
        ),
        (
            "[[token_issuer.projects]]\nid = \"p\"\n".to_owned(),
            "token_issuer.projects[0].key_hash",
            6,
        ),
        (
            format!(
                "[[token_issuer.projects]]\nid = \"p\"\nkey_hash = {key}\n[[token_issuer.projects]]\nid = \"p\"\nkey_hash = {key}\n"
            ),
            "token_issuer.projects[1].id",
            10,
        ),
    ] {
        let (dir, err) = fail(Some(&format!("{head}{entries}")), &[]);
        assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
        assert_names(&err, setting, &file_origin(&dir, line));
    }
    let (dir, err) = fail(
        Some(&format!(
            "{head}[[token_issuer.projects]]\nid = 7\nkey_hash = {key}\n"
        )),
        &[],
    );
    assert!(matches!(err, ConfigError::WrongType { .. }));
    assert_names(&err, "token_issuer.projects[0].id", &file_origin(&dir, 7));
}

#[test]
fn stored_hash_of_neither_format() {
    let valid = toml_string(&generate_moose().unwrap().stored);
    let toml = format!("[authentication]\nadmin_api_key = [\n  {valid},\n  \"{SECRET}\",\n]\n");
    let (dir, err) = fail(Some(&toml), &[]);
    assert!(matches!(
        err,
        ConfigError::StoredKey {
            entry: 2,
            reason: StoredKeyError::UnknownFormat,
            ..
        }
    ));
    assert_names(&err, "authentication.admin_api_key", &file_origin(&dir, 4));
    assert!(err.to_string().contains("entry 2"), "{err}");
    assert_no_secret(&err, SECRET);

    let (_, err) = fail(None, &[("MOOSE_INGEST_API_KEY", SECRET)]);
    assert_names(
        &err,
        "authentication.ingest_api_keys",
        "env MOOSE_INGEST_API_KEY",
    );
    assert_no_secret(&err, SECRET);
}

#[test]
fn phc_hash_with_iterations_out_of_range() {
    let phc = "$pbkdf2-sha256$i=999,l=32$c2FsdHNhbHRzYWx0c2FsdA$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let (_, err) = fail(None, &[("MOOSE_CONSUMPTION_API_KEY", phc)]);
    assert!(matches!(
        err,
        ConfigError::StoredKey {
            reason: StoredKeyError::IterationsOutOfRange { iterations: 999 },
            ..
        }
    ));
    assert_names(
        &err,
        "authentication.consumption_api_keys",
        "env MOOSE_CONSUMPTION_API_KEY",
    );
    assert!(err.to_string().contains("999 PBKDF2 iterations"), "{err}");
}

#[test]
fn malformed_phc_hash() {
    let phc = format!("$pbkdf2-sha256$i=1000,l=32${SECRET}");
    let (_, err) = fail(None, &[("MOOSE_AUTHENTICATION__ADMIN_API_KEY", &phc)]);
    assert!(matches!(
        err,
        ConfigError::StoredKey {
            reason: StoredKeyError::MalformedPhc(_),
            ..
        }
    ));
    assert_names(
        &err,
        "authentication.admin_api_key",
        "env MOOSE_AUTHENTICATION__ADMIN_API_KEY",
    );
    assert_no_secret(&err, SECRET);
}

/// Loads `[jwt] secret = pem` with issuer and audience set, so only the key can be wrong.
fn jwt_secret_error(pem: &str) -> (TempDir, ConfigError) {
    let toml = format!(
        "[jwt]\nissuer = \"i\"\naudience = \"a\"\nsecret = {}\n",
        toml_string(pem)
    );
    fail(Some(&toml), &[])
}

#[test]
fn jwt_secret_that_is_not_pem() {
    let (dir, err) = jwt_secret_error(SECRET);
    assert!(matches!(
        err,
        ConfigError::Key {
            reason: KeyError::NotPem,
            ..
        }
    ));
    assert_names(&err, "jwt.secret", &file_origin(&dir, 4));
    assert_no_secret(&err, SECRET);
}

#[test]
fn private_key_where_a_public_key_is_expected() {
    let private = rsa().private_pem.expose_secret();
    let (_, err) = fail(
        None,
        &[
            ("MOOSE_JWT_PUBLIC_KEY", private),
            ("MOOSE_JWT_ISSUER", "i"),
            ("MOOSE_JWT_AUDIENCE", "a"),
        ],
    );
    assert!(matches!(
        err,
        ConfigError::Key {
            reason: KeyError::PrivateKeyGiven,
            ..
        }
    ));
    assert_names(&err, "jwt.secret", "env MOOSE_JWT_PUBLIC_KEY");
    for line in private.lines().filter(|l| !l.starts_with("-----")) {
        assert_no_secret(&err, line);
    }
}

#[test]
fn public_key_where_a_private_key_is_expected() {
    let toml = format!(
        "[jwt]\nissuer = \"i\"\naudience = \"a\"\n[token_issuer]\nprivate_key = {}\n",
        toml_string(&ed25519().public_pem)
    );
    let (dir, err) = fail(Some(&toml), &[]);
    assert!(matches!(
        err,
        ConfigError::Key {
            reason: KeyError::PublicKeyGiven,
            ..
        }
    ));
    assert_names(&err, "token_issuer.private_key", &file_origin(&dir, 5));
}

#[test]
fn rsa_key_under_2048_bits() {
    let (dir, err) = jwt_secret_error(RSA_1024_PUBLIC);
    assert!(matches!(
        err,
        ConfigError::Key {
            reason: KeyError::RsaTooSmall(1024),
            ..
        }
    ));
    assert_names(&err, "jwt.secret", &file_origin(&dir, 4));
    assert!(err.to_string().contains("1024 bits"), "{err}");
}

#[test]
fn ec_key_on_an_unsupported_curve() {
    let (dir, err) = jwt_secret_error(P384_PUBLIC);
    assert!(
        matches!(
            err,
            ConfigError::Key {
                reason: KeyError::Unsupported(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, "jwt.secret", &file_origin(&dir, 4));
}

#[test]
fn jwt_key_without_issuer_or_audience() {
    let pem = rsa().public_pem.as_str();
    let (_, err) = fail(
        None,
        &[("MOOSE_JWT_PUBLIC_KEY", pem), ("MOOSE_JWT_AUDIENCE", "a")],
    );
    assert!(matches!(
        err,
        ConfigError::JwtIncomplete {
            missing: "jwt.issuer",
            ..
        }
    ));
    assert_names(&err, "jwt.secret", "env MOOSE_JWT_PUBLIC_KEY");

    let (_, err) = fail(
        None,
        &[("MOOSE_JWT_PUBLIC_KEY", pem), ("MOOSE_JWT_ISSUER", "i")],
    );
    assert!(matches!(
        err,
        ConfigError::JwtIncomplete {
            missing: "jwt.audience",
            ..
        }
    ));

    let (dir, err) = fail(
        Some("[jwt]\naudience = \"a\"\njwks_url = \"https://idp/jwks\"\n"),
        &[],
    );
    assert!(matches!(
        err,
        ConfigError::JwtIncomplete {
            missing: "jwt.issuer",
            ..
        }
    ));
    assert_names(&err, "jwt.jwks_url", &file_origin(&dir, 3));

    let private = ed25519().private_pem.expose_secret();
    let (_, err) = fail(
        None,
        &[
            ("MOOSE_TOKEN_ISSUER__PRIVATE_KEY", private),
            ("MOOSE_JWT_ISSUER", "i"),
        ],
    );
    assert!(matches!(
        err,
        ConfigError::JwtIncomplete {
            missing: "jwt.audience",
            ..
        }
    ));
    assert_names(
        &err,
        "token_issuer.private_key",
        "env MOOSE_TOKEN_ISSUER__PRIVATE_KEY",
    );
    assert_no_secret(&err, private.lines().nth(1).unwrap());
}

#[test]
fn enforce_flag_without_usable_jwt_settings() {
    let (dir, err) = fail(Some("[jwt]\nenforce_on_all_ingest_apis = true\n"), &[]);
    assert!(matches!(err, ConfigError::EnforceWithoutJwt { .. }));
    assert_names(
        &err,
        "jwt.enforce_on_all_ingest_apis",
        &file_origin(&dir, 2),
    );

    // Issuer and audience alone are not usable: no key to check signatures with.
    let (_, err) = fail(
        None,
        &[
            ("MOOSE_JWT_ISSUER", "i"),
            ("MOOSE_JWT_AUDIENCE", "a"),
            ("MOOSE_JWT__ENFORCE_ON_ALL_CONSUMPTIONS_APIS", "true"),
        ],
    );
    assert_names(
        &err,
        "jwt.enforce_on_all_consumptions_apis",
        "env MOOSE_JWT__ENFORCE_ON_ALL_CONSUMPTIONS_APIS",
    );
}

#[test]
fn projects_without_a_private_key() {
    let key = toml_string(&generate_moose().unwrap().stored);
    let toml = format!("[[token_issuer.projects]]\nid = \"p\"\nkey_hash = {key}\n");
    let (dir, err) = fail(Some(&toml), &[]);
    assert!(matches!(err, ConfigError::Requires { .. }));
    assert_names(&err, "token_issuer.projects", &file_origin(&dir, 1));
    assert!(
        err.to_string().contains("token_issuer.private_key"),
        "{err}"
    );
}

#[test]
fn admin_token_variable_holding_a_stored_hash() {
    let moose = generate_moose().unwrap().stored;
    let phc = auth_core::apikey::generate_phc(1000).unwrap().stored;
    for stored in [moose.clone(), format!("{phc}\n")] {
        let (_, err) = fail(None, &[("MOOSE_ADMIN_TOKEN", &stored)]);
        assert!(
            matches!(&err, ConfigError::AdminTokenIsHash { variable, .. } if variable == "MOOSE_ADMIN_TOKEN"),
            "{err:?}"
        );
        assert_eq!(
            err.origin().map(ToString::to_string).as_deref(),
            Some("env MOOSE_ADMIN_TOKEN")
        );
        let message = err.to_string();
        assert!(message.starts_with("MOOSE_ADMIN_TOKEN "), "{message}");
        assert!(
            message.contains("[authentication] admin_api_key"),
            "{message}"
        );
        assert!(message.contains("plain-text admin token"), "{message}");
        assert_no_secret(&err, stored.trim());
    }
    // The same hash where it belongs loads, and a plain token (even a hex one) is fine.
    let toml = format!(
        "[authentication]\nadmin_api_key = {}\n",
        toml_string(&moose)
    );
    assert!(common::load(Some(&toml), &[]).is_ok());
    assert!(common::load(None, &[("MOOSE_ADMIN_TOKEN", &moose[..39])]).is_ok());
}

#[test]
fn wrapped_reasons_are_in_the_message_and_not_repeated_as_a_source() {
    use std::error::Error as _;
    let (_, key) = jwt_secret_error(SECRET);
    let phc = "$pbkdf2-sha256$i=999,l=32$c2FsdHNhbHRzYWx0c2FsdA$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let (_, stored) = fail(None, &[("MOOSE_CONSUMPTION_API_KEY", phc)]);
    let dir = dir_with(None);
    std::fs::create_dir(dir.path().join("moose.config.toml")).unwrap();
    let unreadable = Config::load(&options(&dir, &[])).unwrap_err();
    for (err, reason) in [
        (&key, KeyError::NotPem.to_string()),
        (
            &stored,
            StoredKeyError::IterationsOutOfRange { iterations: 999 }.to_string(),
        ),
    ] {
        assert!(err.source().is_none(), "{err:?}");
        assert_eq!(err.to_string().matches(&reason).count(), 1, "{err}");
    }
    assert!(matches!(unreadable, ConfigError::FileUnreadable { .. }));
    assert!(unreadable.source().is_none(), "{unreadable:?}");
}

#[test]
fn jwt_secret_certificate_that_is_not_x509() {
    let garbage = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "QUJD".repeat(10)
    );
    let (dir, err) = jwt_secret_error(&garbage);
    assert!(
        matches!(
            err,
            ConfigError::Key {
                reason: KeyError::InvalidCertificate(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, "jwt.secret", &file_origin(&dir, 4));
    assert!(
        err.to_string()
            .ends_with("the CERTIFICATE is not a valid X.509 certificate (the content is not DER)"),
        "{err}"
    );
}

#[test]
fn jwt_secret_certificate_of_a_small_rsa_key() {
    let cert = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../auth-core/tests/fixtures/certs/rsa1024.crt"
    ))
    .unwrap();
    let (dir, err) = jwt_secret_error(&cert);
    assert!(
        matches!(
            err,
            ConfigError::Key {
                reason: KeyError::RsaTooSmall(1024),
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, "jwt.secret", &file_origin(&dir, 4));
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_or_network_names_its_line() {
    let (dir, err) = fail(
        Some("[server]\ntrusted_proxies = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n"),
        &[],
    );
    assert_names(&err, "server.trusted_proxies", &file_origin(&dir, 4));
    assert!(err.to_string().contains("CIDR network"), "{err}");
    let (_, err) = fail(
        None,
        &[("MOOSE_SERVER__TRUSTED_PROXIES", "10.0.0.1, proxy.internal")],
    );
    assert_names(
        &err,
        "server.trusted_proxies",
        "env MOOSE_SERVER__TRUSTED_PROXIES",
    );
}

#[test]
fn limits_out_of_range_are_refused() {
    for (key, value) in [
        ("failure_window_seconds", "0"),
        ("failures_per_client", "0"),
        ("failures_per_project", "2000000"),
        ("max_tracked", "10"),
    ] {
        let (dir, err) = fail(Some(&format!("[limits]\n{key} = {value}\n")), &[]);
        assert_names(&err, &format!("limits.{key}"), &file_origin(&dir, 2));
    }
    let (dir, err) = fail(Some("[limits]\nfailures_per_clent = 3\n"), &[]);
    assert!(
        err.to_string()
            .ends_with("did you mean limits.failures_per_client?"),
        "{err} {dir:?}"
    );
}

#[test]
fn key_store_urls_of_unknown_engines_and_out_of_range_intervals() {
    let (_, err) = fail(Some("[keys]\nstore = \"mysql://kg:pw@db/keys\"\n"), &[]);
    assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
    assert!(err.to_string().contains("keys.store"), "{err}");
    assert_no_secret(&err, "pw@");
    let (_, err) = fail(None, &[("MOOSE_KEYS__SYNC_INTERVAL_MS", "10")]);
    assert_names(
        &err,
        "keys.sync_interval_ms",
        "env MOOSE_KEYS__SYNC_INTERVAL_MS",
    );
    let (_, err) = fail(Some("[keys]\nstor = \"sqlite://x.db\"\n"), &[]);
    assert!(
        err.to_string().contains("keys.stor"),
        "unknown key named: {err}"
    );
}
