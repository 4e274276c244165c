//! `cargo xtask load`: a bounded load test of `keygate serve` on 127.0.0.1.
//!
//! Builds the release binary, starts a minimal upstream and the gateway in front of it, then drives
//! it with `wrk` (installed from Debian's packages when missing): an open route, an API-key route,
//! a JWT route, and valid API-key traffic beside a flood of random bad tokens. Prints req/s, p99,
//! the ratios against the goals, and the server's resident memory.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{apt_install, cargo, flag_value, has_program, run as run_cmd, workspace_root};

/// Default seconds per wrk run; every run is bounded by it.
const DEFAULT_SECONDS: u64 = 10;
const CONNECTIONS: &str = "32";
/// The flood's connections; each waits [`FLOOD_DELAY_MS`] between requests, so the flood is a
/// fixed attack rate (about 8 × 1000 / 4 = 2000 bad tokens/s) rather than "as fast as the
/// load generator can go", which on a small machine mostly measures wrk competing for CPU.
const FLOOD_CONNECTIONS: &str = "8";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let seconds = match flag_value(args, "--time") {
        Some(s) => s.parse().context("--time takes whole seconds")?,
        None => DEFAULT_SECONDS,
    };
    ensure_wrk()?;
    run_cmd(cargo().args(["build", "--release", "-p", "keygate"]))?;
    let keygate = workspace_root().join("target/release/keygate");
    let work = tempdir()?;
    let creds = Credentials::create(&keygate, &work)?;
    let upstream = upstream::start()?;
    let server = Gateway::start(&keygate, &creds, upstream)?;
    let base = format!("http://{}", server.addr);

    let duration = format!("{seconds}s");
    let open = wrk(&format!("{base}/hello"), None, &duration, None)?;
    let api_key = wrk(
        &format!("{base}/api/load"),
        Some(&creds.api_key),
        &duration,
        None,
    )?;
    let jwt = wrk(
        &format!("{base}/ingest/load"),
        Some(&creds.jwt),
        &duration,
        None,
    )?;
    let flood_script = work.join("flood.lua");
    std::fs::write(&flood_script, FLOOD_LUA)?;
    let (during_flood, flood) = std::thread::scope(|scope| {
        let flood = scope.spawn(|| {
            wrk(
                &format!("{base}/api/load"),
                None,
                &duration,
                Some(&flood_script),
            )
        });
        let valid = wrk(
            &format!("{base}/api/load"),
            Some(&creds.api_key),
            &duration,
            None,
        );
        (valid, flood.join())
    });
    let during_flood = during_flood?;
    let flood = flood.map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;
    let rss = server.memory_kib()?;
    drop(server);

    println!("\n| run | req/s | p99 | non-2xx |");
    println!("|---|---:|---:|---:|");
    for (name, r) in [
        ("open route", &open),
        ("API key (cached)", &api_key),
        ("JWT (cached)", &jwt),
        ("API key during flood", &during_flood),
        ("flood of bad tokens", &flood),
    ] {
        println!("| {name} | {:.0} | {} | {} |", r.rate, r.p99, r.non_2xx);
    }
    let ratio = |a: &WrkResult, b: &WrkResult| a.rate / b.rate.max(1.0);
    println!(
        "\nAPI key / open: {:.2} (goal >= 0.90)",
        ratio(&api_key, &open)
    );
    println!("JWT / open: {:.2} (goal >= 0.90)", ratio(&jwt, &open));
    println!(
        "valid during flood / alone: {:.2} (goal >= 0.80)",
        ratio(&during_flood, &api_key)
    );
    println!(
        "server memory: VmRSS {} KiB, peak VmHWM {} KiB",
        rss.0, rss.1
    );
    for (name, r) in [
        ("open", &open),
        ("API key", &api_key),
        ("JWT", &jwt),
        ("during flood", &during_flood),
    ] {
        if r.non_2xx > 0 {
            bail!(
                "{name} run saw {} non-2xx responses: valid traffic must all succeed",
                r.non_2xx
            );
        }
    }
    if flood.requests > 0 && flood.non_2xx == 0 {
        bail!("the flood of random tokens was accepted: every one must be refused");
    }
    Ok(())
}

/// Random bad bearer tokens in the `moose` shape (so each one costs the server a PBKDF2 run), a
/// new one per request, paced by `delay`.
const FLOOD_LUA: &str = r#"
math.randomseed(os.time())
delay = function() return 4 end
local chars = "0123456789abcdef"
request = function()
  local t = {}
  for i = 1, 65 do
    if i == 33 then t[i] = "." else
      local n = math.random(1, 16); t[i] = chars:sub(n, n) end
  end
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. table.concat(t) })
end
"#;

fn ensure_wrk() -> Result<()> {
    if has_program("wrk", &["--version"]) || Command::new("wrk").output().is_ok() {
        return Ok(());
    }
    eprintln!("wrk is missing; installing it from Debian's packages");
    apt_install(&["wrk"], "wrk")
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("keygate-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Credentials made with the binary under test, as an operator would.
struct Credentials {
    api_key_hash: String,
    api_key: String,
    public_pem: String,
    jwt: String,
}

impl Credentials {
    fn create(keygate: &Path, work: &Path) -> Result<Self> {
        let json: serde_json::Value =
            serde_json::from_str(&output(Command::new(keygate).args([
                "generate",
                "hash-token",
                "--json",
            ]))?)?;
        let text = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .context("unexpected JSON")
        };
        let keys = work.join("keys");
        output(
            Command::new(keygate)
                .args(["jwt", "keygen", "--force", "--out"])
                .arg(&keys),
        )?;
        let jwt = output(
            Command::new(keygate)
                .args([
                    "jwt", "sign", "--iss", "load", "--aud", "load", "--sub", "load", "--key",
                ])
                .arg(keys.join("private.pem")),
        )?;
        Ok(Self {
            api_key_hash: text("api_key_hash")?,
            api_key: text("bearer_token")?,
            public_pem: std::fs::read_to_string(keys.join("public.pem"))?,
            jwt: jwt.trim().to_owned(),
        })
    }
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().context("could not run keygate")?;
    if !out.status.success() {
        bail!("keygate failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The gateway process; killed on drop.
struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    fn start(keygate: &Path, creds: &Credentials, upstream: SocketAddr) -> Result<Self> {
        let addr = free_port()?;
        let child = Command::new(keygate)
            .args([
                "serve",
                "--listen",
                &addr.to_string(),
                "--upstream",
                &format!("http://{upstream}"),
            ])
            .env("MOOSE_CONSUMPTION_API_KEY", &creds.api_key_hash)
            .env("MOOSE_JWT_PUBLIC_KEY", &creds.public_pem)
            .env("MOOSE_JWT_ISSUER", "load")
            .env("MOOSE_JWT_AUDIENCE", "load")
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .spawn()
            .context("could not start keygate serve")?;
        let gateway = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !health_ok(addr) {
            if Instant::now() > deadline {
                bail!("keygate serve did not answer /health within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(gateway)
    }

    /// (current VmRSS, peak VmHWM) in KiB.
    fn memory_kib(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A one-shot readiness probe (not an HTTP client): does `/health` answer 200?
fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

#[derive(Debug)]
struct WrkResult {
    rate: f64,
    p99: String,
    requests: u64,
    non_2xx: u64,
}

fn wrk(url: &str, token: Option<&str>, duration: &str, script: Option<&Path>) -> Result<WrkResult> {
    let connections = if script.is_some() {
        FLOOD_CONNECTIONS
    } else {
        CONNECTIONS
    };
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        "-c",
        connections,
        "-d",
        duration,
        "--latency",
        "--timeout",
        "5s",
    ]);
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd.arg(url).output().context("could not run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    let rate = find("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context("wrk printed no Requests/sec")?;
    let p99 = find("99%").unwrap_or_else(|| "?".into());
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let non_2xx = find("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(WrkResult {
        rate,
        p99,
        requests,
        non_2xx,
    })
}

mod upstream {
    //! The minimal upstream: answers 200 "ok" to everything, on a background runtime.

    use std::net::SocketAddr;

    use anyhow::{Context, Result};

    pub(super) fn start() -> Result<SocketAddr> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the upstream runtime")?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(|| async { "ok" });
                let _ = axum::serve(listener, app).await;
            });
        });
        Ok(addr)
    }
}
