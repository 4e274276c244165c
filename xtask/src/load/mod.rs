//! `cargo xtask load`: one bounded benchmark campaign of `keygate serve` (the release build),
//! everything on 127.0.0.0/8. Never run by the test suite.
//!
//! Part 1, speed against the right baselines ([`speed`], [`idle`]): nginx as the upstream (it
//! must be at least twice as fast as the gateway), nginx as a plain reverse proxy (the
//! baseline) and the hyper floor ([`floor`]), keygate on a public, a cached API-key and a
//! cached JWT route, driven by wrk in interleaved rounds; keygate's memory under 10 000 idle
//! keep-alive connections.
//!
//! Part 2, abuse budgets ([`abuse`], [`memory`]): valid traffic beside an unpaced flood of
//! KDF-costing bad tokens on the same and on a separate keygate, the first use of a `phc` key
//! and the token endpoint beside floods, and memory after a million bad tokens from 10 000
//! addresses. The floods come from the crate's own load generator ([`generator`]), which can
//! bind a source address (wrk cannot).
//!
//! Prints a markdown report and writes it to `<target>/load/summary.md`; fails when a sanity
//! check fails (valid traffic must all succeed, every flood must be refused).

mod abuse;
mod credentials;
mod floor;
mod gateway;
mod generator;
mod http;
mod idle;
mod latency;
mod memory;
mod nginx;
mod options;
mod process;
mod report;
mod speed;
mod wrk;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::util::{cargo, machine, run as run_cmd, target_dir};
use credentials::Credentials;
use floor::Floor;
use gateway::Gateway;
use nginx::Nginx;
use options::Options;
use process::Cpu;
use report::Summary;

/// What every measurement shares: the binary, the run's directory and configuration, the
/// credentials, the two nginx instances, the hyper floor, and the valid client's address.
#[derive(Debug)]
pub(super) struct Env {
    keygate: PathBuf,
    work: PathBuf,
    config: PathBuf,
    creds: Credentials,
    upstream: Nginx,
    proxy: Nginx,
    floor: Floor,
    /// The legitimate client (wrk's address too).
    client: IpAddr,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", options::USAGE);
        return Ok(());
    }
    let options = Options::parse(args)?;
    let started = Instant::now();
    wrk::ensure_installed()?;
    nginx::ensure_installed()?;
    run_cmd(cargo().args(["build", "--release", "-p", "keygate", "-p", "hyper-floor"]))?;
    let keygate = target_dir().join("release").join("keygate");
    let floor = target_dir().join("release").join("hyper-floor");
    for binary in [&keygate, &floor] {
        if !binary.is_file() {
            bail!("no release binary at {}", binary.display());
        }
    }
    let own_limit = process::raise_open_file_limit();
    let work = std::env::temp_dir().join(format!("keygate-load-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let outcome = campaign(&options, &keygate, &floor, &work, own_limit, started);
    match &outcome {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&work);
        }
        Err(_) => eprintln!(
            "the run's configuration and logs are kept in {}",
            work.display()
        ),
    }
    outcome
}

fn campaign(
    options: &Options,
    keygate: &Path,
    floor: &Path,
    work: &Path,
    own_limit: u64,
    started: Instant,
) -> Result<()> {
    eprintln!(
        "making credentials ({} phc keys at 600 000 iterations)",
        options.phc_keys()
    );
    let creds = Credentials::create(keygate, work, options.phc_keys())?;
    let config = gateway::write_config(work, &creds)?;
    let upstream = Nginx::upstream(work)?;
    let proxy = Nginx::proxy(work, upstream.addr)?;
    let floor = Floor::start(floor, upstream.addr, work)?;
    let env = Env {
        keygate: keygate.to_owned(),
        work: work.to_owned(),
        config,
        creds,
        upstream,
        proxy,
        floor,
        client: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let mut main = Gateway::start("keygate", keygate, &env.config, env.upstream.addr, work)?;
    let cpu_start = Cpu::now();

    eprintln!(
        "part 1: {} round(s) × {} targets × {} s",
        options.rounds,
        speed::Target::ALL.len(),
        options.phase.as_secs()
    );
    let speed = speed::measure(&env, &mut main, options.rounds, options.phase)?;
    let offered = latency::offered_rate(&speed);
    eprintln!(
        "part 1: latency at the same load, {} round(s) × 6 targets × {} s at {} req/s",
        options.rounds,
        options.phase.as_secs(),
        report::rate(offered)
    );
    let latency = latency::measure(&env, &mut main, offered, options.rounds, options.phase)?;
    let cpu_speed = Cpu::now();
    eprintln!(
        "part 1: {} idle keep-alive connections",
        options.idle_connections
    );
    let idle = idle::measure(&env, options.idle_connections, own_limit)?;

    eprintln!("part 2: valid traffic beside floods (a, b, c)");
    let mut other = Gateway::start(
        "keygate-other",
        keygate,
        &env.config,
        env.upstream.addr,
        work,
    )?;
    let cpu_budgets_start = Cpu::now();
    let budgets = abuse::budgets(&env, &mut main, &mut other, options.rounds, options.phase)?;
    let cpu_budgets = Cpu::now();
    drop(other);
    eprintln!("part 2: first uses of phc keys");
    let first_use = abuse::first_use(&env, &mut main, options.first_uses)?;
    eprintln!("part 2: token endpoint");
    let token = abuse::token(&env, options.token_requests)?;
    eprintln!(
        "part 2: memory bound ({} addresses × {} bad tokens)",
        options.flood_addresses, options.flood_per_address
    );
    let bound = memory::measure(&env, options.flood_addresses, options.flood_per_address)?;
    drop(main);
    let cpu_end = Cpu::now();

    let mut summary = Summary::default();
    let mut problems = Vec::new();
    summary.heading(1, "keygate load test (`cargo xtask load`)");
    summary.paragraph(&format!(
        "{}. Machine: {}; {}; {}. Options: {} round(s), {} s per phase, {} idle connections, \
         memory-bound flood {} addresses × {}{}.",
        utc_now(),
        machine(),
        version(Command::new(nginx_program()).arg("-v")),
        version(Command::new("wrk").arg("--version")),
        options.rounds,
        options.phase.as_secs(),
        options.idle_connections,
        options.flood_addresses,
        options.flood_per_address,
        if options.quick { " (--quick)" } else { "" },
    ));
    summary.heading(2, "Part 1: gateway speed against nginx");
    summary.paragraph(&format!(
        "wrk `-t1 -c{} -d{}s` from 127.0.0.1, targets interleaved in each round; medians over \
         the rounds, and each ratio against a baseline the median of its ratios within a round \
         (both runs of a pair are at most a minute apart), with the lowest and highest ratio of \
         a round and the ratio of the medians beside it. The upstream is nginx answering \
         `200 ok` (1 worker); the baseline is nginx as a plain reverse proxy of it (one worker \
         per core, upstream keepalive 32), sent the \
         same requests as each keygate route (none, the API key's, the JWT's `Authorization`), \
         so each route is compared with nginx proxying its own request; keygate \
         (`RUST_LOG=warn`) proxies to the same upstream. The hyper floor (`xtask/hyper-floor`) \
         is keygate's server, runtime and upstream pool with nothing keygate adds (no routing, \
         policy, header work or timeouts), sent the API-key request: keygate's distance from \
         it is keygate's own cost, its distance from nginx the stack's.",
        wrk::CONNECTIONS,
        options.phase.as_secs()
    ));
    speed::report(&speed, &mut summary, &mut problems);
    summary.heading(3, "Latency at the same load");
    summary.paragraph(&format!(
        "wrk loads each server with as many requests as it answers, so its p99s above are those \
         of a machine saturated at different rates. Here every target is offered the same \
         rate, {:.0} % of the slowest one's median above (rounded down to a thousand): the \
         crate's load generator from 127.0.0.1, {} keep-alive connections, each sending on its \
         own schedule, {} s per target, interleaved in {} round(s) like part 1's. A request is \
         timed from its send, or, if its connection still waited for the previous response \
         when it would have gone out, from then (\"held up\": the server is charged for the \
         wait, which a closed-loop driver such as wrk leaves out; the generator's own timer \
         lateness is not). The p99 goal is judged here, by the median of the ratios within a \
         round.",
        latency::LOAD_SHARE * 100.0,
        wrk::CONNECTIONS,
        options.phase.as_secs(),
        options.rounds,
    ));
    latency::report(&latency, &mut summary, &mut problems);
    summary.heading(3, "Memory under idle keep-alive connections");
    idle::report(&idle, &mut summary, &mut problems);

    summary.heading(2, "Part 2: abuse budgets");
    summary.paragraph(&format!(
        "Floods come from 127.0.0.2 ({} connections, unpaced: the load generator's full rate on \
         one thread), valid traffic from 127.0.0.1. Flood tokens are random and `moose`-shaped \
         (`<32 hex>.<32 hex>`, new per request): each would cost a PBKDF2 run, until the \
         client's failure budget (30 a minute) is spent and it gets 429 at no KDF cost.",
        abuse::FLOOD_CONNECTIONS
    ));
    summary.heading(3, "Valid traffic beside a flood");
    abuse::report_budgets(&budgets, &mut summary, &mut problems);
    summary.heading(3, "First use of a `phc` key");
    summary.paragraph(&format!(
        "{} `phc` keys (600 000 iterations) are configured for `/api/`. A `phc` token is checked \
         against every `phc` key in configuration order, one PBKDF2 run each, until one matches: \
         the key at position n costs n runs. The keys are split between the two sides so both \
         pay about as many runs. \"During the flood\": the flood of (b) on the same keygate, \
         without wrk.",
        options.phc_keys()
    ));
    abuse::report_first_use(&first_use, &mut summary, &mut problems);
    summary.heading(3, "Token endpoint");
    abuse::report_token(&token, &mut summary, &mut problems);
    summary.heading(3, "Memory bound");
    memory::report(&bound, &mut summary, &mut problems);

    summary.heading(2, "The machine during the run");
    summary.paragraph(
        "CPU time of processes outside this run (other builds and tests on a shared machine) \
         and the hypervisor's steal, as shares of the machine's capacity over each span \
         (`/proc/stat` less this run's process tree). Anything above a few percent makes the \
         absolute numbers above lower and noisier; the ratios of interleaved runs suffer less.",
    );
    let mut machine_load = report::Table::new(&["span", ">other processes", ">steal"]);
    for (span, end, start) in [
        ("part 1, speed rounds", &cpu_speed, &cpu_start),
        ("part 2, rounds (a)–(c)", &cpu_budgets, &cpu_budgets_start),
        ("from part 1 to the end", &cpu_end, &cpu_start),
    ] {
        let (others, steal) = end.others_since(start);
        machine_load.row(vec![
            span.to_owned(),
            format!("{:.0} %", others * 100.0),
            format!("{:.0} %", steal * 100.0),
        ]);
    }
    summary.table(&machine_load);

    summary.heading(2, "keygate's log");
    let mut logged = report::Table::new(&["process", "message (RUST_LOG=warn)", ">times"]);
    for name in [
        "keygate",
        "keygate-other",
        "keygate-idle",
        "keygate-token",
        "keygate-memory",
    ] {
        for (message, count) in gateway::log_summary(&work.join(format!("{name}.log"))) {
            logged.row(vec![name.to_owned(), message, count.to_string()]);
        }
    }
    summary.table(&logged);
    summary.paragraph(&format!(
        "The run took {}, the release build included (a few seconds when it is up to date).",
        report::elapsed(started.elapsed())
    ));

    let dir = target_dir().join("load");
    let path = summary.write(&dir)?;
    println!("\n{}", summary.text());
    eprintln!("written to {}", path.display());
    if !problems.is_empty() {
        bail!("sanity checks failed:\n- {}", problems.join("\n- "));
    }
    Ok(())
}

/// `2026-12-02 07:05 UTC`, from `date`.
fn utc_now() -> String {
    version(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
}

/// The first line a program prints about itself (stdout or stderr).
fn version(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|out| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines().next().map(|line| line.trim().to_owned())
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}

fn nginx_program() -> &'static str {
    if Path::new("/usr/sbin/nginx").is_file() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}
