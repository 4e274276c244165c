//! Route classes by path prefix (SPEC §5), on a normalised path.
//!
//! The path is classified after percent-decoding, resolving `.`/`..` segments, collapsing
//! repeated slashes (a backslash counts as a slash) and ignoring ASCII case, so that spellings
//! an upstream server might normalise (`//api/x`, `/public/../api/x`, `/%61pi/x`, `/API/x`)
//! cannot slip past the policy. A prefix also matches its own path without the trailing slash
//! (`/admin` is an admin route). Where prefixes overlap, the longest wins.

use auth_core::policy::RouteClass;

/// Path prefixes of the protected route classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePrefixes {
    /// `ingest` prefix, `/ingest/` by default.
    pub ingest: String,
    /// `consumption` prefix, `/api/` by default.
    pub consumption: String,
    /// `admin` prefix, `/admin/` by default.
    pub admin: String,
}

impl Default for RoutePrefixes {
    fn default() -> Self {
        Self {
            ingest: "/ingest/".to_owned(),
            consumption: "/api/".to_owned(),
            admin: "/admin/".to_owned(),
        }
    }
}

impl RoutePrefixes {
    /// The class of a request path (the URI path, without the query).
    #[must_use]
    pub fn classify(&self, path: &str) -> RouteClass {
        let path = path.as_bytes();
        let normalized = if is_normal(path) {
            std::borrow::Cow::Borrowed(path)
        } else {
            std::borrow::Cow::Owned(normalize(path))
        };
        let mut best: Option<(usize, RouteClass)> = None;
        for (prefix, class) in [
            (&self.ingest, RouteClass::Ingest),
            (&self.consumption, RouteClass::Consumption),
            (&self.admin, RouteClass::Admin),
        ] {
            let prefix = prefix.as_bytes();
            if matches_prefix(&normalized, prefix) && best.is_none_or(|(len, _)| prefix.len() > len)
            {
                best = Some((prefix.len(), class));
            }
        }
        best.map_or(RouteClass::Public, |(_, class)| class)
    }

    /// Every prefix must start with `/`; returns the first that does not.
    pub(crate) fn first_invalid(&self) -> Option<&str> {
        [&self.ingest, &self.consumption, &self.admin]
            .into_iter()
            .find(|p| !p.starts_with('/') || p.len() < 2)
            .map(String::as_str)
    }
}

fn matches_prefix(path: &[u8], prefix: &[u8]) -> bool {
    let prefix_no_slash = prefix.strip_suffix(b"/").unwrap_or(prefix);
    let starts = path
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix));
    starts || path.eq_ignore_ascii_case(prefix_no_slash)
}

/// Whether [`normalize`] would return `path` unchanged (the common case, checked without
/// allocating): it starts with `/` and has no `%`, `\\`, `//` or dot segment.
fn is_normal(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
        && !path.iter().any(|&b| b == b'%' || b == b'\\')
        && !path.windows(2).any(|pair| pair == b"//" || pair == b"/.")
}

/// Percent-decodes, then removes dot segments and empty segments. Keeps a trailing slash.
fn normalize(path: &[u8]) -> Vec<u8> {
    let decoded = percent_decode(path);
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split(|&b| b == b'/' || b == b'\\') {
        trailing_slash = matches!(segment, b"" | b"." | b"..");
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut out = Vec::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if trailing_slash || segments.is_empty() {
        out.push(b'/');
    }
    out
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16).ok()
        });
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefixes_classify_paths() {
        let routes = RoutePrefixes::default();
        let cases = [
            ("/ingest/events", RouteClass::Ingest),
            ("/api/bar", RouteClass::Consumption),
            ("/api", RouteClass::Consumption),
            ("/admin/status", RouteClass::Admin),
            ("/health", RouteClass::Public),
            ("/", RouteClass::Public),
            ("/apix/bar", RouteClass::Public),
            ("/auth/token", RouteClass::Public),
        ];
        for (path, class) in cases {
            assert_eq!(routes.classify(path), class, "{path}");
        }
    }

    #[test]
    fn alternative_spellings_do_not_escape_their_class() {
        let routes = RoutePrefixes::default();
        for path in [
            "//api/x",
            "/public/../api/x",
            "/./api/x",
            "/%61pi/x",
            "/API/x",
            "/api%2Fx",
            "\\api\\x",
            "/x/..//api",
        ] {
            assert_eq!(routes.classify(path), RouteClass::Consumption, "{path}");
        }
        assert_eq!(routes.classify("/api/../health"), RouteClass::Public);
    }

    #[test]
    fn the_fast_path_agrees_with_normalisation() {
        for path in [
            "/",
            "/api",
            "/api/",
            "/api/x/y",
            "//api",
            "/./x",
            "/x/.",
            "/%41",
            "/a\\b",
            "",
            "x",
            "/.well-known/jwks.json",
            "/a/..",
            "/a.b/c",
        ] {
            if is_normal(path.as_bytes()) {
                assert_eq!(normalize(path.as_bytes()), path.as_bytes(), "{path}");
            }
        }
        assert!(is_normal(b"/api/x.json"));
        assert!(!is_normal(b"/api/../x"));
    }

    #[test]
    fn the_longest_prefix_wins() {
        let routes = RoutePrefixes {
            consumption: "/v1/".into(),
            admin: "/v1/admin/".into(),
            ..RoutePrefixes::default()
        };
        assert_eq!(routes.classify("/v1/admin/x"), RouteClass::Admin);
        assert_eq!(routes.classify("/v1/x"), RouteClass::Consumption);
        assert_eq!(routes.first_invalid(), None);
        let bad = RoutePrefixes {
            ingest: "ingest/".into(),
            ..RoutePrefixes::default()
        };
        assert_eq!(bad.first_invalid(), Some("ingest/"));
    }
}
