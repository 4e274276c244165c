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

/// A running `keygate serve`; killed on drop.
pub(crate) struct Server {
    pub(crate) child: std::process::Child,
    pub(crate) base: String,
    /// Everything the server printed on stdout up to and including the listening line.
    pub(crate) banner: String,
}

impl Server {
    /// Starts `cmd` (a `keygate serve ... --listen 127.0.0.1:0`) and waits for its address.
    pub(crate) fn start(cmd: &mut Command) -> Server {
        use std::io::BufRead;
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                banner.push_str(&line);
                banner.push('\n');
                if line.contains("Stop with Ctrl-C") || line.starts_with("keygate is listening on")
                {
                    let _ = tx.send(banner.clone());
                }
            }
        });
        let banner = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(banner) => banner,
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "serve did not start: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        };
        let base = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .expect("the address is printed")
            .to_owned();
        Server {
            child,
            base,
            banner,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status (graceful shutdown).
    #[cfg(unix)]
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `keygate serve --listen 127.0.0.1:0` in an empty working directory.
pub(crate) fn serve(dir: &std::path::Path) -> Command {
    let mut cmd = keygate();
    cmd.current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    cmd
}
