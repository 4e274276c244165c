//! Configuration loading from TOML bytes (`auth_config::Config::load`, reference §6).
//!
//! The input is written to a `moose.config.toml` in a directory of this process and loaded with
//! a fixed environment (never the process's) that carries a random admin token.
//!
//! Invariants:
//! - loading returns `Ok` or a `ConfigError`, never a panic, and does so deterministically (the
//!   same outcome and message twice);
//! - the secret from the environment never appears in an error message, an error's `Debug` or
//!   the configuration's `Debug` (checked for inputs that do not contain it themselves);
//! - round trip: an accepted file, parsed and written back by the `toml` crate (same values,
//!   different layout), loads to the same configuration.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_config::{Config, Env, LoadOptions};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    path: PathBuf,
    secret: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("keygate-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the fuzz directory");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Fixture {
            path: dir.join("moose.config.toml"),
            // Unknown to the fuzzer, so it can reach an output only through a leak.
            secret: format!("env-secret-{nanos:032x}"),
        }
    })
}

fn load(fixture: &Fixture, contents: &[u8]) -> Result<Config, auth_config::ConfigError> {
    std::fs::write(&fixture.path, contents).expect("writing the fuzz input");
    let env = Env::from_pairs([("MOOSE_ADMIN_TOKEN", fixture.secret.as_str())]);
    let options = LoadOptions::new()
        .with_config_path(Some(fixture.path.clone()))
        .with_env(env);
    Config::load(&options)
}

/// What a configuration decides, without origins (file lines change in the round trip).
fn decisions(config: &Config) -> String {
    let ids =
        |keys: &auth_core::apikey::KeySet| keys.ids().map(|id| id.to_string()).collect::<Vec<_>>();
    format!(
        "ingest={:?} consumption={:?} admin={:?} jwt={:?} jwks={:?} enforce=({}, {}) issuer={:?} cache={:?} server={:?}",
        ids(config.ingest_keys()),
        ids(config.consumption_keys()),
        ids(config.admin_hashes()),
        config.jwt_verifier(),
        config.jwks_url(),
        config.enforce_on_all_ingest_apis(),
        config.enforce_on_all_consumptions_apis(),
        config.token_issuer(),
        config.cache(),
        config.server(),
    )
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let first = load(fixture, data);
    let second = load(fixture, data);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(decisions(a), decisions(b), "loading is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "errors differ"),
        _ => panic!("the same file loaded once and failed once"),
    }

    let shown = match &first {
        Ok(config) => format!("{config:?}"),
        Err(error) => format!("{error} {error:?}"),
    };
    let input_has_secret = data
        .windows(fixture.secret.len())
        .any(|w| w == fixture.secret.as_bytes());
    if !input_has_secret {
        assert!(
            !shown.contains(&fixture.secret),
            "the environment's secret leaked"
        );
    }

    let Ok(config) = &first else { return };
    let Some(table) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    else {
        return;
    };
    let Ok(rewritten) = toml::to_string(&table) else {
        return;
    };
    match load(fixture, rewritten.as_bytes()) {
        Ok(again) => assert_eq!(
            decisions(&again),
            decisions(config),
            "round trip changed the configuration"
        ),
        Err(error) => {
            panic!("an accepted file, rewritten with the same values, was refused: {error}")
        }
    }
});
