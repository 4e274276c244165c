//! Metric names and the recording helpers the pipeline calls (the `metrics` facade: the
//! embedding application installs a recorder, e.g. `install_prometheus_recorder`).
//!
//! Labels are enums, so a label value cannot be misspelt and the per-request counters are
//! looked up by index in tables built once, without hashing or allocating.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use auth_core::policy::{CredentialKind, RouteClass, Step};
use metrics::{Key, Label};

/// Counter: authentication decisions, labelled `class`, `method` and `outcome`
/// (`allowed`, `no_credentials`, `invalid_request`, `invalid_token`, `over_budget`,
/// `overloaded`).
pub const DECISIONS_TOTAL: &str = "keygate_auth_decisions_total";
/// Counter: verification-cache lookups, labelled `step` (`jwt`, `api_key`, `admin`) and
/// `result` (`hit`, `miss`).
pub const CACHE_LOOKUPS_TOTAL: &str = "keygate_auth_cache_lookups_total";
/// Histogram: seconds one KDF job took on the pool.
pub const KDF_DURATION_SECONDS: &str = "keygate_kdf_duration_seconds";
/// Counter: KDF jobs refused, labelled `reason` (`full`, `client_share`, `failed`).
pub const KDF_REFUSED_TOTAL: &str = "keygate_kdf_refused_total";
/// Histogram: seconds one JWT verification took.
pub const JWT_DURATION_SECONDS: &str = "keygate_jwt_verify_duration_seconds";
/// Counter: token endpoint requests, labelled `outcome` (`issued`, `invalid_client`,
/// `invalid_request`, `over_budget`, `overloaded`).
pub const TOKENS_ISSUED_TOTAL: &str = "keygate_token_requests_total";
/// Counter: remote JWKS fetches, labelled `trigger` (`periodic`, `unknown_kid`, `manual`) and
/// `outcome` (`ok`, `failed`).
pub const JWKS_FETCHES_TOTAL: &str = "keygate_jwks_fetches_total";

/// Registers descriptions and units of every keygate metric with the installed recorder.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        DECISIONS_TOTAL,
        "Authentication decisions by route class, credential kind and outcome"
    );
    describe_counter!(
        CACHE_LOOKUPS_TOTAL,
        "Verification-cache lookups by step and result"
    );
    describe_histogram!(
        KDF_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of one key-derivation job"
    );
    describe_counter!(
        KDF_REFUSED_TOTAL,
        "Key-derivation jobs refused by the bounded pool"
    );
    describe_histogram!(
        JWT_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of one JWT verification"
    );
    describe_counter!(TOKENS_ISSUED_TOTAL, "Token endpoint requests by outcome");
    describe_counter!(
        JWKS_FETCHES_TOTAL,
        "Remote JWKS fetches by trigger and outcome"
    );
}

/// A label value of an enum, and every value in order (the order indexes the key tables).
trait LabelValue: Copy + 'static {
    const ALL: &'static [Self];
    fn value(self) -> &'static str;
    fn index(self) -> usize;
}

macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("`", $value, "`")]
                $variant,
            )+
        }

        impl LabelValue for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn value(self) -> &'static str {
                match self {
                    $(Self::$variant => $value),+
                }
            }

            fn index(self) -> usize {
                self as usize
            }
        }

        impl $name {
            /// The label value.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                self.value()
            }
        }
    };
}

label_enum! {
    /// The `class` label of decisions (public routes are not counted).
    ClassLabel { Ingest => "ingest", Consumption => "consumption", Admin => "admin" }
}

/// The `method` label: the credential kind, named by auth-core.
impl LabelValue for CredentialKind {
    const ALL: &'static [Self] = &CredentialKind::ALL;

    fn value(self) -> &'static str {
        self.as_str()
    }

    fn index(self) -> usize {
        self as usize
    }
}

label_enum! {
    /// How a decision ended (the `outcome` label).
    Outcome {
        Allowed => "allowed",
        NoCredentials => "no_credentials",
        InvalidRequest => "invalid_request",
        InvalidToken => "invalid_token",
        OverBudget => "over_budget",
        Overloaded => "overloaded",
    }
}

label_enum! {
    /// The `step` label of cache lookups.
    StepLabel { Jwt => "jwt", ApiKey => "api_key", Admin => "admin" }
}

label_enum! {
    /// The `outcome` label of token endpoint requests.
    TokenOutcome {
        Issued => "issued",
        InvalidClient => "invalid_client",
        InvalidRequest => "invalid_request",
        OverBudget => "over_budget",
        Overloaded => "overloaded",
    }
}

impl From<RouteClass> for ClassLabel {
    fn from(class: RouteClass) -> Self {
        match class {
            RouteClass::Ingest => Self::Ingest,
            RouteClass::Consumption => Self::Consumption,
            // Public routes are never decided; the remaining class is admin.
            _ => Self::Admin,
        }
    }
}

impl From<Step> for StepLabel {
    fn from(step: Step) -> Self {
        match step {
            Step::Jwt => Self::Jwt,
            Step::ApiKey => Self::ApiKey,
            Step::Admin => Self::Admin,
        }
    }
}

static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Every label combination of the per-request counters, built once: the hot path then neither
/// allocates nor hashes a key, and still registers with whichever recorder is current.
static DECISION_KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let mut keys = Vec::new();
    for class in ClassLabel::ALL {
        for method in CredentialKind::ALL.iter() {
            for outcome in Outcome::ALL {
                let labels = vec![
                    Label::from_static_parts("class", class.value()),
                    Label::from_static_parts("method", method.value()),
                    Label::from_static_parts("outcome", outcome.value()),
                ];
                keys.push(Key::from_parts(DECISIONS_TOTAL, labels));
            }
        }
    }
    keys
});

static LOOKUP_KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let mut keys = Vec::new();
    for step in StepLabel::ALL {
        for result in ["hit", "miss"] {
            let labels = vec![
                Label::from_static_parts("step", step.value()),
                Label::from_static_parts("result", result),
            ];
            keys.push(Key::from_parts(CACHE_LOOKUPS_TOTAL, labels));
        }
    }
    keys
});

/// Set once the process's own recorder is installed ([`crate::install_prometheus_recorder`]):
/// from then on each per-request counter is resolved in that recorder once and kept, instead of
/// being looked up in its registry on every request. Until then (and in processes that only use
/// local recorders, as tests do) every increment goes to whichever recorder is current.
static KEEP_RESOLVED: AtomicBool = AtomicBool::new(false);

#[cfg_attr(
    not(feature = "prometheus"),
    allow(dead_code, reason = "only the installed Prometheus recorder is kept")
)]
pub(crate) fn keep_counters_resolved() {
    KEEP_RESOLVED.store(true, Ordering::Release);
}

/// One kept counter per key of a table.
type Resolved = LazyLock<Vec<OnceLock<metrics::Counter>>>;

static DECISION_COUNTERS: Resolved =
    LazyLock::new(|| DECISION_KEYS.iter().map(|_| OnceLock::new()).collect());
static LOOKUP_COUNTERS: Resolved =
    LazyLock::new(|| LOOKUP_KEYS.iter().map(|_| OnceLock::new()).collect());

fn increment(keys: &[Key], resolved: &Resolved, index: usize) {
    let Some(key) = keys.get(index) else {
        return;
    };
    let register = || metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA));
    match resolved.get(index) {
        Some(kept) if KEEP_RESOLVED.load(Ordering::Acquire) => {
            kept.get_or_init(register).increment(1);
        }
        _ => register().increment(1),
    }
}

/// Counts one decision.
pub(crate) fn decision(class: RouteClass, method: CredentialKind, outcome: Outcome) {
    let class = ClassLabel::from(class).index();
    let index =
        (class * CredentialKind::ALL.len() + method.index()) * Outcome::ALL.len() + outcome.index();
    increment(&DECISION_KEYS, &DECISION_COUNTERS, index);
}

/// Counts one verification-cache lookup.
pub(crate) fn cache_lookup(step: Step, from_cache: bool) {
    let step = StepLabel::from(step).index();
    increment(
        &LOOKUP_KEYS,
        &LOOKUP_COUNTERS,
        step * 2 + usize::from(!from_cache),
    );
}

pub(crate) fn kdf_ran(elapsed: Duration) {
    metrics::histogram!(KDF_DURATION_SECONDS).record(elapsed.as_secs_f64());
}

/// Counts a KDF job the pool refused, by reason (`full`, `client_share`, `failed`).
pub(crate) fn kdf_refused(error: auth_cache::pool::KdfError) {
    let reason = match error {
        auth_cache::pool::KdfError::Full => "full",
        auth_cache::pool::KdfError::ClientShareFull => "client_share",
        _ => "failed",
    };
    metrics::counter!(KDF_REFUSED_TOTAL, "reason" => reason).increment(1);
}

pub(crate) fn jwt_verified(elapsed: Duration) {
    metrics::histogram!(JWT_DURATION_SECONDS).record(elapsed.as_secs_f64());
}

#[cfg_attr(
    not(feature = "issuer"),
    allow(dead_code, reason = "only the token issuer counts these")
)]
pub(crate) fn token_request(outcome: TokenOutcome) {
    metrics::counter!(TOKENS_ISSUED_TOTAL, "outcome" => outcome.value()).increment(1);
}

#[cfg_attr(
    not(feature = "jwks"),
    allow(dead_code, reason = "only remote key sets are fetched")
)]
pub(crate) fn jwks_fetch(trigger: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(JWKS_FETCHES_TOTAL, "trigger" => trigger, "outcome" => outcome).increment(1);
}

/// Longest client-supplied text a log line carries.
const UNTRUSTED_CHARS: usize = 64;

/// Client-supplied text as a log line may carry it: control characters, quotes and backslashes
/// escaped, at most [`UNTRUSTED_CHARS`] characters, then the length of what was cut. Every string
/// a client chose (a JWT subject, a project id, a key id from a remote set) goes through here.
#[must_use]
pub fn untrusted(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(UNTRUSTED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    let total = text.chars().count();
    if total > UNTRUSTED_CHARS {
        shown.push_str(&format!("… ({total} characters)"));
    }
    shown
}

/// The span every protected request's authentication runs in. Fields are filled in by
/// [`record`]; the token is never one of them.
pub(crate) fn auth_span(class: RouteClass) -> tracing::Span {
    tracing::info_span!(
        "keygate_auth",
        class = class.as_str(),
        method = tracing::field::Empty,
        outcome = tracing::field::Empty,
        key_id = tracing::field::Empty,
        subject = tracing::field::Empty,
    )
}

/// What [`record`] logs about one decision.
pub(crate) enum Logged<'a> {
    /// Let through as `principal` (its subject, and the key id when a key matched).
    Allowed {
        principal: &'a auth_core::policy::Principal,
    },
    /// Refused for `denial` (its human reason is never a secret).
    Refused {
        denial: &'a auth_core::policy::Denial,
    },
    /// Shed: the KDF queue is full.
    Shed,
    /// Refused at no cost: the client is over its failure budget or holds its pool share.
    OverBudget,
}

/// Records a decision in the span, the log and the metrics.
pub(crate) fn record(
    span: &tracing::Span,
    class: RouteClass,
    method: CredentialKind,
    outcome: Outcome,
    logged: &Logged<'_>,
) {
    decision(class, method, outcome);
    if span.is_disabled() {
        return;
    }
    span.record("method", method.value());
    span.record("outcome", outcome.value());
    match logged {
        // Subjects and reasons are built only here, past the check above: a request whose span
        // nobody records pays nothing for them.
        Logged::Allowed { principal } => {
            use auth_core::policy::Principal;
            let key_id: Option<&dyn std::fmt::Display> = match principal {
                Principal::ApiKey { key_id, .. }
                | Principal::Admin {
                    key_id: Some(key_id),
                } => Some(key_id),
                Principal::ManagedKey { id, .. } => Some(id),
                _ => None,
            };
            if let Some(key_id) = key_id {
                span.record("key_id", tracing::field::display(key_id));
            }
            // Displayed, not debug-formatted: escaped once, by `untrusted`.
            let subject = principal.subject();
            span.record("subject", tracing::field::display(untrusted(&subject)));
            tracing::debug!(parent: span, "request authenticated");
        }
        Logged::Refused { denial } => {
            let reason = denial.message();
            tracing::info!(parent: span, reason = %reason, "request refused");
        }
        Logged::Shed => {
            tracing::warn!(parent: span, "request shed: the key-derivation queue is full");
        }
        Logged::OverBudget => {
            tracing::info!(parent: span, "request refused: the client is over its failure budget");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_escaped_and_bounded() {
        assert_eq!(untrusted("alice"), "alice");
        assert_eq!(
            untrusted("a\nforged: line\u{1b}[31m"),
            "a\\nforged: line\\u{1b}[31m"
        );
        let long = untrusted(&"x".repeat(16 * 1024));
        assert!(
            long.starts_with(&"x".repeat(64)) && long.ends_with("(16384 characters)"),
            "{long}"
        );
        assert!(long.len() < 100);
    }

    #[test]
    fn every_label_combination_has_its_own_key() {
        assert_eq!(
            DECISION_KEYS.len(),
            ClassLabel::ALL.len() * CredentialKind::ALL.len() * Outcome::ALL.len()
        );
        let last = &DECISION_KEYS[DECISION_KEYS.len() - 1];
        let labels: Vec<_> = last.labels().map(|l| l.value().to_owned()).collect();
        assert_eq!(labels, ["admin", "admin_token", "overloaded"]);
        assert!(Outcome::ALL.contains(&Outcome::OverBudget));
        let lookup = &LOOKUP_KEYS[StepLabel::Admin.index() * 2 + 1];
        let labels: Vec<_> = lookup.labels().map(|l| l.value().to_owned()).collect();
        assert_eq!(labels, ["admin", "miss"]);
        for (i, method) in CredentialKind::ALL.iter().enumerate() {
            assert_eq!(LabelValue::index(*method), i);
        }
    }
}
