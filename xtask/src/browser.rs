//! The browser client's tests (`clients/browser`), run by `cargo xtask test` after the cargo tests.
//!
//! - Unit tests (`node --test`, no network, no browser) when `node` is installed.
//! - The end-to-end test in headless Chromium against the real `keygate serve` when `chromium`
//!   and `clients/browser/node_modules/puppeteer-core` (`npm ci --prefix clients/browser`) are
//!   there; `keygate` is built first and passed as `KEYGATE_BIN`.
//!
//! What is missing is skipped with a note, except under [`Components::Required`]
//! (`cargo xtask ci`), where it is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{Components, REQUIRE_COMPONENTS, cargo, has_program, run, workspace_root};

/// The end-to-end test file; every other `test/*.test.mjs` is a unit test.
const E2E_TEST: &str = "e2e.test.mjs";

/// Runs the browser client's tests; see the module docs.
pub(crate) fn test(components: Components) -> Result<()> {
    let dir = workspace_root().join("clients/browser");
    if !has_program("node", &["--version"]) {
        return missing(
            components,
            "the browser client's tests",
            "node",
            "apt-get install nodejs npm",
        );
    }
    let unit = unit_tests(&dir)?;
    run(node(&dir).arg("--test").args(&unit))?;

    let chromium = chromium();
    let puppeteer = dir.join("node_modules/puppeteer-core").is_dir();
    let mut absent = Vec::new();
    if chromium.is_none() {
        absent.push(("chromium", "apt-get install chromium"));
    }
    if !puppeteer {
        absent.push(("puppeteer-core", "npm ci --prefix clients/browser"));
    }
    if !absent.is_empty() {
        let what: Vec<&str> = absent.iter().map(|(name, _)| *name).collect();
        let how: Vec<&str> = absent.iter().map(|(_, how)| *how).collect();
        return missing(
            components,
            "the browser end-to-end test",
            &what.join(" and "),
            &how.join("; "),
        );
    }
    let keygate = build_keygate()?;
    let mut e2e = node(&dir);
    e2e.args(["--test", &format!("test/{E2E_TEST}")])
        .env("KEYGATE_BIN", &keygate)
        .env("CHROMIUM_BIN", chromium.unwrap_or_default());
    if components == Components::Required {
        e2e.env(REQUIRE_COMPONENTS, "1");
    }
    run(&mut e2e)
}

/// A missing component: a note, or under [`Components::Required`] an error.
fn missing(components: Components, tests: &str, what: &str, install: &str) -> Result<()> {
    if components == Components::Required {
        bail!(
            "{tests}: {what} is required but not installed (install with `{install}`; .ci/run does)"
        );
    }
    eprintln!(
        "note: {tests} skipped: {what} not installed (install with `{install}`; .ci/run does)"
    );
    Ok(())
}

fn node(dir: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(dir);
    cmd
}

/// `test/*.test.mjs` but the end-to-end test, sorted, relative to `dir`.
fn unit_tests(dir: &Path) -> Result<Vec<String>> {
    let test_dir = dir.join("test");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&test_dir)
        .with_context(|| format!("could not list {}", test_dir.display()))?
    {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".test.mjs") && name != E2E_TEST {
            files.push(format!("test/{name}"));
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no unit tests in {}", test_dir.display());
    }
    Ok(files)
}

/// `CHROMIUM_BIN`, else Debian's `/usr/bin/chromium`, else `chromium` on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/bin"))
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// Builds the `keygate` binary and returns its path (wherever `CARGO_TARGET_DIR` puts it).
fn build_keygate() -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--package",
        "keygate",
        "--bin",
        "keygate",
        "--message-format=json-render-diagnostics",
    ])
    .stdout(Stdio::piped());
    eprintln!("$ cargo build --package keygate --bin keygate");
    let output = cmd
        .spawn()
        .context("could not start cargo build")?
        .wait_with_output()?;
    if !output.status.success() {
        bail!(
            "cargo build --package keygate failed with {}",
            output.status
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message.get("reason").and_then(|r| r.as_str()) == Some("compiler-artifact")
                && message.pointer("/target/name").and_then(|n| n.as_str()) == Some("keygate")
        })
        .find_map(|message| {
            message
                .get("executable")
                .and_then(|e| e.as_str())
                .map(PathBuf::from)
        })
        .context("cargo build did not report the keygate executable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_tests_are_every_test_file_but_the_end_to_end_one() {
        let dir = workspace_root().join("clients/browser");
        let found = unit_tests(&dir).unwrap();
        for expected in [
            "test/authenticator.test.mjs",
            "test/backend.test.mjs",
            "test/cache.test.mjs",
        ] {
            assert!(
                found.iter().any(|f| f == expected),
                "{expected} in {found:?}"
            );
        }
        assert!(!found.iter().any(|f| f.ends_with(E2E_TEST)), "{found:?}");
        assert!(dir.join("test").join(E2E_TEST).is_file());
    }
}
