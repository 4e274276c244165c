//! The load generator: HTTP/1.1 over raw tokio sockets, each bound to a chosen source address
//! on 127.0.0.0/8 before it connects (wrk cannot choose one, and keygate keeps its failure
//! budgets per client address). Connections are kept alive and reopened when the server closes
//! them. Every run is bounded: floods by time (and a stop flag), spreads by count and time.
//!
//! Each blocking entry point runs its own current-thread runtime, so the generator uses one
//! core at most, like `wrk -t1`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::http::{self, Body};
use super::report::count_f64;

/// Longest wait for a connection to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one response (a first use of a `phc` key among many costs seconds).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the request bytes of each request (floods make a new token per request).
pub(super) type MakeRequest = Arc<dyn Fn(&mut Rng) -> Vec<u8> + Send + Sync>;

/// One keep-alive client connection.
#[derive(Debug)]
pub(super) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// What one exchange returned.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    pub(super) status: u16,
    /// The server closes the connection after this response.
    pub(super) close: bool,
}

impl Conn {
    /// Connects to `target` from `source` (any port).
    pub(super) async fn open(source: IpAddr, target: SocketAddr) -> Result<Self> {
        let socket = TcpSocket::new_v4().context("could not create a socket")?;
        // Lets the kernel hand out ports whose earlier connections are in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket
            .bind(SocketAddr::new(source, 0))
            .with_context(|| format!("could not bind {source}"))?;
        let stream = timeout(CONNECT_TIMEOUT, socket.connect(target))
            .await
            .context("connecting timed out")?
            .with_context(|| format!("could not connect to {target} from {source}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(1024),
        })
    }

    /// Sends `request` and reads its whole response.
    pub(super) async fn exchange(&mut self, request: &[u8]) -> Result<Reply> {
        timeout(EXCHANGE_TIMEOUT, self.exchange_unbounded(request))
            .await
            .context("no response within 30 s")?
    }

    async fn exchange_unbounded(&mut self, request: &[u8]) -> Result<Reply> {
        self.stream.write_all(request).await?;
        let head = loop {
            if let Some((head, len)) = http::parse_head(&self.buf)? {
                self.buf.drain(..len);
                break head;
            }
            self.fill().await?;
        };
        match head.body {
            Body::Length(len) => {
                while self.buf.len() < len {
                    self.fill().await?;
                }
                self.buf.drain(..len);
            }
            Body::Chunked => loop {
                if let Some(len) = http::chunked_len(&self.buf)? {
                    self.buf.drain(..len);
                    break;
                }
                self.fill().await?;
            },
            Body::UntilClose => {
                while self.read_more().await? > 0 {}
                self.buf.clear();
            }
        }
        Ok(Reply {
            status: head.status,
            close: head.close,
        })
    }

    async fn read_more(&mut self) -> Result<usize> {
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk).await?;
        self.buf
            .extend_from_slice(chunk.get(..read).unwrap_or_default());
        Ok(read)
    }

    async fn fill(&mut self) -> Result<()> {
        if self.read_more().await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// Responses by status code, failed attempts, and the time they took.
#[derive(Debug, Default, Clone)]
pub(super) struct Counts {
    pub(super) statuses: BTreeMap<u16, u64>,
    /// Attempts that got no response (connect, read or write errors, timeouts).
    pub(super) errors: u64,
    pub(super) elapsed: Duration,
}

impl Counts {
    fn record(&mut self, status: u16) {
        *self.statuses.entry(status).or_insert(0) += 1;
    }

    pub(super) fn merge(&mut self, other: &Counts) {
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_insert(0) += count;
        }
        self.errors += other.errors;
    }

    /// Responses received.
    pub(super) fn responses(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Responses whose status satisfies `which`.
    pub(super) fn with(&self, which: impl Fn(u16) -> bool) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| which(**status))
            .map(|(_, count)| count)
            .sum()
    }

    /// Responses per second.
    pub(super) fn rate(&self) -> f64 {
        count_f64(self.responses()) / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `401: 30, 429: 123 456` (and the errors, if any).
    pub(super) fn describe(&self) -> String {
        let mut text = String::new();
        for (status, count) in &self.statuses {
            if !text.is_empty() {
                text.push_str(", ");
            }
            let _ = write!(text, "{status}: {}", super::report::thousands(*count));
        }
        if self.errors > 0 || text.is_empty() {
            if !text.is_empty() {
                text.push_str(", ");
            }
            let _ = write!(
                text,
                "no response: {}",
                super::report::thousands(self.errors)
            );
        }
        text
    }
}

/// A flood: `connections` keep-alive connections from `source`, each sending requests back to
/// back (unpaced) until `max_time` has passed or `stop` is set.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flood {
    pub(super) target: SocketAddr,
    pub(super) source: IpAddr,
    pub(super) connections: usize,
    pub(super) max_time: Duration,
}

/// Runs `flood` (blocking) with requests from `make`.
pub(super) fn flood(flood: Flood, make: &MakeRequest, stop: &Arc<AtomicBool>) -> Result<Counts> {
    runtime()?.block_on(async {
        let started = Instant::now();
        let deadline = started + flood.max_time;
        let mut workers = JoinSet::new();
        for worker in 0..flood.connections {
            let (make, stop) = (Arc::clone(make), Arc::clone(stop));
            workers.spawn(async move {
                let mut rng = Rng::seeded(worker as u64);
                let mut counts = Counts::default();
                let mut conn = None;
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    let request = make(&mut rng);
                    if let Err(()) =
                        attempt(&mut conn, flood.source, flood.target, &request, &mut counts).await
                    {
                        // Not a hot loop when the server refuses connections.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                counts
            });
        }
        let mut total = Counts::default();
        while let Some(counts) = workers.join_next().await {
            total.merge(&counts.context("a flood connection panicked")?);
        }
        total.elapsed = started.elapsed();
        Ok(total)
    })
}

/// One request on `conn` (opened from `source` first when there is none); records the status or
/// the error in `counts` and keeps the connection for the next request when the server does.
async fn attempt(
    conn: &mut Option<Conn>,
    source: IpAddr,
    target: SocketAddr,
    request: &[u8],
    counts: &mut Counts,
) -> Result<(), ()> {
    let mut open = match conn.take() {
        Some(open) => open,
        None => match Conn::open(source, target).await {
            Ok(open) => open,
            Err(_) => {
                counts.errors += 1;
                return Err(());
            }
        },
    };
    match open.exchange(request).await {
        Ok(reply) => {
            counts.record(reply.status);
            if !reply.close {
                *conn = Some(open);
            }
            Ok(())
        }
        Err(_) => {
            counts.errors += 1;
            Err(())
        }
    }
}

/// One request's status and latency.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timed {
    pub(super) status: u16,
    pub(super) latency: Duration,
}

/// Sends `requests` one after the other on one keep-alive connection from `source` (reopened
/// when the server closes it), `pause` apart, and times each, connection set-up excluded.
pub(super) fn sequential(
    target: SocketAddr,
    source: IpAddr,
    requests: &[Vec<u8>],
    pause: Duration,
) -> Result<Vec<Timed>> {
    runtime()?.block_on(async {
        let mut conn: Option<Conn> = None;
        let mut timed = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let mut open = match conn.take() {
                Some(open) => open,
                None => Conn::open(source, target).await?,
            };
            let started = Instant::now();
            let reply = open.exchange(request).await?;
            timed.push(Timed {
                status: reply.status,
                latency: started.elapsed(),
            });
            if !reply.close {
                conn = Some(open);
            }
        }
        Ok(timed)
    })
}

/// Paced traffic, the same offered load for every server it is pointed at: `connections`
/// keep-alive connections from `source`, `rate` requests a second in all, for `duration`.
/// Each connection has its own schedule (one request every `connections / rate`, the
/// connections' schedules spread evenly over that interval) and sends when a request is due.
///
/// A request is timed from its send, unless the server held it up: then it is sent at once and
/// timed from when it would have gone out, so a server that stalls is charged for every request
/// it held up, not only for the ones in flight (the coordinated omission a closed-loop driver
/// such as wrk has). The timer's lateness (tokio's timer wheel wakes on whole milliseconds) is the
/// generator's own and never charged ([`Schedule`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Paced {
    pub(super) target: SocketAddr,
    pub(super) source: IpAddr,
    pub(super) connections: usize,
    pub(super) rate: f64,
    pub(super) duration: Duration,
}

/// What a paced run measured.
#[derive(Debug, Clone, Default)]
pub(super) struct PacedRun {
    /// Every response's latency, in ascending order.
    pub(super) latencies: Vec<Duration>,
    pub(super) counts: Counts,
    /// Requests the server held up: their connection still waited for the previous response
    /// when they would have gone out.
    pub(super) held_up: u64,
}

impl PacedRun {
    /// The latency below which a share `quantile` (0–1) of the responses came: the nearest-rank
    /// percentile; zero when there was no response.
    pub(super) fn quantile(&self, quantile: f64) -> Duration {
        super::report::nearest_rank(&self.latencies, quantile)
    }
}

/// Runs `paced` (blocking), sending `request` each time. The connections are opened before
/// the clock starts.
pub(super) fn paced(paced: Paced, request: &[u8]) -> Result<PacedRun> {
    if paced.connections == 0 || !paced.rate.is_finite() || paced.rate <= 0.0 {
        bail!("a paced run needs connections and a positive rate");
    }
    runtime()?.block_on(async {
        let mut conns = Vec::with_capacity(paced.connections);
        for _ in 0..paced.connections {
            conns.push(Conn::open(paced.source, paced.target).await?);
        }
        let interval = Duration::from_secs_f64(count_f64(paced.connections as u64) / paced.rate);
        let started = Instant::now();
        let deadline = started + paced.duration;
        let request: Arc<[u8]> = request.into();
        let mut workers = JoinSet::new();
        for (index, conn) in conns.into_iter().enumerate() {
            let request = Arc::clone(&request);
            let first = started
                + interval.mul_f64(count_f64(index as u64) / count_f64(paced.connections as u64));
            workers.spawn(paced_connection(
                conn, paced, request, first, interval, deadline,
            ));
        }
        let mut total = PacedRun::default();
        while let Some(joined) = workers.join_next().await {
            let run = joined.context("a paced connection panicked")?;
            total.latencies.extend(run.latencies);
            total.counts.merge(&run.counts);
            total.held_up += run.held_up;
        }
        total.latencies.sort_unstable();
        total.counts.elapsed = started.elapsed();
        Ok(total)
    })
}

/// One connection's schedule in a paced run: when its requests are due, and what each is timed
/// from.
///
/// A request the connection could not send when it was due (it still waited for the previous
/// response) was held up by the server, unless the wait was the generator's: the previous
/// request went out late because the timer woke late, so its response came late too. That
/// lateness is carried to the next request's due time; only a wait past it is the server's.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    due: Instant,
    interval: Duration,
    /// How late the generator sent the request before, by its own timer.
    lateness: Duration,
}

/// What to do with the next request of a [`Schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The server held it up: send it now, timed from this instant (when it would have gone
    /// out: its due time and the generator's lateness before it).
    HeldUp(Instant),
    /// Send it at this instant (now, if that has passed) and time it from its send.
    At(Instant),
}

impl Schedule {
    fn new(first: Instant, interval: Duration) -> Self {
        Self {
            due: first,
            interval,
            lateness: Duration::ZERO,
        }
    }

    /// The next request, decided at `now` (the previous response has just come); moves the
    /// schedule on by one interval.
    fn next(&mut self, now: Instant) -> Next {
        let due = self.due;
        self.due += self.interval;
        let would_have_sent = due + self.lateness;
        if now > would_have_sent {
            Next::HeldUp(would_have_sent)
        } else {
            Next::At(due)
        }
    }

    /// Records that a request of [`Next::At`] `due` went out at `sent`.
    fn sent(&mut self, due: Instant, sent: Instant) {
        self.lateness = sent.saturating_duration_since(due);
    }
}

/// One connection of a paced run: sends on its schedule from `first`, every `interval`, until
/// `deadline`; reopens the connection when the server closes it or an exchange fails.
async fn paced_connection(
    conn: Conn,
    paced: Paced,
    request: Arc<[u8]>,
    first: Instant,
    interval: Duration,
    deadline: Instant,
) -> PacedRun {
    let mut run = PacedRun::default();
    let mut conn = Some(conn);
    let mut schedule = Schedule::new(first, interval);
    while schedule.due < deadline {
        let timed_from = match schedule.next(Instant::now()) {
            Next::HeldUp(due) => {
                run.held_up += 1;
                due
            }
            Next::At(due) => {
                tokio::time::sleep_until(due.into()).await;
                let sent = Instant::now();
                schedule.sent(due, sent);
                sent
            }
        };
        let answered = attempt(
            &mut conn,
            paced.source,
            paced.target,
            &request,
            &mut run.counts,
        )
        .await;
        if answered.is_ok() {
            run.latencies.push(timed_from.elapsed());
        }
    }
    run
}

/// Many sources, a fixed number of requests each: `connections` workers take the next source,
/// send `per_source` requests from it on keep-alive connections, and go on to the next, until
/// every source is done or `max_time` has passed.
#[derive(Debug, Clone)]
pub(super) struct Spread {
    pub(super) target: SocketAddr,
    pub(super) sources: Vec<IpAddr>,
    pub(super) per_source: u64,
    pub(super) connections: usize,
    pub(super) max_time: Duration,
}

/// Runs `spread` (blocking); the flag says whether every request was attempted in time.
pub(super) fn spread(spread: Spread, make: &MakeRequest) -> Result<(Counts, bool)> {
    runtime()?.block_on(async {
        let started = Instant::now();
        let deadline = started + spread.max_time;
        let sources = Arc::new(spread.sources);
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = JoinSet::new();
        for worker in 0..spread.connections {
            let (make, sources, next) = (Arc::clone(make), Arc::clone(&sources), Arc::clone(&next));
            let (target, per_source) = (spread.target, spread.per_source);
            workers.spawn(async move {
                let mut rng = Rng::seeded(0x5eed_0000 + worker as u64);
                let mut counts = Counts::default();
                let mut complete = true;
                while let Some(&source) = sources.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut conn = None;
                    for _ in 0..per_source {
                        if Instant::now() >= deadline {
                            complete = false;
                            return (counts, complete);
                        }
                        let request = make(&mut rng);
                        let _ = attempt(&mut conn, source, target, &request, &mut counts).await;
                    }
                }
                (counts, complete)
            });
        }
        let mut total = Counts::default();
        let mut complete = true;
        while let Some(joined) = workers.join_next().await {
            let (counts, done) = joined.context("a spread connection panicked")?;
            total.merge(&counts);
            complete &= done;
        }
        total.elapsed = started.elapsed();
        Ok((total, complete))
    })
}

/// Idle connections: `count` connections, spread over `sources` in order (`per_source` each),
/// opened `concurrency` at a time; each sends `request` once and is then left idle.
#[derive(Debug, Clone)]
pub(super) struct Hold {
    pub(super) target: SocketAddr,
    pub(super) sources: Vec<IpAddr>,
    pub(super) count: usize,
    pub(super) per_source: usize,
    pub(super) concurrency: usize,
    pub(super) request: Vec<u8>,
}

/// What opening the idle connections gave.
#[derive(Debug, Clone)]
pub(super) struct Held {
    /// Connections open after a 2xx response, not closed by the server.
    pub(super) held: usize,
    /// The responses (a 503 is the server's connection limit).
    pub(super) counts: Counts,
}

/// Opens the connections of `hold`, calls `while_held` while they are open and idle, then
/// closes them all.
pub(super) fn hold<T>(
    hold: Hold,
    while_held: impl FnOnce(&Held) -> Result<T>,
) -> Result<(Held, T)> {
    runtime()?.block_on(async {
        let started = Instant::now();
        let request = Arc::new(hold.request);
        let mut open: Vec<Conn> = Vec::with_capacity(hold.count);
        let mut counts = Counts::default();
        let indices: Vec<usize> = (0..hold.count).collect();
        for batch in indices.chunks(hold.concurrency.max(1)) {
            let mut tasks = JoinSet::new();
            for &index in batch {
                let source = hold
                    .sources
                    .get(index / hold.per_source.max(1))
                    .copied()
                    .context("too few source addresses for the idle connections")?;
                let (request, target) = (Arc::clone(&request), hold.target);
                tasks.spawn(async move {
                    let mut conn = Conn::open(source, target).await?;
                    let reply = conn.exchange(&request).await?;
                    Ok::<_, anyhow::Error>((conn, reply))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                match joined.context("an idle connection panicked")? {
                    Ok((conn, reply)) => {
                        counts.record(reply.status);
                        if (200..300).contains(&reply.status) && !reply.close {
                            open.push(conn);
                        }
                    }
                    Err(_) => counts.errors += 1,
                }
            }
        }
        counts.elapsed = started.elapsed();
        let held = Held {
            held: open.len(),
            counts,
        };
        let value = while_held(&held)?;
        drop(open);
        Ok((held, value))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the load generator's runtime")
}

/// `count` addresses `127.<second>.x.y`, with `x` from `third_from` up and `y` in 1..=254 (no
/// `.0` or `.255`), in order. Linux routes all of 127.0.0.0/8 to the loopback interface, and a
/// socket may bind any of them.
pub(super) fn loopback_addresses(second: u8, third_from: u8, count: usize) -> Result<Vec<IpAddr>> {
    let available = (256 - usize::from(third_from)) * 254;
    if count > available {
        bail!("at most {available} source addresses fit in 127.{second}.{third_from}-255.1-254");
    }
    Ok((third_from..=255)
        .flat_map(|third| (1..=254).map(move |fourth| Ipv4Addr::new(127, second, third, fourth)))
        .take(count)
        .map(IpAddr::V4)
        .collect())
}

/// A small non-cryptographic random generator (SplitMix64): flood tokens only need to be new
/// each time, not secret.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// Seeded from the clock and `salt` (each connection passes its own).
    pub(super) fn seeded(salt: u64) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        #[allow(clippy::cast_possible_truncation)]
        let now = now as u64;
        Self(now ^ salt.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` lower-case hex digits.
    pub(super) fn hex(&mut self, len: usize) -> String {
        let mut text = String::with_capacity(len);
        let mut bits = 0u64;
        for i in 0..len {
            if i.is_multiple_of(16) {
                bits = self.next_u64();
            }
            #[allow(clippy::cast_possible_truncation)]
            let digit = (bits & 0xf) as u32;
            text.push(char::from_digit(digit, 16).unwrap_or('0'));
            bits >>= 4;
        }
        text
    }
}

/// A random token of the `moose` shape (`<32 hex>.<32 hex>`): well-formed, so checking it costs
/// the server one PBKDF2 run, and new each time, so no cache can answer it.
pub(super) fn moose_shaped(rng: &mut Rng) -> String {
    format!("{}.{}", rng.hex(32), rng.hex(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moose_shaped_tokens_have_the_shape_and_differ() {
        let mut rng = Rng::seeded(1);
        let (a, b) = (moose_shaped(&mut rng), moose_shaped(&mut rng));
        assert_ne!(a, b);
        let (left, right) = a.split_once('.').unwrap();
        assert_eq!((left.len(), right.len()), (32, 32));
        assert!(
            a.bytes()
                .all(|c| c == b'.' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
    }

    #[test]
    fn loopback_addresses_skip_network_and_broadcast_octets() {
        let addresses = loopback_addresses(1, 0, 300).unwrap();
        assert_eq!(addresses[0].to_string(), "127.1.0.1");
        assert_eq!(addresses[253].to_string(), "127.1.0.254");
        assert_eq!(addresses[254].to_string(), "127.1.1.1");
        assert_eq!(
            loopback_addresses(0, 1, 254 * 255).unwrap().len(),
            254 * 255
        );
        assert!(loopback_addresses(0, 1, 254 * 255 + 1).is_err());
    }

    /// A server on 127.0.0.1 answering `200` to requests on one connection, the `stall_at`-th
    /// (from 0) only after `stall`.
    fn stalling_server(stall_at: usize, stall: Duration) -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let (mut pending, mut served) = (Vec::new(), 0);
            let mut chunk = [0u8; 1024];
            while let Ok(read) = stream.read(&mut chunk) {
                if read == 0 {
                    return;
                }
                pending.extend_from_slice(&chunk[..read]);
                while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    pending.drain(..end + 4);
                    if served == stall_at {
                        std::thread::sleep(stall);
                    }
                    served += 1;
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            }
        });
        addr
    }

    #[test]
    fn a_paced_run_charges_a_stall_to_every_request_it_held_up() {
        // One connection, a request every 5 ms for 400 ms; the 10th response comes 100 ms late.
        let stall = Duration::from_millis(100);
        let target = stalling_server(10, stall);
        let paced = Paced {
            target,
            source: IpAddr::V4(Ipv4Addr::LOCALHOST),
            connections: 1,
            rate: 200.0,
            duration: Duration::from_millis(400),
        };
        let run = super::paced(paced, &http::get("/", target, None)).unwrap();
        assert_eq!(run.counts.errors, 0);
        assert_eq!(run.counts.with(|s| s == 200), run.counts.responses());
        // The schedule was kept: 80 requests, although 20 of them fell in the stall.
        assert_eq!(run.latencies.len(), 80);
        // About 20 requests fell due during the stall and were sent late; each is timed from
        // when it would have gone out, so their latencies step down from the stall's length. A
        // closed-loop driver would record one slow request.
        assert!(run.held_up >= 15, "{} held up", run.held_up);
        let slow = run.latencies.iter().filter(|l| **l >= stall / 2).count();
        // (11 on a quiet machine; more if it is slow.)
        assert!((8..=25).contains(&slow), "{slow} requests of 50 ms or more");
        assert!(run.quantile(1.0) >= stall, "{:?}", run.quantile(1.0));
        // The rest were answered at once.
        assert!(run.quantile(0.5) < Duration::from_millis(20));
        assert!(run.latencies.is_sorted());
    }

    #[test]
    fn a_response_late_by_the_timers_lateness_holds_nothing_up() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, ms(2));
        // The timer wakes 1 ms late; the response takes 1.5 ms, and comes at 2.5 ms, after the
        // next request fell due (2 ms) but before it would have, had the first gone out on time.
        assert_eq!(schedule.next(t0), Next::At(t0));
        schedule.sent(t0, t0 + ms(1));
        assert_eq!(
            schedule.next(t0 + ms(1) + Duration::from_micros(1500)),
            Next::At(t0 + ms(2))
        );
        // Sent at once (2.5 ms): the 0.5 ms is the generator's, carried on.
        schedule.sent(t0 + ms(2), t0 + Duration::from_micros(2500));
        // A response at 9 ms is the server's: the third request (due at 4 ms, 4.5 ms with the
        // carried lateness) is held up and timed from 4.5 ms, and so is the fourth (6.5 ms).
        let at = t0 + ms(9);
        let carried = Duration::from_micros(500);
        assert_eq!(schedule.next(at), Next::HeldUp(t0 + ms(4) + carried));
        assert_eq!(schedule.next(at), Next::HeldUp(t0 + ms(6) + carried));
        // The fifth (due at 8 ms) too; the sixth, due at 10 ms, is sent on time again.
        assert_eq!(schedule.next(at), Next::HeldUp(t0 + ms(8) + carried));
        assert_eq!(schedule.next(at), Next::At(t0 + ms(10)));
        schedule.sent(t0 + ms(10), t0 + ms(10));
        assert_eq!(schedule.next(t0 + ms(11)), Next::At(t0 + ms(12)));
    }

    #[test]
    fn a_quantile_is_the_nearest_rank() {
        let run = PacedRun {
            latencies: (1..=100).map(Duration::from_millis).collect(),
            ..PacedRun::default()
        };
        assert_eq!(run.quantile(0.99), Duration::from_millis(99));
        assert_eq!(run.quantile(0.5), Duration::from_millis(50));
        assert_eq!(run.quantile(0.0), Duration::from_millis(1));
        assert_eq!(run.quantile(1.0), Duration::from_millis(100));
        assert_eq!(run.quantile(0.999), Duration::from_millis(100));
        assert_eq!(PacedRun::default().quantile(0.99), Duration::ZERO);
    }

    #[test]
    fn counts_describe_statuses_and_errors() {
        let mut counts = Counts::default();
        counts.record(429);
        counts.record(401);
        counts.record(429);
        counts.errors = 2;
        assert_eq!(counts.describe(), "401: 1, 429: 2, no response: 2");
        assert_eq!(counts.with(|s| s == 429), 2);
        assert_eq!(Counts::default().describe(), "no response: 0");
    }
}
