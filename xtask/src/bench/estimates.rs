//! Reads criterion's results (`target/criterion/**/new/{benchmark,estimates}.json`).

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::Value;

/// One benchmark's result, times in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measurement {
    /// Criterion's id: `group/function[/parameter]`.
    pub(crate) id: String,
    pub(crate) group: String,
    pub(crate) function: String,
    pub(crate) parameter: Option<String>,
    pub(crate) median_ns: f64,
    pub(crate) mean_ns: f64,
    /// The 95 % confidence interval of the mean.
    pub(crate) mean_ci_ns: (f64, f64),
    /// The median of the named baseline, when one was asked for and exists.
    pub(crate) baseline_median_ns: Option<f64>,
}

impl Measurement {
    /// Relative change of the median against the baseline (`0.05` = 5 % slower).
    pub(crate) fn change(&self) -> Option<f64> {
        self.baseline_median_ns
            .filter(|base| *base > 0.0)
            .map(|base| self.median_ns / base - 1.0)
    }
}

/// Every benchmark under `criterion_dir` whose results were written at or after `since`
/// (so that results of benchmarks this run did not execute are left out), sorted by id.
pub(crate) fn collect(
    criterion_dir: &Path,
    since: SystemTime,
    baseline: Option<&str>,
) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    walk(criterion_dir, &mut |dir| {
        if dir.file_name().is_some_and(|n| n == "new") && dir.join("benchmark.json").is_file() {
            let estimates = dir.join("estimates.json");
            let fresh = fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since);
            if fresh {
                found.push(read(dir, baseline)?);
            }
        }
        Ok(())
    })?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    visit(dir)?;
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, visit)?;
        }
    }
    Ok(())
}

/// Reads one `new/` directory and, if asked, the baseline directory beside it.
fn read(new_dir: &Path, baseline: Option<&str>) -> Result<Measurement> {
    let benchmark = json(&new_dir.join("benchmark.json"))?;
    let estimates = json(&new_dir.join("estimates.json"))?;
    let text = |key: &str| {
        benchmark
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let group = text("group_id").unwrap_or_default();
    let function = text("function_id").unwrap_or_default();
    let parameter = text("value_str");
    let id = text("full_id").unwrap_or_else(|| format!("{group}/{function}"));
    let baseline_median_ns = baseline.and_then(|name| {
        let path = new_dir.parent()?.join(name).join("estimates.json");
        json(&path).ok().and_then(|e| point(&e, "median"))
    });
    Ok(Measurement {
        median_ns: point(&estimates, "median").context("estimates.json has no median")?,
        mean_ns: point(&estimates, "mean").context("estimates.json has no mean")?,
        mean_ci_ns: (
            bound(&estimates, "mean", "lower_bound").unwrap_or(f64::NAN),
            bound(&estimates, "mean", "upper_bound").unwrap_or(f64::NAN),
        ),
        id,
        group,
        function,
        parameter,
        baseline_median_ns,
    })
}

fn json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn point(estimates: &Value, statistic: &str) -> Option<f64> {
    estimates.get(statistic)?.get("point_estimate")?.as_f64()
}

fn bound(estimates: &Value, statistic: &str, which: &str) -> Option<f64> {
    estimates
        .get(statistic)?
        .get("confidence_interval")?
        .get(which)?
        .as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimates(median: f64) -> String {
        format!(
            r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{mean},"standard_error":1.0}},
               "median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{median},"standard_error":1.0}}}}"#,
            lo = median * 0.9,
            hi = median * 1.2,
            mean = median * 1.05,
        )
    }

    #[test]
    fn reads_new_results_and_the_named_baseline() {
        let root = std::env::temp_dir().join(format!("xtask-estimates-{}", std::process::id()));
        let bench = root.join("pbkdf2_sha256").join("keygate").join("1000");
        fs::create_dir_all(bench.join("new")).unwrap();
        fs::create_dir_all(bench.join("main")).unwrap();
        fs::write(
            bench.join("new").join("benchmark.json"),
            r#"{"group_id":"pbkdf2_sha256","function_id":"keygate","value_str":"1000","full_id":"pbkdf2_sha256/keygate/1000"}"#,
        )
        .unwrap();
        fs::write(bench.join("new").join("estimates.json"), estimates(110.0)).unwrap();
        fs::write(bench.join("main").join("estimates.json"), estimates(100.0)).unwrap();

        let found = collect(&root, SystemTime::UNIX_EPOCH, Some("main")).unwrap();
        assert_eq!(found.len(), 1);
        let m = &found[0];
        assert_eq!(m.id, "pbkdf2_sha256/keygate/1000");
        assert_eq!(
            (m.group.as_str(), m.function.as_str()),
            ("pbkdf2_sha256", "keygate")
        );
        assert_eq!(m.parameter.as_deref(), Some("1000"));
        assert!((m.median_ns - 110.0).abs() < 1e-9);
        assert!((m.mean_ns - 115.5).abs() < 1e-9);
        assert!((m.change().unwrap() - 0.10).abs() < 1e-9);

        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(
            collect(&root, later, None).unwrap().is_empty(),
            "stale results are left out"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
