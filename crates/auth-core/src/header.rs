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
pub struct BearerToken<'a> {
    text: &'a str,
    /// [`looks_like_jwt`] of `text`, found once when it is parsed: the policy asks twice per
    /// request, and a JWT is hundreds of bytes.
    jwt_shaped: bool,
}

impl<'a> BearerToken<'a> {
    /// The token text. Treat it as a secret: never log it.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Whether the token has the shape of a compact JWS ([`looks_like_jwt`]).
    #[must_use]
    pub fn looks_like_jwt(&self) -> bool {
        self.jwt_shaped
    }
}

impl fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken([redacted; {} bytes])", self.text.len())
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
    let Some(jwt_shaped) = scan_b64token(token) else {
        return Err(MalformedHeader::InvalidCharacter);
    };
    // b64token is pure ASCII, so this conversion cannot fail; map defensively anyway.
    std::str::from_utf8(token)
        .map(|text| Credentials::Bearer(BearerToken { text, jwt_shaped }))
        .map_err(|_| MalformedHeader::InvalidCharacter)
}

/// Whether `token` has the shape of a compact JWS (three base64url segments, RFC 7515 §7.1),
/// without decoding it: only base64url characters and exactly two dots, with a non-empty first
/// segment. A parsed [`BearerToken`] knows the answer already
/// ([`BearerToken::looks_like_jwt`]).
#[must_use]
pub fn looks_like_jwt(token: &str) -> bool {
    scan_b64token(token.as_bytes()) == Some(true)
}

/// One pass over a token for both questions every request asks of it: `None` when it is not
/// `1*b64token-char *"="`, otherwise whether it is JWT-shaped ([`looks_like_jwt`]). The body
/// ends at the last non-`=`; `=` inside it fails the byte check.
fn scan_b64token(token: &[u8]) -> Option<bool> {
    let body_len = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let (body, padding) = token.split_at_checked(body_len)?;
    let first = *body.first()?;
    let (blocks, tail) = body.as_chunks::<LANES>();
    let mut lanes = Lanes::default();
    for block in blocks {
        lanes.add(block);
    }
    if !tail.is_empty() {
        // The body's last `LANES` bytes, read in place when there are that many (its first
        // lanes were seen already); a shorter body is filled out with `NEUTRAL`.
        let mut short = [NEUTRAL; LANES];
        let (last, seen) = match body.last_chunk::<LANES>() {
            Some(last) => (last, LANES - tail.len()),
            None => {
                if let Some(start) = short.get_mut(..tail.len()) {
                    start.copy_from_slice(tail);
                }
                (&short, 0)
            }
        };
        lanes.add_overlapping(last, seen);
    }
    // Whole registers looked at once, not lane by lane.
    let found =
        |flag: u8| u128::from_ne_bytes(lanes.outside) & u128::from_ne_bytes([flag; LANES]) != 0;
    let dots: u16 = lanes.dots.iter().map(|&lane| u16::from(lane)).sum();
    let jwt_shaped = padding.is_empty() && first != b'.' && !found(OUTSIDE_BASE64URL) && dots == 2;
    (!found(OUTSIDE_B64TOKEN)).then_some(jwt_shaped)
}

/// [`scan_b64token`] looks at this many bytes side by side.
const LANES: usize = 16;

/// What [`scan_b64token`] has seen, lane by lane: fixed-size arrays updated without branches,
/// so that the compiler keeps each in one vector register (an earlier single pass, a `fold`
/// over the bytes, measured several times slower).
#[derive(Default)]
struct Lanes {
    /// [`OUTSIDE_B64TOKEN`] and [`OUTSIDE_BASE64URL`], where such a byte was seen.
    outside: [u8; LANES],
    /// Dots seen, saturating: when the lanes sum to 2, none has saturated, so 2 is the count.
    dots: [u8; LANES],
}

/// [`Lanes::outside`]: a byte outside the `b64token` alphabet.
const OUTSIDE_B64TOKEN: u8 = 1;
/// [`Lanes::outside`]: a `b64token` byte that base64url lacks (`~`, `+`, `/`).
const OUTSIDE_BASE64URL: u8 = 2;

/// A byte in both alphabets and not a dot: what lanes with nothing new to add are filled with.
const NEUTRAL: u8 = b'a';

impl Lanes {
    fn add(&mut self, block: &[u8; LANES]) {
        for ((outside, dots), &b) in self.outside.iter_mut().zip(&mut self.dots).zip(block) {
            *outside |= (u8::from(!is_b64token_byte(b)) * OUTSIDE_B64TOKEN)
                | (u8::from((b == b'~') | (b == b'+') | (b == b'/')) * OUTSIDE_BASE64URL);
            *dots = dots.saturating_add(u8::from(b == b'.'));
        }
    }

    /// Adds `block`, whose lanes before `seen` were added before: they are replaced with
    /// [`NEUTRAL`], so that their dots do not count twice.
    fn add_overlapping(&mut self, block: &[u8; LANES], seen: usize) {
        let kept = KEPT_FROM
            .get(LANES.saturating_sub(seen)..)
            .and_then(<[u8]>::first_chunk::<LANES>)
            .unwrap_or(&[0xff; LANES]);
        let mut unseen = [NEUTRAL; LANES];
        for ((lane, &b), &kept) in unseen.iter_mut().zip(block).zip(kept) {
            *lane = (b & kept) | (NEUTRAL & !kept);
        }
        self.add(&unseen);
    }
}

/// `LANES` zero bytes and then `LANES` 0xff bytes: the `LANES` bytes from `LANES - seen` on are
/// zero in the first `seen` lanes and 0xff after them, read as one vector (a `u128` mask
/// shifted by `seen` bytes measured slower on an API key).
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, not a request"
)]
const KEPT_FROM: [u8; 2 * LANES] = {
    let mut mask = [0xff; 2 * LANES];
    let mut lane = 0;
    while lane < LANES {
        mask[lane] = 0;
        lane += 1;
    }
    mask
};

/// One `b64token` body character: a letter, a digit, or one of `- . _ ~ + /` (RFC 6750 §2.1).
/// Branch-free arithmetic, so that [`Lanes::add`] vectorises: this runs over every byte of
/// every request's token. `-`, `.`, `/` and the digits are one run of ASCII
/// (0x2D–0x39), so five comparisons do the work of eight.
fn is_b64token_byte(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'-') <= b'9' - b'-')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
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

    #[test]
    fn every_byte_is_judged_by_the_b64token_alphabet() {
        for b in 0..=u8::MAX {
            let in_alphabet = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_byte(b), in_alphabet, "byte {b:#04x}");
        }
    }

    #[test]
    fn every_position_of_a_token_is_scanned() {
        // Lengths on both sides of several blocks of lanes, and a bad byte or a third dot at
        // each position: the tail is scanned like the blocks.
        for len in 3..=70 {
            let token = format!("a.{}.", "b".repeat(len - 3));
            assert_eq!(scan_b64token(token.as_bytes()), Some(true), "{len}");
            // The first dot anywhere, also where the last block overlaps the one before it.
            for dot in 1..len - 1 {
                let mut moved = vec![b'b'; len];
                moved[dot] = b'.';
                moved[len - 1] = b'.';
                assert_eq!(scan_b64token(&moved), Some(true), "{len} {dot}");
            }
            for position in 1..len {
                for (byte, expected) in [(b' ', None), (b'~', Some(false)), (b'.', Some(false))] {
                    let mut changed = token.clone().into_bytes();
                    if changed[position] == b'.' {
                        continue;
                    }
                    changed[position] = byte;
                    assert_eq!(scan_b64token(&changed), expected, "{len} {position} {byte}");
                }
            }
        }
    }

    #[test]
    fn a_dot_count_past_a_lanes_range_is_never_two() {
        // 258 dots, all in one lane: a wrapping count would read 2.
        let mut token = vec![b'a'; 259 * LANES];
        for dot in token.iter_mut().step_by(LANES).skip(1) {
            *dot = b'.';
        }
        assert_eq!(token.iter().filter(|&&b| b == b'.').count(), 258);
        assert_eq!(scan_b64token(&token), Some(false));
        assert_eq!(scan_b64token(b"a.b.c"), Some(true));
    }

    /// A parsed token's own answer, and `None` when the header does not parse.
    fn parsed_shape(token: &str) -> Option<bool> {
        match parse_authorization(format!("Bearer {token}").as_bytes(), MAX) {
            Ok(Credentials::Bearer(parsed)) => Some(parsed.looks_like_jwt()),
            _ => None,
        }
    }

    #[test]
    fn a_parsed_token_knows_its_shape() {
        assert_eq!(parsed_shape("eyJh.eyJi.c2ln"), Some(true));
        assert_eq!(parsed_shape("eyJh.eyJi."), Some(true));
        // Padding, `~`, `+` and `/` are b64token, not base64url: no JWS.
        assert_eq!(parsed_shape("eyJh.eyJi.c2ln=="), Some(false));
        assert_eq!(parsed_shape("eyJh.ey~i.c2ln"), Some(false));
        assert_eq!(parsed_shape("eyJh.ey/i.c2ln"), Some(false));
        assert_eq!(parsed_shape(".eyJi.c2ln"), Some(false));
        assert_eq!(
            parsed_shape("0123456789abcdef.0123456789abcdef"),
            Some(false)
        );
    }

    proptest::proptest! {
        #[test]
        fn a_parsed_tokens_shape_is_looks_like_jwt_of_its_text(
            token in "[a-zA-Z0-9_.=+/~-]{1,40}"
        ) {
            if let Some(shape) = parsed_shape(&token) {
                proptest::prop_assert_eq!(shape, looks_like_jwt(&token));
            }
        }
    }

    #[test]
    fn shape_check_needs_exactly_three_base64url_segments() {
        assert!(looks_like_jwt("eyJh.eyJi.c2ln"));
        assert!(looks_like_jwt("eyJh.eyJi."));
        assert!(!looks_like_jwt("eyJh.eyJi"));
        assert!(!looks_like_jwt(".eyJi.c2ln"));
        assert!(!looks_like_jwt("eyJh.eyJi.c2ln.x"));
        assert!(!looks_like_jwt("eyJh.ey+i.c2ln"));
        assert!(!looks_like_jwt(
            "0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
        ));
    }

    /// The segment-wise definition the shape check must agree with.
    fn looks_like_jwt_by_segments(token: &str) -> bool {
        let shaped = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let segments: Vec<&str> = token.split('.').collect();
        segments.len() == 3 && !segments[0].is_empty() && segments.iter().all(|s| shaped(s))
    }
    proptest::proptest! {
        #[test]
        fn the_shape_check_agrees_with_the_segment_definition(
            token in "[a-zA-Z0-9_.=+/~ -]{0,80}"
        ) {
            proptest::prop_assert_eq!(looks_like_jwt(&token), looks_like_jwt_by_segments(&token));
        }
    }

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
