//! Part 1, memory: keygate's resident memory under many idle keep-alive connections. A fresh
//! gateway gets `n` connections from 127.0.1.x (about 100 per source address, so no source
//! runs short of ephemeral ports), each sending one authenticated request (proxied to the
//! upstream) and then staying idle; `VmRSS`/`VmHWM` are read before, while they are held, and
//! after they are closed.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Env;
use super::gateway::Gateway;
use super::generator::{self, Counts, Hold};
use super::http;
use super::process::{self, Memory};
use super::report::{self, Summary, Table};

/// Connections per source address.
const PER_SOURCE: usize = 100;
/// Connections being opened at once.
const CONCURRENCY: usize = 100;
/// keygate's `[server] max_connections` default, before it is fitted to the open-file limit.
const MAX_CONNECTIONS_DEFAULT: u64 = 10_000;
/// Descriptors keygate keeps for other uses (`RESERVED_DESCRIPTORS` in `cli/src/serve/server.rs`).
const RESERVED_DESCRIPTORS: u64 = 64;

#[derive(Debug)]
pub(super) struct Idle {
    requested: usize,
    held: usize,
    counts: Counts,
    /// keygate's soft open-file limit and the connection cap it implies.
    open_file_limit: u64,
    cap: u64,
    /// This process's open-file limit after raising it.
    own_limit: u64,
    descriptors_held: usize,
    before: Memory,
    held_memory: Memory,
    after: Memory,
    open_time: Duration,
}

pub(super) fn measure(env: &Env, connections: usize, own_limit: u64) -> Result<Idle> {
    let mut gateway = Gateway::start(
        "keygate-idle",
        &env.keygate,
        &env.config,
        env.upstream.addr,
        &env.work,
    )?;
    let request = http::get("/api/idle", gateway.addr, Some(&env.creds.api_key.token));
    // The key's verification is cached and one upstream connection pooled before measuring.
    generator::sequential(
        gateway.addr,
        env.client,
        std::slice::from_ref(&request),
        Duration::ZERO,
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let before = gateway.memory()?;
    let open_file_limit = process::open_file_limit(gateway.pid())?;
    let cap = MAX_CONNECTIONS_DEFAULT
        .min(open_file_limit.saturating_sub(RESERVED_DESCRIPTORS) / 2)
        .max(1);
    let sources = generator::loopback_addresses(0, 1, connections.div_ceil(PER_SOURCE))?;
    let started = Instant::now();
    let hold = Hold {
        target: gateway.addr,
        sources,
        count: connections,
        per_source: PER_SOURCE,
        concurrency: CONCURRENCY,
        request,
    };
    let pid = gateway.pid();
    let (held, (held_memory, descriptors_held, open_time)) = generator::hold(hold, |_| {
        let open_time = started.elapsed();
        // Let the allocator and the connection tasks settle before reading.
        std::thread::sleep(Duration::from_secs(1));
        Ok((
            process::memory(pid)?,
            process::open_descriptors(pid)?,
            open_time,
        ))
    })?;
    std::thread::sleep(Duration::from_secs(1));
    let after = gateway.memory()?;
    gateway.check_alive()?;
    Ok(Idle {
        requested: connections,
        held: held.held,
        counts: held.counts,
        open_file_limit,
        cap,
        own_limit,
        descriptors_held,
        before,
        held_memory,
        after,
        open_time,
    })
}

pub(super) fn report(idle: &Idle, summary: &mut Summary, problems: &mut Vec<String>) {
    let grown = idle.held_memory.rss_kib.saturating_sub(idle.before.rss_kib);
    let per_connection = report::count_f64(grown) / report::count_f64(idle.held.max(1) as u64);
    let mut table = Table::new(&["measure", ">value"]);
    let mut row = |name: &str, value: String| table.row(vec![name.to_owned(), value]);
    row(
        "connections opened (one request each, then idle)",
        report::thousands(idle.requested as u64),
    );
    row(
        "held by keygate (2xx, kept alive)",
        report::thousands(idle.held as u64),
    );
    row("responses", idle.counts.describe());
    row(
        "keygate's connection cap: min(10 000, (open-file limit − 64) / 2)",
        format!(
            "{} (open-file limit {})",
            report::thousands(idle.cap),
            report::thousands(idle.open_file_limit)
        ),
    );
    row(
        "keygate's open descriptors while held",
        report::thousands(idle.descriptors_held as u64),
    );
    row(
        "time to open them (100 at a time)",
        report::elapsed(idle.open_time),
    );
    row(
        "VmRSS before → held → after closing",
        format!(
            "{} → {} → {}",
            report::mib(idle.before.rss_kib),
            report::mib(idle.held_memory.rss_kib),
            report::mib(idle.after.rss_kib)
        ),
    );
    row(
        "VmHWM (peak) before → after closing",
        format!(
            "{} → {}",
            report::mib(idle.before.hwm_kib),
            report::mib(idle.after.hwm_kib)
        ),
    );
    row(
        "RSS per held connection",
        format!("{per_connection:.1} KiB"),
    );
    summary.table(&table);
    let expected = u64::try_from(idle.requested)
        .unwrap_or(u64::MAX)
        .min(idle.cap);
    if (idle.held as u64) < expected.saturating_sub(expected / 100) {
        problems.push(format!(
            "idle connections: keygate held {} of the {} it could (cap {}; this process's open-file limit {})",
            idle.held, expected, idle.cap, idle.own_limit
        ));
    }
    if idle.counts.with(|s| !(200..300).contains(&s) && s != 503) > 0 {
        problems.push(format!(
            "idle connections: unexpected responses ({})",
            idle.counts.describe()
        ));
    }
}
