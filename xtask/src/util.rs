//! Small helpers shared by the xtask commands.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), PathBuf::from)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (a relative one is taken from the
/// workspace root, where [`cargo`] runs), else `<workspace>/target`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(
            || workspace_root().join("target"),
            |dir| workspace_root().join(dir),
        )
}

/// CPU model, core count and compiler: the context a reader needs to compare numbers.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {rustc}")
}

/// A `cargo` command run from the workspace root.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Runs `cmd`, echoing it first; fails when it exits non-zero.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", display(cmd));
    }
    Ok(())
}

/// Whether a program answers `--version` (is installed).
pub(crate) fn has_program(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian `packages` with apt-get (running `apt-get update` first if the plain install
/// fails, as on a fresh machine); `what` names them in the error.
pub(crate) fn apt_install(packages: &[&str], what: &str) -> Result<()> {
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages))
    };
    install()
        .or_else(|_| {
            run(Command::new("apt-get").args(["update", "-qq"]))?;
            install()
        })
        .with_context(|| {
            format!(
                "could not install {what} (try `apt-get install {}`)",
                packages.join(" ")
            )
        })
}

fn display(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Value of `--name VALUE` in `args`.
pub(crate) fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The first argument that is neither a flag nor the value of one of `flags_with_values`.
pub(crate) fn positional<'a>(args: &'a [String], flags_with_values: &[&str]) -> Option<&'a str> {
    let mut skip_next = false;
    for arg in args {
        if skip_next {
            skip_next = false;
        } else if flags_with_values.contains(&arg.as_str()) {
            skip_next = true;
        } else if !arg.starts_with("--") {
            return Some(arg);
        }
    }
    None
}

/// The variable the tests read (crates/cli/tests/support, clients/browser/test): set, a missing
/// component fails them.
pub(crate) const REQUIRE_COMPONENTS: &str = "KEYGATE_REQUIRE_COMPONENTS";

/// What the tests do when a real component is not installed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Components {
    SkipMissing,
    Required,
}
