//! `Authorization` header parsing (reference §3) against an independent model of the grammar.
//!
//! Invariants:
//! - `parse_authorization` agrees with [`model`], a separate reading of the grammar, on every input
//!   (the same outcome, the same error variant, the same token);
//! - an accepted token is non-empty, only b64token characters, and a slice of the input;
//! - an accepted token's own shape answer (found when it was parsed) is `looks_like_jwt` of its
//!   text;
//! - round trip: `Bearer <token>` re-rendered from an accepted token parses to the same token;
//! - surrounding SP/HTAB never changes the outcome (while under the size cap), and every value
//!   over the cap (the 16 KiB default, or the input's own length minus one) is `TooLong`;
//! - one header is the same as `parse_authorization`, two are always `MultipleHeaders`.

#![no_main]

use auth_core::header::{
    Credentials, DEFAULT_MAX_AUTHORIZATION_BYTES as MAX_HEADER_BYTES, MalformedHeader,
    parse_authorization, parse_authorization_headers,
};
use auth_core::jwt::looks_like_jwt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_authorization(data, MAX_HEADER_BYTES);
    let as_model = parsed.map(|c| match c {
        Credentials::None => None,
        Credentials::Bearer(t) => Some(t.as_str().as_bytes()),
    });
    assert_eq!(as_model, model(data), "parser and model disagree");

    if let Ok(Credentials::Bearer(token)) = parsed {
        assert_eq!(token.looks_like_jwt(), looks_like_jwt(token.as_str()));
        let token = token.as_str();
        assert!(!token.is_empty());
        assert!(is_b64token(token.as_bytes()), "accepted a non-b64token");
        assert!(data.windows(token.len()).any(|w| w == token.as_bytes()));
        let rendered = format!("Bearer {token}");
        match parse_authorization(rendered.as_bytes(), MAX_HEADER_BYTES) {
            Ok(Credentials::Bearer(again)) => assert_eq!(again.as_str(), token),
            other => panic!("re-rendered header did not parse back: {other:?}"),
        }
    }

    if data.len() + 2 <= MAX_HEADER_BYTES {
        let mut padded = Vec::with_capacity(data.len() + 2);
        padded.push(b'\t');
        padded.extend_from_slice(data);
        padded.push(b' ');
        assert_eq!(
            parse_authorization(&padded, MAX_HEADER_BYTES),
            parsed,
            "OWS changed the outcome"
        );
    }

    // Over the cap: refused before the grammar, whatever the bytes (libFuzzer's inputs stay under
    // 4 KiB by default, so the long value is built from the input).
    let long = data.repeat(MAX_HEADER_BYTES / data.len().max(1) + 1);
    if long.len() > MAX_HEADER_BYTES {
        assert_eq!(
            parse_authorization(&long, MAX_HEADER_BYTES),
            Err(MalformedHeader::TooLong {
                limit: MAX_HEADER_BYTES
            })
        );
    }

    // The cap is the caller's: exactly the input's length changes nothing, one byte less refuses it.
    if data.len() <= MAX_HEADER_BYTES {
        assert_eq!(parse_authorization(data, data.len()), parsed);
    }
    if let Some(limit) = data.len().checked_sub(1) {
        assert_eq!(
            parse_authorization(data, limit),
            Err(MalformedHeader::TooLong { limit })
        );
    }

    assert_eq!(
        parse_authorization_headers([data], MAX_HEADER_BYTES),
        parsed
    );
    assert_eq!(
        parse_authorization_headers([data, data], MAX_HEADER_BYTES),
        Err(MalformedHeader::MultipleHeaders)
    );
});

/// The grammar of reference §3 written as a scan over the value, independently of the parser.
fn model(value: &[u8]) -> Result<Option<&[u8]>, MalformedHeader> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(MalformedHeader::TooLong {
            limit: MAX_HEADER_BYTES,
        });
    }
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let mut start = 0;
    while start < value.len() && is_ows(&value[start]) {
        start += 1;
    }
    let mut end = value.len();
    while end > start && is_ows(&value[end - 1]) {
        end -= 1;
    }
    let value = &value[start..end];
    if value.is_empty() {
        return Ok(None);
    }
    let scheme_len = value.iter().take_while(|b| !is_ows(b)).count();
    if !value[..scheme_len].eq_ignore_ascii_case(b"Bearer") {
        return Ok(None);
    }
    let rest = &value[scheme_len..];
    match rest.first() {
        None => return Err(MalformedHeader::EmptyToken),
        Some(b'\t') => return Err(MalformedHeader::BadSeparator),
        Some(_) => {}
    }
    let token = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    if token.is_empty() {
        // Unreachable after trimming, kept so the model states the rule on its own.
        return Err(MalformedHeader::EmptyToken);
    }
    if is_b64token(token) {
        Ok(Some(token))
    } else {
        Err(MalformedHeader::InvalidCharacter)
    }
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(token: &[u8]) -> bool {
    let body = token.iter().take_while(|&&b| b != b'=').count();
    body > 0
        && token[..body]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
        && token[body..].iter().all(|&b| b == b'=')
}
