//! Metric names and the recording helpers the pipeline calls (the `metrics` facade: the
//! embedding application installs a recorder, e.g. [`crate::admin::install_prometheus_recorder`]).

use std::sync::LazyLock;
use std::time::Duration;

use metrics::{Key, Label};

use auth_core::policy::{RouteClass, Step};

use crate::pool::KdfError;

/// Counter: authentication decisions, labelled `class`, `method` and `outcome`
/// (`allowed`, `no_credentials`, `invalid_request`, `invalid_token`, `overloaded`).
pub const DECISIONS_TOTAL: &str = "keygate_auth_decisions_total";
/// Counter: verification-cache lookups, labelled `step` (`jwt`, `api_key`, `admin`) and
/// `result` (`hit`, `miss`).
pub const CACHE_LOOKUPS_TOTAL: &str = "keygate_auth_cache_lookups_total";
/// Histogram: seconds one KDF job took on the pool.
pub const KDF_DURATION_SECONDS: &str = "keygate_kdf_duration_seconds";
/// Counter: KDF jobs refused, labelled `reason` (`full`, `failed`).
pub const KDF_REFUSED_TOTAL: &str = "keygate_kdf_refused_total";
/// Histogram: seconds one JWT verification took.
pub const JWT_DURATION_SECONDS: &str = "keygate_jwt_verify_duration_seconds";
/// Counter: tokens issued by the token endpoint, labelled `outcome` (`issued`, `invalid_client`,
/// `invalid_request`, `overloaded`).
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

const CLASSES: [&str; 3] = ["ingest", "consumption", "admin"];
const METHODS: [&str; 4] = ["none", "jwt", "api_key", "admin_token"];
const OUTCOMES: [&str; 5] = [
    "allowed",
    "no_credentials",
    "invalid_request",
    "invalid_token",
    "overloaded",
];
const STEPS: [&str; 3] = ["jwt", "api_key", "admin"];
const RESULTS: [&str; 2] = ["hit", "miss"];

static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Every label combination of the per-request counters, built once: the hot path then neither
/// allocates nor hashes a key, and still registers with whichever recorder is current.
static DECISION_KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let mut keys = Vec::with_capacity(CLASSES.len() * METHODS.len() * OUTCOMES.len());
    for class in CLASSES {
        for method in METHODS {
            for outcome in OUTCOMES {
                let labels = vec![
                    Label::from_static_parts("class", class),
                    Label::from_static_parts("method", method),
                    Label::from_static_parts("outcome", outcome),
                ];
                keys.push(Key::from_parts(DECISIONS_TOTAL, labels));
            }
        }
    }
    keys
});

static LOOKUP_KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let mut keys = Vec::with_capacity(STEPS.len() * RESULTS.len());
    for step in STEPS {
        for result in RESULTS {
            let labels = vec![
                Label::from_static_parts("step", step),
                Label::from_static_parts("result", result),
            ];
            keys.push(Key::from_parts(CACHE_LOOKUPS_TOTAL, labels));
        }
    }
    keys
});

fn increment(key: Option<&Key>) {
    if let Some(key) = key {
        metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
    }
}

fn position(names: &[&str], name: &str) -> usize {
    names.iter().position(|n| *n == name).unwrap_or(0)
}

pub(crate) fn decision(class: RouteClass, method: &'static str, outcome: &'static str) {
    let class = match class {
        RouteClass::Ingest => 0,
        RouteClass::Consumption => 1,
        _ => 2,
    };
    let index = (class * METHODS.len() + position(&METHODS, method)) * OUTCOMES.len()
        + position(&OUTCOMES, outcome);
    increment(DECISION_KEYS.get(index));
}

pub(crate) fn cache_lookup(step: Step, from_cache: bool) {
    let step = match step {
        Step::Jwt => 0,
        Step::ApiKey => 1,
        Step::Admin => 2,
    };
    increment(LOOKUP_KEYS.get(step * RESULTS.len() + usize::from(!from_cache)));
}

pub(crate) fn kdf_ran(elapsed: Duration) {
    metrics::histogram!(KDF_DURATION_SECONDS).record(elapsed.as_secs_f64());
}

pub(crate) fn kdf_refused(error: KdfError) {
    let reason = match error {
        KdfError::Full => "full",
        KdfError::Failed => "failed",
    };
    metrics::counter!(KDF_REFUSED_TOTAL, "reason" => reason).increment(1);
}

pub(crate) fn jwt_verified(elapsed: Duration) {
    metrics::histogram!(JWT_DURATION_SECONDS).record(elapsed.as_secs_f64());
}

pub(crate) fn token_request(outcome: &'static str) {
    metrics::counter!(TOKENS_ISSUED_TOTAL, "outcome" => outcome).increment(1);
}

pub(crate) fn jwks_fetch(trigger: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(JWKS_FETCHES_TOTAL, "trigger" => trigger, "outcome" => outcome).increment(1);
}

/// The span every protected request's authentication runs in. Fields are filled in by
/// [`observe`]; the token is never one of them.
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

/// Records a decision in the span, the log and the metrics.
pub(crate) fn observe(
    span: &tracing::Span,
    class: RouteClass,
    headers: &http::HeaderMap,
    max_authorization_bytes: usize,
    result: &Result<auth_core::policy::Principal, crate::Rejection>,
) {
    use crate::Rejection;
    use auth_core::policy::Principal;
    match result {
        Ok(principal) => {
            let method = principal.method();
            decision(class, method, "allowed");
            if span.is_disabled() {
                return;
            }
            span.record("method", method);
            span.record("outcome", "allowed");
            match principal {
                Principal::ApiKey { key_id, .. }
                | Principal::Admin {
                    key_id: Some(key_id),
                } => {
                    span.record("key_id", tracing::field::display(key_id));
                }
                _ => {}
            }
            span.record("subject", principal.subject().as_str());
            tracing::debug!(parent: span, "request authenticated");
        }
        Err(Rejection::Denied(denial)) => {
            let method =
                crate::authenticate::presented_method(class, headers, max_authorization_bytes);
            let outcome = denial.error_code().unwrap_or("no_credentials");
            decision(class, method, outcome);
            span.record("method", method);
            span.record("outcome", outcome);
            tracing::info!(parent: span, reason = %denial.message(), "request refused");
        }
        Err(Rejection::InvalidPath(_)) => {}
        Err(Rejection::Overloaded) => {
            let method =
                crate::authenticate::presented_method(class, headers, max_authorization_bytes);
            decision(class, method, "overloaded");
            span.record("method", method);
            span.record("outcome", "overloaded");
            tracing::warn!(parent: span, "request shed: the key-derivation queue is full");
        }
    }
}
