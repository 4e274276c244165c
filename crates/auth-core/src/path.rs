//! Request paths in normal form: the one spelling keygate judges and the upstream receives.
//!
//! Upstream servers read paths differently: Express and Werkzeug resolve `..`, Tomcat and Jetty
//! strip `;` parameters from every segment, some decode `%2F` into a separator, IIS treats `\`
//! as `/`. A gateway that judges one spelling and forwards another can be walked around, so
//! [`normalize`] produces the spelling that is both judged and forwarded (the rule is stated in
//! `docs/security.md`, "The path the upstream receives"):
//!
//! - percent-encoded unreserved characters (`ALPHA DIGIT - . _ ~`, RFC 3986 §2.3) are decoded,
//!   and every other percent-encoding is written with upper-case hex (RFC 3986 §6.2.2);
//! - `.` and `..` segments are resolved, also when written `%2e` or followed by `;` parameters
//!   (`..;x`, which Tomcat reads as `..`);
//! - empty segments are merged (`//` becomes `/`); a trailing slash is kept;
//! - the query is not part of the path and is never touched.
//!
//! What cannot be normalised without guessing how the upstream reads it is refused
//! ([`PathError`], answered with 400): encoded `/`, `\` or `;`, a raw `\`, control characters,
//! malformed percent-encodings, a `..` that climbs above the root, and anything that does not
//! start with `/` (`*`, authority-form).

use std::borrow::Cow;

/// Why a request path cannot be normalised safely (400 `invalid_request`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The request target is not a path (`*`, or authority-form).
    #[error("the request target must be a path starting with '/'")]
    NotAPath,
    /// `%2F` or `%5C`: some upstreams decode it into a segment separator, others do not.
    #[error("the path contains an encoded '/' or '\\'")]
    EncodedSeparator,
    /// `%3B`: some upstreams decode it and then read it as a parameter separator.
    #[error("the path contains an encoded ';'")]
    EncodedSemicolon,
    /// A raw `\`: some upstreams read it as `/`.
    #[error("the path contains a backslash")]
    Backslash,
    /// A raw `?` or `#`: they end the path, so a "path" holding one is a target read twice.
    #[error("the path contains a raw '?' or '#' (a query or fragment follows the path)")]
    QueryInPath,
    /// A control character, raw or percent-encoded (`%00`–`%1F`, `%7F`).
    #[error("the path contains a control character")]
    ControlCharacter,
    /// `%` not followed by two hexadecimal digits.
    #[error("the path contains a malformed percent-encoding")]
    BadPercentEncoding,
    /// A `..` segment with nothing left to remove.
    #[error("the path climbs above the root with '..'")]
    AboveRoot,
    /// The path is not in normal form, where it must be judged as sent (a proxy in front of
    /// keygate forwards it as it is).
    #[error("the path is not in normal form ('.', '..', '//' or percent-encoded letters)")]
    NotNormal,
    /// The route class would depend on how the upstream reads letter case or `;` parameters
    /// (e.g. `/API/x`, `/api;v=1/x`); see [`crate::routes::RouteRules::classify`].
    #[error("the path's route class depends on letter case or ';' parameters")]
    AmbiguousClass,
}

/// The normal form of `path` (the path component of a request target, without the query).
/// Borrows `path` when it is already normal, which is the common case.
///
/// # Errors
/// [`PathError`] for a path that cannot be normalised safely.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    normalize_scanned(path).map(|(normal, _)| normal)
}

/// [`normalize`], with the [`Scan`] of the normal form it returns (for route classification,
/// which looks for the same bytes).
pub(crate) fn normalize_scanned(path: &str) -> Result<(Cow<'_, str>, Scan), PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAPath);
    }
    let scan = Scan::of(path.as_bytes());
    let decoded = decode_unreserved(path, scan)?;
    let decoded_scan = match &decoded {
        Cow::Borrowed(_) => scan,
        Cow::Owned(decoded) => Scan::of(decoded.as_bytes()),
    };
    match resolve_segments(&decoded, decoded_scan)? {
        Some(resolved) => {
            let scan = Scan::of(resolved.as_bytes());
            Ok((Cow::Owned(resolved), scan))
        }
        None => Ok((decoded, decoded_scan)),
    }
}

/// Which kinds of byte a path holds, found in one pass: most paths hold none of them, and then
/// the checks that look for each kind are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan(u8);

impl Scan {
    /// A byte [`refused_byte`] refuses.
    const REFUSED: u8 = 1;
    const PERCENT: u8 = 1 << 1;
    const SEMICOLON: u8 = 1 << 2;
    const UPPER_CASE: u8 = 1 << 3;
    const DOT: u8 = 1 << 4;
    /// `//`: an empty segment with another after it.
    const DOUBLE_SLASH: u8 = 1 << 5;

    pub(crate) fn of(bytes: &[u8]) -> Self {
        let (mut found, mut after_slash) = (0u8, false);
        for &byte in bytes {
            found |= BYTE_KINDS.get(usize::from(byte)).copied().unwrap_or(0);
            let slash = byte == b'/';
            if slash && after_slash {
                found |= Self::DOUBLE_SLASH;
            }
            after_slash = slash;
        }
        Self(found)
    }

    fn has(self, kinds: u8) -> bool {
        self.0 & kinds != 0
    }

    pub(crate) fn has_semicolon(self) -> bool {
        self.has(Self::SEMICOLON)
    }

    pub(crate) fn has_upper_case(self) -> bool {
        self.has(Self::UPPER_CASE)
    }
}

/// Whether `byte` is an RFC 3986 unreserved character.
pub(crate) fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Decodes `%XX` of unreserved characters, upper-cases the hex of the others, and refuses the
/// characters no upstream agrees on.
fn decode_unreserved(path: &str, scan: Scan) -> Result<Cow<'_, str>, PathError> {
    let bytes = path.as_bytes();
    if scan.has(Scan::REFUSED) {
        // The first refused byte names the error.
        if let Some(error) = bytes.iter().find_map(|&byte| refused_byte(byte)) {
            return Err(error);
        }
    }
    if !scan.has(Scan::PERCENT) {
        return Ok(Cow::Borrowed(path));
    }
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte != b'%' {
            out.push(byte);
            rest = tail;
            continue;
        }
        let (Some(&high), Some(&low)) = (tail.first(), tail.get(1)) else {
            return Err(PathError::BadPercentEncoding);
        };
        let (Some(h), Some(l)) = (hex_value(high), hex_value(low)) else {
            return Err(PathError::BadPercentEncoding);
        };
        let value = (h << 4) | l;
        match value {
            b'/' | b'\\' => return Err(PathError::EncodedSeparator),
            b';' => return Err(PathError::EncodedSemicolon),
            0x00..=0x1F | 0x7F => return Err(PathError::ControlCharacter),
            _ if is_unreserved(value) => {
                out.push(value);
                changed = true;
            }
            _ => {
                out.extend_from_slice(&[b'%', high.to_ascii_uppercase(), low.to_ascii_uppercase()]);
                changed |= high.is_ascii_lowercase() || low.is_ascii_lowercase();
            }
        }
        rest = tail.get(2..).unwrap_or_default();
    }
    if !changed {
        return Ok(Cow::Borrowed(path));
    }
    // Only ASCII sequences were replaced by ASCII bytes, so the rest's UTF-8 is intact.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| PathError::BadPercentEncoding)
}

/// The [`Scan`] kind of every byte (one table lookup per byte of every request path).
static BYTE_KINDS: [u8; 256] = byte_kinds();

#[allow(
    clippy::indexing_slicing,
    reason = "the index runs over 0..256, the table's length"
)]
const fn byte_kinds() -> [u8; 256] {
    let mut kinds = [0; 256];
    let mut index = 0;
    while index < kinds.len() {
        #[allow(clippy::cast_possible_truncation, reason = "the index is below 256")]
        let byte = index as u8;
        kinds[index] = match byte {
            b'%' => Scan::PERCENT,
            b';' => Scan::SEMICOLON,
            b'.' => Scan::DOT,
            b'A'..=b'Z' => Scan::UPPER_CASE,
            _ if refused_byte(byte).is_some() => Scan::REFUSED,
            _ => 0,
        };
        index += 1;
    }
    kinds
}

/// Why `byte` may not appear raw in a path, if it may not.
const fn refused_byte(byte: u8) -> Option<PathError> {
    match byte {
        b'\\' => Some(PathError::Backslash),
        b'?' | b'#' => Some(PathError::QueryInPath),
        0x00..=0x1F | 0x7F => Some(PathError::ControlCharacter),
        _ => None,
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// What a segment is once its `;` parameters are set aside.
fn dot_kind(segment: &str) -> Option<Dot> {
    match segment.split(';').next() {
        Some(".") => Some(Dot::Current),
        Some("..") => Some(Dot::Parent),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dot {
    Current,
    Parent,
}

/// Whether `body` (a path without its leading `/`) has no dot segment and no empty segment
/// but a last one (a trailing slash). The same reading as [`dot_kind`], in one pass over the
/// bytes: every request path is checked here, and most are already normal.
fn segments_resolved(body: &[u8]) -> bool {
    let mut rest = body;
    loop {
        let (segment, next) = match rest.iter().position(|&byte| byte == b'/') {
            Some(slash) => match rest.split_at_checked(slash) {
                Some((segment, tail)) => (segment, tail.get(1..)),
                None => (rest, None),
            },
            None => (rest, None),
        };
        let name = segment
            .iter()
            .position(|&byte| byte == b';')
            .and_then(|semicolon| segment.get(..semicolon))
            .unwrap_or(segment);
        if name == b"." || name == b".." {
            return false;
        }
        match next {
            // An empty segment with another after it is a `//`.
            Some(_) if segment.is_empty() => return false,
            Some(next) => rest = next,
            None => return true,
        }
    }
}

/// Resolves dot segments and merges empty ones; `None` when `path` (which starts with `/`) is
/// already in that form.
fn resolve_segments(path: &str, scan: Scan) -> Result<Option<String>, PathError> {
    let body = path.get(1..).unwrap_or_default();
    // Without a `.` there is no dot segment, and without `//` no empty one but the last.
    if !scan.has(Scan::DOT | Scan::DOUBLE_SLASH) || segments_resolved(body.as_bytes()) {
        return Ok(None);
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in body.split('/') {
        trailing_slash = true;
        match dot_kind(segment) {
            Some(Dot::Current) => {}
            Some(Dot::Parent) => {
                if kept.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
            }
            None if segment.is_empty() => {}
            None => {
                kept.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || kept.is_empty() {
        out.push('/');
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(path: &str) -> Result<String, PathError> {
        normalize(path).map(Cow::into_owned)
    }

    #[test]
    fn normal_paths_are_borrowed_unchanged() {
        for path in [
            "/",
            "/api",
            "/api/",
            "/api/orders/42",
            "/a.b/c..d/.e/f.",
            "/api/x;jsessionid=1",
            "/caf%C3%A9",
            "/%20x",
            "/~user/",
        ] {
            assert!(
                matches!(normalize(path), Ok(Cow::Borrowed(p)) if p == path),
                "{path}: {:?}",
                normalize(path)
            );
        }
    }

    #[test]
    fn dot_segments_and_empty_segments_are_resolved() {
        let cases = [
            ("/api/orders/../../health", "/health"),
            ("/admin/u/../../ingest/x", "/ingest/x"),
            ("/a/./b", "/a/b"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("//api//x", "/api/x"),
            ("/api//", "/api/"),
            ("/a/%2e%2e/b", "/b"),
            ("/a/%2E./b", "/b"),
            ("/a/.%2e/b", "/b"),
            ("/a/..;x/b", "/b"),
            ("/a/.;x/b", "/a/b"),
            ("/x/..", "/"),
            ("/%61pi/x", "/api/x"),
            ("/api/%7euser", "/api/~user"),
        ];
        for (input, expected) in cases {
            assert_eq!(normal(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn other_encodings_get_upper_case_hex() {
        assert_eq!(normal("/a%2cb%c3%a9").as_deref(), Ok("/a%2Cb%C3%A9"));
    }

    #[test]
    fn what_upstreams_disagree_on_is_refused() {
        let cases = [
            ("*", PathError::NotAPath),
            ("example.com:443", PathError::NotAPath),
            ("", PathError::NotAPath),
            ("/api%2Fx", PathError::EncodedSeparator),
            ("/api%2fx", PathError::EncodedSeparator),
            ("/api%5cx", PathError::EncodedSeparator),
            ("/api%3Bx/y", PathError::EncodedSemicolon),
            ("/api\\x", PathError::Backslash),
            ("/api?jsessionid=1;", PathError::QueryInPath),
            ("/api#x", PathError::QueryInPath),
            ("/api%00", PathError::ControlCharacter),
            ("/api%0d%0a", PathError::ControlCharacter),
            ("/api\u{7f}", PathError::ControlCharacter),
            ("/api%", PathError::BadPercentEncoding),
            ("/api%4", PathError::BadPercentEncoding),
            ("/api%zz", PathError::BadPercentEncoding),
            ("/..", PathError::AboveRoot),
            ("/../other/secret", PathError::AboveRoot),
            ("/..;/api/x", PathError::AboveRoot),
            ("/a/../../b", PathError::AboveRoot),
            ("/%2e%2e/x", PathError::AboveRoot),
        ];
        for (input, error) in cases {
            assert_eq!(normal(input), Err(error), "{input}");
        }
    }

    #[test]
    fn non_ascii_bytes_survive_decoding() {
        assert_eq!(normal("/café/%41").as_deref(), Ok("/café/A"));
        assert_eq!(normal("/café/%2c").as_deref(), Ok("/café/%2C"));
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for path in ["/a/../b/./c//d/", "/%61/%2e/%7e", "/x;y/..;z/w"] {
            let once = normal(path).unwrap();
            assert_eq!(normal(&once).unwrap(), once, "{path}");
        }
    }

    /// The one-pass check reads segments as `split('/')` and [`dot_kind`] do.
    fn resolved_by_split(body: &str) -> bool {
        let mut segments = body.split('/').peekable();
        while let Some(segment) = segments.next() {
            let empty_inside = segment.is_empty() && segments.peek().is_some();
            if dot_kind(segment).is_some() || empty_inside {
                return false;
            }
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn the_scan_finds_each_kind_of_byte(path in "[/.;%aA?#\\\\\u{0}\u{1f}\u{7f}é]{0,12}") {
            let (scan, bytes) = (Scan::of(path.as_bytes()), path.as_bytes());
            proptest::prop_assert_eq!(scan.has(Scan::PERCENT), bytes.contains(&b'%'));
            proptest::prop_assert_eq!(scan.has_semicolon(), bytes.contains(&b';'));
            proptest::prop_assert_eq!(scan.has(Scan::DOT), bytes.contains(&b'.'));
            proptest::prop_assert_eq!(scan.has_upper_case(), bytes.iter().any(u8::is_ascii_uppercase));
            proptest::prop_assert_eq!(
                scan.has(Scan::REFUSED),
                bytes.iter().any(|&byte| refused_byte(byte).is_some())
            );
            proptest::prop_assert_eq!(scan.has(Scan::DOUBLE_SLASH), path.contains("//"));
        }

        #[test]
        fn the_one_pass_check_agrees_with_splitting(body in "[/.;a]{0,12}") {
            proptest::prop_assert_eq!(segments_resolved(body.as_bytes()), resolved_by_split(&body));
        }
    }
}
