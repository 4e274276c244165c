//! The `Authorization` header grammar of reference §3 (RFC 6750 §2.1).
//!
//! ```text
//! credentials = "Bearer" 1*SP b64token
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! The parser works on raw bytes so that non-UTF-8 header values are classified, not rejected
//! by a conversion step before the grammar sees them.

/// Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, so a proxy never
/// forwards them and no claim may be mapped to them.
pub const HOP_BY_HOP_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

use std::fmt;

/// Default cap on the size of the `Authorization` header *and* of the bearer token (API key or
/// JWT) it carries, in bytes: 16 KiB, since identity providers issue JWTs over 8 KiB when they
/// carry group claims. This is the one definition of the default: servers pass their configured
/// value (`[server] max_authorization_bytes`) to [`parse_authorization`] and, through
/// [`JwtSettings::max_token_bytes`](crate::jwt::JwtSettings::max_token_bytes), to the JWT
/// verifier.
pub const DEFAULT_MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;

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
    /// The value is longer than the configured cap (see [`DEFAULT_MAX_AUTHORIZATION_BYTES`]).
    #[error("the Authorization header is longer than {limit} bytes")]
    TooLong {
        /// The cap in force, in bytes.
        limit: usize,
    },
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

/// Parses one `Authorization` header value (reference §3). Values longer than `max_bytes` are
/// refused before the grammar is looked at, whatever their scheme (a server passes its
/// configured cap; [`DEFAULT_MAX_AUTHORIZATION_BYTES`] is the default).
///
/// # Errors
/// [`MalformedHeader`] when the value uses the `Bearer` scheme but breaks its grammar,
/// or is longer than `max_bytes`.
pub fn parse_authorization(
    value: &[u8],
    max_bytes: usize,
) -> Result<Credentials<'_>, MalformedHeader> {
    if value.len() > max_bytes {
        return Err(MalformedHeader::TooLong { limit: max_bytes });
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
pub fn parse_authorization_headers<'a, I>(
    values: I,
    max_bytes: usize,
) -> Result<Credentials<'a>, MalformedHeader>
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
    parse_authorization(first, max_bytes)
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

    const MAX: usize = DEFAULT_MAX_AUTHORIZATION_BYTES;

    fn parse(value: &str) -> Result<Option<&str>, MalformedHeader> {
        parse_authorization(value.as_bytes(), MAX).map(|c| match c {
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
        let long = format!("Bearer {}", "a".repeat(MAX));
        assert_eq!(parse(&long), Err(MalformedHeader::TooLong { limit: MAX }));
    }

    #[test]
    fn the_size_cap_is_the_callers() {
        // 12 KiB: over the old fixed 8 KiB, under the 16 KiB default.
        let twelve = format!("Bearer {}", "a".repeat(12 * 1024));
        assert!(matches!(parse(&twelve), Ok(Some(_))));
        let exactly = format!("Bearer {}", "a".repeat(MAX - 7));
        assert_eq!(exactly.len(), MAX);
        assert!(matches!(parse(&exactly), Ok(Some(_))));
        let twenty = format!("Bearer {}", "a".repeat(20 * 1024));
        assert_eq!(
            parse_authorization(twenty.as_bytes(), MAX),
            Err(MalformedHeader::TooLong { limit: MAX })
        );
        assert!(matches!(
            parse_authorization(twenty.as_bytes(), 32 * 1024),
            Ok(Credentials::Bearer(_))
        ));
        // The cap applies whatever the scheme, and to each of several headers alike.
        assert_eq!(
            parse_authorization(b"Basic dXNlcjpwYXNz", 8),
            Err(MalformedHeader::TooLong { limit: 8 })
        );
        let headers: [&[u8]; 1] = [twenty.as_bytes()];
        assert_eq!(
            parse_authorization_headers(headers, 1024),
            Err(MalformedHeader::TooLong { limit: 1024 })
        );
        assert_eq!(
            MalformedHeader::TooLong { limit: 1024 }.to_string(),
            "the Authorization header is longer than 1024 bytes"
        );
    }

    #[test]
    fn several_headers_are_malformed_and_none_is_no_credentials() {
        let one: [&[u8]; 1] = [b"Bearer abc"];
        let two: [&[u8]; 2] = [b"Bearer abc", b"Bearer abc"];
        assert!(matches!(
            parse_authorization_headers(one, MAX),
            Ok(Credentials::Bearer(_))
        ));
        assert_eq!(
            parse_authorization_headers(two, MAX),
            Err(MalformedHeader::MultipleHeaders)
        );
        assert_eq!(
            parse_authorization_headers(std::iter::empty(), MAX),
            Ok(Credentials::None)
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let creds = parse_authorization(b"Bearer supersecret", MAX).unwrap();
        assert!(!format!("{creds:?}").contains("supersecret"));
    }
}
