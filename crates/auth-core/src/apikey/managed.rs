//! Managed keys' tokens (docs/keys.md): `kgm_<id>_<secret><checksum>`.
//!
//! | part     | length | what                                                        |
//! |----------|--------|-------------------------------------------------------------|
//! | `kgm_`   | 4      | the prefix; `kg_` (phc) tokens never start with it          |
//! | id       | 16     | lower-case hex of 8 random bytes: the key's row in the store |
//! | `_`      | 1      | separator                                                   |
//! | secret   | 43     | base64url (no padding) of 32 random bytes (256 bits)        |
//! | checksum | 6      | CRC-32 of everything before it, 6 base62 digits              |
//!
//! The store keeps `HMAC-SHA256(pepper, id ‖ secret)`, never the token. The id is not secret: it
//! names the key in logs, lists and the upstream's `X-Keygate-Subject` (`key:<id>`). Parsing does
//! no I/O and no hashing, so a token of the wrong shape or with a bad checksum costs nothing.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use subtle::ConstantTimeEq;

use super::phc::{CHECKSUM_CHARS, checksum};
use super::{ApiKeyError, GenerateError};

/// Every managed key's token starts with this.
pub const MANAGED_PREFIX: &str = "kgm_";
const ID_BYTES: usize = 8;
const ID_CHARS: usize = 2 * ID_BYTES;
const SECRET_BYTES: usize = 32;
const SECRET_CHARS: usize = 43;
/// The length of every managed token.
pub const MANAGED_TOKEN_LEN: usize =
    MANAGED_PREFIX.len() + ID_CHARS + 1 + SECRET_CHARS + CHECKSUM_CHARS;
/// Bytes of a stored digest (HMAC-SHA256).
pub const DIGEST_BYTES: usize = 32;

/// A managed key's id: 8 random bytes, shown as 16 lower-case hex characters. Not a secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ManagedKeyId([u8; ID_BYTES]);

impl ManagedKeyId {
    /// Parses the 16-hex-character form (lower case only: one spelling per id).
    ///
    /// # Errors
    /// [`ApiKeyError::UnknownShape`] for anything else.
    pub fn parse(text: &str) -> Result<Self, ApiKeyError> {
        if text.len() != ID_CHARS
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ApiKeyError::UnknownShape);
        }
        let mut id = [0u8; ID_BYTES];
        hex::decode_to_slice(text, &mut id).map_err(|_| ApiKeyError::UnknownShape)?;
        Ok(Self(id))
    }

    /// A new random id.
    ///
    /// # Errors
    /// [`GenerateError::Random`] when the OS random source fails.
    pub fn random() -> Result<Self, GenerateError> {
        super::random_bytes::<ID_BYTES>().map(Self)
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }
}

impl fmt::Display for ManagedKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ManagedKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManagedKeyId({self})")
    }
}

/// A presented managed token, split (its secret is redacted in `Debug`).
#[derive(Clone)]
pub struct ManagedToken {
    id: ManagedKeyId,
    secret: [u8; SECRET_BYTES],
}

impl fmt::Debug for ManagedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Whether `token` claims to be a managed key's (it has the prefix; nothing else is checked).
#[must_use]
pub fn is_managed(token: &str) -> bool {
    token.starts_with(MANAGED_PREFIX)
}

impl ManagedToken {
    /// Checks shape and checksum; runs no hash and reads nothing.
    ///
    /// # Errors
    /// [`ApiKeyError::UnknownShape`] or [`ApiKeyError::BadChecksum`].
    pub fn parse(token: &str) -> Result<Self, ApiKeyError> {
        if token.len() != MANAGED_TOKEN_LEN || !token.is_ascii() || !is_managed(token) {
            return Err(ApiKeyError::UnknownShape);
        }
        let (body, sum) = token.split_at(MANAGED_TOKEN_LEN - CHECKSUM_CHARS);
        let rest = body.get(MANAGED_PREFIX.len()..).unwrap_or_default();
        let (id, rest) = rest.split_at(ID_CHARS.min(rest.len()));
        let secret = rest.strip_prefix('_').ok_or(ApiKeyError::UnknownShape)?;
        let id = ManagedKeyId::parse(id)?;
        if !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ApiKeyError::UnknownShape);
        }
        if checksum(body).as_slice() != sum.as_bytes() {
            return Err(ApiKeyError::BadChecksum);
        }
        let decoded = URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| ApiKeyError::UnknownShape)?;
        let secret: [u8; SECRET_BYTES] =
            decoded.try_into().map_err(|_| ApiKeyError::UnknownShape)?;
        Ok(Self { id, secret })
    }

    /// The key id the token names.
    #[must_use]
    pub fn id(&self) -> ManagedKeyId {
        self.id
    }

    /// `HMAC-SHA256(pepper, id ‖ secret)`: what the store keeps for this token.
    #[must_use]
    pub fn digest(&self, pepper: &[u8]) -> [u8; DIGEST_BYTES] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, pepper);
        let mut context = hmac::Context::with_key(&key);
        context.update(&self.id.0);
        context.update(&self.secret);
        let tag = context.sign();
        let mut out = [0u8; DIGEST_BYTES];
        out.copy_from_slice(
            tag.as_ref()
                .get(..DIGEST_BYTES)
                .unwrap_or(&[0; DIGEST_BYTES]),
        );
        out
    }

    /// Whether the token's digest equals `stored`, compared in constant time.
    #[must_use]
    pub fn matches(&self, pepper: &[u8], stored: &[u8]) -> bool {
        self.digest(pepper).ct_eq(stored).into()
    }
}

/// A new managed token for `id`: the token (shown once) and its stored digest.
#[derive(Debug)]
pub struct GeneratedManaged {
    /// `kgm_…`; redacted in `Debug`.
    pub token: SecretString,
    /// `HMAC-SHA256(pepper, id ‖ secret)`.
    pub digest: [u8; DIGEST_BYTES],
}

/// Generates a token for `id` from the OS CSPRNG, and its digest under `pepper`.
///
/// # Errors
/// [`GenerateError::Random`] when the OS random source fails.
pub fn generate_managed(
    id: ManagedKeyId,
    pepper: &[u8],
) -> Result<GeneratedManaged, GenerateError> {
    let secret = super::random_bytes::<SECRET_BYTES>()?;
    let body = format!("{MANAGED_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    let sum = checksum(&body);
    let token = format!("{body}{}", String::from_utf8_lossy(&sum));
    let digest = ManagedToken { id, secret }.digest(pepper);
    Ok(GeneratedManaged {
        token: SecretString::from(token),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::apikey::token_format;

    #[test]
    fn generated_tokens_parse_match_and_never_look_like_phc_tokens() {
        let id = ManagedKeyId::random().unwrap();
        let generated = generate_managed(id, b"pepper").unwrap();
        let token = generated.token.expose_secret();
        assert_eq!(token.len(), MANAGED_TOKEN_LEN);
        assert!(token.starts_with(&format!("kgm_{id}_")));
        let parsed = ManagedToken::parse(token).unwrap();
        assert_eq!(parsed.id(), id);
        assert!(parsed.matches(b"pepper", &generated.digest));
        assert!(!parsed.matches(b"other pepper", &generated.digest));
        assert!(!format!("{parsed:?}").contains(&token[21..40]));
        // The phc grammar refuses it: the two formats cannot be confused.
        assert!(token_format(token).is_err());
    }

    #[test]
    fn wrong_shapes_and_checksums_are_refused_without_hashing() {
        let id = ManagedKeyId::parse("0123456789abcdef").unwrap();
        let token = generate_managed(id, b"p").unwrap().token;
        let token = token.expose_secret();
        let mut typo = token.to_owned();
        let last = if token.ends_with('0') { "1" } else { "0" };
        typo.replace_range(MANAGED_TOKEN_LEN - 1.., last);
        assert_eq!(
            ManagedToken::parse(&typo).unwrap_err(),
            ApiKeyError::BadChecksum
        );
        let upper = token.replace("abcdef", "ABCDEF");
        assert_eq!(
            ManagedToken::parse(&upper).unwrap_err(),
            ApiKeyError::UnknownShape
        );
        for bad in ["", "kgm_", "kg_x", &token[..MANAGED_TOKEN_LEN - 1], "kgm_é"] {
            assert_eq!(
                ManagedToken::parse(bad).unwrap_err(),
                ApiKeyError::UnknownShape,
                "{bad}"
            );
        }
        let no_separator = token.replacen(&format!("{id}_"), &format!("{id}-"), 1);
        assert!(ManagedToken::parse(&no_separator).is_err());
    }

    #[test]
    fn the_digest_binds_the_id() {
        let a = ManagedToken {
            id: ManagedKeyId([1; 8]),
            secret: [7; 32],
        };
        let b = ManagedToken {
            id: ManagedKeyId([2; 8]),
            secret: [7; 32],
        };
        assert_ne!(a.digest(b"p"), b.digest(b"p"));
    }
}
