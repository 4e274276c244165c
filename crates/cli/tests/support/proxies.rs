//! Real reverse proxies (Debian's nginx and Caddy) started on 127.0.0.1 in a temporary
//! directory, for the forward-auth tests; stopped on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound and released: the proxy binds it a moment later).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A proxy process; killed on drop.
pub(crate) struct Proxy {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: PathBuf,
}

impl Proxy {
    /// Everything the proxy logged.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `addr` accepts connections, or panics with the proxy's log.
fn wait_listening(child: &mut Child, addr: SocketAddr, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!(
        "{what} did not listen on {addr}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// nginx in the foreground with `servers` (`server { }` blocks, as pasted into an `http { }`
/// block; one listens on 127.0.0.1:`port`) in an otherwise minimal configuration.
pub(crate) fn nginx(binary: &Path, dir: &Path, servers: &str, port: u16) -> Proxy {
    let log = dir.join("nginx-error.log");
    let temp = |name: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).expect("nginx temp dir");
        path.display().to_string()
    };
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\n\
         error_log {log} info;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {body};\n  proxy_temp_path {proxy};\n\
           fastcgi_temp_path {fastcgi};\n  uwsgi_temp_path {uwsgi};\n  scgi_temp_path {scgi};\n\
           {servers}\n}}\n",
        pid = dir.join("nginx.pid").display(),
        log = log.display(),
        body = temp("body"),
        proxy = temp("proxy"),
        fastcgi = temp("fastcgi"),
        uwsgi = temp("uwsgi"),
        scgi = temp("scgi"),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).expect("write nginx.conf");
    let mut child = Command::new(binary)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(&mut child, addr, &log, "nginx");
    Proxy { child, addr, log }
}

/// Caddy (`caddy run`) with `site` (a Caddyfile site block for `http://127.0.0.1:port`), the
/// admin API and automatic HTTPS off, its state kept in `dir`.
pub(crate) fn caddy(binary: &Path, dir: &Path, site: &str, port: u16) -> Proxy {
    let log = dir.join("caddy.log");
    let caddyfile = format!("{{\n  admin off\n  auto_https off\n}}\n{site}\n");
    let path = dir.join("Caddyfile");
    std::fs::write(&path, caddyfile).expect("write Caddyfile");
    let log_file = std::fs::File::create(&log).expect("caddy log");
    let mut child = Command::new(binary)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("caddy starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(&mut child, addr, &log, "caddy");
    Proxy { child, addr, log }
}
