//! API-key token parsing, both formats (reference §2.1, §2.2), and `KeySet::verify` on random tokens.
//!
//! Invariants:
//! - `token_format` agrees with an independent shape model: `moose` exactly for `32 hex . 32 hex`,
//!   `phc` exactly for `kg_` + 43 base64url + the right base62 CRC-32, `BadChecksum` exactly for
//!   that shape (all ASCII) with a wrong checksum, `UnknownShape` otherwise;
//! - `KeySet::verify` never authenticates a fuzzed token against the fixed keys, and runs no KDF
//!   for a token `token_format` refuses (exactly one when it has the shape of a configured format);
//! - round trip: tokens built from the input bytes in either format are classified as that format,
//!   and a changed checksum character is always `BadChecksum`.

#![no_main]

use std::sync::OnceLock;

use auth_core::apikey::{ApiKeyError, ApiKeyFormat, KeySet, StoredKey, token_format};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

/// A `moose` hash and a `phc` hash at the minimum cost (1000 iterations), so a well-shaped token
/// costs one cheap KDF run. Their bearer tokens are not in this file.
const MOOSE_STORED: &str = "6f1f1d3b2a0c5e4d8b9a7c6e5f4d3c2b1a098776";
const PHC_STORED: &str = "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0c2FsdA$\
                          MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        [MOOSE_STORED, PHC_STORED]
            .iter()
            .map(|s| StoredKey::parse(s).expect("fixed stored hashes parse"))
            .collect::<Vec<_>>()
            .into()
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let token = token.as_ref();

    let format = token_format(token);
    assert_eq!(
        format,
        model(token),
        "token_format disagrees with the shape model"
    );

    let check = keys().verify(token);
    assert!(check.result.is_err(), "a fuzzed token authenticated");
    match format {
        Err(error) => {
            assert_eq!(check.kdf_runs, 0, "a KDF ran for a malformed token");
            assert_eq!(check.result, Err(error));
        }
        Ok(_) => {
            assert_eq!(check.kdf_runs, 1, "one key per format is configured");
            assert_eq!(check.result, Err(ApiKeyError::NoMatch));
        }
    }

    // Tokens built from the input: both formats must be recognised, without running a KDF.
    if data.len() >= 32 {
        let moose = format!(
            "{}.{}",
            hex::encode(&data[..16]),
            hex::encode(&data[16..32])
        );
        assert_eq!(token_format(&moose), Ok(ApiKeyFormat::Moose));
        assert_eq!(
            token_format(&moose.to_ascii_uppercase()),
            Ok(ApiKeyFormat::Moose)
        );
        assert_eq!(token_format(&moose[1..]), Err(ApiKeyError::UnknownShape));

        let body = format!("kg_{}", URL_SAFE_NO_PAD.encode(&data[..32]));
        let sum = checksum(&body);
        let phc = format!("{body}{sum}");
        assert_eq!(token_format(&phc), Ok(ApiKeyFormat::Phc));
        let position = data.get(32).map_or(0, |b| usize::from(*b) % sum.len());
        let mut wrong = sum.into_bytes();
        wrong[position] = if wrong[position] == b'0' { b'1' } else { b'0' };
        let wrong = format!("{body}{}", String::from_utf8_lossy(&wrong));
        assert_eq!(token_format(&wrong), Err(ApiKeyError::BadChecksum));
    }
});

/// reference §2.1/§2.2 token shapes, checked without the library.
fn model(token: &str) -> Result<ApiKeyFormat, ApiKeyError> {
    let bytes = token.as_bytes();
    let hex_half = |s: &[u8]| s.len() == 32 && s.iter().all(u8::is_ascii_hexdigit);
    if bytes.len() == 65 && bytes[32] == b'.' && hex_half(&bytes[..32]) && hex_half(&bytes[33..]) {
        return Ok(ApiKeyFormat::Moose);
    }
    let b64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let kg_shape = bytes.len() == 52 && token.is_ascii() && bytes.starts_with(b"kg_");
    if kg_shape && bytes[3..46].iter().all(b64url) {
        let body = &token[..46];
        return if checksum(body).as_bytes() == &bytes[46..] {
            Ok(ApiKeyFormat::Phc)
        } else {
            Err(ApiKeyError::BadChecksum)
        };
    }
    Err(ApiKeyError::UnknownShape)
}

/// CRC-32 (IEEE) in base62, six digits, left-padded with `0`.
fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = vec![b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}
