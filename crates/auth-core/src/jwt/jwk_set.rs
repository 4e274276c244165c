//! JWK sets (RFC 7517 §5): the usable signature keys of a `{"keys": [...]}` document, such as
//! an identity provider's `jwks_uri` serves. Fetching is the server's business; this module only
//! reads bytes.

use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;

use super::VerifyingKey;

/// The keys of one JWK set that keygate can verify with, and those it skipped.
#[derive(Debug, Clone)]
pub struct JwkSet {
    /// The usable keys, in document order.
    pub keys: Vec<VerifyingKey>,
    /// Keys that were skipped, with the reason (never key material).
    pub skipped: Vec<SkippedKey>,
    /// The accepted JWKs as JSON text, sorted: equal fingerprints mean equal key sets.
    pub fingerprint: Vec<String>,
}

/// A JWK of the set that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its `kid`, or `(none)`.
    pub kid: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Why a document yields no key set.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwkSetError {
    /// Not a JSON object with a `keys` array.
    #[error("the JWKS response is not a JSON key set ({{\"keys\": [...]}})")]
    NotJwks,
    /// No key keygate can verify with (all were skipped, or there are none).
    #[error("the JWKS has no usable signature key ({total} keys, none usable)")]
    NoUsableKeys {
        /// Keys in the document.
        total: usize,
    },
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl JwkSet {
    /// Reads a JWK set document. Symmetric keys, keys declared for another algorithm or another
    /// use, small RSA keys and unknown key types are skipped.
    ///
    /// # Errors
    /// [`JwkSetError`] when the document is not a key set or has no usable key.
    pub fn parse(body: &[u8]) -> Result<Self, JwkSetError> {
        let document: Document = serde_json::from_slice(body).map_err(|_| JwkSetError::NotJwks)?;
        let total = document.keys.len();
        let mut set = Self {
            keys: Vec::with_capacity(total),
            skipped: Vec::new(),
            fingerprint: Vec::with_capacity(total),
        };
        for value in document.keys {
            match usable_key(&value) {
                Ok(key) => {
                    set.keys.push(key);
                    set.fingerprint.push(value.to_string());
                }
                Err(reason) => set.skipped.push(SkippedKey {
                    kid: value
                        .get("kid")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("(none)")
                        .to_owned(),
                    reason,
                }),
            }
        }
        if set.keys.is_empty() {
            return Err(JwkSetError::NoUsableKeys { total });
        }
        set.fingerprint.sort_unstable();
        Ok(set)
    }
}

/// A verification key from one JWK, or why it cannot be one. Symmetric keys are refused by
/// [`VerifyingKey::from_jwk`]; a key declared for another algorithm (`alg`) is refused here,
/// since keygate verifies with the algorithm of the key type.
fn usable_key(value: &serde_json::Value) -> Result<VerifyingKey, String> {
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|_| "not a JWK keygate understands".to_owned())?;
    let key = VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    if let Some(declared) = jwk.common.key_algorithm {
        let declared = declared.to_string();
        if declared != key.algorithm().as_str() {
            return Err(format!(
                "the key is declared for {declared}, but keygate verifies this key type with {}",
                key.algorithm()
            ));
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
    use secrecy::ExposeSecret;

    fn jwk(alg: JwtAlgorithm) -> serde_json::Value {
        let pair = generate_key_pair(alg).unwrap();
        let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
        serde_json::to_value(signer.verifying_key().to_jwk().unwrap()).unwrap()
    }

    #[test]
    fn unusable_keys_are_skipped_and_usable_ones_kept() {
        let good = jwk(JwtAlgorithm::Es256);
        let mut wrong_alg = jwk(JwtAlgorithm::Es256);
        wrong_alg["alg"] = "ES384".into();
        let mut encryption = jwk(JwtAlgorithm::EdDsa);
        encryption["use"] = "enc".into();
        let symmetric = serde_json::json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" });
        let unknown = serde_json::json!({ "kty": "XYZ", "kid": "future" });
        let body = serde_json::json!({ "keys": [symmetric, good, wrong_alg, encryption, unknown] });

        let set = JwkSet::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].algorithm(), JwtAlgorithm::Es256);
        assert_eq!(set.keys[0].kid(), good["kid"].as_str());
        assert_eq!(set.fingerprint, vec![good.to_string()]);
        assert_eq!(set.skipped.len(), 4);
        assert_eq!(set.skipped[0].kid, "hmac");
    }

    #[test]
    fn documents_without_usable_keys_are_errors() {
        assert_eq!(
            JwkSet::parse(b"not json").unwrap_err(),
            JwkSetError::NotJwks
        );
        assert_eq!(JwkSet::parse(b"[1, 2]").unwrap_err(), JwkSetError::NotJwks);
        assert_eq!(
            JwkSet::parse(br#"{"keys": []}"#).unwrap_err(),
            JwkSetError::NoUsableKeys { total: 0 }
        );
        let only_symmetric = br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#;
        assert_eq!(
            JwkSet::parse(only_symmetric).unwrap_err(),
            JwkSetError::NoUsableKeys { total: 1 }
        );
    }

    #[test]
    fn the_fingerprint_ignores_key_order() {
        let (a, b) = (jwk(JwtAlgorithm::EdDsa), jwk(JwtAlgorithm::EdDsa));
        let parse = |keys: serde_json::Value| JwkSet::parse(keys.to_string().as_bytes()).unwrap();
        let first = parse(serde_json::json!({ "keys": [a, b] }));
        let second = parse(serde_json::json!({ "keys": [b, a] }));
        assert_eq!(first.fingerprint, second.fingerprint);
    }
}
