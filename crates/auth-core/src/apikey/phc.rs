//! keygate's stronger format (reference §2.2): checksummed `kg_` tokens and `$pbkdf2-sha256$` PHC strings.
//!
//! The PHC string is parsed by hand: its grammar here is one fixed line, and a hand parser gives
//! precise errors without pulling in `password-hash` (see `docs/hand-written.md`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use subtle::ConstantTimeEq;

use super::{
    ApiKeyError, ApiKeyFormat, GenerateError, GeneratedKey, PHC_ITERATIONS, StoredKeyError,
};
use crate::kdf::pbkdf2_sha256;

pub(super) const TOKEN_PREFIX: &str = "kg_";
const SECRET_BYTES: usize = 32;
const SECRET_CHARS: usize = 43; // base64url, no padding, of 32 bytes
pub(super) const CHECKSUM_CHARS: usize = 6;
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + SECRET_CHARS + CHECKSUM_CHARS;
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Clone)]
pub(super) struct PhcHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PhcHash {
    pub(super) fn parse(stored: &str) -> Result<Self, StoredKeyError> {
        let rest = stored
            .strip_prefix("$pbkdf2-sha256$")
            .ok_or(StoredKeyError::UnknownFormat)?;
        let mut parts = rest.split('$');
        let (Some(params), Some(salt), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StoredKeyError::MalformedPhc(
                "expected $pbkdf2-sha256$i=N,l=32$salt$hash",
            ));
        };
        let (mut iterations, mut length) = (None, None);
        for param in params.split(',') {
            let (name, value) = param
                .split_once('=')
                .ok_or(StoredKeyError::MalformedPhc("parameter without '='"))?;
            // The PHC format's decimal: digits only, no sign, no leading zero (one spelling per value).
            let canonical = !value.is_empty()
                && value.bytes().all(|b| b.is_ascii_digit())
                && (value.len() == 1 || !value.starts_with('0'));
            let value: u64 =
                value
                    .parse()
                    .ok()
                    .filter(|_| canonical)
                    .ok_or(StoredKeyError::MalformedPhc(
                        "parameter is not a decimal number",
                    ))?;
            let slot = match name {
                "i" => &mut iterations,
                "l" => &mut length,
                _ => {
                    return Err(StoredKeyError::MalformedPhc(
                        "unknown parameter (only i and l)",
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(StoredKeyError::MalformedPhc("parameter given twice"));
            }
        }
        let iterations =
            iterations.ok_or(StoredKeyError::MalformedPhc("missing i=<iterations>"))?;
        let iterations = u32::try_from(iterations)
            .ok()
            .filter(|i| PHC_ITERATIONS.contains(i))
            .ok_or(StoredKeyError::IterationsOutOfRange { iterations })?;
        let salt = STANDARD_NO_PAD
            .decode(salt)
            .map_err(|_| StoredKeyError::MalformedPhc("salt is not unpadded standard base64"))?;
        let hash = STANDARD_NO_PAD
            .decode(hash)
            .map_err(|_| StoredKeyError::MalformedPhc("hash is not unpadded standard base64"))?;
        if !(8..=64).contains(&salt.len()) {
            return Err(StoredKeyError::MalformedPhc("salt must be 8 to 64 bytes"));
        }
        if !(16..=64).contains(&hash.len()) || length.is_some_and(|l| l != hash.len() as u64) {
            return Err(StoredKeyError::MalformedPhc(
                "hash length does not match l=",
            ));
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    pub(super) fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Runs the KDF once and compares in constant time.
    pub(super) fn matches(&self, token: &str) -> bool {
        let mut derived = vec![0u8; self.hash.len()];
        pbkdf2_sha256(token.as_bytes(), &self.salt, self.iterations, &mut derived);
        derived.ct_eq(&self.hash).into()
    }

    fn encode(&self) -> String {
        format!(
            "$pbkdf2-sha256$i={},l={}${}${}",
            self.iterations,
            self.hash.len(),
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }
}

/// CRC-32 (IEEE) of `body`, as 6 base62 digits left-padded with `0`.
pub(super) fn checksum(body: &str) -> [u8; CHECKSUM_CHARS] {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62.get((value % 62) as usize).copied().unwrap_or(b'0');
        value /= 62;
    }
    digits
}

/// Shape and checksum check of a `kg_` token; runs no KDF.
pub(super) fn check_token(token: &str) -> Result<(), ApiKeyError> {
    if token.len() != TOKEN_LEN || !token.is_ascii() || !token.starts_with(TOKEN_PREFIX) {
        return Err(ApiKeyError::UnknownShape);
    }
    let (body, sum) = token.split_at(TOKEN_LEN - CHECKSUM_CHARS);
    let secret = body.get(TOKEN_PREFIX.len()..).unwrap_or_default();
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiKeyError::UnknownShape);
    }
    if checksum(body).as_slice() == sum.as_bytes() {
        Ok(())
    } else {
        Err(ApiKeyError::BadChecksum)
    }
}

/// A stored hash of random bytes at `iterations`: checking a token against it costs what a real
/// one does, and it matches no token.
pub(super) fn decoy(iterations: u32) -> Result<String, GenerateError> {
    if !PHC_ITERATIONS.contains(&iterations) {
        return Err(GenerateError::Iterations(iterations));
    }
    Ok(PhcHash {
        iterations,
        salt: super::random_bytes::<SALT_BYTES>()?.to_vec(),
        hash: super::random_bytes::<HASH_BYTES>()?.to_vec(),
    }
    .encode())
}

pub(super) fn generate(iterations: u32) -> Result<GeneratedKey, GenerateError> {
    if !PHC_ITERATIONS.contains(&iterations) {
        return Err(GenerateError::Iterations(iterations));
    }
    let secret = super::random_bytes::<SECRET_BYTES>()?;
    let body = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let sum = checksum(&body);
    let token = format!("{body}{}", String::from_utf8_lossy(&sum));
    let salt = super::random_bytes::<SALT_BYTES>()?.to_vec();
    let mut hash = vec![0u8; HASH_BYTES];
    pbkdf2_sha256(token.as_bytes(), &salt, iterations, &mut hash);
    let stored = PhcHash {
        iterations,
        salt,
        hash,
    }
    .encode();
    Ok(GeneratedKey {
        bearer_token: SecretString::from(token),
        stored,
        format: ApiKeyFormat::Phc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_six_base62_digits_of_crc32() {
        // Base62 conversion written out separately from `checksum`, most significant digit first.
        let crc = crc32fast::hash(b"kg_");
        let mut n = u64::from(crc);
        let mut expected = Vec::new();
        for _ in 0..6 {
            expected.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expected.reverse();
        assert_eq!(checksum("kg_").to_vec(), expected);
        assert_eq!(
            checksum("").to_vec(),
            b"000000".to_vec(),
            "CRC-32 of nothing is 0"
        );
    }

    #[test]
    fn phc_strings_round_trip_and_bad_ones_are_named() {
        let good = "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0c2FsdA$\
                    MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE";
        assert_eq!(PhcHash::parse(good).unwrap().encode(), good);
        let bad = |s: &str| PhcHash::parse(s).err().unwrap();
        assert_eq!(
            bad("$pbkdf2-sha512$i=1000$a$b"),
            StoredKeyError::UnknownFormat
        );
        assert!(matches!(
            bad("$pbkdf2-sha256$i=1000$c2FsdA"),
            StoredKeyError::MalformedPhc(_)
        ));
        assert_eq!(
            bad(&good.replace("i=1000", "i=999")),
            StoredKeyError::IterationsOutOfRange { iterations: 999 }
        );
        assert_eq!(
            bad(&good.replace("i=1000", "i=99999999999")),
            StoredKeyError::IterationsOutOfRange {
                iterations: 99_999_999_999
            }
        );
        assert!(matches!(
            bad(&good.replace("l=32", "l=31")),
            StoredKeyError::MalformedPhc(_)
        ));
        assert!(matches!(
            bad(&good.replace("l=32", "x=32")),
            StoredKeyError::MalformedPhc(_)
        ));
        for spelling in ["i=+1000", "i=01000", "i=", "i=1e3"] {
            let text = good.replace("i=1000", spelling);
            assert!(
                matches!(bad(&text), StoredKeyError::MalformedPhc(_)),
                "{spelling}"
            );
        }
        assert!(matches!(
            bad(&good.replace("i=1000", "i=1000,i=1000")),
            StoredKeyError::MalformedPhc(_)
        ));
    }
}
