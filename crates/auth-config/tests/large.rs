//! Large configurations: many keys, and large sections of Moose's that keygate ignores. These
//! tests check results only; load times and memory are measured with the release binary
//! (docs/configuration.md, "How it is built").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use auth_config::{Config, ConfigError};
use auth_core::apikey::KeyId;
use auth_core::secrecy::ExposeSecret;
use common::{
    dir_with, ed25519, explained, file_origin, line_starting, load, options, toml_string,
};

const KEYS: usize = 100_000;

/// `n` distinct 40-hex `moose` hashes.
fn hashes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:040x}")).collect()
}

#[test]
fn a_hundred_thousand_keys_in_the_file_load_with_their_lines() {
    let hashes = hashes(KEYS);
    let mut toml = String::from("[authentication]\nconsumption_api_keys = [\n");
    for hash in &hashes {
        toml.push_str(&format!("  \"{hash}\",\n"));
    }
    toml.push_str("]\n[jwt]\nleeway_seconds = 7\n");
    let dir = dir_with(Some(&toml));
    let config = Config::load(&options(&dir, &[])).unwrap();
    let keys = config.consumption_keys().keys();
    assert_eq!(keys.len(), KEYS);
    for (key, hash) in keys.iter().zip(&hashes) {
        assert_eq!(key.id(), KeyId::of_stored(hash));
    }
    assert_eq!(
        explained(&config, "jwt.leeway_seconds").origin.to_string(),
        file_origin(&dir, KEYS + 5)
    );
    // A bad entry near the end is named with its position and its own line.
    let bad = toml.replacen(&hashes[KEYS - 2], "not-a-hash", 1);
    let dir = dir_with(Some(&bad));
    let err = Config::load(&options(&dir, &[])).unwrap_err();
    assert!(
        matches!(err, ConfigError::StoredKey { entry, .. } if entry == KEYS - 1),
        "{err:?}"
    );
    assert_eq!(
        err.origin().unwrap().to_string(),
        file_origin(&dir, KEYS + 1)
    );
}

#[test]
fn a_hundred_thousand_comma_separated_keys_in_the_environment_load() {
    let hashes = hashes(KEYS);
    let value = hashes.join(",");
    let config = load(None, &[("MOOSE_CONSUMPTION_API_KEY", &value)]).unwrap();
    let keys = config.consumption_keys().keys();
    assert_eq!(keys.len(), KEYS);
    assert!(
        keys.iter()
            .zip(&hashes)
            .all(|(key, hash)| key.id() == KeyId::of_stored(hash))
    );
}

/// A Moose section of `lines` lines (arrays, inline tables, strings, dates: everything the scan
/// must get through).
fn moose_section(name: &str, lines: usize) -> String {
    let mut text = format!("[{name}]\n");
    for i in 0..lines {
        match i % 4 {
            0 => text.push_str(&format!("k{i} = [{i}, 2.5, \"[not a header]\"]\n")),
            1 => text.push_str(&format!("t{i} = {{ a = {i}, b = 1979-05-27T07:32:00Z }}\n")),
            2 => text.push_str(&format!("s{i} = '''\nmulti\n[line]\n'''\n")),
            _ => text.push_str(&format!("# comment {i} [x]\n")),
        }
    }
    text
}

#[test]
fn keygate_sections_between_large_ignored_ones_keep_their_lines() {
    let key = toml_string(&auth_core::apikey::generate_moose().unwrap().stored);
    let toml = format!(
        "cache.max_entries = 5\n{}[jwt]\nissuer = \"i\"\naudience = \"a\"\n{}[token_issuer]\nprivate_key = {}\n\
         [[token_issuer.projects]]\nid = \"p1\"\nkey_hash = {key}\n{}\
         [[token_issuer.projects]]\nid = \"p2\"\nkey_hash = {key}\n{}",
        moose_section("clickhouse_config", 20_000),
        moose_section("features", 5_000),
        toml_string(ed25519().private_pem.expose_secret()),
        moose_section("redpanda_config", 3_000),
        moose_section("typescript_config", 10),
    );
    let dir = dir_with(Some(&toml));
    let config = Config::load(&options(&dir, &[])).unwrap();
    let issuer = config.token_issuer().unwrap();
    assert_eq!(
        (issuer.issuer.as_str(), issuer.audience.as_str()),
        ("i", "a")
    );
    let ids: Vec<&str> = issuer.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2"]);
    for (setting, prefix) in [
        ("cache.max_entries", "cache.max_entries"),
        ("jwt.issuer", "issuer"),
        ("jwt.audience", "audience"),
        ("token_issuer.projects[1]", "[[token_issuer.projects]]"),
    ] {
        let expected = match setting {
            // The second entry's header.
            "token_issuer.projects[1]" => {
                toml.lines()
                    .enumerate()
                    .filter(|(_, l)| l.starts_with(prefix))
                    .nth(1)
                    .unwrap()
                    .0
                    + 1
            }
            _ => line_starting(&toml, prefix),
        };
        assert_eq!(
            explained(&config, setting).origin.to_string(),
            file_origin(&dir, expected),
            "{setting}"
        );
    }
}

#[test]
fn syntax_errors_inside_a_large_ignored_section_name_their_line() {
    let mut toml = format!(
        "[jwt]\nissuer = \"i\"\n{}",
        moose_section("clickhouse_config", 30_000)
    );
    let line = toml.lines().count() + 1;
    toml.push_str("port = 12ab\n[server]\nlisten = \"127.0.0.1:1\"\n");
    let dir = dir_with(Some(&toml));
    let err = Config::load(&options(&dir, &[])).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: invalid TOML", file_origin(&dir, line))),
        "{err}"
    );
}

#[test]
fn a_repeated_key_in_a_keygate_section_after_an_ignored_one_names_its_line() {
    let mut toml = format!(
        "{}[jwt]\nissuer = \"i\"\n",
        moose_section("clickhouse_config", 1_000)
    );
    let line = toml.lines().count() + 1;
    toml.push_str("issuer = \"again\"\n");
    let dir = dir_with(Some(&toml));
    let err = Config::load(&options(&dir, &[])).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: invalid TOML", file_origin(&dir, line))),
        "{err}"
    );
}
