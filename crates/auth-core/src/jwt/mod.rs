//! JWT verification (reference §4).
//!
//! The verifier never lets a token choose how it is checked: the algorithm comes from the
//! configured key, `alg: none` and symmetric algorithms are unreachable, and `crit` headers,
//! duplicate member names and oversized tokens are refused before any signature work.
//! Time is passed in (`now`, Unix seconds), so verification is deterministic and needs no clock.

mod claims;
mod jwk_set;
mod keys;
mod token;

use serde_json::Value;

pub use crate::header::looks_like_jwt;
pub use claims::Claims;
pub use jwk_set::{JwkSet, JwkSetError, SkippedKey};
pub use keys::{
    JwtAlgorithm, KeyError, MIN_RSA_BITS, PemKeyPair, SigningKey, VerifyingKey, generate_key_pair,
};

use crate::header::DEFAULT_MAX_AUTHORIZATION_BYTES;

/// Default clock-skew allowance for `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Why a token was refused. Messages never contain the token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Longer than [`JwtSettings::max_token_bytes`]; not parsed.
    #[error("the token is longer than {limit} bytes")]
    TooLarge {
        /// The cap in force, in bytes.
        limit: usize,
    },
    /// Not a compact JWS.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The signature segment is empty.
    #[error("the token has no signature")]
    MissingSignature,
    /// A header or payload object repeats a member name.
    #[error("the token repeats a JSON member name")]
    DuplicateKey,
    /// `alg` is `none` (in any case).
    #[error("unsigned tokens (alg none) are never accepted")]
    AlgNone,
    /// `alg` is not the algorithm of any configured key.
    #[error("the token's algorithm does not match the configured key")]
    AlgorithmMismatch,
    /// The header carries `crit`, whose extensions keygate does not understand.
    #[error("the token has a crit header, which is not supported")]
    CritHeader,
    /// The header names no `kid`, and every trusted key is selected by its `kid`.
    #[error("the token names no key (kid), and every trusted key is chosen by its kid")]
    MissingKeyId,
    /// The header names a `kid` no configured key has.
    #[error("the token names an unknown key id")]
    UnknownKeyId,
    /// No configured key verifies the signature.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// `exp` plus leeway is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` minus leeway is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// A required claim is absent.
    #[error("the token lacks the required {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the token's {0} claim has the wrong type")]
    InvalidClaim(&'static str),
}

/// What a valid token must say, besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// Exact `iss` required.
    pub issuer: String,
    /// Value that `aud` (string or array) must contain.
    pub audience: String,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// Largest token accepted, in bytes; longer ones are refused before parsing. A server sets
    /// it to the same value as its `Authorization` header cap (`[server]
    /// max_authorization_bytes`), default [`DEFAULT_MAX_AUTHORIZATION_BYTES`].
    pub max_token_bytes: usize,
}

impl JwtSettings {
    /// Settings with the default leeway and token-size cap.
    #[must_use]
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_token_bytes: DEFAULT_MAX_AUTHORIZATION_BYTES,
        }
    }
}

/// Verifies tokens against a set of keys and the issuer/audience rules.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    keys: Vec<VerifyingKey>,
    settings: JwtSettings,
}

impl JwtVerifier {
    /// A verifier for `keys` (PEM-configured keys have no `kid` and are tried for any token of
    /// their algorithm; JWKS keys are selected by `kid`).
    #[must_use]
    pub fn new(keys: Vec<VerifyingKey>, settings: JwtSettings) -> Self {
        Self { keys, settings }
    }

    /// The configured settings.
    #[must_use]
    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// The configured keys.
    #[must_use]
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// A copy with `keys` added to every key this verifier has (a JWKS holder's view: the
    /// configured PEM keys and the token issuer's own key, which has a `kid` too, stay trusted).
    #[must_use]
    pub fn with_additional_keys(&self, keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        let mut all = self.keys.clone();
        all.extend(keys);
        Self {
            keys: all,
            settings: self.settings.clone(),
        }
    }

    /// A copy whose token-size cap is `max_bytes` (see [`JwtSettings::max_token_bytes`]).
    #[must_use]
    pub fn with_max_token_bytes(mut self, max_bytes: usize) -> Self {
        self.settings.max_token_bytes = max_bytes;
        self
    }

    /// Verifies `token` at time `now` (Unix seconds).
    ///
    /// # Errors
    /// [`JwtError`] naming the first rule the token breaks.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, JwtError> {
        let raw = token::split(token, self.settings.max_token_bytes)?;
        if raw.header.contains_key("crit") {
            return Err(JwtError::CritHeader);
        }
        let alg = match raw.header.get("alg") {
            Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
                return Err(JwtError::AlgNone);
            }
            Some(Value::String(alg)) => {
                JwtAlgorithm::from_name(alg).ok_or(JwtError::AlgorithmMismatch)?
            }
            Some(_) => return Err(JwtError::Malformed("alg is not a string")),
            None => return Err(JwtError::Malformed("header has no alg")),
        };
        let kid = match raw.header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(JwtError::Malformed("kid is not a string")),
        };
        self.check_signature(alg, kid, raw.signing_input, raw.signature)?;
        let claims = Claims::from_payload(raw.payload)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_signature(
        &self,
        alg: JwtAlgorithm,
        kid: Option<&str>,
        signing_input: &str,
        signature: &str,
    ) -> Result<(), JwtError> {
        let by_kid: Vec<_> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => Vec::new(),
        };
        // A kid we do not know is reported as such (a JWKS holder refetches on it), unless a
        // kid-less key verifies the token: identity providers put kids in tokens whose public key
        // an operator configured as plain PEM.
        let unknown_kid = kid.is_some() && by_kid.is_empty();
        let candidates: Vec<_> = if by_kid.is_empty() {
            self.keys.iter().filter(|k| k.kid.is_none()).collect()
        } else {
            by_kid
        };
        let failure = if unknown_kid {
            JwtError::UnknownKeyId
        } else {
            JwtError::InvalidSignature
        };
        let mut same_alg = candidates
            .into_iter()
            .filter(|k| k.algorithm == alg)
            .peekable();
        if same_alg.peek().is_none() {
            return Err(if unknown_kid || self.keys.is_empty() {
                failure
            } else if kid.is_none() && self.keys.iter().all(|k| k.kid.is_some()) {
                JwtError::MissingKeyId
            } else {
                JwtError::AlgorithmMismatch
            });
        }
        if same_alg.any(|k| k.verify_signature(signing_input.as_bytes(), signature)) {
            Ok(())
        } else {
            Err(failure)
        }
    }

    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), JwtError> {
        let leeway = self.settings.leeway_seconds;
        if now >= claims.exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(JwtError::NotYetValid);
        }
        if claims.iss != self.settings.issuer {
            return Err(JwtError::WrongIssuer);
        }
        if !claims.aud.contains(&self.settings.audience) {
            return Err(JwtError::WrongAudience);
        }
        Ok(())
    }
}

/// Raw signature check of `message` against a base64url signature, for test vectors that are
/// not JWTs (e.g. Wycheproof). It runs the same code as [`JwtVerifier::verify`].
#[must_use]
pub fn verify_raw_signature(key: &VerifyingKey, message: &[u8], signature_b64url: &str) -> bool {
    key.verify_signature(message, signature_b64url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn signer(alg: JwtAlgorithm) -> SigningKey {
        let pair = generate_key_pair(alg).unwrap();
        SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap()
    }

    fn token(signer: &SigningKey, now: u64) -> String {
        signer
            .sign(&serde_json::json!({ "iss": "i", "aud": "a", "exp": now + 60 }))
            .unwrap()
    }

    #[test]
    fn the_token_size_cap_is_a_setting_with_the_header_default() {
        let now = 1_700_000_000;
        let signer = signer(JwtAlgorithm::Es256);
        // A 12 KiB token (group claims from an identity provider).
        let groups: Vec<String> = (0..400).map(|i| format!("group-{i:05}-abcdefgh")).collect();
        let token = signer
            .sign(&serde_json::json!({
                "iss": "i", "aud": "a", "exp": now + 60, "groups": groups,
            }))
            .unwrap();
        assert!(
            token.len() > 12 * 1024 && token.len() < 16 * 1024,
            "{}",
            token.len()
        );
        let settings = JwtSettings::new("i", "a");
        assert_eq!(settings.max_token_bytes, DEFAULT_MAX_AUTHORIZATION_BYTES);
        let verifier = JwtVerifier::new(vec![signer.verifying_key().clone()], settings);
        assert!(verifier.verify(&token, now).is_ok());
        let small = verifier.clone().with_max_token_bytes(8 * 1024);
        assert_eq!(
            small.verify(&token, now).unwrap_err(),
            JwtError::TooLarge { limit: 8 * 1024 }
        );
        assert_eq!(
            JwtError::TooLarge { limit: 8192 }.to_string(),
            "the token is longer than 8192 bytes"
        );
        // Merged verifiers (JWKS) keep the cap.
        assert_eq!(
            small.with_additional_keys([]).settings().max_token_bytes,
            8 * 1024
        );
    }

    #[test]
    fn additional_keys_keep_every_existing_key() {
        let now = 1_700_000_000;
        let issuer = signer(JwtAlgorithm::EdDsa);
        let remote = signer(JwtAlgorithm::Es256);
        let base = JwtVerifier::new(
            vec![issuer.verifying_key().clone()],
            JwtSettings::new("i", "a"),
        );
        assert_eq!(
            base.verify(&token(&remote, now), now).unwrap_err(),
            JwtError::UnknownKeyId
        );

        let merged = base.with_additional_keys([remote.verifying_key().clone()]);
        assert_eq!(merged.keys().len(), 2);
        assert_eq!(merged.settings(), base.settings());
        assert!(merged.verify(&token(&issuer, now), now).is_ok());
        assert!(merged.verify(&token(&remote, now), now).is_ok());
    }
}
