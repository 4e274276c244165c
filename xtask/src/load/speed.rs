//! Part 1: the gateway's speed against the right baselines. Interleaved rounds of wrk runs
//! (upstream alone; nginx as a plain reverse proxy of the same requests keygate gets: without
//! credentials, with the API key, with the JWT; the hyper floor with the API key; keygate on a
//! public, a cached API-key, a cached managed-key and a cached JWT route), so a slow minute of
//! the machine touches every target alike (every other round in reverse order). The tables
//! show each target's median over rounds; a ratio against a baseline is the median of the
//! ratios within each round (paired: both runs of a pair are a minute apart at most, where the
//! machine's speed moves by a fifth between rounds), beside the lowest and highest ratio of a
//! round and the ratio of the medians. The check that the upstream is fast enough is a ratio of
//! the medians.
//!
//! Each keygate route is compared with nginx proxying the *same* request: a client sends its
//! `Authorization` header whichever proxy is in front, and a plain proxy forwards it too (a JWT
//! is some 600 bytes that both proxies read, forward and the upstream parses).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use super::Env;
use super::gateway::Gateway;
use super::process;
use super::report::{self, Goal, Summary, Table};
use super::wrk::{self, WrkResult};

/// One measured target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Upstream,
    Proxy,
    ProxyApiKey,
    ProxyJwt,
    /// keygate's stack without keygate (`xtask/hyper-floor`), sent the API-key request.
    Floor,
    Public,
    ApiKey,
    ManagedKey,
    Jwt,
}

impl Target {
    pub(super) const ALL: [Target; 9] = [
        Target::Upstream,
        Target::Proxy,
        Target::ProxyApiKey,
        Target::ProxyJwt,
        Target::Floor,
        Target::Public,
        Target::ApiKey,
        Target::ManagedKey,
        Target::Jwt,
    ];

    pub(super) fn label(self) -> &'static str {
        match self {
            Target::Upstream => "upstream alone (nginx `return 200`)",
            Target::Proxy => "nginx reverse proxy (no auth), no credentials",
            Target::ProxyApiKey => "nginx reverse proxy (no auth), the API-key request",
            Target::ProxyJwt => "nginx reverse proxy (no auth), the JWT request",
            Target::Floor => {
                "hyper floor (keygate's server, runtime and pool; no routing, auth or header work), the API-key request"
            }
            Target::Public => "keygate, public route (`/hello`)",
            Target::ApiKey => "keygate, API key, cached (`/api/load`)",
            Target::ManagedKey => "keygate, managed key, cached (`/api/load`, SQLite store)",
            Target::Jwt => "keygate, JWT RS256, cached (`/ingest/load`)",
        }
    }

    pub(super) fn short(self) -> &'static str {
        match self {
            Target::Upstream => "upstream",
            Target::Proxy => "nginx proxy",
            Target::ProxyApiKey => "nginx proxy+key",
            Target::ProxyJwt => "nginx proxy+JWT",
            Target::Floor => "hyper floor",
            Target::Public => "keygate public",
            Target::ApiKey => "keygate API key",
            Target::ManagedKey => "keygate managed key",
            Target::Jwt => "keygate JWT",
        }
    }

    /// The process (tree) whose CPU time serving this target is counted: the upstream's own
    /// work is not part of a proxy's.
    fn server_pid(self, env: &Env, gateway: &Gateway) -> u32 {
        match self {
            Target::Upstream => env.upstream.pid(),
            Target::Proxy | Target::ProxyApiKey | Target::ProxyJwt => env.proxy.pid(),
            Target::Floor => env.floor.pid(),
            Target::Public | Target::ApiKey | Target::ManagedKey | Target::Jwt => gateway.pid(),
        }
    }

    /// The server, path and bearer token of this target's request.
    pub(super) fn request<'a>(
        self,
        env: &'a Env,
        gateway: &Gateway,
    ) -> (SocketAddr, &'static str, Option<&'a str>) {
        let api_key = Some(env.creds.api_key.token.as_str());
        match self {
            Target::Upstream => (env.upstream.addr, "/hello", None),
            Target::Proxy => (env.proxy.addr, "/hello", None),
            Target::ProxyApiKey => (env.proxy.addr, "/api/load", api_key),
            Target::ProxyJwt => (env.proxy.addr, "/ingest/load", Some(&env.creds.jwt)),
            Target::Floor => (env.floor.addr, "/api/load", api_key),
            Target::Public => (gateway.addr, "/hello", None),
            Target::ApiKey => (gateway.addr, "/api/load", api_key),
            Target::ManagedKey => (gateway.addr, "/api/load", Some(&env.creds.managed_key)),
            Target::Jwt => (gateway.addr, "/ingest/load", Some(&env.creds.jwt)),
        }
    }

    fn url_and_token<'a>(self, env: &'a Env, gateway: &Gateway) -> (String, Option<&'a str>) {
        let (addr, path, token) = self.request(env, gateway);
        (format!("http://{addr}{path}"), token)
    }

    /// nginx proxying the same request as this keygate target: what it is measured against.
    fn baseline(self) -> Target {
        match self {
            Target::ApiKey | Target::ManagedKey | Target::Floor => Target::ProxyApiKey,
            Target::Jwt => Target::ProxyJwt,
            _ => Target::Proxy,
        }
    }
}

/// One wrk run and the server's CPU time during it.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// The round it ran in (from 1).
    round: usize,
    wrk: WrkResult,
    cpu: Duration,
    /// Share of the machine's CPU used by processes outside this run meanwhile.
    others: f64,
}

impl Run {
    /// Server CPU time per request, in µs.
    fn cpu_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / super::report::count_f64(self.wrk.requests.max(1))
    }
}

/// Every round's wrk result per target.
#[derive(Debug, Default)]
pub(super) struct Speed {
    runs: Vec<(Target, Run)>,
}

impl Speed {
    fn of(&self, target: Target) -> impl Iterator<Item = &WrkResult> {
        self.runs_of(target).map(|r| &r.wrk)
    }

    fn runs_of(&self, target: Target) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |(t, _)| *t == target)
            .map(|(_, r)| r)
    }

    fn median_cpu(&self, target: Target) -> f64 {
        report::median(
            &self
                .runs_of(target)
                .map(Run::cpu_per_request)
                .collect::<Vec<_>>(),
        )
    }

    pub(super) fn median_rate(&self, target: Target) -> f64 {
        report::median(&self.of(target).map(|r| r.rate).collect::<Vec<_>>())
    }

    fn median_p50(&self, target: Target) -> Duration {
        report::median_duration(&self.of(target).map(|r| r.p50).collect::<Vec<_>>())
    }

    fn median_p99(&self, target: Target) -> Duration {
        report::median_duration(&self.of(target).map(|r| r.p99).collect::<Vec<_>>())
    }

    /// `measure(target) ÷ measure(baseline)`, paired (with the spread over rounds) and as the
    /// ratio of the medians.
    fn ratios(&self, target: Target, baseline: Target, measure: fn(&Run) -> f64) -> Ratios {
        let by_round = |t| {
            self.runs_of(t)
                .map(|run| (run.round, measure(run)))
                .collect::<Vec<_>>()
        };
        Ratios::paired(&by_round(target), &by_round(baseline))
    }
}

/// One comparison of a target with its baseline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ratios {
    /// The median over rounds of the ratio within each round: what goals are judged by.
    paired: f64,
    /// The lowest and the highest ratio within a round: how far one round can be from the
    /// verdict (a goal whose rounds straddle it is not settled by this run).
    rounds: (f64, f64),
    /// The ratio of the two medians over rounds.
    of_medians: f64,
}

impl Ratios {
    /// The ratios of a target's measures to its baseline's, each given as `(round, value)`: a
    /// round the baseline has no measure in is left out of the paired ratios.
    pub(super) fn paired(target: &[(usize, f64)], baseline: &[(usize, f64)]) -> Self {
        let paired: Vec<f64> = target
            .iter()
            .filter_map(|&(round, value)| {
                let &(_, base) = baseline.iter().find(|(r, _)| *r == round)?;
                Some(report::divide(value, base))
            })
            .collect();
        let median = |runs: &[(usize, f64)]| {
            report::median(&runs.iter().map(|&(_, value)| value).collect::<Vec<_>>())
        };
        // 0 for none, as `report::median`.
        let lowest = paired.iter().copied().reduce(f64::min).unwrap_or(0.0);
        let highest = paired.iter().copied().reduce(f64::max).unwrap_or(0.0);
        Ratios {
            paired: report::median(&paired),
            rounds: (lowest, highest),
            of_medians: report::divide(median(target), median(baseline)),
        }
    }

    /// `0.95× (rounds 0.88–1.02×; medians: 0.87×)`, the paired ratio printed as `goal` judges
    /// it ([`Goal::ratio`]) when there is one.
    fn text(&self, goal: Option<Goal>) -> String {
        let (lowest, highest) = self.rounds;
        format!(
            "{} (rounds {lowest:.2}–{}; medians: {})",
            goal.map_or_else(|| report::ratio(self.paired), |g| g.ratio(self.paired)),
            report::ratio(highest),
            report::ratio(self.of_medians)
        )
    }

    /// The `measured | met` cells of a goal judged by the paired ratio.
    pub(super) fn judged(&self, goal: Goal) -> (String, String) {
        (
            self.text(Some(goal)),
            report::met_text(goal.met(self.paired)),
        )
    }
}

impl std::fmt::Display for Ratios {
    /// [`Ratios::text`] without a goal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(None))
    }
}

fn rate_of(run: &Run) -> f64 {
    run.wrk.rate
}

fn p99_of(run: &Run) -> f64 {
    run.wrk.p99.as_secs_f64()
}

/// Runs the rounds against `gateway` (after a one-second warm-up of each target).
pub(super) fn measure(
    env: &Env,
    gateway: &mut Gateway,
    rounds: usize,
    phase: Duration,
) -> Result<Speed> {
    for target in Target::ALL {
        let (url, token) = target.url_and_token(env, gateway);
        wrk::run(&url, token, Duration::from_secs(1))?;
    }
    let mut speed = Speed::default();
    for round in 1..=rounds {
        // Every other round runs the targets in reverse, so that a drift of the machine's speed
        // over a round does not always favour the targets that come first.
        let mut order = Target::ALL;
        if round % 2 == 0 {
            order.reverse();
        }
        for target in order {
            let (url, token) = target.url_and_token(env, gateway);
            let server = target.server_pid(env, gateway);
            let cpu_before = process::tree_cpu(server);
            let machine_before = process::Cpu::now();
            let result = wrk::run(&url, token, phase)?;
            let run = Run {
                round,
                wrk: result,
                cpu: process::tree_cpu(server).saturating_sub(cpu_before),
                others: process::Cpu::now().others_since(&machine_before).0,
            };
            eprintln!(
                "  round {round}/{rounds} {:<16} {:>8} req/s  p50 {:>9}  p99 {:>9}  {:>5.1} µs CPU/req  others {:>3.0} %",
                target.short(),
                report::rate(result.rate),
                report::latency(result.p50),
                report::latency(result.p99),
                run.cpu_per_request(),
                run.others * 100.0
            );
            speed.runs.push((target, run));
        }
        gateway.check_alive()?;
    }
    Ok(speed)
}

/// The tables of part 1; sanity problems go to `problems`.
pub(super) fn report(speed: &Speed, summary: &mut Summary, problems: &mut Vec<String>) {
    let mut table = Table::new(&[
        "target",
        ">req/s (median)",
        ">p50",
        ">p99",
        ">server CPU per request",
        ">non-2xx",
        ">socket errors",
        ">req/s per round",
        ">others' CPU per round",
    ]);
    for target in Target::ALL {
        let runs: Vec<&WrkResult> = speed.of(target).collect();
        let non_2xx: u64 = runs.iter().map(|r| r.non_2xx).sum();
        let errors: u64 = runs.iter().map(|r| r.socket_errors).sum();
        if runs.iter().any(|r| r.requests == 0) {
            problems.push(format!(
                "{}: a wrk run completed no request",
                target.short()
            ));
        }
        if non_2xx > 0 || errors > 0 {
            problems.push(format!(
                "{}: {non_2xx} non-2xx responses and {errors} socket errors (valid traffic must all succeed)",
                target.short()
            ));
        }
        table.row(vec![
            target.label().to_owned(),
            report::rate(speed.median_rate(target)),
            report::latency(speed.median_p50(target)),
            report::latency(speed.median_p99(target)),
            format!("{:.1} µs", speed.median_cpu(target)),
            non_2xx.to_string(),
            errors.to_string(),
            runs.iter()
                .map(|r| report::rate(r.rate))
                .collect::<Vec<_>>()
                .join(", "),
            speed
                .runs_of(target)
                .map(|r| format!("{:.0} %", r.others * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    summary.table(&table);

    let rate = |t| speed.median_rate(t);
    let mut goals = Table::new(&["measure", "goal", ">measured", "met"]);
    let upstream_ratio = report::divide(rate(Target::Upstream), rate(Target::Public));
    report::goal_row(
        &mut goals,
        "upstream ÷ keygate public, req/s (is the upstream fast enough?)",
        "≥ 2 for a valid measurement",
        upstream_ratio,
        Goal::AtLeast(2.0),
    );
    for target in [Target::Public, Target::ApiKey, Target::Jwt] {
        let baseline = target.baseline();
        let ratios = speed.ratios(target, baseline, rate_of);
        let stretch = if Goal::AtLeast(1.0).met(ratios.paired) {
            "; stretch met"
        } else {
            "; stretch not met"
        };
        let (measured, met) = ratios.judged(Goal::AtLeast(0.90));
        goals.row(vec![
            format!("{} ÷ {}, req/s", target.short(), baseline.short()),
            "≥ 0.90 (stretch ≥ 1.0)".into(),
            measured,
            format!("{met}{stretch}"),
        ]);
    }
    for target in [Target::ApiKey, Target::Jwt] {
        let ratios = speed.ratios(target, Target::Proxy, rate_of);
        goals.row(vec![
            format!(
                "{} ÷ nginx proxy without credentials, req/s",
                target.short()
            ),
            "(for the notes: also charges keygate for the client's longer request)".into(),
            ratios.to_string(),
            "–".into(),
        ]);
    }
    // keygate's own cost and the stack's, apart: the floor is keygate without keygate.
    for (target, baseline, measure, what) in [
        (
            Target::Floor,
            Target::ProxyApiKey,
            rate_of as fn(&Run) -> f64,
            "req/s",
        ),
        (Target::ApiKey, Target::Floor, rate_of, "req/s"),
        (
            Target::ApiKey,
            Target::Floor,
            Run::cpu_per_request,
            "server CPU per request",
        ),
    ] {
        goals.row(vec![
            format!("{} ÷ {}, {what}", target.short(), baseline.short()),
            "(for the notes: the same request; the floor has keygate's server, runtime and upstream pool and nothing else)".into(),
            speed.ratios(target, baseline, measure).to_string(),
            "–".into(),
        ]);
    }
    for target in [Target::Public, Target::ApiKey, Target::Jwt] {
        let baseline = target.baseline();
        let ratios = speed.ratios(target, baseline, Run::cpu_per_request);
        goals.row(vec![
            format!(
                "{} ÷ {}, server CPU per request",
                target.short(),
                baseline.short()
            ),
            "(for the notes: the cost, whatever else the machine runs)".into(),
            ratios.to_string(),
            "–".into(),
        ]);
    }
    for target in [Target::ApiKey, Target::Jwt] {
        let (measured, met) = speed
            .ratios(target, Target::Public, rate_of)
            .judged(Goal::AtLeast(0.95));
        goals.row(vec![
            format!("{} ÷ keygate public, req/s", target.short()),
            "≥ 0.95".into(),
            measured,
            met,
        ]);
    }
    // The p99 goal is judged at the same load (`latency`): here each server runs at the rate
    // it can take.
    for target in [Target::Public, Target::ApiKey, Target::Jwt] {
        let baseline = target.baseline();
        goals.row(vec![
            format!(
                "{} p99 ÷ {} p99, saturated",
                target.short(),
                baseline.short()
            ),
            "(for the notes: each at its own rate; the goal is judged at the same load below)"
                .into(),
            speed.ratios(target, baseline, p99_of).to_string(),
            "–".into(),
        ]);
    }
    summary.table(&goals);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(round: usize, rate: f64) -> Run {
        Run {
            round,
            wrk: WrkResult {
                rate,
                p50: Duration::from_millis(1),
                p99: Duration::from_millis(2),
                requests: 1_000,
                non_2xx: 0,
                socket_errors: 0,
            },
            cpu: Duration::from_millis(20),
            others: 0.0,
        }
    }

    #[test]
    fn a_paired_ratio_compares_runs_of_the_same_round() {
        // keygate is 0.9× nginx in rounds 1, 2 and 4; the machine is twice as fast in rounds 3
        // and 4, and slowed down again in round 3 between the two runs.
        let mut speed = Speed::default();
        for (round, nginx, keygate) in [
            (1, 40_000.0, 36_000.0),
            (2, 40_000.0, 36_000.0),
            (3, 80_000.0, 40_000.0),
            (4, 80_000.0, 72_000.0),
        ] {
            speed.runs.push((Target::ProxyApiKey, run(round, nginx)));
            speed.runs.push((Target::ApiKey, run(round, keygate)));
        }
        let ratios = speed.ratios(Target::ApiKey, Target::ProxyApiKey, rate_of);
        assert!((ratios.paired - 0.9).abs() < 1e-9, "{ratios}");
        // The medians mix rounds of a slow and a fast machine: 38 000 ÷ 60 000.
        assert!((ratios.of_medians - 38.0 / 60.0).abs() < 1e-9, "{ratios}");
        // The slowed-down round is the lowest; none is above 0.9.
        assert!((ratios.rounds.0 - 0.5).abs() < 1e-9, "{ratios}");
        assert!((ratios.rounds.1 - 0.9).abs() < 1e-9, "{ratios}");
        assert_eq!(
            ratios.to_string(),
            "0.90× (rounds 0.50–0.90×; medians: 0.63×)"
        );
        // Against a goal of 0.90 it is exactly the goal, and met; against 0.9001 it is below
        // it, and three decimals show that.
        let goal = Goal::AtLeast(0.90);
        assert_eq!(ratios.judged(goal), (ratios.to_string(), "met".to_owned()));
        let (measured, met) = ratios.judged(Goal::AtLeast(0.9001));
        assert!(measured.starts_with("0.900× "), "{measured}");
        assert_eq!(met, "**not met**");
        // A round the baseline has no run in is left out.
        speed.runs.push((Target::ApiKey, run(5, 1.0)));
        let ratios = speed.ratios(Target::ApiKey, Target::ProxyApiKey, rate_of);
        assert!((ratios.paired - 0.9).abs() < 1e-9, "{ratios}");
    }
}
