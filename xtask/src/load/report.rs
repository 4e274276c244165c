//! The report: markdown tables, number formats, medians, and `target/load/summary.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

/// A markdown table; a header starting with `>` is a right-aligned (numeric) column.
#[derive(Debug, Clone)]
pub(super) struct Table {
    header: Vec<(String, bool)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Self {
        Self {
            header: header
                .iter()
                .map(|h| match h.strip_prefix('>') {
                    Some(name) => (name.to_owned(), true),
                    None => ((*h).to_owned(), false),
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(super) fn markdown(&self) -> String {
        let line = |cells: &mut dyn Iterator<Item = String>| {
            let cells: Vec<String> = cells.collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut text = line(&mut self.header.iter().map(|(name, _)| name.clone()));
        text.push_str(&line(
            &mut self
                .header
                .iter()
                .map(|(_, right)| if *right { "---:" } else { "---" }.to_owned()),
        ));
        for row in &self.rows {
            text.push_str(&line(&mut row.iter().cloned()));
        }
        text
    }
}

/// The summary being written: printed at the end and written to `target/load/summary.md`.
#[derive(Debug, Default)]
pub(super) struct Summary {
    text: String,
}

impl Summary {
    pub(super) fn heading(&mut self, level: usize, title: &str) {
        let _ = write!(self.text, "{} {title}\n\n", "#".repeat(level));
    }

    pub(super) fn paragraph(&mut self, text: &str) {
        self.text.push_str(text.trim());
        self.text.push_str("\n\n");
    }

    pub(super) fn table(&mut self, table: &Table) {
        self.text.push_str(&table.markdown());
        self.text.push('\n');
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Writes `<dir>/summary.md`; returns its path.
    pub(super) fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("summary.md");
        std::fs::write(&path, &self.text)?;
        Ok(path)
    }
}

/// A goal for a ratio: its threshold and which side of it is met.
#[derive(Debug, Clone, Copy)]
pub(super) enum Goal {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Goal {
    pub(super) fn met(self, value: f64) -> bool {
        match self {
            Goal::AtLeast(threshold) => value >= threshold,
            Goal::AtMost(threshold) => value <= threshold,
            Goal::Below(threshold) => value < threshold,
        }
    }

    fn threshold(self) -> f64 {
        match self {
            Goal::AtLeast(threshold) | Goal::AtMost(threshold) | Goal::Below(threshold) => {
                threshold
            }
        }
    }

    /// [`ratio`], but with three decimals where two would print the threshold: 0.897 beside a
    /// goal of 0.90 reads `0.897×`, not a `0.90×` that is not met.
    pub(super) fn ratio(self, value: f64) -> String {
        let threshold = self.threshold();
        if value != threshold && ratio(value) == ratio(threshold) {
            format!("{value:.3}×")
        } else {
            ratio(value)
        }
    }
}

/// A row of a goals table (`measure | goal | measured | met`) for a ratio judged by `goal`.
pub(super) fn goal_row(table: &mut Table, measure: &str, goal_text: &str, ratio: f64, goal: Goal) {
    table.row(vec![
        measure.to_owned(),
        goal_text.to_owned(),
        goal.ratio(ratio),
        met_text(goal.met(ratio)),
    ]);
}

pub(super) fn met_text(met: bool) -> String {
    if met { "met" } else { "**not met**" }.to_owned()
}

/// `13 230` (requests per second, whole).
pub(super) fn rate(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "?".to_owned();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    thousands(value.round() as u64)
}

/// `1 000 000`.
pub(super) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(' ');
        }
        text.push(c);
    }
    text
}

/// `2.31 ms`, `45.2 ms`, `612 ms`, `1.52 s`.
pub(super) fn latency(value: Duration) -> String {
    let ms = value.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// `46.2 s`, `2 min 46 s`: the length of a run.
pub(super) fn elapsed(value: Duration) -> String {
    let seconds = value.as_secs();
    if seconds < 60 {
        format!("{:.1} s", value.as_secs_f64())
    } else {
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

/// `0.93×`.
pub(super) fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

/// `16.5 MiB` from KiB.
pub(super) fn mib(kib: u64) -> String {
    let mib = count_f64(kib) / 1024.0;
    format!("{mib:.1} MiB")
}

/// `a / b`, 0 when `b` is 0.
pub(super) fn divide(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// The median (the mean of the middle two for an even count); 0 for none.
pub(super) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match (
        sorted.len() % 2,
        sorted.get(mid),
        mid.checked_sub(1).and_then(|i| sorted.get(i)),
    ) {
        (1, Some(m), _) => *m,
        (0, Some(hi), Some(lo)) => (hi + lo) / 2.0,
        _ => 0.0,
    }
}

/// The median of durations.
pub(super) fn median_duration(values: &[Duration]) -> Duration {
    let seconds: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    Duration::try_from_secs_f64(median(&seconds)).unwrap_or_default()
}

/// `count` as a float (exact below 2^53).
#[allow(
    clippy::cast_precision_loss,
    reason = "the counts of a run (requests, ticks, KiB) are far below 2^53"
)]
pub(super) fn count_f64(count: u64) -> f64 {
    count as f64
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at least a share
/// `quantile` (0–1) of them at or below it; zero when there is none.
pub(super) fn nearest_rank(sorted: &[Duration], quantile: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rank between 0 and the count, which is far below 2^52"
    )]
    let rank = (quantile.clamp(0.0, 1.0) * count_f64(sorted.len() as u64)).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_beside_its_threshold_shows_which_side_it_is_on() {
        assert_eq!(Goal::AtLeast(0.90).ratio(0.897), "0.897×");
        assert_eq!(Goal::AtMost(1.5).ratio(1.503), "1.503×");
        assert_eq!(Goal::AtLeast(0.90).ratio(0.90), "0.90×");
        assert_eq!(Goal::AtLeast(0.90).ratio(0.95), "0.95×");
        assert!(!Goal::AtLeast(0.90).met(0.897) && Goal::AtLeast(0.90).met(0.90));
        assert!(Goal::AtMost(2.0).met(2.0) && !Goal::Below(2.0).met(2.0));
    }

    #[test]
    fn tables_align_numeric_columns() {
        let mut table = Table::new(&["target", ">req/s"]);
        table.row(vec!["nginx".into(), rate(12_345.6)]);
        assert_eq!(
            table.markdown(),
            "| target | req/s |\n| --- | ---: |\n| nginx | 12 346 |\n"
        );
    }

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(thousands(1_000_000), "1 000 000");
        assert_eq!(thousands(999), "999");
        assert_eq!(latency(Duration::from_micros(2310)), "2.31 ms");
        assert_eq!(latency(Duration::from_millis(612)), "612 ms");
        assert_eq!(latency(Duration::from_millis(1520)), "1.52 s");
        assert_eq!(mib(16 * 1024 + 512), "16.5 MiB");
        assert_eq!(elapsed(Duration::from_millis(46_200)), "46.2 s");
        assert_eq!(elapsed(Duration::from_secs(166)), "2 min 46 s");
    }

    #[test]
    fn the_nearest_rank_of_ten_values_at_90_percent_is_the_ninth() {
        let tenths: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(nearest_rank(&tenths, 0.9), Duration::from_millis(9));
        assert_eq!(nearest_rank(&tenths, 0.91), Duration::from_millis(10));
        assert_eq!(nearest_rank(&tenths[..1], 0.9), Duration::from_millis(1));
        assert_eq!(nearest_rank(&[], 0.9), Duration::ZERO);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-12);
        assert!((median(&[4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-12);
        assert!(median(&[]).abs() < 1e-12);
        assert_eq!(
            median_duration(&[Duration::from_millis(1), Duration::from_millis(3)]),
            Duration::from_millis(2)
        );
    }
}
