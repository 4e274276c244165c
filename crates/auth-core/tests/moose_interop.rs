//! Keys printed by Moose's `generate hash-token` must verify unchanged (reference §2.1).
//! The fixture was computed with Python's `hashlib.pbkdf2_hmac`, independently of keygate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use auth_core::apikey::{ApiKeyError, ApiKeyFormat, KeyId, KeySet, StoredKey};
use serde_json::Value;

fn fixture() -> Vec<(String, String)> {
    let path = format!(
        "{}/tests/fixtures/moose_keys_python.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["bearer_token"].as_str().unwrap().to_owned(),
                k["stored_hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn hashes_computed_by_python_verify() {
    let keys = fixture();
    assert_eq!(keys.len(), 5);
    for (token, stored) in &keys {
        let key = StoredKey::parse(stored).unwrap();
        assert_eq!(key.format(), ApiKeyFormat::Moose);
        assert_eq!(key.verify(token), Ok(()), "{stored}");
    }
}

#[test]
fn upper_case_stored_hex_verifies() {
    for (token, stored) in fixture() {
        let key = StoredKey::parse(&stored.to_uppercase()).unwrap();
        assert_eq!(key.verify(&token), Ok(()));
    }
}

#[test]
fn each_python_key_matches_only_its_own_hash() {
    let keys = fixture();
    let set: KeySet = keys
        .iter()
        .map(|(_, s)| StoredKey::parse(s).unwrap())
        .collect::<Vec<_>>()
        .into();
    for (token, stored) in &keys {
        assert_eq!(set.verify(token).result, Ok(KeyId::of_stored(stored)));
    }
    let (token, _) = &keys[0];
    let (_, other) = &keys[1];
    assert_eq!(
        StoredKey::parse(other).unwrap().verify(token),
        Err(ApiKeyError::NoMatch)
    );
}
