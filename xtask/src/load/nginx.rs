//! nginx, twice: the fast upstream every target ends at, and the baseline a gateway is compared
//! with (a plain reverse proxy of that upstream, no authentication). Both are Debian's nginx,
//! started in the foreground with their own configuration in the run's temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use super::process;
use crate::util::{apt_install, has_program};

/// What both configurations share: placeholders `@DIR@` (the run's directory), `@NAME@` (the
/// instance) and `@WORKERS@` are filled in by [`Nginx::start`].
///
/// - `worker_processes`: set per instance (see the constants below).
/// - `pid`, `error_log` and every temporary path point into the run's directory, so nothing
///   under `/var` is read or written and two instances never share a file.
/// - `worker_connections`: above anything the run opens to one instance.
/// - `access_log off`: a log line per request would measure the disk, not the server.
/// - `keepalive_requests`/`keepalive_timeout`: clients keep their connections for the whole
///   run (nginx's default closes one after 1 000 requests, which wrk would pay for in
///   reconnections).
const COMMON: &str = r"
worker_processes @WORKERS@;
pid @DIR@/@NAME@.pid;
error_log @DIR@/@NAME@-error.log warn;
events {
    worker_connections 16384;
}
";

/// The fast upstream: answers every request with `200 ok` from memory, no file, no proxying.
/// One worker: it is a single process (like keygate's upstream in production would be one of
/// many), and it must still be at least twice as fast as the gateway for the gateway's numbers
/// to be the gateway's (`cargo xtask load` reports the ratio).
const UPSTREAM: &str = r#"
http {
    access_log off;
    client_body_temp_path @DIR@/@NAME@-body;
    proxy_temp_path @DIR@/@NAME@-proxy;
    fastcgi_temp_path @DIR@/@NAME@-fastcgi;
    uwsgi_temp_path @DIR@/@NAME@-uwsgi;
    scgi_temp_path @DIR@/@NAME@-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    server {
        listen @LISTEN@;
        location / {
            return 200 "ok";
        }
    }
}
"#;

/// The baseline: a plain reverse proxy of the upstream, the job keygate does minus
/// authentication. As many workers as keygate has runtime threads (one per core), so both may
/// use the whole machine.
///
/// - `upstream {}` with `keepalive 32`: a pool of idle upstream connections (without it nginx
///   opens one upstream connection per request); 32 = wrk's connections.
/// - `proxy_http_version 1.1` and an empty `Connection` header: needed for that pool (nginx
///   speaks HTTP/1.0 with `Connection: close` to upstreams by default).
const PROXY: &str = r#"
http {
    access_log off;
    client_body_temp_path @DIR@/@NAME@-body;
    proxy_temp_path @DIR@/@NAME@-proxy;
    fastcgi_temp_path @DIR@/@NAME@-fastcgi;
    uwsgi_temp_path @DIR@/@NAME@-uwsgi;
    scgi_temp_path @DIR@/@NAME@-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    upstream backend {
        server @UPSTREAM@;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen @LISTEN@;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
"#;

/// The upstream's worker processes.
const UPSTREAM_WORKERS: &str = "1";
/// The proxy's: `auto` is one per core, like keygate's runtime threads.
const PROXY_WORKERS: &str = "auto";

/// An nginx master process (and its workers); stopped with SIGTERM on drop.
#[derive(Debug)]
pub(super) struct Nginx {
    child: Child,
    pub(super) addr: SocketAddr,
}

impl Nginx {
    /// The upstream (`200 ok`).
    pub(super) fn upstream(dir: &Path) -> Result<Self> {
        Self::start(dir, "upstream", UPSTREAM_WORKERS, UPSTREAM, None)
    }

    /// The reverse proxy of `upstream`.
    pub(super) fn proxy(dir: &Path, upstream: SocketAddr) -> Result<Self> {
        Self::start(dir, "proxy", PROXY_WORKERS, PROXY, Some(upstream))
    }

    fn start(
        dir: &Path,
        name: &str,
        workers: &str,
        http: &str,
        upstream: Option<SocketAddr>,
    ) -> Result<Self> {
        let addr = process::free_port()?;
        let text = format!("{COMMON}{http}")
            .replace("@DIR@", &dir.display().to_string())
            .replace("@NAME@", name)
            .replace("@WORKERS@", workers)
            .replace("@LISTEN@", &addr.to_string())
            .replace(
                "@UPSTREAM@",
                &upstream.map(|u| u.to_string()).unwrap_or_default(),
            );
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, text)?;
        let error_log = dir.join(format!("{name}-error.log"));
        let mut child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir)
            // The error log nginx writes before it has read the configuration.
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start nginx")?;
        let ready = process::wait_until(&mut child, "nginx", Duration::from_secs(10), || {
            process::answers_200(addr, "/")
        });
        let nginx = Self { child, addr };
        ready.with_context(|| {
            format!(
                "nginx ({name}) did not start: {}",
                process::log_tail(&error_log, 5)
            )
        })?;
        Ok(nginx)
    }
}

impl Nginx {
    /// The master process (its workers are its children).
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        process::stop(&mut self.child, Duration::from_secs(5));
    }
}

/// Debian installs nginx in `/usr/sbin`, which is not on every `PATH`.
fn nginx_binary() -> PathBuf {
    if has_program("nginx", &["-v"]) {
        PathBuf::from("nginx")
    } else {
        PathBuf::from("/usr/sbin/nginx")
    }
}

/// Installs Debian's nginx when it is missing. The package's service is not used.
pub(super) fn ensure_installed() -> Result<()> {
    if has_program("nginx", &["-v"]) || has_program("/usr/sbin/nginx", &["-v"]) {
        return Ok(());
    }
    eprintln!("nginx is missing; installing it from Debian's packages");
    apt_install(&["nginx"], "nginx")
}
