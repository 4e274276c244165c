//! Part 2, the memory bound: distinct random bad tokens from many distinct client addresses
//! (127.1.x.y, a fixed number each), so the failure budgets track every address and the
//! failure cache sees nothing twice. keygate's resident memory before and after shows whether
//! that state is bounded (`[limits] max_tracked`, `[cache] max_entries`).
//!
//! With the defaults (10 000 addresses × 100 tokens) each address's first 30 tokens cost a
//! PBKDF2 run (its failure budget) and the other 70 get 429 at no KDF cost: 300 000 key
//! derivations and a million requests, about a minute or two on 2 cores. Over-budget refusals
//! are answered at once here (`refusal_delay_ms = 0`): held for the default second each, the
//! 700 000 of them would take hours on 64 connections, and the counters are what is measured.

use std::time::Duration;

use anyhow::Result;

use super::Env;
use super::abuse::{bad_tokens, refused_check};
use super::gateway::Gateway;
use super::generator::{self, Counts, Spread};
use super::process::Memory;
use super::report::{self, Summary, Table};

/// Connections at once, each working through one address at a time.
const CONNECTIONS: usize = 64;
/// The run stops here whatever the counts (it is reported as incomplete).
const MAX_TIME: Duration = Duration::from_secs(20 * 60);

#[derive(Debug)]
pub(super) struct Bound {
    addresses: usize,
    per_address: u64,
    counts: Counts,
    complete: bool,
    before: Memory,
    after: Memory,
}

pub(super) fn measure(env: &Env, addresses: usize, per_address: u64) -> Result<Bound> {
    let config = env.work.join("memory.config.toml");
    let mut text = std::fs::read_to_string(&env.config)?;
    text.push_str("\n[limits]\nrefusal_delay_ms = 0\n");
    std::fs::write(&config, text)?;
    let mut gateway = Gateway::start(
        "keygate-memory",
        &env.keygate,
        &config,
        env.upstream.addr,
        &env.work,
    )?;
    let before = gateway.memory()?;
    let spread = Spread {
        target: gateway.addr,
        sources: generator::loopback_addresses(1, 0, addresses)?,
        per_source: per_address,
        connections: CONNECTIONS,
        max_time: MAX_TIME,
    };
    let (counts, complete) = generator::spread(spread, &bad_tokens(gateway.addr))?;
    std::thread::sleep(Duration::from_millis(500));
    let after = gateway.memory()?;
    gateway.check_alive()?;
    Ok(Bound {
        addresses,
        per_address,
        counts,
        complete,
        before,
        after,
    })
}

pub(super) fn report(b: &Bound, summary: &mut Summary, problems: &mut Vec<String>) {
    let total = b.addresses as u64 * b.per_address;
    let mut table = Table::new(&["measure", ">value"]);
    let mut row = |name: &str, value: String| table.row(vec![name.to_owned(), value]);
    row(
        "bad tokens sent (distinct, random, `moose`-shaped)",
        format!(
            "{} ({} addresses × {}, {CONNECTIONS} connections){}",
            report::thousands(b.counts.responses() + b.counts.errors),
            report::thousands(b.addresses as u64),
            b.per_address,
            if b.complete {
                ""
            } else {
                " — stopped at the time limit"
            }
        ),
    );
    row("responses", b.counts.describe());
    let per_address = report::count_f64(b.counts.with(|s| s == 401))
        / report::count_f64(b.addresses.max(1) as u64);
    row(
        "401 (a PBKDF2 run each) per address",
        format!("{per_address:.1} (budget: 30 a minute)"),
    );
    row(
        "duration, rate",
        format!(
            "{}, {} req/s",
            report::elapsed(b.counts.elapsed),
            report::rate(b.counts.rate())
        ),
    );
    row(
        "VmRSS before → after",
        format!(
            "{} → {}",
            report::mib(b.before.rss_kib),
            report::mib(b.after.rss_kib)
        ),
    );
    row(
        "VmHWM (peak) before → after",
        format!(
            "{} → {}",
            report::mib(b.before.hwm_kib),
            report::mib(b.after.hwm_kib)
        ),
    );
    summary.table(&table);
    refused_check("memory-bound flood", &b.counts, problems);
    if !b.complete || b.counts.responses() + b.counts.errors < total {
        problems.push(format!(
            "memory-bound flood: {} of {total} requests attempted",
            b.counts.responses() + b.counts.errors
        ));
    }
}
