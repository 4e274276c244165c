//! `keygate serve` (the release build) with the run's configuration, in front of the nginx
//! upstream; killed on drop.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use super::credentials::{Credentials, JWT_ISSUER, PROJECT_ID};
use super::process::{self, Memory};

/// Writes the run's `moose.config.toml` into `work`. `[limits]` and `[cache]` keep their
/// defaults: they are what is measured.
pub(super) fn write_config(work: &Path, creds: &Credentials) -> Result<PathBuf> {
    let mut text = String::from(
        "# Written by `cargo xtask load`; every credential was made for this run.\n\
         [authentication]\nconsumption_api_keys = [\n",
    );
    let _ = writeln!(text, "  \"{}\",", creds.api_key.hash);
    // Checking a `phc` token costs one PBKDF2 run per configured `phc` key, in this order.
    for key in &creds.phc {
        let _ = writeln!(text, "  \"{}\",", key.hash);
    }
    text.push_str("]\n\n[jwt]\n");
    let _ = writeln!(text, "secret = '''\n{}'''", creds.jwt_public_pem.trim_end());
    let _ = writeln!(
        text,
        "issuer = \"{JWT_ISSUER}\"\naudience = \"{JWT_ISSUER}\"\n"
    );
    text.push_str("[token_issuer]\n");
    let _ = writeln!(
        text,
        "private_key = '''\n{}'''\n",
        creds.issuer_private_pem.trim_end()
    );
    text.push_str("[[token_issuer.projects]]\n");
    let _ = writeln!(
        text,
        "id = \"{PROJECT_ID}\"\nkey_hash = \"{}\"\n",
        creds.project_key.hash
    );
    let _ = writeln!(text, "[keys]\nstore = \"{}\"\n", creds.managed_store);
    text.push_str(
        "[server]\n\
         # Idle keep-alive connections must outlive the measurement that counts them.\n\
         keep_alive_timeout_seconds = 600\n\
         # Nothing to drain at the end of a run.\n\
         shutdown_timeout_seconds = 1\n",
    );
    let path = work.join("moose.config.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One `keygate serve` process.
#[derive(Debug)]
pub(super) struct Gateway {
    child: Child,
    pub(super) addr: SocketAddr,
    log: PathBuf,
}

impl Gateway {
    /// Starts `keygate serve --config config --upstream http://upstream` on a free port and
    /// waits for `/health`. Its log (`RUST_LOG=warn`) goes to `<work>/<name>.log`.
    pub(super) fn start(
        name: &str,
        keygate: &Path,
        config: &Path,
        upstream: SocketAddr,
        work: &Path,
    ) -> Result<Self> {
        let addr = process::free_port()?;
        let log = work.join(format!("{name}.log"));
        let mut cmd = Command::new(keygate);
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .args(["--upstream", &format!("http://{upstream}")])
            .env("RUST_LOG", "warn")
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        // The configuration is the file alone: MOOSE_* variables of the caller would override it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MOOSE_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().context("could not start keygate serve")?;
        let ready =
            process::wait_until(&mut child, "keygate serve", Duration::from_secs(30), || {
                process::answers_200(addr, "/health")
            });
        let gateway = Self { child, addr, log };
        ready.with_context(|| format!("keygate: {}", process::log_tail(&gateway.log, 10)))?;
        Ok(gateway)
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(super) fn memory(&self) -> Result<Memory> {
        process::memory(self.pid())
    }

    /// Fails, with the end of its log, when the process has exited.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            anyhow::bail!(
                "keygate exited ({status}): {}",
                process::log_tail(&self.log, 10)
            );
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        process::stop(&mut self.child, Duration::from_secs(3));
    }
}

/// The warnings and errors a keygate log (`RUST_LOG=warn`) holds, counted by message.
pub(super) fn log_summary(log: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in text.lines() {
        // tracing's default format: `<time>  WARN <target>: <message> <key=value fields>`.
        let mut words = line.split_whitespace();
        let (_time, level, _target) = (words.next(), words.next(), words.next());
        let words: Vec<&str> = words.take_while(|w| !w.contains('=')).collect();
        if words.is_empty() {
            continue;
        }
        let message = format!("{} {}", level.unwrap_or_default(), words.join(" "));
        match seen.iter_mut().find(|(m, _)| *m == message) {
            Some((_, count)) => *count += 1,
            None => seen.push((message, 1)),
        }
    }
    seen
}
