//! `cargo xtask test` and `cargo xtask ci`.

use anyhow::{Context, Result};

use crate::util::{Components, REQUIRE_COMPONENTS, cargo, flag_value, has_program, run};

/// Proptest cases per property in CI: enough to find shallow bugs in a couple of seconds.
const DEFAULT_PROPTEST_CASES: u32 = 256;

/// The real components integration tests start; without them those tests are skipped (and
/// reported here), unless [`REQUIRE_COMPONENTS`] is set, as `ci` does.
const COMPONENTS: [&str; 3] = ["nginx", "caddy", "initdb"];

/// Unit, integration, property and doc tests of the whole workspace. Benches are compiled by
/// clippy in `ci` and run by `cargo xtask bench`, not here.
pub(crate) fn test(args: &[String]) -> Result<()> {
    run_tests(args, Components::SkipMissing)
}

fn run_tests(args: &[String], components: Components) -> Result<()> {
    let missing: Vec<&str> = COMPONENTS
        .into_iter()
        .filter(|program| !has_component(program))
        .collect();
    let cases = match flag_value(args, "--cases") {
        Some(n) => n.parse::<u32>().context("--cases takes a whole number")?,
        None => DEFAULT_PROPTEST_CASES,
    };
    let cases = cases.to_string();
    let test_cargo = || {
        let mut cmd = cargo();
        cmd.env("PROPTEST_CASES", &cases);
        if components == Components::Required {
            cmd.env(REQUIRE_COMPONENTS, "1");
        }
        cmd
    };
    if has_program("cargo-nextest", &["nextest", "--version"]) {
        run(test_cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--lib",
            "--bins",
            "--tests",
            "--no-fail-fast",
        ]))?;
    } else {
        run(test_cargo().args(["test", "--workspace", "--lib", "--bins", "--tests"]))?;
    }
    // nextest does not run doc tests; cargo test does them separately either way.
    run(test_cargo().args(["test", "--workspace", "--doc"]))?;
    // The browser client: node's test runner, then headless Chromium against `keygate serve`.
    crate::browser::test(components)?;
    if !missing.is_empty() {
        eprintln!(
            "note: the tests that start {} were skipped: not installed (`apt-get install {}`; .ci/run installs them)",
            missing.join(" and "),
            missing
                .iter()
                .map(|program| if *program == "initdb" {
                    "postgresql"
                } else {
                    program
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}

/// Whether `program` is on `PATH` or in the sbin directories Debian installs daemons to.
fn has_component(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Debian's PostgreSQL server binaries (initdb, pg_ctl) are in /usr/lib/postgresql/<v>/bin.
    let postgres_dirs = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"));
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(std::path::PathBuf::from))
        .chain(postgres_dirs)
        .any(|dir| dir.join(program).is_file())
}

/// Everything CI checks, in order of cost.
pub(crate) fn ci(args: &[String]) -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // An embedder who wants only the layer turns the optional parts off: that must build alone.
    run(cargo().args([
        "clippy",
        "--package",
        "server-middleware",
        "--no-default-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    // CI installs every component (.ci/run): a missing one is a failure there, not a skip.
    run_tests(args, Components::Required)?;
    crate::fuzz::smoke()
}
