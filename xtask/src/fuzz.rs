//! `cargo xtask fuzz [TARGET] [--time SECS] [--sanitizer none|address]`: fuzz campaigns.
//!
//! Runs the cargo-fuzz targets of `fuzz/` (its own workspace) one after the other, each for
//! `SECS` seconds, and prints per target what libFuzzer reported: executions, executions per
//! second, corpus size, crashes and where their artifacts are. Fails when any target failed.
//!
//! Toolchain: nightly when it is installed (the setting), otherwise stable, which
//! cargo-fuzz supports without a sanitizer. The default sanitizer is `none`: `auth-core` forbids
//! `unsafe`, so AddressSanitizer finds little there while costing 4–5× the executions and a
//! separate build (see docs/testing.md). `--sanitizer address` needs nightly.

mod report;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{flag_value, has_program, run as run_command, workspace_root};
use report::{Maybe, RunReport};

/// Seconds per target for `cargo xtask fuzz` without `--time`.
const DEFAULT_SECONDS: u64 = 60;
/// Seconds per target in `cargo xtask ci`: enough to replay the seeds and shake out shallow
/// bugs while CI stays short (the build of the fuzz workspace takes longer than the runs).
const SMOKE_SECONDS: u64 = 15;
/// libFuzzer's per-input timeout: any single input slower than this is reported as a failure.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// Extra wall-clock time a run may take beyond its budget (start-up, merging, shutdown) before
/// it is killed.
const GRACE: Duration = Duration::from_secs(120);

pub(crate) fn run(args: &[String]) -> Result<()> {
    let target = positional(args);
    let seconds = match flag_value(args, "--time") {
        Some(secs) => secs
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .context("--time takes a positive number of seconds")?,
        None => DEFAULT_SECONDS,
    };
    let sanitizer = flag_value(args, "--sanitizer").unwrap_or("none");
    if !["none", "address"].contains(&sanitizer) {
        bail!("--sanitizer takes `none` or `address`, not `{sanitizer}`");
    }
    campaign(target, seconds, sanitizer)
}

/// The short fuzz run `cargo xtask ci` ends with.
pub(crate) fn smoke() -> Result<()> {
    campaign(None, SMOKE_SECONDS, "none")
}

/// The first argument that is neither a flag nor a flag's value.
fn positional(args: &[String]) -> Option<&str> {
    crate::util::positional(args, &["--time", "--sanitizer"])
}

fn campaign(only: Option<&str>, seconds: u64, sanitizer: &str) -> Result<()> {
    let root = workspace_root();
    let fuzz_dir = root.join("fuzz");
    let all = targets(&fuzz_dir)?;
    let targets: Vec<String> = match only {
        Some(name) if all.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!(
            "no fuzz target `{name}`; the targets are: {}",
            all.join(", ")
        ),
        None => all,
    };
    let toolchain = toolchain(sanitizer)?;
    ensure_cargo_fuzz(&toolchain)?;

    // One build for all targets; `cargo fuzz run` then finds them up to date.
    let target_dir = fuzz_dir
        .join("target")
        .join(format!("sanitizer-{sanitizer}"));
    let mut build = cargo_fuzz(&toolchain, "build", sanitizer, &target_dir);
    if let [one] = targets.as_slice() {
        build.arg(one);
    }
    run_command(&mut build)?;

    let log_dir = target_dir.join("logs");
    fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let mut results = Vec::new();
    for target in &targets {
        let log = log_dir.join(format!("{target}.log"));
        eprintln!(
            "fuzzing `{target}` for {seconds} s (libFuzzer log: {})",
            log.display()
        );
        let mut command = cargo_fuzz(&toolchain, "run", sanitizer, &target_dir);
        command
            .arg(target)
            .arg(fuzz_dir.join("corpus").join(target));
        command.args([
            "--".to_owned(),
            format!("-max_total_time={seconds}"),
            format!("-timeout={INPUT_TIMEOUT_SECONDS}"),
            "-print_final_stats=1".to_owned(),
        ]);
        let dict = fuzz_dir.join("dict").join(format!("{target}.dict"));
        if dict.is_file() {
            command.arg(format!("-dict={}", dict.display()));
        }
        let exited_ok = run_logged(&mut command, &log, Duration::from_secs(seconds) + GRACE)?;
        let text = fs::read_to_string(&log).unwrap_or_default();
        let mut report = RunReport::parse(&text);
        report.failed |= !exited_ok;
        if report.failed {
            eprintln!("--- last lines of {} ---", log.display());
            for line in last_lines(&text, 30) {
                eprintln!("{line}");
            }
        }
        results.push((target.clone(), report));
    }

    print_summary(&results, &toolchain, sanitizer);
    let failed: Vec<&(String, RunReport)> = results.iter().filter(|(_, r)| r.failed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    for (target, report) in &failed {
        for artifact in &report.artifacts {
            eprintln!(
                "reproduce: cargo +{toolchain} fuzz run -s {sanitizer} --target-dir {} {target} {artifact}",
                target_dir.display()
            );
        }
    }
    let names: Vec<&str> = failed.iter().map(|(t, _)| t.as_str()).collect();
    bail!("fuzz targets failed: {}", names.join(", "))
}

/// The targets: one `fuzz/fuzz_targets/<name>.rs` per `[[bin]]` of `fuzz/Cargo.toml`.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if let Some(stem) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "rs"))
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(names)
}

/// `nightly` when installed; otherwise `stable`, which works with `--sanitizer none` only.
fn toolchain(sanitizer: &str) -> Result<String> {
    if has_program("cargo", &["+nightly", "--version"]) {
        return Ok("nightly".to_owned());
    }
    if sanitizer != "none" {
        bail!("--sanitizer {sanitizer} needs the nightly toolchain, which is not installed");
    }
    eprintln!("xtask: no nightly toolchain; fuzzing on stable without a sanitizer");
    Ok("stable".to_owned())
}

fn ensure_cargo_fuzz(toolchain: &str) -> Result<()> {
    let plus = format!("+{toolchain}");
    if has_program("cargo", &[&plus, "fuzz", "--version"]) {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is not installed; installing it");
    run_command(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

/// `cargo +TOOLCHAIN fuzz SUBCOMMAND -s SANITIZER --target-dir DIR`, from the workspace root
/// (cargo-fuzz finds `fuzz/` there). Through the rustup proxy, not `$CARGO`, so `+TOOLCHAIN` works.
fn cargo_fuzz(toolchain: &str, subcommand: &str, sanitizer: &str, target_dir: &Path) -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(workspace_root())
        .env_remove("CARGO")
        .arg(format!("+{toolchain}"))
        .args(["fuzz", subcommand, "--sanitizer", sanitizer, "--target-dir"])
        .arg(target_dir);
    command
}

/// Runs `command` with stdout and stderr in `log`; kills it after `limit`.
/// Returns whether it exited successfully.
fn run_logged(command: &mut Command, log: &PathBuf, limit: Duration) -> Result<bool> {
    let file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("could not start cargo fuzz")?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            eprintln!(
                "xtask: the run exceeded {} s and was stopped",
                limit.as_secs()
            );
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn last_lines(text: &str, count: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(count)..)
        .unwrap_or_default()
        .to_vec()
}

fn print_summary(results: &[(String, RunReport)], toolchain: &str, sanitizer: &str) {
    println!();
    println!("fuzz summary ({toolchain}, sanitizer {sanitizer})");
    println!(
        "{:<16} {:>12} {:>10} {:>8} {:>10} {:>6} {:>8}  artifacts",
        "target", "executions", "execs/s", "corpus", "size", "new", "crashes"
    );
    for (target, r) in results {
        let crashes = if r.failed {
            r.artifacts.len().max(1)
        } else {
            0
        };
        let artifacts = if r.artifacts.is_empty() {
            "-".to_owned()
        } else {
            r.artifacts.join(" ")
        };
        println!(
            "{target:<16} {:>12} {:>10} {:>8} {:>10} {:>6} {crashes:>8}  {artifacts}",
            Maybe(&r.executions).to_string(),
            Maybe(&r.execs_per_sec).to_string(),
            Maybe(&r.corpus_inputs).to_string(),
            Maybe(&r.corpus_size).to_string(),
            Maybe(&r.new_inputs).to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_target_is_the_argument_that_is_not_a_flag_value() {
        assert_eq!(positional(&strings(&["--time", "5", "jwt"])), Some("jwt"));
        assert_eq!(
            positional(&strings(&["header", "--time", "5"])),
            Some("header")
        );
        assert_eq!(positional(&strings(&["--time", "5"])), None);
    }

    #[test]
    fn every_target_file_has_a_bin_entry_a_dictionary_and_seeds() {
        let fuzz_dir = workspace_root().join("fuzz");
        let manifest = fs::read_to_string(fuzz_dir.join("Cargo.toml")).unwrap();
        let found = targets(&fuzz_dir).unwrap();
        assert!(found.len() >= 4, "{found:?}");
        for target in found {
            assert!(
                manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
                "{target} has no [[bin]] in fuzz/Cargo.toml"
            );
            assert!(
                fuzz_dir
                    .join("dict")
                    .join(format!("{target}.dict"))
                    .is_file()
            );
            let seeds = fs::read_dir(fuzz_dir.join("corpus").join(&target))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("seed-"))
                })
                .count();
            assert!(seeds > 0, "{target} has no committed seed-* inputs");
        }
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines("a\nb\nc", 2), ["b", "c"]);
        assert_eq!(last_lines("a", 5), ["a"]);
    }
}
