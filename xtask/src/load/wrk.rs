//! `wrk` (Debian's package): the driver of the valid traffic, always `-t1 -c32`, from
//! 127.0.0.1.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::{apt_install, has_program};

/// wrk's connections (one thread).
pub(super) const CONNECTIONS: u32 = 32;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WrkResult {
    /// Requests per second.
    pub(super) rate: f64,
    pub(super) p50: Duration,
    pub(super) p99: Duration,
    pub(super) requests: u64,
    pub(super) non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub(super) socket_errors: u64,
}

/// Runs wrk against `url` for `duration`, with `Authorization: Bearer token` when given.
pub(super) fn run(url: &str, token: Option<&str>, duration: Duration) -> Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c", &CONNECTIONS.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1))])
        .args(["--latency", "--timeout", "5s"]);
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = cmd.arg(url).output().context("could not run wrk")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Reads wrk's `--latency` report.
fn parse(text: &str) -> Result<WrkResult> {
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
    };
    let rate = find("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context("wrk printed no Requests/sec")?;
    let percentile = |name: &str| {
        find(name)
            .and_then(parse_duration)
            .with_context(|| format!("wrk printed no {name} latency"))
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("wrk printed no request count")?;
    let non_2xx = find("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket_errors = find("Socket errors:").map_or(0, |v| {
        v.split(',')
            .filter_map(|part| part.split_whitespace().nth(1))
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    });
    Ok(WrkResult {
        rate,
        p50: percentile("50%")?,
        p99: percentile("99%")?,
        requests,
        non_2xx,
        socket_errors,
    })
}

/// wrk's `1.23ms`, `456.00us`, `1.02s`, `2.00m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let seconds = match unit.trim() {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    // Rounded to whole nanoseconds, so `2.31ms` is exactly 2 310 µs.
    let nanos = (seconds * 1e9).round();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (nanos.is_finite() && nanos >= 0.0).then(|| Duration::from_nanos(nanos as u64))
}

/// Installs Debian's wrk when it is missing.
pub(super) fn ensure_installed() -> Result<()> {
    // wrk has no --version that exits 0; `wrk` alone prints its usage.
    if has_program("wrk", &["--version"]) || Command::new("wrk").output().is_ok() {
        return Ok(());
    }
    eprintln!("wrk is missing; installing it from Debian's packages");
    apt_install(&["wrk"], "wrk")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 8s test @ http://127.0.0.1:40000/api/load
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.41ms  612.50us  13.20ms   80.12%
    Req/Sec    13.29k   812.40    14.50k    71.25%
  Latency Distribution
     50%    2.31ms
     75%    2.60ms
     90%    3.02ms
     99%    4.51ms
  105845 requests in 8.00s, 12.82MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  13230.12
Transfer/sec:      1.60MB
";

    #[test]
    fn reads_the_rate_percentiles_and_errors() {
        let r = parse(REPORT).unwrap();
        assert!((r.rate - 13230.12).abs() < 1e-6);
        assert_eq!(r.p50, Duration::from_micros(2310));
        assert_eq!(r.p99, Duration::from_micros(4510));
        assert_eq!(r.requests, 105_845);
        assert_eq!(r.non_2xx, 7);
        assert_eq!(r.socket_errors, 3);
    }

    #[test]
    fn reads_wrk_durations() {
        assert_eq!(parse_duration("456.00us"), Some(Duration::from_micros(456)));
        assert_eq!(parse_duration("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("12"), None);
    }
}
