//! Running the real `keygate` binary from tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The binary under test, with a clean environment (no MOOSE_* leaks in from the developer's shell).
pub(crate) fn keygate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MOOSE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Runs `cmd` with `stdin` as standard input.
pub(crate) fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keygate starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("keygate finishes")
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    run_with_stdin(cmd, "")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}
