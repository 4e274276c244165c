//! JWT pre-parsing and verification (`JwtVerifier::verify`, `looks_like_jwt`; reference §4).
//!
//! Invariants:
//! - a fuzzed token never verifies against keys generated when the target starts (one per
//!   algorithm: RS256, ES256, EdDSA);
//! - `looks_like_jwt` is exactly the segment grammar: three `.`-separated base64url-alphabet
//!   segments, the first non-empty;
//! - tokens over the size cap (`JwtSettings::max_token_bytes`, 16 KiB by default) are `TooLarge`
//!   whatever they contain;
//! - errors are reported in order: anything past the pre-parse (a signature, claim or key error)
//!   means three segments, a non-empty signature and a header that is a JSON object;
//! - round trip: claims built from the input, signed by the ES256 and EdDSA keys, verify and give
//!   the same claims back; the same token with one changed signature byte does not verify.

#![no_main]

use std::sync::OnceLock;

use auth_core::header::DEFAULT_MAX_AUTHORIZATION_BYTES as MAX_TOKEN_BYTES;
use auth_core::jwt::{
    JwtAlgorithm, JwtError, JwtSettings, JwtVerifier, SigningKey, VerifyingKey, generate_key_pair,
    looks_like_jwt,
};
use auth_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "keygate";
/// A fixed "now", so tokens in the seed corpus keep their meaning.
const NOW: u64 = 1_700_000_000;

struct Fixture {
    verifier: JwtVerifier,
    signers: Vec<SigningKey>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut keys = Vec::new();
        let mut signers = Vec::new();
        for alg in [
            JwtAlgorithm::Rs256,
            JwtAlgorithm::Es256,
            JwtAlgorithm::EdDsa,
        ] {
            let pair = generate_key_pair(alg).expect("key generation");
            keys.push(VerifyingKey::from_pem(&pair.public_pem).expect("public key loads"));
            if alg != JwtAlgorithm::Rs256 {
                // RSA signing costs milliseconds; the round trip uses the fast algorithms.
                signers
                    .push(SigningKey::from_pem(pair.private_pem.expose_secret()).expect("loads"));
            }
        }
        Fixture {
            verifier: JwtVerifier::new(keys, JwtSettings::new(ISSUER, AUDIENCE)),
            signers,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let token = String::from_utf8_lossy(data);
    let token = token.as_ref();

    let result = fixture.verifier.verify(token, NOW);
    assert!(result.is_err(), "a fuzzed token verified");
    assert_eq!(looks_like_jwt(token), segment_grammar(token));
    if token.len() > MAX_TOKEN_BYTES {
        assert_eq!(
            result,
            Err(JwtError::TooLarge {
                limit: MAX_TOKEN_BYTES
            })
        );
    }
    if let Err(error) = &result {
        if !matches!(
            error,
            JwtError::TooLarge { .. }
                | JwtError::Malformed(_)
                | JwtError::MissingSignature
                | JwtError::DuplicateKey
        ) {
            let segments: Vec<&str> = token.split('.').collect();
            assert_eq!(
                segments.len(),
                3,
                "{error:?} for a token without three segments"
            );
            assert!(
                !segments[2].is_empty(),
                "{error:?} for a token without signature"
            );
            let header = URL_SAFE_NO_PAD
                .decode(segments[0])
                .expect("header was decoded");
            let header: Value = serde_json::from_slice(&header).expect("header was parsed");
            assert!(header.is_object());
        }
    }

    // Oversized: the cap comes before any parsing, whatever the bytes are.
    let oversized = token.repeat(MAX_TOKEN_BYTES / token.len().max(1) + 1);
    if oversized.len() > MAX_TOKEN_BYTES {
        assert_eq!(
            fixture.verifier.verify(&oversized, NOW),
            Err(JwtError::TooLarge {
                limit: MAX_TOKEN_BYTES
            })
        );
    }

    round_trip(fixture, data);
});

/// Three `.`-separated segments of `[A-Za-z0-9_-]*`, the first non-empty.
fn segment_grammar(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && !segments[0].is_empty()
        && segments.iter().all(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn round_trip(fixture: &Fixture, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Signing re-parses the private key every time (about 1 ms): one input in eight keeps the
    // fuzzer fast while the round trip still sees every shape of subject.
    if selector % 8 != 0 {
        return;
    }
    let signer = &fixture.signers[usize::from(selector / 8) % fixture.signers.len()];
    let subject = String::from_utf8_lossy(rest).into_owned();
    let claims = json!({
        "iss": ISSUER,
        "aud": [AUDIENCE, subject],
        "sub": subject,
        "exp": NOW + 600,
        "nbf": NOW - 10,
    });
    let token = signer.sign(&claims).expect("signing with a loaded key");
    if token.len() > MAX_TOKEN_BYTES {
        assert_eq!(
            fixture.verifier.verify(&token, NOW),
            Err(JwtError::TooLarge {
                limit: MAX_TOKEN_BYTES
            })
        );
        return;
    }
    assert!(looks_like_jwt(&token));
    let verified = fixture
        .verifier
        .verify(&token, NOW)
        .expect("a freshly signed token verifies");
    assert_eq!(verified.sub.as_deref(), Some(subject.as_str()));
    assert_eq!(verified.json.get("sub"), Some(&Value::String(subject)));
    assert_eq!(verified.iss, ISSUER);
    assert_eq!(verified.exp, NOW + 600);

    // Change one character of the signature to another base64url character.
    let (signed, signature) = token.rsplit_once('.').expect("three segments");
    let mut signature = signature.as_bytes().to_vec();
    let index = rest.len() % signature.len();
    signature[index] = if signature[index] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8_lossy(&signature));
    assert!(
        fixture.verifier.verify(&tampered, NOW).is_err(),
        "a tampered token verified"
    );
}
