//! Running the real `keygate` binary from tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

pub(crate) mod net;
pub(crate) mod postgres;
pub(crate) mod proxies;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

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
    /// Everything it has printed on stderr (its logs) so far; read continuously, so the pipe
    /// never fills and blocks the server.
    logs: Arc<Mutex<String>>,
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
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut logs = sink.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
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
                let _ = child.wait();
                std::thread::sleep(std::time::Duration::from_millis(200));
                panic!("serve did not start: {}", logs.lock().expect("logs"));
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
            logs,
        }
    }

    /// The server's logs so far.
    pub(crate) fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    /// The gateway's socket address.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        net::addr_of(&self.base)
    }

    /// Sends `signal` (e.g. `HUP`) to the server.
    #[cfg(unix)]
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status (graceful shutdown).
    #[cfg(unix)]
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.wait_for_exit(std::time::Duration::from_secs(10))
            .expect("serve stops on SIGTERM")
    }

    /// The exit status once the process ends, or `None` if it is still running after `bound`.
    pub(crate) fn wait_for_exit(
        &mut self,
        bound: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + bound;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
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

/// Set by `cargo xtask ci` (and so by `.ci/run`, which installs every component first): a missing
/// component fails the test instead of skipping it.
pub(crate) const REQUIRE_COMPONENTS: &str = "KEYGATE_REQUIRE_COMPONENTS";

/// The path of a real component a test starts (`nginx`, `caddy`), searched on `PATH` and in the
/// sbin directories Debian installs daemons to. When it is missing the test is skipped with a note
/// on stderr, unless [`REQUIRE_COMPONENTS`] is set, which makes it fail.
pub(crate) fn component(program: &str) -> Option<std::path::PathBuf> {
    component_from(program, program)
}

/// [`component`] for a program that Debian's package `package` installs (PostgreSQL's `initdb`
/// and `pg_ctl` live in `/usr/lib/postgresql/<version>/bin`, searched too, newest first).
pub(crate) fn component_from(program: &str, package: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut postgres_dirs: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .collect();
    postgres_dirs.sort();
    postgres_dirs.reverse();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(std::path::PathBuf::from))
        .chain(postgres_dirs)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os(REQUIRE_COMPONENTS).is_none(),
            "{program} is required ({REQUIRE_COMPONENTS} is set) but not installed: apt-get install {package}"
        );
        eprintln!(
            "SKIPPED: {program} is not installed (apt-get install {package}; .ci/run installs it)"
        );
    }
    found
}
