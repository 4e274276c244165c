//! External test vectors (Wycheproof) through keygate's own code paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use auth_core::jwt::{VerifyingKey, verify_raw_signature};
use auth_core::kdf::pbkdf2_sha256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/vectors/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex_field(test: &Value, name: &str) -> Vec<u8> {
    hex::decode(test[name].as_str().unwrap()).unwrap()
}

#[test]
fn all_wycheproof_pbkdf2_hmac_sha256_vectors_pass_through_our_kdf() {
    let file = load("pbkdf2_hmacsha256_test.json");
    let mut checked = 0;
    for group in file["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            let id = &test["tcId"];
            let expected = hex_field(test, "dk");
            let mut derived = vec![0u8; test["dkLen"].as_u64().unwrap() as usize];
            let iterations = u32::try_from(test["iterationCount"].as_u64().unwrap()).unwrap();
            pbkdf2_sha256(
                &hex_field(test, "password"),
                &hex_field(test, "salt"),
                iterations,
                &mut derived,
            );
            assert_eq!(
                test["result"], "valid",
                "tcId {id}: only valid vectors are expected"
            );
            assert_eq!(hex::encode(&derived), hex::encode(&expected), "tcId {id}");
            checked += 1;
        }
    }
    assert_eq!(checked, 60);
}

#[test]
fn all_wycheproof_rsa_2048_sha256_vectors_pass_through_our_verifier() {
    let file = load("rsa_signature_2048_sha256_test.json");
    let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
    for group in file["testGroups"].as_array().unwrap() {
        let key = VerifyingKey::from_pem(group["publicKeyPem"].as_str().unwrap())
            .expect("the Wycheproof 2048-bit keys load through our PEM path");
        for test in group["tests"].as_array().unwrap() {
            let id = &test["tcId"];
            let signature = URL_SAFE_NO_PAD.encode(hex_field(test, "sig"));
            let verified = verify_raw_signature(&key, &hex_field(test, "msg"), &signature);
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert!(verified, "tcId {id} must verify: {}", test["comment"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!verified, "tcId {id} must not verify: {}", test["comment"]);
                    invalid += 1;
                }
                // Either answer is allowed; what matters is that it is counted and did not panic.
                _ => acceptable += 1,
            }
        }
    }
    assert_eq!((valid, invalid, acceptable), (9, 249, 1));
}
