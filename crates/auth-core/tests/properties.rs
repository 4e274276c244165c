//! Property tests: round trips, single-character changes, and a parser that never panics.
//! `PROPTEST_CASES` (set by `cargo xtask test --cases N`) scales every property.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use auth_core::apikey::{
    ApiKeyFormat, KeySet, StoredKey, generate_moose, generate_phc, token_format,
};
use auth_core::header::{Credentials, DEFAULT_MAX_AUTHORIZATION_BYTES as MAX, parse_authorization};
use auth_core::secrecy::ExposeSecret;
use proptest::prelude::*;

/// One generated key per format, shared: generation runs PBKDF2, the properties mutate tokens.
fn keys() -> &'static [(String, KeySet); 2] {
    static KEYS: std::sync::OnceLock<[(String, KeySet); 2]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = |key: auth_core::apikey::GeneratedKey| {
            let set = KeySet::from(vec![StoredKey::parse(&key.stored).unwrap()]);
            (key.bearer_token.expose_secret().to_owned(), set)
        };
        [
            pair(generate_moose().unwrap()),
            pair(generate_phc(1000).unwrap()),
        ]
    })
}

fn b64token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/-]{1,64}={0,3}"
}

proptest! {
    #[test]
    fn generated_keys_round_trip(phc in any::<bool>()) {
        let key = if phc { generate_phc(1000).unwrap() } else { generate_moose().unwrap() };
        let stored = StoredKey::parse(&key.stored).unwrap();
        prop_assert_eq!(stored.format(), if phc { ApiKeyFormat::Phc } else { ApiKeyFormat::Moose });
        prop_assert_eq!(stored.verify(key.bearer_token.expose_secret()), Ok(()));
    }

    #[test]
    fn any_single_character_change_of_a_valid_token_fails(
        which in 0usize..2, position in any::<prop::sample::Index>(), replacement in any::<char>()
    ) {
        let (token, set) = &keys()[which];
        let mut chars: Vec<char> = token.chars().collect();
        let i = position.index(chars.len());
        prop_assume!(chars[i] != replacement);
        chars[i] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(set.verify(&changed).result.is_err());
    }

    #[test]
    fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_authorization(&bytes, MAX);
    }

    #[test]
    fn every_well_formed_bearer_header_is_accepted(
        scheme in "(?i)bearer", spaces in " {1,4}", token in b64token(), ows in "[ \t]{0,2}"
    ) {
        let header = format!("{ows}{scheme}{spaces}{token}{ows}");
        let parsed = parse_authorization(header.as_bytes(), MAX);
        prop_assert!(matches!(parsed, Ok(Credentials::Bearer(t)) if t.as_str() == token));
    }

    #[test]
    fn accepted_tokens_only_hold_b64token_characters(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut header = b"Bearer ".to_vec();
        header.extend_from_slice(&bytes);
        if let Ok(Credentials::Bearer(token)) = parse_authorization(&header, MAX) {
            prop_assert!(token.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)));
            prop_assert!(header.len() <= MAX);
        }
    }

    #[test]
    fn token_format_never_panics_and_random_text_never_authenticates(token in ".{0,80}") {
        let _ = token_format(&token);
        for (_, set) in keys() {
            prop_assert!(set.verify(&token).result.is_err());
        }
    }
}
