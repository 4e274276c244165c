//! The Moose-compatible format (reference §2.1): `<token_hex>.<salt_hex>`, 40-hex stored hash.

use secrecy::SecretString;
use subtle::ConstantTimeEq;

use super::{ApiKeyFormat, GenerateError, GeneratedKey, MOOSE_ITERATIONS, StoredKeyError};
use crate::kdf::pbkdf2_sha256;

const HALF_LEN: usize = 32;
pub(super) const HASH_LEN: usize = 20;

#[derive(Clone)]
pub(super) struct MooseHash([u8; HASH_LEN]);

impl MooseHash {
    /// Accepts upper- or lower-case hex, as Moose deployments have both.
    pub(super) fn parse(stored: &str) -> Result<Self, StoredKeyError> {
        let mut hash = [0u8; HASH_LEN];
        hex::decode_to_slice(stored, &mut hash).map_err(|_| StoredKeyError::UnknownFormat)?;
        Ok(Self(hash))
    }

    pub(super) fn matches(&self, derived: &[u8; HASH_LEN]) -> bool {
        self.0.ct_eq(derived).into()
    }
}

/// Splits a token into its two hex halves, or `None` when it is not exactly that shape.
pub(super) fn split_token(token: &str) -> Option<(&str, &str)> {
    let (token_hex, salt_hex) = token.split_once('.')?;
    let is_half = |s: &str| s.len() == HALF_LEN && s.bytes().all(|b| b.is_ascii_hexdigit());
    (is_half(token_hex) && is_half(salt_hex)).then_some((token_hex, salt_hex))
}

/// PBKDF2 over the ASCII bytes of both halves, exactly as Moose computes it.
pub(super) fn derive(token_hex: &str, salt_hex: &str) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2_sha256(
        token_hex.as_bytes(),
        salt_hex.as_bytes(),
        MOOSE_ITERATIONS,
        &mut out,
    );
    out
}

/// A stored hash of random bytes: checking a token against it costs what a real one does.
pub(super) fn decoy() -> Result<String, GenerateError> {
    Ok(hex::encode(super::random_bytes::<HASH_LEN>()?))
}

pub(super) fn generate() -> Result<GeneratedKey, GenerateError> {
    let token_hex = hex::encode(super::random_bytes::<16>()?);
    let salt_hex = hex::encode(super::random_bytes::<16>()?);
    let stored = hex::encode(derive(&token_hex, &salt_hex));
    Ok(GeneratedKey {
        bearer_token: SecretString::from(format!("{token_hex}.{salt_hex}")),
        stored,
        format: ApiKeyFormat::Moose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape_is_exactly_two_hex_halves() {
        let half = "0123456789abcdef0123456789abcdef";
        assert!(split_token(&format!("{half}.{half}")).is_some());
        assert!(split_token(&format!("{half}.{half}.")).is_none());
        assert!(split_token(&format!("{half}{half}")).is_none());
        assert!(split_token(&format!("{half}.{}", &half[1..])).is_none());
        assert!(split_token(&format!("{half}.{}g", &half[1..])).is_none());
    }

    #[test]
    fn stored_hash_must_be_forty_hex_characters() {
        assert!(MooseHash::parse(&"ab".repeat(20)).is_ok());
        assert!(MooseHash::parse(&"AB".repeat(20)).is_ok());
        assert!(MooseHash::parse(&"ab".repeat(19)).is_err());
        assert!(MooseHash::parse(&"zz".repeat(20)).is_err());
    }
}
