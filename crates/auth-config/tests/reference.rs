//! The configuration examples of `moose-api-authentication.txt`, as written. Placeholders the
//! document leaves open (`"..."`, `your_pbkdf2_hmac_sha256_hashed_key`, the truncated PEM) are
//! filled with real generated values; everything else is the document's text.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use auth_config::{Config, Env, LoadOptions};
use auth_core::apikey::{AdminCredential, GeneratedKey, KeyId, StoredKey, generate_moose};
use auth_core::policy::Policy;
use auth_core::secrecy::{ExposeSecret, SecretString};
use common::{
    dir_with, explained, file_origin, line_starting, load, now, options, rsa, sign, toml_string,
};

const ISSUER: &str = "https://my-auth-server.com/";
const AUDIENCE: &str = "my-moose-app";

/// "Option A: Configure in moose.config.toml", with the document's truncated key made whole.
const OPTION_A: &str = r#"[jwt]
# Your JWT public key (PEM-formatted RSA public key)
secret = """
PUBLIC_KEY_PEM"""
# Expected JWT issuer
issuer = "https://my-auth-server.com/"
# Expected JWT audience  
audience = "my-moose-app"
"#;

/// The `[jwt]` block shared by "Default Behavior", "Enforcing JWT Only" and the use cases.
const JWT_BLOCK: &str = r#"[jwt]
# JWT configuration
secret = "..."
issuer = "https://my-auth-server.com/"
audience = "my-moose-app"
"#;

const ENFORCING: &str = r#"[jwt]
secret = "..."
issuer = "https://my-auth-server.com/"
audience = "my-moose-app"
# Only accept JWT, no API key fallback
enforce_on_all_ingest_apis = true
enforce_on_all_consumptions_apis = true
"#;

const USE_CASE_1: &str = r#"[jwt]
secret = "..."
issuer = "https://my-auth-server.com/"
audience = "my-moose-app"
enforce_on_all_consumptions_apis = true  # JWT only for /api/*
enforce_on_all_ingest_apis = false        # Allow fallback for /ingest/*
"#;

const USE_CASE_2: &str = r#"[jwt]
secret = "..."
issuer = "https://my-auth-server.com/"
audience = "my-moose-app"
# Start with both allowed during migration
enforce_on_all_ingest_apis = false
enforce_on_all_consumptions_apis = false
# Later, enable to complete migration
# enforce_on_all_ingest_apis = true
# enforce_on_all_consumptions_apis = true
"#;

const ADMIN_FILE: &str = r#"[authentication]
admin_api_key = "your_pbkdf2_hmac_sha256_hashed_key"
"#;

/// Fills the document's `"..."` with the test RSA public key (as a TOML string).
fn with_key(example: &str) -> String {
    example
        .replace("\"...\"", &toml_string(&rsa().public_pem))
        .replace("PUBLIC_KEY_PEM", &rsa().public_pem)
}

fn key() -> (GeneratedKey, KeyId) {
    let key = generate_moose().unwrap();
    let id = StoredKey::parse(&key.stored).unwrap().id();
    (key, id)
}

fn assert_jwt_works(config: &Config) {
    let verifier = config.jwt_verifier().expect("JWT is configured");
    assert_eq!(verifier.settings().issuer, ISSUER);
    assert_eq!(verifier.settings().audience, AUDIENCE);
    let token = sign(rsa(), ISSUER, AUDIENCE);
    assert_eq!(verifier.verify(&token, now()).unwrap().iss, ISSUER);
    let wrong_audience = sign(rsa(), ISSUER, "someone-else");
    assert!(verifier.verify(&wrong_audience, now()).is_err());
}

#[test]
fn api_keys_from_the_documented_environment_variables() {
    let (ingest, ingest_id) = key();
    let (consumption, consumption_id) = key();
    let dir = dir_with(None);
    let config = Config::load(&options(
        &dir,
        &[
            ("MOOSE_INGEST_API_KEY", &ingest.stored),
            ("MOOSE_CONSUMPTION_API_KEY", &consumption.stored),
            ("MOOSE_ADMIN_TOKEN", "your_plain_text_token"),
        ],
    ))
    .unwrap();
    let check = config
        .ingest_keys()
        .verify(ingest.bearer_token.expose_secret());
    assert_eq!(check.result, Ok(ingest_id));
    let check = config
        .consumption_keys()
        .verify(consumption.bearer_token.expose_secret());
    assert_eq!(check.result, Ok(consumption_id));
    assert!(
        config
            .ingest_keys()
            .verify(consumption.bearer_token.expose_secret())
            .result
            .is_err(),
        "keys are per class"
    );
    let admin = config.admin_credential(None);
    assert_eq!(admin.verify("your_plain_text_token"), Ok(None));
    assert!(matches!(admin, AdminCredential::Plain { .. }));
    assert!(config.jwt_verifier().is_none());
}

#[test]
fn admin_api_key_in_moose_config_toml() {
    let (admin, admin_id) = key();
    let dir = dir_with(Some(
        &ADMIN_FILE.replace("your_pbkdf2_hmac_sha256_hashed_key", &admin.stored),
    ));
    let config = Config::load(&options(&dir, &[])).unwrap();
    let credential = config.admin_credential(None);
    assert!(credential.is_hashed());
    assert_eq!(
        credential.verify(admin.bearer_token.expose_secret()),
        Ok(Some(admin_id))
    );
    assert_eq!(
        explained(&config, "authentication.admin_api_key")
            .origin
            .to_string(),
        file_origin(&dir, 2)
    );
}

#[test]
fn jwt_option_a_moose_config_toml() {
    let text = with_key(OPTION_A);
    let dir = dir_with(Some(&text));
    let config = Config::load(&options(&dir, &[])).unwrap();
    assert_jwt_works(&config);
    assert_eq!(
        explained(&config, "jwt.secret").origin.to_string(),
        file_origin(&dir, 3)
    );
    assert_eq!(explained(&config, "jwt.secret").value, "RS256 public key");
    assert_eq!(
        explained(&config, "jwt.audience").origin.to_string(),
        file_origin(&dir, line_starting(&text, "audience ="))
    );
}

#[test]
fn jwt_option_b_environment_overrides_the_file() {
    // The file names another issuer; the documented variables override it.
    let dir = dir_with(Some(
        "[jwt]\nissuer = \"https://old-issuer/\"\naudience = \"old\"\n",
    ));
    let config = Config::load(&options(
        &dir,
        &[
            ("MOOSE_JWT_PUBLIC_KEY", &rsa().public_pem),
            ("MOOSE_JWT_ISSUER", ISSUER),
            ("MOOSE_JWT_AUDIENCE", AUDIENCE),
        ],
    ))
    .unwrap();
    assert_jwt_works(&config);
    assert_eq!(
        explained(&config, "jwt.issuer").origin.to_string(),
        "env MOOSE_JWT_ISSUER"
    );
}

#[test]
fn default_behaviour_jwt_first_then_api_keys() {
    let (ingest, _) = key();
    let (consumption, _) = key();
    let dir = dir_with(Some(&with_key(JWT_BLOCK)));
    let config = Config::load(&options(
        &dir,
        &[
            ("MOOSE_INGEST_API_KEY", &ingest.stored),
            ("MOOSE_CONSUMPTION_API_KEY", &consumption.stored),
        ],
    ))
    .unwrap();
    assert_jwt_works(&config);
    let policy = Policy::new(config.policy_parts(None)).unwrap();
    let mechanisms = policy.mechanisms();
    for class in [mechanisms.ingest, mechanisms.consumption] {
        assert!(
            class.jwt && class.api_keys && !class.enforce_jwt,
            "{class:?}"
        );
    }
    assert!(!config.enforce_on_all_ingest_apis());
    assert_eq!(
        explained(&config, "jwt.enforce_on_all_ingest_apis").value,
        "false"
    );
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn enforcing_jwt_only_disables_api_keys_even_when_set() {
    let (ingest, _) = key();
    let dir = dir_with(Some(&with_key(ENFORCING)));
    let config = Config::load(&options(&dir, &[("MOOSE_INGEST_API_KEY", &ingest.stored)])).unwrap();
    let policy = Policy::new(config.policy_parts(None)).unwrap();
    let mechanisms = policy.mechanisms();
    assert!(mechanisms.ingest.enforce_jwt && mechanisms.consumption.enforce_jwt);
    assert!(config.enforce_on_all_consumptions_apis());
    // Loading works; the operator is told the keys are not accepted.
    let warning = &config.warnings()[0];
    assert_eq!(warning.setting, "authentication.ingest_api_keys");
    assert_eq!(warning.origin.to_string(), "env MOOSE_INGEST_API_KEY");
    assert!(warning.message.contains("enforce_on_all_ingest_apis"));
}

#[test]
fn use_case_1_jwt_for_consumption_api_keys_for_ingest() {
    let (ingest, ingest_id) = key();
    let dir = dir_with(Some(&with_key(USE_CASE_1)));
    let config = Config::load(&options(
        &dir,
        &[("MOOSE_INGEST_API_KEY", "hashed_key_for_internal_services")],
    ));
    // The document's placeholder is not a hash: a precise error, not a silent ignore.
    let err = config.unwrap_err();
    assert!(
        err.to_string()
            .contains("authentication.ingest_api_keys (env MOOSE_INGEST_API_KEY)"),
        "{err}"
    );

    let config = Config::load(&options(&dir, &[("MOOSE_INGEST_API_KEY", &ingest.stored)])).unwrap();
    let policy = Policy::new(config.policy_parts(None)).unwrap();
    let mechanisms = policy.mechanisms();
    assert!(mechanisms.consumption.enforce_jwt);
    assert!(!mechanisms.ingest.enforce_jwt && mechanisms.ingest.api_keys && mechanisms.ingest.jwt);
    assert_eq!(
        config
            .ingest_keys()
            .verify(ingest.bearer_token.expose_secret())
            .result,
        Ok(ingest_id)
    );
    assert_eq!(
        explained(&config, "jwt.enforce_on_all_consumptions_apis")
            .origin
            .to_string(),
        file_origin(&dir, 5)
    );
}

#[test]
fn use_case_2_migration_keeps_both_mechanisms() {
    let dir = dir_with(Some(&with_key(USE_CASE_2)));
    let config = Config::load(&options(&dir, &[])).unwrap();
    assert_jwt_works(&config);
    assert!(!config.enforce_on_all_ingest_apis() && !config.enforce_on_all_consumptions_apis());
    assert_eq!(
        explained(&config, "jwt.enforce_on_all_ingest_apis")
            .origin
            .to_string(),
        file_origin(&dir, 6)
    );
}

#[test]
fn admin_precedence_cli_then_env_then_file() {
    let (admin, admin_id) = key();
    let dir = dir_with(Some(
        &ADMIN_FILE.replace("your_pbkdf2_hmac_sha256_hashed_key", &admin.stored),
    ));
    let bearer = admin.bearer_token.expose_secret();
    let cli = || Some(SecretString::from("your_plain_text_token_cli".to_owned()));

    let with_env = Config::load(&options(
        &dir,
        &[("MOOSE_ADMIN_TOKEN", "your_plain_text_token")],
    ))
    .unwrap();
    let credential = with_env.admin_credential(cli());
    assert_eq!(credential.verify("your_plain_text_token_cli"), Ok(None));
    assert!(credential.verify("your_plain_text_token").is_err());
    assert!(credential.verify(bearer).is_err());

    let credential = with_env.admin_credential(None);
    assert_eq!(credential.verify("your_plain_text_token"), Ok(None));
    assert!(credential.verify(bearer).is_err());
    let warning = &with_env.warnings()[0];
    assert_eq!(warning.setting, "authentication.admin_api_key");
    assert!(
        warning
            .message
            .contains("(env MOOSE_ADMIN_TOKEN) takes precedence"),
        "{warning}"
    );

    let file_only = Config::load(&options(&dir, &[])).unwrap();
    assert_eq!(
        file_only.admin_credential(None).verify(bearer),
        Ok(Some(admin_id))
    );
    assert!(file_only.admin_env_token().is_none());

    let nothing = Config::load(
        &LoadOptions::new()
            .with_directory(dir_with(None).path())
            .with_env(Env::from_pairs::<_, &str, &str>([])),
    )
    .unwrap();
    assert!(!nothing.admin_credential(None).is_configured());
    assert!(nothing.admin_credential(cli()).is_configured());
    assert!(
        Policy::new(nothing.policy_parts(cli()))
            .unwrap()
            .mechanisms()
            .admin
    );
    assert!(
        !Policy::new(nothing.policy_parts(None))
            .unwrap()
            .mechanisms()
            .admin
    );
}

#[test]
fn jwt_secret_may_be_a_signing_certificate() {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../auth-core/tests/fixtures/certs"
    );
    let cert = std::fs::read_to_string(format!("{fixtures}/p256.crt")).unwrap();
    let private = std::fs::read_to_string(format!("{fixtures}/p256.key")).unwrap();
    // As identity providers hand it out, and as `.env` files carry it (literal `\n`).
    let one_line = cert.trim().replace('\n', "\\n");
    for value in [cert.as_str(), one_line.as_str()] {
        let config = load(
            None,
            &[
                ("MOOSE_JWT_PUBLIC_KEY", value),
                ("MOOSE_JWT_ISSUER", "https://idp/"),
                ("MOOSE_JWT_AUDIENCE", "api"),
            ],
        )
        .unwrap();
        assert_eq!(explained(&config, "jwt.secret").value, "ES256 public key");
        let token = auth_core::jwt::SigningKey::from_pem(&private)
            .unwrap()
            .sign(&serde_json::json!({
                "iss": "https://idp/", "aud": "api", "sub": "alice", "exp": now() + 60,
            }))
            .unwrap();
        let claims = config
            .jwt_verifier()
            .unwrap()
            .verify(&token, now())
            .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
    }
}
