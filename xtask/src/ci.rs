//! `cargo xtask test` and `cargo xtask ci`.

use anyhow::{Context, Result};

use crate::util::{cargo, flag_value, has_program, run};

/// Proptest cases per property in CI: enough to find shallow bugs in a couple of seconds.
const DEFAULT_PROPTEST_CASES: u32 = 256;

/// Unit, integration, property and doc tests of the whole workspace. Benches are compiled by
/// clippy in `ci` and run by `cargo xtask bench`, not here.
pub(crate) fn test(args: &[String]) -> Result<()> {
    let cases = match flag_value(args, "--cases") {
        Some(n) => n.parse::<u32>().context("--cases takes a whole number")?,
        None => DEFAULT_PROPTEST_CASES,
    };
    let cases = cases.to_string();
    if has_program("cargo-nextest", &["nextest", "--version"]) {
        run(cargo()
            .args([
                "nextest",
                "run",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
                "--no-fail-fast",
            ])
            .env("PROPTEST_CASES", &cases))?;
    } else {
        run(cargo()
            .args(["test", "--workspace", "--lib", "--bins", "--tests"])
            .env("PROPTEST_CASES", &cases))?;
    }
    // nextest does not run doc tests; cargo test does them separately either way.
    run(cargo()
        .args(["test", "--workspace", "--doc"])
        .env("PROPTEST_CASES", &cases))
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
    test(args)?;
    crate::fuzz::smoke()
}
