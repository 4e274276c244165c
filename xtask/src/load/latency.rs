//! Part 1, latency at the same load: the p99 goal. wrk drives each server as fast as it
//! answers, so its latencies are those of a machine saturated by whatever that server can take
//! (on two cores shared with wrk and the upstream, mostly the CPU scheduler's queue). Here the
//! load generator offers every target the same rate instead ([`generator::paced`]), a share of
//! the slowest target's rate at saturation, in interleaved rounds like part 1's.

use std::time::Duration;

use anyhow::Result;

use super::Env;
use super::gateway::Gateway;
use super::generator::{self, Paced, PacedRun};
use super::http;
use super::report::{self, Goal, Summary, Table};
use super::speed::{Ratios, Speed, Target};
use super::wrk;

/// Each keygate route beside nginx proxying the same request, in the order of a round.
const PAIRS: [(Target, Target); 3] = [
    (Target::Public, Target::Proxy),
    (Target::ApiKey, Target::ProxyApiKey),
    (Target::Jwt, Target::ProxyJwt),
];

/// The offered rate, as a share of the slowest target's median rate at saturation: every
/// target serves it with room to spare, so a latency is the server's own, not that of a queue
/// for the CPU.
pub(super) const LOAD_SHARE: f64 = 0.5;

/// Every round's paced run per target, all at `rate`.
#[derive(Debug)]
pub(super) struct Latency {
    rate: f64,
    runs: Vec<(Target, usize, PacedRun)>,
}

impl Latency {
    fn runs_of(&self, target: Target) -> impl Iterator<Item = (usize, &PacedRun)> {
        self.runs
            .iter()
            .filter(move |(t, _, _)| *t == target)
            .map(|(_, round, run)| (*round, run))
    }

    fn p99s(&self, target: Target) -> Vec<(usize, f64)> {
        self.runs_of(target)
            .map(|(round, run)| (round, run.quantile(0.99).as_secs_f64()))
            .collect()
    }

    fn median(&self, target: Target, quantile: f64) -> Duration {
        report::median_duration(
            &self
                .runs_of(target)
                .map(|(_, run)| run.quantile(quantile))
                .collect::<Vec<_>>(),
        )
    }
}

/// [`LOAD_SHARE`] of the slowest compared target's median rate in `speed`, rounded down to a
/// thousand (at least a thousand).
pub(super) fn offered_rate(speed: &Speed) -> f64 {
    let slowest = PAIRS
        .iter()
        .flat_map(|&(target, baseline)| [target, baseline])
        .map(|target| speed.median_rate(target))
        .fold(f64::INFINITY, f64::min);
    ((slowest * LOAD_SHARE / 1000.0).floor() * 1000.0).max(1000.0)
}

/// Runs the paced rounds against `gateway`, offering `rate` ([`offered_rate`]) to every target.
pub(super) fn measure(
    env: &Env,
    gateway: &mut Gateway,
    rate: f64,
    rounds: usize,
    phase: Duration,
) -> Result<Latency> {
    let mut latency = Latency {
        rate,
        runs: Vec::new(),
    };
    for round in 1..=rounds {
        let mut order: Vec<Target> = PAIRS.iter().flat_map(|&(t, b)| [b, t]).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for target in order {
            let (addr, path, token) = target.request(env, gateway);
            let run = generator::paced(
                Paced {
                    target: addr,
                    source: env.client,
                    connections: wrk::CONNECTIONS as usize,
                    rate,
                    duration: phase,
                },
                &http::get(path, addr, token),
            )?;
            eprintln!(
                "  round {round}/{rounds} {:<16} {:>8} of {} req/s  p50 {:>9}  p99 {:>9}  held up {}",
                target.short(),
                report::rate(run.counts.rate()),
                report::rate(rate),
                report::latency(run.quantile(0.50)),
                report::latency(run.quantile(0.99)),
                report::thousands(run.held_up),
            );
            latency.runs.push((target, round, run));
        }
        gateway.check_alive()?;
    }
    Ok(latency)
}

/// The latency table and the p99 goals; sanity problems go to `problems`.
pub(super) fn report(latency: &Latency, summary: &mut Summary, problems: &mut Vec<String>) {
    let mut table = Table::new(&[
        "target",
        ">served req/s (median)",
        ">p50",
        ">p90",
        ">p99",
        ">p99.9",
        ">held up",
        ">responses",
        ">p99 per round",
    ]);
    for target in PAIRS.iter().flat_map(|&(t, b)| [b, t]) {
        let runs: Vec<&PacedRun> = latency.runs_of(target).map(|(_, run)| run).collect();
        let mut counts = generator::Counts::default();
        for run in &runs {
            counts.merge(&run.counts);
        }
        if counts.errors > 0 || counts.with(|status| !(200..300).contains(&status)) > 0 {
            problems.push(format!(
                "{} at the same load: {} (valid traffic must all succeed)",
                target.short(),
                counts.describe()
            ));
        }
        let served: Vec<f64> = runs.iter().map(|run| run.counts.rate()).collect();
        // The schedule ends at the phase's end: a server that kept up served nearly all of it.
        if served.iter().any(|&s| s < 0.95 * latency.rate) {
            problems.push(format!(
                "{} served fewer than 95 % of the {} req/s offered at the same load",
                target.short(),
                report::rate(latency.rate)
            ));
        }
        table.row(vec![
            target.label().to_owned(),
            report::rate(report::median(&served)),
            report::latency(latency.median(target, 0.50)),
            report::latency(latency.median(target, 0.90)),
            report::latency(latency.median(target, 0.99)),
            report::latency(latency.median(target, 0.999)),
            report::thousands(runs.iter().map(|run| run.held_up).sum()),
            report::thousands(counts.responses()),
            runs.iter()
                .map(|run| report::latency(run.quantile(0.99)))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    summary.table(&table);

    let mut goals = Table::new(&["measure", "goal", ">measured", "met"]);
    for (target, baseline) in PAIRS {
        let (measured, met) = Ratios::paired(&latency.p99s(target), &latency.p99s(baseline))
            .judged(Goal::AtMost(1.5));
        goals.row(vec![
            format!(
                "{} p99 ÷ {} p99, both at {} req/s",
                target.short(),
                baseline.short(),
                report::rate(latency.rate)
            ),
            "≤ 1.5".into(),
            measured,
            met,
        ]);
    }
    summary.table(&goals);
}
