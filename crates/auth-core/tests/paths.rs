//! Properties of request-path normalisation and route classification, against an independent
//! model of how upstream servers read paths (`oracle/upstreams.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

#[path = "oracle/upstreams.rs"]
mod upstreams;

use std::borrow::Cow;

use auth_core::path::normalize;
use auth_core::policy::RouteClass;
use auth_core::routes::RouteRules;
use proptest::prelude::*;
use upstreams::upstream_classes;

/// Paths built from the pieces attacks are made of.
fn hostile_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just(";".to_owned()),
        Just(";x=1".to_owned()),
        Just("%2f".to_owned()),
        Just("%5c".to_owned()),
        Just("%3b".to_owned()),
        Just("%61".to_owned()),
        Just("%41".to_owned()),
        Just("%25".to_owned()),
        Just("%".to_owned()),
        Just("api".to_owned()),
        Just("API".to_owned()),
        Just("admin".to_owned()),
        Just("ingest".to_owned()),
        Just("public".to_owned()),
        Just("x".to_owned()),
        "[a-zA-Z0-9._~-]{1,4}".prop_map(|s| s),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| format!("/{}", pieces.concat()))
}

fn class_name(class: RouteClass) -> &'static str {
    class.as_str()
}

proptest! {
    #[test]
    fn every_upstream_reads_the_forwarded_path_in_the_class_keygate_decided(path in hostile_path()) {
        let rules = RouteRules::moose_defaults();
        if let (Ok(normal), Ok(class)) = (normalize(&path), rules.classify(&path)) {
            let expected = class_name(class);
            prop_assert_eq!(upstream_classes(&normal), [expected; 3], "{} → {}", path, normal);
        }
    }

    #[test]
    fn the_normal_form_is_a_fixed_point_without_dot_or_empty_segments(path in hostile_path()) {
        if let Ok(normal) = normalize(&path) {
            prop_assert!(normal.starts_with('/'));
            prop_assert!(matches!(normalize(&normal), Ok(Cow::Borrowed(_))), "{}", normal);
            prop_assert!(!normal.contains("//"), "{}", normal);
            for segment in normal.split('/').skip(1) {
                let name = segment.split(';').next().unwrap_or_default();
                prop_assert!(name != "." && name != "..", "{}", normal);
            }
            let lower = normal.to_ascii_lowercase();
            for refused in ["%2f", "%5c", "%3b", "%00", "\\"] {
                prop_assert!(!lower.contains(refused), "{}", normal);
            }
        }
    }

    #[test]
    fn normalisation_and_classification_never_panic(path in ".{0,64}") {
        let _ = normalize(&path);
        let _ = RouteRules::moose_defaults().classify(&path);
    }
}
