//! The markdown summary of a bench run, with the goals of issue 7 as measured ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::estimates::Measurement;

/// The PBKDF2 group of `crates/auth-core/benches/core.rs` and our implementation's name in it.
pub(crate) const PBKDF2_GROUP: &str = "pbkdf2_sha256";
pub(crate) const OURS: &str = "keygate";
/// Baselines we must be within 1.10× of (the faster one), and OpenSSL we must beat by 2×.
const FAST_BASELINES: [&str; 2] = ["ring", "aws-lc-rs"];
const OPENSSL: &str = "openssl";
const WITHIN_FASTEST: f64 = 1.10;
const OPENSSL_FACTOR: f64 = 2.0;
/// Cached verification must be this many times cheaper than uncached PBKDF2-1000.
const CACHE_FACTOR: f64 = 200.0;
/// The uncached API-key check the cache is measured against.
const UNCACHED_API_KEY: &str = "api_key_verify/moose_1000";
/// A change of the median above this against `--baseline` is a regression.
pub(crate) const REGRESSION: f64 = 0.05;

/// PBKDF2 medians: implementation → iterations → nanoseconds.
pub(crate) type Pbkdf2Table = BTreeMap<String, BTreeMap<u64, f64>>;

pub(crate) fn pbkdf2_table(results: &[Measurement]) -> Pbkdf2Table {
    let mut table = Pbkdf2Table::new();
    for m in results.iter().filter(|m| m.group == PBKDF2_GROUP) {
        if let Some(iterations) = m.parameter.as_deref().and_then(|p| p.parse().ok()) {
            table
                .entry(m.function.clone())
                .or_default()
                .insert(iterations, m.median_ns);
        }
    }
    table
}

/// A goal of issue 7 and whether this run met it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Goal {
    pub(crate) what: String,
    pub(crate) measured: String,
    pub(crate) met: bool,
}

pub(crate) fn goals(results: &[Measurement]) -> Vec<Goal> {
    let mut goals = Vec::new();
    let table = pbkdf2_table(results);
    if let Some(ours) = table.get(OURS) {
        for (&iterations, &ours_ns) in ours {
            let fastest = FAST_BASELINES
                .iter()
                .filter_map(|b| Some((*b, *table.get(*b)?.get(&iterations)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((name, base_ns)) = fastest {
                let ratio = ours_ns / base_ns;
                goals.push(Goal {
                    what: format!(
                        "PBKDF2-{iterations}: keygate within {WITHIN_FASTEST:.2}× of the faster baseline"
                    ),
                    measured: format!("{ratio:.3}× {name}"),
                    met: ratio <= WITHIN_FASTEST,
                });
            }
            if let Some(openssl_ns) = table.get(OPENSSL).and_then(|o| o.get(&iterations)) {
                let speedup = openssl_ns / ours_ns;
                goals.push(Goal {
                    what: format!(
                        "PBKDF2-{iterations}: keygate at least {OPENSSL_FACTOR:.0}× faster than OpenSSL"
                    ),
                    measured: format!("{speedup:.2}× faster"),
                    met: speedup >= OPENSSL_FACTOR,
                });
            }
        }
    }
    let uncached = results.iter().find(|m| m.id == UNCACHED_API_KEY);
    for cached in results.iter().filter(|m| is_cached(&m.id)) {
        if let Some(uncached) = uncached {
            let factor = uncached.median_ns / cached.median_ns;
            goals.push(Goal {
                what: format!(
                    "`{}` at least {CACHE_FACTOR:.0}× cheaper than uncached `{UNCACHED_API_KEY}`",
                    cached.id
                ),
                measured: format!("{factor:.0}× cheaper"),
                met: factor >= CACHE_FACTOR,
            });
        }
    }
    goals
}

/// A cached-path benchmark: an id segment that says `cached` (and not `uncached`).
fn is_cached(id: &str) -> bool {
    id.split(['/', '_', '-'])
        .any(|word| word.eq_ignore_ascii_case("cached") || word.eq_ignore_ascii_case("hit"))
}

/// Measurements slower than the baseline by more than [`REGRESSION`].
pub(crate) fn regressions(results: &[Measurement]) -> Vec<&Measurement> {
    results
        .iter()
        .filter(|m| m.change().is_some_and(|c| c > REGRESSION))
        .collect()
}

/// Human time: `812 ns`, `45.6 µs`, `1.23 ms`, `2.10 s`.
pub(crate) fn duration(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The whole markdown document.
pub(crate) fn markdown(
    results: &[Measurement],
    machine: &str,
    baseline: Option<&str>,
    plot: Option<&str>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark summary\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench` from criterion's estimates (medians). Machine: {machine}.\n"
    );

    let goals = goals(results);
    if !goals.is_empty() {
        let _ = writeln!(
            out,
            "## Goals (issue 7)\n\n| goal | measured | met |\n|---|---|---|"
        );
        for g in &goals {
            let met = if g.met { "yes" } else { "**no**" };
            let _ = writeln!(out, "| {} | {} | {met} |", g.what, g.measured);
        }
        out.push('\n');
    }

    let table = pbkdf2_table(results);
    if !table.is_empty() {
        pbkdf2_markdown(&mut out, &table, plot);
    }

    let mut groups: BTreeMap<&str, Vec<&Measurement>> = BTreeMap::new();
    for m in results.iter().filter(|m| m.group != PBKDF2_GROUP) {
        groups.entry(m.group.as_str()).or_default().push(m);
    }
    for (group, members) in groups {
        let _ = writeln!(
            out,
            "## `{group}`\n\n| benchmark | median | mean (95 % CI) |\n|---|---:|---:|"
        );
        for m in members {
            let name = match &m.parameter {
                Some(p) => format!("{}/{p}", m.function),
                None => m.function.clone(),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} ({} – {}) |",
                duration(m.median_ns),
                duration(m.mean_ns),
                duration(m.mean_ci_ns.0),
                duration(m.mean_ci_ns.1)
            );
        }
        out.push('\n');
    }

    if let Some(name) = baseline {
        let _ = writeln!(
            out,
            "## Against baseline `{name}` (regression: median over +{:.0} %)\n\n\
             | benchmark | baseline | now | change |\n|---|---:|---:|---:|",
            REGRESSION * 100.0
        );
        for m in results {
            if let (Some(base), Some(change)) = (m.baseline_median_ns, m.change()) {
                let flag = if change > REGRESSION {
                    " **regression**"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:+.1} %{flag} |",
                    m.id,
                    duration(base),
                    duration(m.median_ns),
                    change * 100.0
                );
            }
        }
        out.push('\n');
    }
    out
}

fn pbkdf2_markdown(out: &mut String, table: &Pbkdf2Table, plot: Option<&str>) {
    let mut implementations: Vec<&str> = table.keys().map(String::as_str).collect();
    // Ours first, then the baselines alphabetically.
    implementations.sort_by_key(|name| (*name != OURS, *name));
    let iterations: std::collections::BTreeSet<u64> =
        table.values().flat_map(|row| row.keys().copied()).collect();
    let _ = writeln!(
        out,
        "## PBKDF2-HMAC-SHA256, 32-byte output (median per derivation)\n"
    );
    let _ = write!(out, "| iterations |");
    for name in &implementations {
        let _ = write!(out, " {name} |");
    }
    let _ = writeln!(
        out,
        " keygate ÷ fastest of ring/aws-lc-rs | OpenSSL ÷ keygate |"
    );
    let _ = write!(out, "|---:|");
    for _ in &implementations {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out, "---:|---:|");
    for n in iterations {
        let _ = write!(out, "| {n} |");
        for name in &implementations {
            let cell = table
                .get(*name)
                .and_then(|row| row.get(&n))
                .map_or_else(|| "–".to_owned(), |ns| duration(*ns));
            let _ = write!(out, " {cell} |");
        }
        let ours = table.get(OURS).and_then(|row| row.get(&n));
        let fastest = FAST_BASELINES
            .iter()
            .filter_map(|b| table.get(*b)?.get(&n))
            .copied()
            .reduce(f64::min);
        let openssl = table.get(OPENSSL).and_then(|row| row.get(&n));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.3}×", a / b),
            _ => "–".to_owned(),
        };
        let _ = writeln!(
            out,
            " {} | {} |",
            ratio(ours.copied(), fastest),
            ratio(openssl.copied(), ours.copied())
        );
    }
    if let Some(plot) = plot {
        let _ = writeln!(out, "\n![PBKDF2 cost against iterations]({plot})");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, median_ns: f64) -> Measurement {
        let mut parts = id.split('/');
        let group = parts.next().unwrap().to_owned();
        let function = parts.next().unwrap_or_default().to_owned();
        Measurement {
            id: id.to_owned(),
            group,
            function,
            parameter: parts.next().map(str::to_owned),
            median_ns,
            mean_ns: median_ns,
            mean_ci_ns: (median_ns, median_ns),
            baseline_median_ns: None,
        }
    }

    #[test]
    fn goals_compare_ours_with_the_faster_baseline_and_openssl() {
        let results = [
            m("pbkdf2_sha256/keygate/1000", 105.0),
            m("pbkdf2_sha256/ring/1000", 120.0),
            m("pbkdf2_sha256/aws-lc-rs/1000", 100.0),
            m("pbkdf2_sha256/openssl/1000", 200.0),
            m("pbkdf2_sha256/keygate/10000", 1200.0),
            m("pbkdf2_sha256/ring/10000", 1000.0),
        ];
        let goals = goals(&results);
        assert_eq!(goals.len(), 3);
        assert!(goals[0].met, "1.05× aws-lc-rs is within 1.10×");
        assert_eq!(goals[0].measured, "1.050× aws-lc-rs");
        assert!(!goals[1].met, "OpenSSL is only 1.90× slower");
        assert!(!goals[2].met, "1.2× ring misses the goal");
    }

    #[test]
    fn cached_benchmarks_are_compared_with_uncached_pbkdf2_1000() {
        let results = [
            m("api_key_verify/moose_1000", 300_000.0),
            m("layer/api_key_cached", 1_000.0),
            m("layer/api_key_uncached", 300_000.0),
        ];
        let goals = goals(&results);
        assert_eq!(goals.len(), 1, "{goals:?}");
        assert!(goals[0].met);
        assert_eq!(goals[0].measured, "300× cheaper");
    }

    #[test]
    fn regressions_are_changes_over_five_percent() {
        let mut slower = m("a/b", 106.0);
        slower.baseline_median_ns = Some(100.0);
        let mut same = m("a/c", 104.0);
        same.baseline_median_ns = Some(100.0);
        let results = [slower, same, m("a/d", 1.0)];
        let found: Vec<&str> = regressions(&results)
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(found, ["a/b"]);
        let text = markdown(&results, "test", Some("main"), None);
        assert!(text.contains("| a/b | 100 ns | 106 ns | +6.0 % **regression** |"));
        assert!(text.contains("| a/c | 100 ns | 104 ns | +4.0 % |"));
    }

    #[test]
    fn markdown_has_the_pbkdf2_table_with_ours_first() {
        let results = [
            m("pbkdf2_sha256/ring/1000", 2_000_000.0),
            m("pbkdf2_sha256/keygate/1000", 1_000_000.0),
            m("jwt_verify/ES256", 45_600.0),
        ];
        let text = markdown(&results, "test", None, Some("pbkdf2.png"));
        assert!(text.contains("| iterations | keygate | ring |"));
        assert!(text.contains("| 1000 | 1.00 ms | 2.00 ms | 0.500× | – |"));
        assert!(text.contains("| ES256 | 45.6 µs |"));
        assert!(text.contains("![PBKDF2 cost against iterations](pbkdf2.png)"));
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(812.4), "812 ns");
        assert_eq!(duration(45_600.0), "45.6 µs");
        assert_eq!(duration(1_234_000.0), "1.23 ms");
        assert_eq!(duration(2_100_000_000.0), "2.10 s");
    }
}
