//! Child processes and what `/proc` says about them: resident memory, open descriptors, the
//! open-file limit; stopping a child; raising this process's own open-file limit.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::report::count_f64;

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Memory {
    /// `VmRSS`: resident now.
    pub(super) rss_kib: u64,
    /// `VmHWM`: the peak of `VmRSS` over the process's life.
    pub(super) hwm_kib: u64,
}

/// `VmRSS` and `VmHWM` of `pid`.
pub(super) fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("could not read /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("/proc/{pid}/status has no {name}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Open file descriptors of `pid` (sockets included).
pub(super) fn open_descriptors(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("could not list /proc/{pid}/fd"))?
        .count())
}

/// The soft open-file limit of `pid` (`Max open files` in `/proc/<pid>/limits`).
pub(super) fn open_file_limit(pid: u32) -> Result<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .with_context(|| format!("could not read /proc/{pid}/limits"))?;
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .context("no open-file limit in /proc/<pid>/limits")
}

/// Raises this process's soft open-file limit to its hard limit (10 000 idle connections need
/// 10 000 descriptors here too); returns the limit now in force.
pub(super) fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), maximum) = (limit.current, limit.maximum)
        && maximum.is_none_or(|maximum| current < maximum)
    {
        let raised = Rlimit {
            current: maximum.or(Some(1 << 20)),
            maximum,
        };
        let _ = setrlimit(Resource::Nofile, raised);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Sends SIGTERM to `child`, waits up to `grace` for it to exit, then kills it. nginx's master
/// process must get SIGTERM (not SIGKILL), or its workers outlive it.
pub(super) fn stop(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free port on 127.0.0.1 (bound and released at once; the caller binds it next).
pub(super) fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Polls `ready` every 50 ms until it holds, `child` exits, or `limit` passes.
pub(super) fn wait_until(
    child: &mut Child,
    what: &str,
    limit: Duration,
    ready: impl Fn() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("{what} exited during start-up ({status})");
        }
        if Instant::now() > deadline {
            anyhow::bail!("{what} did not become ready within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A one-shot readiness probe (not the load generator): does `GET path` answer 200?
pub(super) fn answers_200(addr: SocketAddr, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// The last `lines` lines of a log file, for an error message.
pub(super) fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

/// CPU time of the machine and of this process tree at one moment, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cpu {
    /// All CPUs: every state (the machine's capacity so far).
    total: u64,
    /// All CPUs: time not idle and not waiting for I/O, steal excluded.
    busy: u64,
    /// Time the hypervisor gave to other virtual machines.
    steal: u64,
    /// This process, its children that have exited, and its live descendants.
    own: u64,
}

impl Cpu {
    /// Reads `/proc/stat` and the `/proc/<pid>/stat` of this process tree.
    pub(super) fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .find(|l| l.starts_with("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let steal = field(7);
        Self {
            total: fields.iter().take(8).sum(),
            busy: field(0) + field(1) + field(2) + field(5) + field(6),
            steal,
            own: own_tree_ticks(),
        }
    }

    /// What happened since `start`: (share of the machine's CPU used by processes outside
    /// this run, share taken by steal).
    pub(super) fn others_since(&self, start: &Cpu) -> (f64, f64) {
        let share = |ticks: u64| {
            count_f64(ticks) / count_f64(self.total.saturating_sub(start.total).max(1))
        };
        let busy = self.busy.saturating_sub(start.busy);
        let own = self.own.saturating_sub(start.own);
        (
            share(busy.saturating_sub(own)),
            share(self.steal.saturating_sub(start.steal)),
        )
    }
}

/// CPU ticks of this process (with its waited-for children) and of its live descendants.
fn own_tree_ticks() -> u64 {
    tree_ticks(std::process::id())
}

/// CPU time used so far by `root` (with its waited-for children) and its live descendants
/// (nginx's workers are its master's children).
pub(super) fn tree_cpu(root: u32) -> Duration {
    let ticks_per_second = rustix::param::clock_ticks_per_second().max(1);
    let ticks = tree_ticks(root);
    Duration::from_secs(ticks / ticks_per_second)
        + Duration::from_nanos((ticks % ticks_per_second) * 1_000_000_000 / ticks_per_second)
}

fn tree_ticks(root: u32) -> u64 {
    let mut processes = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, ticks)) = stat_ticks(pid) {
                processes.push((pid, ppid, ticks));
            }
        }
    }
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid, _) in &processes {
            if tree.contains(ppid) && !tree.contains(pid) {
                tree.push(*pid);
                grew = true;
            }
        }
    }
    processes
        .iter()
        .filter(|(pid, _, _)| tree.contains(pid))
        .map(|(_, _, ticks)| ticks)
        .sum()
}

/// (parent pid, utime + stime + cutime + cstime) of `pid`.
fn stat_ticks(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may contain spaces: count fields after the last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // Fields 4 (ppid) and 14–17 (utime, stime, cutime, cstime), counted from 1 with the pid.
    let ppid = u32::try_from(number(1)?).ok()?;
    Some((ppid, number(11)? + number(12)? + number(13)? + number(14)?))
}
