//! Part 2: abuse budgets. keygate's `[limits]` (on by default) let a client cost the server 30
//! failed key derivations a minute; after that its uncached credentials get 429 at no KDF cost.
//! Measured here, each beside an unpaced flood from 127.0.0.2 (the load generator at full
//! rate) while the valid traffic comes from 127.0.0.1:
//!
//! - valid cached API-key traffic (wrk) alone (a), while the flood of random `moose`-shaped
//!   tokens hits the same keygate (b), and while it hits a separate keygate process (c), so the
//!   cost of the machine's own load (the generator, the second process) is factored out: (b)/(c)
//!   is what the flood costs through keygate itself;
//! - the first use of a fresh `phc` key (PBKDF2 at 600 000 iterations), unloaded and during
//!   the flood;
//! - legitimate `POST /auth/token` latency, unloaded and while 127.0.0.2 replays one wrong
//!   project key.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::credentials::PROJECT_ID;
use super::gateway::Gateway;
use super::generator::{self, Counts, Flood, MakeRequest, Rng, Timed};
use super::process::Cpu;
use super::report::{self, Summary, Table};
use super::wrk::{self, WrkResult};
use super::{Env, http};

/// The flooding client.
pub(super) const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The flood's connections.
pub(super) const FLOOD_CONNECTIONS: usize = 32;
/// Between two legitimate token requests: 50 of them span a second of the flood.
const TOKEN_PAUSE: Duration = Duration::from_millis(20);
/// The flood runs this long before a measurement starts.
const FLOOD_WARM_UP: Duration = Duration::from_millis(500);

/// Random `moose`-shaped bearer tokens on `/api/flood`, a new one per request.
pub(super) fn bad_tokens(target: SocketAddr) -> MakeRequest {
    Arc::new(move |rng: &mut Rng| {
        http::get("/api/flood", target, Some(&generator::moose_shaped(rng)))
    })
}

/// Runs `measure` while `make`'s flood hits `target` from [`FLOODER`], unpaced; the flood
/// starts [`FLOOD_WARM_UP`] before `measure` and stops when it returns (or after `max_time`).
fn beside_flood<T: Send>(
    target: SocketAddr,
    make: &MakeRequest,
    max_time: Duration,
    measure: impl FnOnce() -> Result<T>,
) -> Result<(T, Counts)> {
    let stop = Arc::new(AtomicBool::new(false));
    let flood = Flood {
        target,
        source: FLOODER,
        connections: FLOOD_CONNECTIONS,
        max_time: max_time + FLOOD_WARM_UP,
    };
    std::thread::scope(|scope| {
        let flooding = scope.spawn(|| generator::flood(flood, make, &stop));
        std::thread::sleep(FLOOD_WARM_UP);
        let measured = measure();
        stop.store(true, Ordering::Relaxed);
        let counts = flooding
            .join()
            .map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;
        Ok((measured?, counts))
    })
}

/// Valid traffic alone (a), with the flood on the same keygate (b), with it on another (c).
#[derive(Debug, Default)]
pub(super) struct Budgets {
    alone: Vec<WrkResult>,
    same: Vec<(WrkResult, Counts)>,
    separate: Vec<(WrkResult, Counts)>,
}

pub(super) fn budgets(
    env: &Env,
    main: &mut Gateway,
    other: &mut Gateway,
    rounds: usize,
    phase: Duration,
) -> Result<Budgets> {
    let url = main.url("/api/load");
    let token = Some(env.creds.api_key.token.as_str());
    let max_time = phase + Duration::from_secs(10);
    let mut budgets = Budgets::default();
    for round in 1..=rounds {
        let machine = Cpu::now();
        let alone = wrk::run(&url, token, phase)?;
        progress(round, rounds, "(a) alone", &alone, None, &machine);
        budgets.alone.push(alone);
        let machine = Cpu::now();
        let same = beside_flood(main.addr, &bad_tokens(main.addr), max_time, || {
            wrk::run(&url, token, phase)
        })?;
        progress(round, rounds, "(b) same", &same.0, Some(&same.1), &machine);
        budgets.same.push(same);
        let machine = Cpu::now();
        let separate = beside_flood(other.addr, &bad_tokens(other.addr), max_time, || {
            wrk::run(&url, token, phase)
        })?;
        progress(
            round,
            rounds,
            "(c) separate",
            &separate.0,
            Some(&separate.1),
            &machine,
        );
        budgets.separate.push(separate);
        main.check_alive()?;
        other.check_alive()?;
    }
    Ok(budgets)
}

fn progress(
    round: usize,
    rounds: usize,
    name: &str,
    valid: &WrkResult,
    flood: Option<&Counts>,
    machine: &Cpu,
) {
    let others = Cpu::now().others_since(machine).0;
    let flood = flood.map_or(String::new(), |f| {
        format!(
            "  flood {} req/s ({})",
            report::rate(f.rate()),
            f.describe()
        )
    });
    eprintln!(
        "  round {round}/{rounds} {name:<13} valid {:>8} req/s  p99 {:>9}  others {:>3.0} %{flood}",
        report::rate(valid.rate),
        report::latency(valid.p99),
        others * 100.0
    );
}

pub(super) fn report_budgets(b: &Budgets, summary: &mut Summary, problems: &mut Vec<String>) {
    let median = |runs: &mut dyn Iterator<Item = &WrkResult>| {
        let runs: Vec<&WrkResult> = runs.collect();
        (
            report::median(&runs.iter().map(|r| r.rate).collect::<Vec<_>>()),
            report::median_duration(&runs.iter().map(|r| r.p99).collect::<Vec<_>>()),
        )
    };
    let alone = median(&mut b.alone.iter());
    let same = median(&mut b.same.iter().map(|(r, _)| r));
    let separate = median(&mut b.separate.iter().map(|(r, _)| r));
    let total = |runs: &[(WrkResult, Counts)]| {
        let mut counts = Counts::default();
        for (_, c) in runs {
            for (status, n) in &c.statuses {
                *counts.statuses.entry(*status).or_insert(0) += n;
            }
            counts.errors += c.errors;
            counts.elapsed += c.elapsed;
        }
        counts
    };
    let (same_flood, separate_flood) = (total(&b.same), total(&b.separate));
    let mut table = Table::new(&[
        "phase (valid: wrk, cached API key, from 127.0.0.1)",
        ">valid req/s (median)",
        ">valid p99",
        ">flood req/s",
        "flood responses (all rounds)",
    ]);
    table.row(vec![
        "(a) valid traffic alone".into(),
        report::rate(alone.0),
        report::latency(alone.1),
        "–".into(),
        "–".into(),
    ]);
    table.row(vec![
        "(b) flood on the same keygate".into(),
        report::rate(same.0),
        report::latency(same.1),
        report::rate(same_flood.rate()),
        same_flood.describe(),
    ]);
    table.row(vec![
        "(c) flood on a separate keygate".into(),
        report::rate(separate.0),
        report::latency(separate.1),
        report::rate(separate_flood.rate()),
        separate_flood.describe(),
    ]);
    summary.table(&table);
    let mut goals = Table::new(&["measure", "goal", ">measured", "met"]);
    let bc = report::divide(same.0, separate.0);
    report::goal_row(
        &mut goals,
        "(b) ÷ (c), valid req/s",
        "≥ 0.90",
        bc,
        report::Goal::AtLeast(0.90),
    );
    goals.row(vec![
        "(b) ÷ (a), valid req/s".into(),
        "(for the notes)".into(),
        report::ratio(report::divide(same.0, alone.0)),
        "–".into(),
    ]);
    summary.table(&goals);
    for (name, runs) in [
        ("(a)", b.alone.iter().collect::<Vec<_>>()),
        ("(b)", b.same.iter().map(|(r, _)| r).collect()),
        ("(c)", b.separate.iter().map(|(r, _)| r).collect()),
    ] {
        let bad: u64 = runs.iter().map(|r| r.non_2xx + r.socket_errors).sum();
        if bad > 0 || runs.iter().any(|r| r.requests == 0) {
            problems.push(format!(
                "abuse {name}: valid traffic saw {bad} non-2xx responses or socket errors"
            ));
        }
    }
    for (name, flood) in [("(b)", &same_flood), ("(c)", &separate_flood)] {
        refused_check(&format!("flood {name}"), flood, problems);
    }
}

/// A flood must be refused, every request of it.
pub(super) fn refused_check(name: &str, flood: &Counts, problems: &mut Vec<String>) {
    let accepted = flood.with(|s| (200..400).contains(&s));
    if accepted > 0 {
        problems.push(format!("{name}: {accepted} bad requests were accepted"));
    }
    if flood.responses() == 0 {
        problems.push(format!(
            "{name}: no responses at all ({})",
            flood.describe()
        ));
    }
}

/// First uses of fresh `phc` keys: which key (its position among the configured `phc` keys,
/// from 0: checking a `phc` token costs one PBKDF2 run per key up to the match), and the answer.
#[derive(Debug, Default)]
pub(super) struct FirstUse {
    unloaded: Vec<(usize, Timed)>,
    loaded: Vec<(usize, Timed)>,
    flood: Counts,
}

/// Keys for the unloaded and the loaded probes: pairs (0, 1), (2, 3), … with the lower one
/// going to each side in turn, so both sides pay about the same number of PBKDF2 runs.
fn split_positions(count: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut unloaded, mut loaded) = (Vec::new(), Vec::new());
    for pair in 0..count {
        let (low, high) = (2 * pair, 2 * pair + 1);
        if pair.is_multiple_of(2) {
            unloaded.push(low);
            loaded.push(high);
        } else {
            unloaded.push(high);
            loaded.push(low);
        }
    }
    (unloaded, loaded)
}

pub(super) fn first_use(env: &Env, gateway: &mut Gateway, probes: usize) -> Result<FirstUse> {
    let (unloaded_keys, loaded_keys) = split_positions(probes);
    let requests = |positions: &[usize]| -> Result<Vec<Vec<u8>>> {
        positions
            .iter()
            .map(|&i| {
                let key = env.creds.phc.get(i).context("too few phc keys")?;
                Ok(http::get("/api/first-use", gateway.addr, Some(&key.token)))
            })
            .collect()
    };
    let unloaded_requests = requests(&unloaded_keys)?;
    let loaded_requests = requests(&loaded_keys)?;
    let unloaded =
        generator::sequential(gateway.addr, env.client, &unloaded_requests, Duration::ZERO)?;
    let (loaded, flood) = beside_flood(
        gateway.addr,
        &bad_tokens(gateway.addr),
        Duration::from_secs(120),
        || generator::sequential(gateway.addr, env.client, &loaded_requests, Duration::ZERO),
    )?;
    gateway.check_alive()?;
    Ok(FirstUse {
        unloaded: unloaded_keys.into_iter().zip(unloaded).collect(),
        loaded: loaded_keys.into_iter().zip(loaded).collect(),
        flood,
    })
}

pub(super) fn report_first_use(f: &FirstUse, summary: &mut Summary, problems: &mut Vec<String>) {
    let latency = |probes: &[(usize, Timed)]| {
        report::median_duration(&probes.iter().map(|(_, t)| t.latency).collect::<Vec<_>>())
    };
    // Latency divided by the PBKDF2 runs the key costs (its position + 1).
    let per_run = |probes: &[(usize, Timed)]| {
        let values: Vec<Duration> = probes
            .iter()
            .map(|(i, t)| t.latency / u32::try_from(i + 1).unwrap_or(u32::MAX))
            .collect();
        report::median_duration(&values)
    };
    let positions = |probes: &[(usize, Timed)]| {
        probes
            .iter()
            .map(|(i, _)| (i + 1).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let each = |probes: &[(usize, Timed)]| {
        probes
            .iter()
            .map(|(_, t)| report::latency(t.latency))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut table = Table::new(&[
        "first use of a fresh `phc` key (600 000 iterations), from 127.0.0.1",
        ">median",
        ">median per PBKDF2 run",
        "PBKDF2 runs of each key",
        "each",
    ]);
    table.row(vec![
        "unloaded".into(),
        report::latency(latency(&f.unloaded)),
        report::latency(per_run(&f.unloaded)),
        positions(&f.unloaded),
        each(&f.unloaded),
    ]);
    table.row(vec![
        format!(
            "during the flood of (b) ({} req/s: {})",
            report::rate(f.flood.rate()),
            f.flood.describe()
        ),
        report::latency(latency(&f.loaded)),
        report::latency(per_run(&f.loaded)),
        positions(&f.loaded),
        each(&f.loaded),
    ]);
    summary.table(&table);
    let ratio = report::divide(
        latency(&f.loaded).as_secs_f64(),
        latency(&f.unloaded).as_secs_f64(),
    );
    let mut goals = Table::new(&["measure", "goal", ">measured", "met"]);
    report::goal_row(
        &mut goals,
        "first use during the flood ÷ unloaded (medians)",
        "≤ 2",
        ratio,
        report::Goal::AtMost(2.0),
    );
    summary.table(&goals);
    for (_, probe) in f.unloaded.iter().chain(&f.loaded) {
        if probe.status != 200 {
            problems.push(format!(
                "first use of a phc key answered {} (must be 200)",
                probe.status
            ));
        }
    }
    refused_check("flood during first uses", &f.flood, problems);
}

/// `POST /auth/token` latencies, unloaded and beside a wrong-key replay.
#[derive(Debug, Default)]
pub(super) struct Token {
    unloaded: Vec<Timed>,
    loaded: Vec<Timed>,
    flood: Counts,
}

pub(super) fn token(env: &Env, requests: usize) -> Result<Token> {
    let mut gateway = Gateway::start(
        "keygate-token",
        &env.keygate,
        &env.config,
        env.upstream.addr,
        &env.work,
    )?;
    let addr = gateway.addr;
    let legit = http::token_request(addr, PROJECT_ID, &env.creds.project_key.token);
    // The first request pays the project key's PBKDF2; later ones are cached, as for a client
    // that asks again before its token expires.
    let warm = generator::sequential(
        addr,
        env.client,
        std::slice::from_ref(&legit),
        Duration::ZERO,
    )?;
    if warm.first().is_none_or(|t| t.status != 200) {
        bail!("POST /auth/token with the project's key was refused");
    }
    let batch = vec![legit; requests];
    let unloaded = generator::sequential(addr, env.client, &batch, TOKEN_PAUSE)?;
    // One wrong key for the same project, replayed: a well-formed `moose` key that matches
    // nothing.
    let wrong_key = generator::moose_shaped(&mut Rng::seeded(7));
    let wrong = http::token_request(addr, PROJECT_ID, &wrong_key);
    let replay: MakeRequest = Arc::new(move |_: &mut Rng| wrong.clone());
    let (loaded, flood) = beside_flood(addr, &replay, Duration::from_secs(120), || {
        generator::sequential(addr, env.client, &batch, TOKEN_PAUSE)
    })?;
    gateway.check_alive()?;
    Ok(Token {
        unloaded,
        loaded,
        flood,
    })
}

pub(super) fn report_token(t: &Token, summary: &mut Summary, problems: &mut Vec<String>) {
    let median = |probes: &[Timed]| {
        report::median_duration(&probes.iter().map(|t| t.latency).collect::<Vec<_>>())
    };
    let p90 = |probes: &[Timed]| {
        let mut latencies: Vec<Duration> = probes.iter().map(|t| t.latency).collect();
        latencies.sort();
        report::nearest_rank(&latencies, 0.9)
    };
    let mut table = Table::new(&[
        "legitimate `POST /auth/token` from 127.0.0.1 (one every 20 ms, keep-alive)",
        ">requests",
        ">median",
        ">p90",
    ]);
    table.row(vec![
        "unloaded".into(),
        t.unloaded.len().to_string(),
        report::latency(median(&t.unloaded)),
        report::latency(p90(&t.unloaded)),
    ]);
    table.row(vec![
        format!(
            "while 127.0.0.2 replays one wrong project key ({} req/s: {})",
            report::rate(t.flood.rate()),
            t.flood.describe()
        ),
        t.loaded.len().to_string(),
        report::latency(median(&t.loaded)),
        report::latency(p90(&t.loaded)),
    ]);
    summary.table(&table);
    let ratio = report::divide(
        median(&t.loaded).as_secs_f64(),
        median(&t.unloaded).as_secs_f64(),
    );
    let mut goals = Table::new(&["measure", "goal", ">measured", "met"]);
    report::goal_row(
        &mut goals,
        "token latency during the replay ÷ unloaded (medians)",
        "< 2",
        ratio,
        report::Goal::Below(2.0),
    );
    summary.table(&goals);
    let refused = t
        .unloaded
        .iter()
        .chain(&t.loaded)
        .filter(|p| p.status != 200)
        .count();
    if refused > 0 {
        problems.push(format!(
            "token endpoint: {refused} legitimate requests were not answered 200"
        ));
    }
    refused_check("wrong-key replay", &t.flood, problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_keys_are_split_evenly() {
        let (unloaded, loaded) = split_positions(4);
        assert_eq!(unloaded, [0, 3, 4, 7]);
        assert_eq!(loaded, [1, 2, 5, 6]);
        let sum = |v: &[usize]| v.iter().sum::<usize>();
        assert_eq!(sum(&unloaded), sum(&loaded));
    }
}
