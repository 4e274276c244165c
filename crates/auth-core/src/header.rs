//! The `Authorization` header grammar of SPEC §3 (RFC 6750 §2.1).
//!
//! ```text
//! credentials = "Bearer" 1*SP b64token
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! The parser works on raw bytes so that non-UTF-8 header values are classified, not rejected
//! by a conversion step before the grammar sees them.

use std::fmt;

/// Largest `Authorization` value accepted, in bytes (SPEC §3).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// What an `Authorization` header carried.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No header, or a scheme other than `Bearer`: the client did not try to authenticate.
    None,
    /// A syntactically valid bearer token (not yet verified).
    Bearer(BearerToken<'a>),
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(token) => f.debug_tuple("Bearer").field(token).finish(),
        }
    }
}

/// A token that matched the `b64token` grammar. `Debug` never shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BearerToken<'a>(&'a str);

impl<'a> BearerToken<'a> {
    /// The token text. Treat it as a secret: never log it.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken([redacted; {} bytes])", self.0.len())
    }
}

/// Why a request's `Authorization` header is malformed (answered with 400 `invalid_request`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedHeader {
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    MultipleHeaders,
    /// The value is longer than [`MAX_HEADER_BYTES`].
    #[error("the Authorization header is longer than 8 KiB")]
    TooLong,
    /// `Bearer` with nothing after it.
    #[error("the bearer token is empty")]
    EmptyToken,
    /// The scheme and the token are not separated by spaces (e.g. a tab).
    #[error("the bearer scheme must be followed by one or more spaces")]
    BadSeparator,
    /// The token contains a character outside the b64token grammar (this includes inner spaces).
    #[error("the bearer token contains a character not allowed by RFC 6750")]
    InvalidCharacter,
}

/// Parses one `Authorization` header value (SPEC §3).
///
/// # Errors
/// [`MalformedHeader`] when the value uses the `Bearer` scheme but breaks its grammar,
/// or is longer than 8 KiB.
pub fn parse_authorization(value: &[u8]) -> Result<Credentials<'_>, MalformedHeader> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(MalformedHeader::TooLong);
    }
    let value = value.trim_ascii_start_matches_ows().trim_ows_end();
    let Some((scheme, rest)) = split_scheme(value) else {
        return Ok(Credentials::None);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(Credentials::None);
    }
    if rest.is_empty() {
        return Err(MalformedHeader::EmptyToken);
    }
    // `rest` starts at the first separator byte after the scheme.
    let token = match rest.iter().position(|&b| b != b' ') {
        Some(0) => return Err(MalformedHeader::BadSeparator),
        Some(start) => rest.get(start..).unwrap_or_default(),
        None => return Err(MalformedHeader::EmptyToken),
    };
    if !is_b64token(token) {
        return Err(MalformedHeader::InvalidCharacter);
    }
    // b64token is pure ASCII, so this conversion cannot fail; map defensively anyway.
    std::str::from_utf8(token)
        .map(|t| Credentials::Bearer(BearerToken(t)))
        .map_err(|_| MalformedHeader::InvalidCharacter)
}

/// Parses every `Authorization` header of a request: none → no credentials, several → malformed.
///
/// # Errors
/// [`MalformedHeader::MultipleHeaders`] for more than one value, otherwise as [`parse_authorization`].
pub fn parse_authorization_headers<'a, I>(values: I) -> Result<Credentials<'a>, MalformedHeader>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut values = values.into_iter();
    let Some(first) = values.next() else {
        return Ok(Credentials::None);
    };
    if values.next().is_some() {
        return Err(MalformedHeader::MultipleHeaders);
    }
    parse_authorization(first)
}

/// Splits `scheme rest` at the first byte that cannot be part of an auth-scheme token.
/// Returns `None` for an empty value.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    if value.is_empty() {
        return None;
    }
    let end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    Some(value.split_at(end))
}

fn is_b64token(token: &[u8]) -> bool {
    // The body ends at the last non-`=`; `=` inside it fails the byte check, so this accepts
    // exactly `1*b64token-char *"="`, without a scalar scan for the first `=`.
    let body_len = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let body = token.get(..body_len).unwrap_or_default();
    !body.is_empty() && body.iter().fold(true, |ok, &b| ok & is_b64token_byte(b))
}

/// One `b64token` body character. Branch-free arithmetic, so that the `fold` over a token (no
/// early exit) vectorises: this runs over every byte of every request's token.
fn is_b64token_byte(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// Optional white space (SP / HTAB) trimming on byte slices.
trait TrimOws {
    fn trim_ascii_start_matches_ows(&self) -> &Self;
    fn trim_ows_end(&self) -> &Self;
}

impl TrimOws for [u8] {
    fn trim_ascii_start_matches_ows(&self) -> &[u8] {
        let start = self
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(self.len());
        self.get(start..).unwrap_or_default()
    }

    fn trim_ows_end(&self) -> &[u8] {
        let end = self
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |i| i + 1);
        self.get(..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Option<&str>, MalformedHeader> {
        parse_authorization(value.as_bytes()).map(|c| match c {
            Credentials::None => None,
            Credentials::Bearer(t) => Some(t.as_str()),
        })
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("Bearer abc"), Ok(Some("abc")));
        assert_eq!(parse("bearer abc"), Ok(Some("abc")));
        assert_eq!(
            parse("BEARER   a-b.c_d~e+f/g=="),
            Ok(Some("a-b.c_d~e+f/g=="))
        );
        assert_eq!(parse(" \tBearer abc \t"), Ok(Some("abc")));
    }

    #[test]
    fn other_schemes_and_empty_values_are_no_credentials() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(parse("Bearerx abc"), Ok(None));
    }

    #[test]
    fn rejects_every_malformed_bearer_form() {
        assert_eq!(parse("Bearer"), Err(MalformedHeader::EmptyToken));
        assert_eq!(parse("Bearer    "), Err(MalformedHeader::EmptyToken));
        assert_eq!(parse("Bearer\tabc"), Err(MalformedHeader::BadSeparator));
        assert_eq!(parse("Bearer a b"), Err(MalformedHeader::InvalidCharacter));
        assert_eq!(parse("Bearer a=b"), Err(MalformedHeader::InvalidCharacter));
        assert_eq!(parse("Bearer ==="), Err(MalformedHeader::InvalidCharacter));
        assert_eq!(
            parse("Bearer ab\u{e9}"),
            Err(MalformedHeader::InvalidCharacter)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_HEADER_BYTES));
        assert_eq!(parse(&long), Err(MalformedHeader::TooLong));
    }

    #[test]
    fn several_headers_are_malformed_and_none_is_no_credentials() {
        let one: [&[u8]; 1] = [b"Bearer abc"];
        let two: [&[u8]; 2] = [b"Bearer abc", b"Bearer abc"];
        assert!(matches!(
            parse_authorization_headers(one),
            Ok(Credentials::Bearer(_))
        ));
        assert_eq!(
            parse_authorization_headers(two),
            Err(MalformedHeader::MultipleHeaders)
        );
        assert_eq!(
            parse_authorization_headers(std::iter::empty()),
            Ok(Credentials::None)
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let creds = parse_authorization(b"Bearer supersecret").unwrap();
        assert!(!format!("{creds:?}").contains("supersecret"));
    }
}
