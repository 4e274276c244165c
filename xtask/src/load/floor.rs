//! The floor (`xtask/hyper-floor`, the release build): `keygate serve`'s server, runtime and
//! upstream pool without anything keygate adds, in front of the nginx upstream; killed on drop.
//! keygate's distance from it is keygate's own cost; the floor's distance from nginx is the
//! stack's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use super::process;

/// One `hyper-floor` process.
#[derive(Debug)]
pub(super) struct Floor {
    child: Child,
    pub(super) addr: SocketAddr,
}

impl Floor {
    /// Starts `binary <free port> <upstream>` and waits until it proxies a request. Its output
    /// goes to `<work>/hyper-floor.log`.
    pub(super) fn start(binary: &Path, upstream: SocketAddr, work: &Path) -> Result<Self> {
        let addr = process::free_port()?;
        let log: PathBuf = work.join("hyper-floor.log");
        let mut child = Command::new(binary)
            .arg(addr.to_string())
            .arg(upstream.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("could not start hyper-floor")?;
        let ready = process::wait_until(&mut child, "hyper-floor", Duration::from_secs(10), || {
            process::answers_200(addr, "/")
        });
        let floor = Self { child, addr };
        ready.with_context(|| format!("hyper-floor: {}", process::log_tail(&log, 5)))?;
        Ok(floor)
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        process::stop(&mut self.child, Duration::from_secs(3));
    }
}
