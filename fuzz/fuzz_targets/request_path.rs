//! Request-path normalisation and route classification against an independent model of how
//! upstream servers read paths (`crates/auth-core/tests/oracle/upstreams.rs`).
//!
//! Invariants:
//! - `normalize` and `classify` never panic;
//! - the normal form is a fixed point (normalising it again borrows it unchanged), starts with
//!   `/`, and has no empty, `.` or `..` segment and no encoded `/`, `\`, `;` or NUL;
//! - whenever keygate classifies a path, a literal upstream, a decoding case-insensitive one
//!   and a `;`-stripping one all read the forwarded (normal) path in that same class.

#![no_main]

#[path = "../../crates/auth-core/tests/oracle/upstreams.rs"]
mod upstreams;

use std::borrow::Cow;

use auth_core::path::normalize;
use auth_core::routes::RouteRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let rules = RouteRules::moose_defaults();
    let class = rules.classify(path);
    let Ok(normal) = normalize(path) else {
        assert!(class.is_err(), "a path that cannot be normalised was classified");
        return;
    };
    assert!(normal.starts_with('/'));
    assert!(
        matches!(normalize(&normal), Ok(Cow::Borrowed(again)) if again == normal),
        "not a fixed point: {normal:?}"
    );
    assert!(!normal.contains("//"), "{normal:?}");
    for segment in normal.split('/').skip(1) {
        let name = segment.split(';').next().unwrap_or_default();
        assert!(name != "." && name != "..", "{normal:?}");
    }
    let lower = normal.to_ascii_lowercase();
    for refused in ["%2f", "%5c", "%3b", "%00", "\\"] {
        assert!(!lower.contains(refused), "{normal:?}");
    }
    if let Ok(class) = class {
        assert_eq!(
            upstreams::upstream_classes(&normal),
            [class.as_str(); 3],
            "{path:?} → {normal:?}"
        );
    }
});
