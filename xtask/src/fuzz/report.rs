//! Reads what libFuzzer (and cargo-fuzz around it) printed during one run.

use std::fmt;

/// The numbers of one fuzz run, as libFuzzer reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunReport {
    /// Inputs executed.
    pub(crate) executions: Option<u64>,
    /// Average executions per second over the run.
    pub(crate) execs_per_sec: Option<u64>,
    /// Inputs in the in-memory corpus at the end.
    pub(crate) corpus_inputs: Option<u64>,
    /// Their total size, as libFuzzer writes it (`3001b`, `12Kb`, `1Mb`).
    pub(crate) corpus_size: Option<String>,
    /// Inputs added to the corpus during the run.
    pub(crate) new_inputs: Option<u64>,
    /// Edge coverage at the end.
    pub(crate) coverage: Option<u64>,
    /// Files libFuzzer wrote for failing inputs (crash-, leak-, timeout-, oom-).
    pub(crate) artifacts: Vec<String>,
    /// Whether libFuzzer reported a failure (a crash, leak, timeout or out-of-memory).
    pub(crate) failed: bool,
}

impl RunReport {
    /// Parses libFuzzer's output: the final `stat::` lines when present, otherwise the last
    /// status line (`#N DONE|pulse|NEW ... corp: N/SIZE ... exec/s: N`).
    pub(crate) fn parse(log: &str) -> Self {
        let mut report = Self::default();
        for line in log.lines() {
            let line = line.trim();
            if let Some(status) = StatusLine::parse(line) {
                report.executions = Some(status.executions);
                report.coverage = status.coverage.or(report.coverage);
                report.corpus_inputs = status.corpus_inputs.or(report.corpus_inputs);
                if status.corpus_size.is_some() {
                    report.corpus_size = status.corpus_size;
                }
                report.execs_per_sec = status.execs_per_sec.or(report.execs_per_sec);
            } else if let Some(value) = stat(line, "stat::number_of_executed_units:") {
                report.executions = Some(value);
            } else if let Some(value) = stat(line, "stat::average_exec_per_sec:") {
                report.execs_per_sec = Some(value);
            } else if let Some(value) = stat(line, "stat::new_units_added:") {
                report.new_inputs = Some(value);
            } else if let Some(path) = line.split("Test unit written to ").nth(1) {
                report.artifacts.push(path.trim().to_owned());
            }
            if line.starts_with("==") && line.contains("ERROR: libFuzzer")
                || line.starts_with("SUMMARY: libFuzzer")
                || line.contains("ERROR: AddressSanitizer")
            {
                report.failed = true;
            }
        }
        report.failed |= !report.artifacts.is_empty();
        report
    }
}

fn stat(line: &str, name: &str) -> Option<u64> {
    line.strip_prefix(name)?.trim().parse().ok()
}

/// One of libFuzzer's progress lines, e.g.
/// `#879433 DONE   cov: 100 ft: 272 corp: 103/3001b lim: 4096 exec/s: 79948 rss: 237Mb`.
struct StatusLine {
    executions: u64,
    coverage: Option<u64>,
    corpus_inputs: Option<u64>,
    corpus_size: Option<String>,
    execs_per_sec: Option<u64>,
}

impl StatusLine {
    fn parse(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace();
        let executions = words.next()?.strip_prefix('#')?.parse().ok()?;
        let words: Vec<&str> = words.collect();
        let after = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .copied()
        };
        let corpus = after("corp:").and_then(|c| c.split_once('/'));
        Some(Self {
            executions,
            coverage: after("cov:").and_then(|v| v.parse().ok()),
            corpus_inputs: corpus.and_then(|(n, _)| n.parse().ok()),
            corpus_size: corpus.map(|(_, size)| size.to_owned()),
            execs_per_sec: after("exec/s:").and_then(|v| v.parse().ok()),
        })
    }
}

/// Shows an optional number, or `?` when libFuzzer did not report it.
pub(crate) struct Maybe<'a, T>(pub(crate) &'a Option<T>);

impl<T: fmt::Display> fmt::Display for Maybe<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => value.fmt(f),
            None => "?".fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN_RUN: &str = "\
INFO: Seed: 12345
#2	INITED cov: 54 ft: 54 corp: 1/1b exec/s: 0 rss: 39Mb
#262144	pulse  cov: 99 ft: 250 corp: 90/2900b lim: 4096 exec/s: 87381 rss: 200Mb
#879433	DONE   cov: 100 ft: 272 corp: 103/3001b lim: 4096 exec/s: 79948 rss: 237Mb
Done 879433 runs in 11 second(s)
stat::number_of_executed_units: 879433
stat::average_exec_per_sec:     79948
stat::new_units_added:          252
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              237
";

    const CRASH: &str = "\
#1024	pulse  cov: 80 ft: 100 corp: 20/600b lim: 17 exec/s: 512 rss: 60Mb
thread '<unnamed>' panicked at fuzz_targets/header.rs:30:5:
parser and model disagree
==4242== ERROR: libFuzzer: deadly signal
SUMMARY: libFuzzer: deadly signal
MS: 1 ChangeBit-; base unit: 0000
artifact_prefix='/work/fuzz/artifacts/header/'; Test unit written to /work/fuzz/artifacts/header/crash-deadbeef
";

    #[test]
    fn reads_the_final_statistics_of_a_clean_run() {
        let report = RunReport::parse(CLEAN_RUN);
        assert_eq!(report.executions, Some(879_433));
        assert_eq!(report.execs_per_sec, Some(79_948));
        assert_eq!(report.corpus_inputs, Some(103));
        assert_eq!(report.corpus_size.as_deref(), Some("3001b"));
        assert_eq!(report.new_inputs, Some(252));
        assert_eq!(report.coverage, Some(100));
        assert!(report.artifacts.is_empty());
        assert!(!report.failed);
    }

    #[test]
    fn finds_the_crash_and_its_artifact_without_final_statistics() {
        let report = RunReport::parse(CRASH);
        assert!(report.failed);
        assert_eq!(
            report.artifacts,
            ["/work/fuzz/artifacts/header/crash-deadbeef"]
        );
        assert_eq!(report.executions, Some(1024));
        assert_eq!(report.execs_per_sec, Some(512));
        assert_eq!(report.corpus_inputs, Some(20));
    }

    #[test]
    fn unknown_numbers_show_as_question_marks() {
        let report = RunReport::parse("nothing useful\n");
        assert_eq!(report, RunReport::default());
        assert_eq!(Maybe(&report.executions).to_string(), "?");
        assert_eq!(Maybe(&Some(7)).to_string(), "7");
    }
}
