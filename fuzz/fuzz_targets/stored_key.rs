//! Stored-hash parsing (`StoredKey::parse`): the bare 40-hex `moose` hash and the
//! `$pbkdf2-sha256$` PHC string (reference §2.1, §2.2, §2.3).
//!
//! Invariants:
//! - format detection is consistent: `phc` exactly when the trimmed string starts with `$`;
//!   an accepted `moose` hash is 40 hex characters at 1000 iterations; an accepted PHC string
//!   decodes, independently of the parser, to `i=` within 1000..=10000000, a salt of 8–64 bytes
//!   and a hash of 16–64 bytes;
//! - the key id is stable: SHA-256 of the trimmed string, the same with or without surrounding
//!   white space, and the same on a second parse; errors are stable the same way;
//! - round trip: PHC strings and `moose` hashes built from the input's bytes parse back to their
//!   parameters, or fail with the error their parameters call for.
//!
//! No KDF runs here: a fuzzed PHC string may name ten million iterations.

#![no_main]

use auth_core::apikey::{
    ApiKeyFormat, KeyId, MOOSE_ITERATIONS, PHC_ITERATIONS, StoredKey, StoredKeyError,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let stored = String::from_utf8_lossy(data);
    check_string(&stored);
    round_trip_phc(data);
    if let Some(hash) = data.get(..20) {
        let hex = hex::encode(hash);
        for text in [hex.clone(), hex.to_ascii_uppercase()] {
            let key = StoredKey::parse(&text).expect("40 hex characters are a moose hash");
            assert_eq!(key.format(), ApiKeyFormat::Moose);
            assert_eq!(key.id(), KeyId::of_stored(&text));
        }
    }
});

fn check_string(stored: &str) {
    let trimmed = stored.trim();
    let parsed = StoredKey::parse(stored);
    let again = StoredKey::parse(trimmed);
    let padded = StoredKey::parse(&format!(" \t{stored}\n"));
    match &parsed {
        Ok(key) => {
            assert_eq!(key.id(), KeyId::of_stored(stored));
            assert_eq!(key.id(), KeyId::of_stored(trimmed));
            for other in [&again, &padded] {
                let other = other.as_ref().expect("an accepted hash parses again");
                assert_eq!(other.id(), key.id(), "key id changed");
                assert_eq!(other.format(), key.format());
                assert_eq!(other.iterations(), key.iterations());
            }
            assert_eq!(key.format() == ApiKeyFormat::Phc, trimmed.starts_with('$'));
            match key.format() {
                ApiKeyFormat::Moose => {
                    assert!(trimmed.len() == 40 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()));
                    assert_eq!(key.iterations(), MOOSE_ITERATIONS);
                }
                ApiKeyFormat::Phc => check_phc_model(trimmed, key.iterations()),
            }
        }
        Err(error) => {
            assert_eq!(
                again.as_ref().err(),
                Some(error),
                "error changed on trimming"
            );
            assert_eq!(
                padded.as_ref().err(),
                Some(error),
                "error changed with white space"
            );
            if !trimmed.starts_with("$pbkdf2-sha256$") {
                assert_eq!(*error, StoredKeyError::UnknownFormat);
            }
        }
    }
}

/// An accepted PHC string, decoded without the library.
fn check_phc_model(trimmed: &str, iterations: u32) {
    let fields: Vec<&str> = trimmed.split('$').collect();
    assert_eq!(fields.len(), 5, "$pbkdf2-sha256$params$salt$hash");
    assert_eq!(fields[1], "pbkdf2-sha256");
    let named: Vec<u64> = fields[2]
        .split(',')
        .filter_map(|p| p.strip_prefix("i="))
        .map(|v| v.parse().expect("accepted i= is a number"))
        .collect();
    assert_eq!(
        named,
        [u64::from(iterations)],
        "exactly one i=, the one reported"
    );
    assert!(PHC_ITERATIONS.contains(&iterations));
    let salt = STANDARD_NO_PAD
        .decode(fields[3])
        .expect("accepted salt decodes");
    let hash = STANDARD_NO_PAD
        .decode(fields[4])
        .expect("accepted hash decodes");
    assert!((8..=64).contains(&salt.len()));
    assert!((16..=64).contains(&hash.len()));
}

/// Builds a canonical PHC string from the input and checks what the parser makes of it.
fn round_trip_phc(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<6>() else {
        return;
    };
    let raw = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    // Half the inputs stay in range so that both outcomes are exercised.
    let iterations = if raw & 1 == 0 {
        1000 + raw % 9_999_001
    } else {
        raw
    };
    let salt_len = usize::from(head[4]) % 80;
    let hash_len = usize::from(head[5]) % 80;
    let salt: Vec<u8> = rest.iter().copied().cycle().take(salt_len).collect();
    let hash: Vec<u8> = rest.iter().rev().copied().cycle().take(hash_len).collect();
    if rest.is_empty() && (salt_len > 0 || hash_len > 0) {
        return;
    }
    let text = format!(
        "$pbkdf2-sha256$i={iterations},l={hash_len}${}${}",
        STANDARD_NO_PAD.encode(&salt),
        STANDARD_NO_PAD.encode(&hash)
    );
    let parsed = StoredKey::parse(&text);
    if !PHC_ITERATIONS.contains(&iterations) {
        assert_eq!(
            parsed.err(),
            Some(StoredKeyError::IterationsOutOfRange {
                iterations: u64::from(iterations)
            })
        );
    } else if (8..=64).contains(&salt_len) && (16..=64).contains(&hash_len) {
        let key = parsed.expect("a canonical PHC string with valid parameters parses");
        assert_eq!(key.format(), ApiKeyFormat::Phc);
        assert_eq!(key.iterations(), iterations);
        assert_eq!(key.id(), KeyId::of_stored(&text));
    } else {
        assert!(matches!(parsed, Err(StoredKeyError::MalformedPhc(_))));
    }
}
