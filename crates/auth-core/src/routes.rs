//! Route classes by path prefix: which [`RouteClass`] a request path falls under.
//!
//! [`RouteRules`] holds `prefix → class` rules; the Moose defaults are `/ingest` → ingest,
//! `/api` → consumption and `/admin` → admin, and everything else is public. A prefix matches
//! whole segments (`/api` matches `/api`, `/api/` and `/api/x`, not `/apix`); where prefixes
//! overlap, the longest wins.
//!
//! [`RouteRules::classify`] judges the path's normal form ([`crate::path::normalize`]) and
//! refuses a path whose class would change with how an upstream reads it: upstreams that
//! ignore letter case (Express, ASP.NET) or strip `;` parameters (Tomcat, Jetty) must reach
//! the same class as those that do neither, so `/API/x` and `/api;v=1/x` are
//! [`PathError::AmbiguousClass`] while `/api/x;v=1` is consumption for all of them.

use std::fmt;

use crate::path::{PathError, Scan, is_unreserved, normalize_scanned};
use crate::policy::RouteClass;

/// One `prefix → class` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    prefix: String,
    segments: Vec<String>,
    class: RouteClass,
}

impl RouteRule {
    /// A rule for `prefix` (e.g. `/api` or `/api/moss-token/`).
    ///
    /// # Errors
    /// [`RulePrefixError`] unless `prefix` starts with `/` and its segments are non-empty runs
    /// of unreserved characters (`A-Z a-z 0-9 - . _ ~`) other than `.` and `..`. Prefixes are
    /// kept that simple so that no spelling of a path can match one for some upstreams and not
    /// for others.
    pub fn new(prefix: &str, class: RouteClass) -> Result<Self, RulePrefixError> {
        let Some(body) = prefix.strip_prefix('/') else {
            return Err(RulePrefixError::NoLeadingSlash);
        };
        let body = body.strip_suffix('/').unwrap_or(body);
        if body.is_empty() {
            return Err(RulePrefixError::Root);
        }
        let mut segments = Vec::new();
        for segment in body.split('/') {
            if segment.is_empty() {
                return Err(RulePrefixError::EmptySegment);
            }
            if segment == "." || segment == ".." {
                return Err(RulePrefixError::DotSegment);
            }
            if !segment.bytes().all(is_unreserved) {
                return Err(RulePrefixError::Character);
            }
            segments.push(segment.to_owned());
        }
        Ok(Self {
            prefix: format!("/{body}"),
            segments,
            class,
        })
    }

    /// The prefix, without a trailing slash (`/api`).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The class of the paths under the prefix.
    #[must_use]
    pub fn class(&self) -> RouteClass {
        self.class
    }
}

/// Why a route prefix is unusable.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RulePrefixError {
    /// It does not start with `/`.
    #[error("a route prefix must start with '/'")]
    NoLeadingSlash,
    /// It is `/` alone: every path would match it.
    #[error("a route prefix must name at least one path segment")]
    Root,
    /// It contains `//`.
    #[error("a route prefix must not contain empty segments ('//')")]
    EmptySegment,
    /// A segment is `.` or `..`.
    #[error("a route prefix must not contain '.' or '..' segments")]
    DotSegment,
    /// A character other than `A-Z a-z 0-9 - . _ ~` (or `/` between segments).
    #[error("a route prefix may contain only letters, digits, '-', '.', '_', '~' and '/'")]
    Character,
}

/// The `prefix → class` table of a server. `Default` is [`RouteRules::moose_defaults`].
#[derive(Clone, PartialEq, Eq)]
pub struct RouteRules {
    /// Longest prefix first, so the first match is the longest one.
    rules: Vec<RouteRule>,
    /// Whether a prefix has an upper-case letter (then every path needs the case check).
    upper_case_prefix: bool,
}

impl fmt::Debug for RouteRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.rules.iter().map(|r| (&r.prefix, r.class)))
            .finish()
    }
}

impl Default for RouteRules {
    fn default() -> Self {
        Self::moose_defaults()
    }
}

impl RouteRules {
    /// `/ingest` → ingest, `/api` → consumption, `/admin` → admin.
    #[must_use]
    pub fn moose_defaults() -> Self {
        let mut rules = Self::empty();
        for (prefix, class) in [
            ("/ingest", RouteClass::Ingest),
            ("/api", RouteClass::Consumption),
            ("/admin", RouteClass::Admin),
        ] {
            if let Ok(rule) = RouteRule::new(prefix, class) {
                rules.insert(rule);
            }
        }
        rules
    }

    /// No rules: every path is public.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            rules: Vec::new(),
            upper_case_prefix: false,
        }
    }

    /// Adds `rule`, replacing a rule for the same prefix.
    pub fn insert(&mut self, rule: RouteRule) {
        self.rules.retain(|r| r.segments != rule.segments);
        self.upper_case_prefix |= rule.prefix.bytes().any(|b| b.is_ascii_uppercase());
        let position = self
            .rules
            .iter()
            .position(|r| r.segments.len() < rule.segments.len())
            .unwrap_or(self.rules.len());
        self.rules.insert(position, rule);
    }

    /// [`RouteRules::insert`], builder style.
    #[must_use]
    pub fn with(mut self, rule: RouteRule) -> Self {
        self.insert(rule);
        self
    }

    /// The rules, longest prefix first.
    pub fn iter(&self) -> impl Iterator<Item = &RouteRule> {
        self.rules.iter()
    }

    /// The class of a request path (without the query).
    ///
    /// # Errors
    /// [`PathError`] when the path cannot be normalised safely, or when its class depends on
    /// how an upstream reads letter case or `;` parameters ([`PathError::AmbiguousClass`]).
    pub fn classify(&self, path: &str) -> Result<RouteClass, PathError> {
        let (normal, scan) = normalize_scanned(path)?;
        self.classify_scanned(&normal, scan)
    }

    /// [`RouteRules::classify`] for a path already in normal form.
    ///
    /// # Errors
    /// [`PathError::AmbiguousClass`] as for [`RouteRules::classify`].
    pub fn classify_normal(&self, normal: &str) -> Result<RouteClass, PathError> {
        self.classify_scanned(normal, Scan::of(normal.as_bytes()))
    }

    /// [`RouteRules::classify_normal`] of a path whose [`Scan`] is known.
    fn classify_scanned(&self, normal: &str, scan: Scan) -> Result<RouteClass, PathError> {
        let exact = self.lookup(normal, View::EXACT);
        let folded = self.upper_case_prefix || scan.has_upper_case();
        let stripped = scan.has_semicolon();
        let views = [
            (folded, View::FOLDED),
            (stripped, View::STRIPPED),
            (folded && stripped, View::STRIPPED_FOLDED),
        ];
        for (_, view) in views.into_iter().filter(|(applies, _)| *applies) {
            if self.lookup(normal, view) != exact {
                return Err(PathError::AmbiguousClass);
            }
        }
        Ok(exact)
    }

    fn lookup(&self, normal: &str, view: View) -> RouteClass {
        self.rules
            .iter()
            .find(|rule| matches(&rule.segments, normal, view))
            .map_or(RouteClass::Public, |rule| rule.class)
    }
}

/// One way an upstream may read a path: with or without letter case, `;` parameters.
#[derive(Clone, Copy)]
struct View {
    fold_case: bool,
    strip_parameters: bool,
}

impl View {
    const EXACT: Self = Self {
        fold_case: false,
        strip_parameters: false,
    };
    const FOLDED: Self = Self {
        fold_case: true,
        strip_parameters: false,
    };
    const STRIPPED: Self = Self {
        fold_case: false,
        strip_parameters: true,
    };
    const STRIPPED_FOLDED: Self = Self {
        fold_case: true,
        strip_parameters: true,
    };
}

fn matches(prefix: &[String], normal: &str, view: View) -> bool {
    if view.strip_parameters {
        return matches_split(prefix, normal, view);
    }
    // Without `;` parameters to strip, a segment is a run of bytes between `/`s, and each one
    // is compared in place; this is `matches_split`'s reading (a test holds them equal) without
    // an iterator over the segments, for the lookup every request makes.
    let mut rest = normal.as_bytes().get(1..).unwrap_or_default();
    prefix.iter().all(|expected| {
        // Empty segments are skipped, as `matches_split` filters them out.
        while let Some((b'/', tail)) = rest.split_first() {
            rest = tail;
        }
        let expected = expected.as_bytes();
        let Some((head, tail)) = rest.split_at_checked(expected.len()) else {
            return false;
        };
        let same = if view.fold_case {
            head.eq_ignore_ascii_case(expected)
        } else {
            head == expected
        };
        rest = tail;
        // A prefix segment holds no `/`, so `head` is the whole segment when `/` or the end
        // follows it.
        same && matches!(tail.first(), None | Some(b'/'))
    })
}

/// Whether `normal` starts with the `prefix` segments, read through `view`.
fn matches_split(prefix: &[String], normal: &str, view: View) -> bool {
    let body = normal.get(1..).unwrap_or_default();
    let mut segments = body
        .split('/')
        .map(|segment| {
            if view.strip_parameters {
                segment.split(';').next().unwrap_or_default()
            } else {
                segment
            }
        })
        // With parameters stripped, `/;x/api` reads as `//api`, which upstreams merge.
        .filter(|segment| !segment.is_empty());
    prefix.iter().all(|expected| {
        segments.next().is_some_and(|segment| {
            if view.fold_case {
                segment.eq_ignore_ascii_case(expected)
            } else {
                segment == expected
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    fn rule(prefix: &str, class: RouteClass) -> RouteRule {
        RouteRule::new(prefix, class).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn matching_in_place_reads_segments_as_splitting_does(
            path in proptest::collection::vec(
                proptest::sample::select(vec!["/", "api", "Api", "ap", "x", "a", ";", "é"]),
                0..8,
            ).prop_map(|pieces: Vec<&str>| pieces.concat()),
            prefix in proptest::sample::select(vec![
                vec!["api"], vec!["API"], vec!["a"], vec!["api", "x"], vec!["x", "a", "x"],
            ]),
        ) {
            let prefix: Vec<String> = prefix.into_iter().map(str::to_owned).collect();
            for view in [View::EXACT, View::FOLDED] {
                proptest::prop_assert_eq!(
                    matches(&prefix, &path, view),
                    matches_split(&prefix, &path, view),
                    "{:?} under {:?}, fold_case {}", path, prefix, view.fold_case
                );
            }
        }
    }

    #[test]
    fn the_moose_defaults_classify_paths() {
        let routes = RouteRules::moose_defaults();
        let cases = [
            ("/ingest/events", RouteClass::Ingest),
            ("/api/bar", RouteClass::Consumption),
            ("/api", RouteClass::Consumption),
            ("/api/", RouteClass::Consumption),
            ("/admin/status", RouteClass::Admin),
            ("/health", RouteClass::Public),
            ("/", RouteClass::Public),
            ("/apix/bar", RouteClass::Public),
            ("/auth/token", RouteClass::Public),
            ("/api/x;jsessionid=1", RouteClass::Consumption),
            ("//api/x", RouteClass::Consumption),
            ("/public/../api/x", RouteClass::Consumption),
            ("/%61pi/x", RouteClass::Consumption),
            ("/api/orders/../../health", RouteClass::Public),
            ("/admin/u/../../ingest/x", RouteClass::Ingest),
            ("/health;x", RouteClass::Public),
        ];
        for (path, class) in cases {
            assert_eq!(routes.classify(path), Ok(class), "{path}");
        }
    }

    #[test]
    fn case_and_parameters_that_change_the_class_are_refused() {
        let routes = RouteRules::moose_defaults();
        for path in [
            "/API/x",
            "/Api",
            "/api;jsessionid=1/x",
            "/admin;a=b/users",
            "/;x/api/y",
            "/ADMIN;a/x",
        ] {
            assert_eq!(
                routes.classify(path),
                Err(PathError::AmbiguousClass),
                "{path}"
            );
        }
        // Case or parameters that do not touch a prefix are fine.
        assert_eq!(routes.classify("/api/Orders"), Ok(RouteClass::Consumption));
        assert_eq!(routes.classify("/Health"), Ok(RouteClass::Public));
    }

    #[test]
    fn a_public_rule_under_a_protected_prefix_cannot_be_reached_by_spelling() {
        let routes = RouteRules::moose_defaults().with(rule("/api/moss-token", RouteClass::Public));
        assert_eq!(routes.classify("/api/moss-token"), Ok(RouteClass::Public));
        assert_eq!(routes.classify("/api/moss-token/"), Ok(RouteClass::Public));
        assert_eq!(routes.classify("/api/items"), Ok(RouteClass::Consumption));
        // A case-sensitive upstream routes these to /api/*, a case-insensitive one to the
        // public route: no single answer is right for both.
        assert_eq!(
            routes.classify("/api/MOSS-TOKEN"),
            Err(PathError::AmbiguousClass)
        );
        assert_eq!(
            routes.classify("/api/moss-token;x/y"),
            Err(PathError::AmbiguousClass)
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_a_rule_for_the_same_prefix_replaces() {
        let routes = RouteRules::empty()
            .with(rule("/v1", RouteClass::Consumption))
            .with(rule("/v1/admin/", RouteClass::Admin));
        assert_eq!(routes.classify("/v1/admin/x"), Ok(RouteClass::Admin));
        assert_eq!(routes.classify("/v1/x"), Ok(RouteClass::Consumption));
        let replaced = RouteRules::moose_defaults().with(rule("/api/", RouteClass::Ingest));
        assert_eq!(replaced.iter().count(), 3);
        assert_eq!(replaced.classify("/api/x"), Ok(RouteClass::Ingest));
    }

    #[test]
    fn prefixes_are_checked() {
        for (prefix, error) in [
            ("api", RulePrefixError::NoLeadingSlash),
            ("/", RulePrefixError::Root),
            ("", RulePrefixError::NoLeadingSlash),
            ("/a//b", RulePrefixError::EmptySegment),
            ("/a/../b", RulePrefixError::DotSegment),
            ("/a;b", RulePrefixError::Character),
            ("/a%2Fb", RulePrefixError::Character),
            ("/a b", RulePrefixError::Character),
        ] {
            assert_eq!(
                RouteRule::new(prefix, RouteClass::Admin),
                Err(error),
                "{prefix}"
            );
        }
        assert_eq!(
            RouteRule::new("/api/", RouteClass::Admin).unwrap().prefix(),
            "/api"
        );
    }

    #[test]
    fn upper_case_prefixes_make_lower_case_spellings_ambiguous() {
        let routes = RouteRules::empty().with(rule("/V1", RouteClass::Admin));
        assert_eq!(routes.classify("/V1/x"), Ok(RouteClass::Admin));
        assert_eq!(routes.classify("/v1/x"), Err(PathError::AmbiguousClass));
    }
}
