//! The gateway's connection handling: accept with a bound, time every phase of a connection,
//! drain on shutdown.
//!
//! Each connection is in one of three phases, and each phase has its own deadline:
//! - **head**: from accept (or the first byte of a keep-alive request) until the request head is
//!   complete, at most [`ConnectionLimits::request_head`];
//! - **busy**: while a request is served; the handlers bound their own waits (request body,
//!   upstream), and a client that stops reading the response is cut after
//!   [`ConnectionLimits::client_io`];
//! - **idle**: between requests, at most [`ConnectionLimits::keep_alive`].
//!
//! hyper's own `header_read_timeout` cannot express this: it starts when a keep-alive
//! connection goes idle, so it would either close idle connections after 10 s or let a trickled
//! head run for 60 s.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::Request;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;

use crate::serve::app::App;
use crate::serve::idle::IdleBody;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The bounds of client connections (`[server]` settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Time to send a whole request head once a connection has started one.
    pub(crate) request_head: Duration,
    /// Time an idle keep-alive connection is kept.
    pub(crate) keep_alive: Duration,
    /// Longest pause in the client's I/O while a request is served: between two pieces of the
    /// request body, and while the client does not take the response.
    pub(crate) client_io: Duration,
    /// Open client connections.
    pub(crate) max_connections: usize,
    /// How long in-flight requests may finish after SIGTERM/SIGINT.
    pub(crate) shutdown: Duration,
}

/// What a client sees when the connection limit is reached: one short answer, then close.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 83\r\n\r\n\
{\"error\":\"temporarily_unavailable\",\"message\":\"too many connections; retry shortly\"}";

/// Descriptors kept free for everything but client connections (listener, logs, files).
const RESERVED_DESCRIPTORS: u64 = 64;

/// The threads connections are served on: one single-threaded runtime each, like nginx's
/// worker processes. A connection, its requests and the upstream connections they use stay on
/// one thread, so serving a request needs no cross-thread wake-up and no work-stealing
/// synchronisation (docs/benchmarks.md measures the difference).
pub(crate) struct Workers {
    workers: Vec<Worker>,
}

struct Worker {
    runtime: tokio::runtime::Handle,
    /// This worker's copy of the application, with its own upstream connection pool.
    app: App,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// One worker per core.
pub(crate) fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl Workers {
    /// Starts `count` workers (at least one), each serving the application `app` makes for it.
    pub(crate) fn start(count: usize, mut app: impl FnMut() -> App) -> io::Result<Self> {
        let mut workers = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("keygate-worker-{index}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            workers.push(Worker {
                runtime: handle,
                app: app(),
                stop,
                thread,
            });
        }
        Ok(Self { workers })
    }

    /// Stops the workers once their connections have drained (what is left is dropped).
    pub(crate) fn stop(self) {
        for worker in self.workers {
            let _ = worker.stop.send(());
            let _ = worker.thread.join();
        }
    }
}

/// Serves `workers`' apps on `listener`, handing connections to the workers in turn, until
/// `shutdown` completes; then drains for at most `limits.shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    workers: &Workers,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut round_robin = workers.workers.iter().cycle();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (drain, draining) = watch::channel(false);
    let connections = TaskTracker::new();
    let mut backoff = AcceptBackoff::default();
    let mut refused = RateLimitedLog::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        let Some(worker) = round_robin.next() else {
                            break;
                        };
                        // Registered again with the worker's own reactor.
                        let Ok(stream) = stream.into_std() else {
                            continue;
                        };
                        let app = worker.app.clone();
                        let draining = draining.clone();
                        connections.spawn_on(
                            async move {
                                if let Ok(stream) = TcpStream::from_std(stream) {
                                    serve_connection(stream, peer, app, limits, draining).await;
                                }
                                drop(slot);
                            },
                            &worker.runtime,
                        );
                    }
                    Err(_) => {
                        // Best effort: the kernel buffer takes these bytes at once or not at all.
                        let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                        refused.log(|suppressed| {
                            tracing::warn!(
                                max_connections = limits.max_connections,
                                suppressed,
                                "connection refused: the connection limit is reached"
                            );
                        });
                    }
                }
            }
            Err(error) => {
                let delay = backoff.next();
                tracing::warn!(%error, retry_in_ms = delay.as_millis(), "accepting a connection failed");
                tokio::time::sleep(delay).await;
            }
        }
    }
    drop(listener);
    let open = connections.len();
    tracing::info!(
        open_connections = open,
        drain_seconds = limits.shutdown.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    let _ = drain.send(true);
    connections.close();
    if tokio::time::timeout(limits.shutdown, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            cut = connections.len(),
            "the drain period ended: closing the remaining connections"
        );
    }
}

/// Lowers `configured` so that client connections (each of which may hold one upstream
/// connection) fit in the process's file-descriptor limit, after raising the soft limit to the
/// hard one where the system allows.
pub(crate) fn fit_to_descriptor_limit(configured: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    let Some(descriptors) = limit.current else {
        return configured;
    };
    let fit = usize::try_from(descriptors.saturating_sub(RESERVED_DESCRIPTORS) / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    if fit < configured {
        tracing::warn!(
            configured,
            effective = fit,
            open_file_limit = descriptors,
            "max_connections lowered to fit the open-file limit"
        );
    }
    configured.min(fit)
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: App,
    limits: ConnectionLimits,
    mut draining: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(PhaseClock::new());
    let io = TokioIo::new(ClockedIo {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let service_clock = Arc::clone(&clock);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let busy = BusyGuard::begin(Arc::clone(&service_clock));
        let app = app.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            // A request without a body has no progress to watch.
            let body = if http_body::Body::is_end_stream(&body) {
                Body::new(body)
            } else {
                let status = crate::serve::proxy::ClientBodyStatus::default();
                parts.extensions.insert(status.clone());
                Body::new(IdleBody::new(body, limits.client_io, status))
            };
            let response = app
                .oneshot(Request::from_parts(parts, body))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(GuardedBody {
                    inner: body,
                    _busy: busy,
                })
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // As for upstream connections (`pool.rs`): one buffer per response, no `writev` queue.
        .writev(false)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut shutting_down = *draining.borrow();
    if shutting_down {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = clock.deadline(&limits);
        tokio::select! {
            // In order: no random draw each time the connection is polled.
            biased;
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if clock.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(phase = clock.phase_name(), "connection timed out");
                    return;
                }
            }
            changed = draining.changed(), if !shutting_down => {
                if changed.is_ok() && *draining.borrow() {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// A connection's phase and when it began, shared by its I/O, its requests and its watchdog.
struct PhaseClock {
    origin: Instant,
    phase: AtomicU8,
    /// Milliseconds after `origin` when the phase began.
    since: AtomicU64,
    /// Milliseconds after `origin` (plus one) when a write to the client first found its buffer
    /// full; 0 while writes go through.
    write_blocked_since: AtomicU64,
}

const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

impl PhaseClock {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    /// A request is being served. A busy connection's deadline runs from a blocked write, not
    /// from when it became busy: no clock read here.
    fn enter_busy(&self) {
        self.phase.store(BUSY, Ordering::Release);
    }

    /// Bytes arrived: an idle connection has started its next request head.
    fn on_read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.enter(HEAD);
        }
    }

    fn on_write(&self, blocked: bool) {
        let blocked_since = self.write_blocked_since.load(Ordering::Relaxed);
        if blocked && blocked_since == 0 {
            self.write_blocked_since
                .store(self.now().saturating_add(1), Ordering::Relaxed);
        } else if !blocked && blocked_since != 0 {
            self.write_blocked_since.store(0, Ordering::Relaxed);
        }
    }

    /// When the current phase times out (`None`: it does not).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let at = |millis: u64, limit: Duration| self.origin + Duration::from_millis(millis) + limit;
        match self.phase.load(Ordering::Acquire) {
            HEAD => Some(at(self.since.load(Ordering::Relaxed), limits.request_head)),
            IDLE => Some(at(self.since.load(Ordering::Relaxed), limits.keep_alive)),
            _ => match self.write_blocked_since.load(Ordering::Relaxed) {
                0 => None,
                since => Some(at(since - 1, limits.client_io)),
            },
        }
    }

    fn phase_name(&self) -> &'static str {
        match self.phase.load(Ordering::Acquire) {
            HEAD => "request head",
            IDLE => "keep-alive idle",
            _ => "response write",
        }
    }
}

/// Marks the connection busy while a request is served: from the call until the response body
/// is dropped (written out, or abandoned).
struct BusyGuard(Arc<PhaseClock>);

impl BusyGuard {
    fn begin(clock: Arc<PhaseClock>) -> Self {
        clock.enter_busy();
        Self(clock)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.enter(IDLE);
    }
}

/// The response body, holding the connection's [`BusyGuard`].
struct GuardedBody {
    inner: Body,
    _busy: BusyGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's socket, reporting reads and blocked writes to the [`PhaseClock`].
struct ClockedIo {
    inner: TcpStream,
    clock: Arc<PhaseClock>,
}

impl AsyncRead for ClockedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.on_read();
        }
        result
    }
}

impl AsyncWrite for ClockedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.clock.on_write(result.is_pending());
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.clock.on_write(result.is_pending());
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Exponential back-off for accept errors (e.g. `EMFILE`): 5 ms doubling to 1 s, so a full
/// descriptor table neither spins the reactor nor floods the log.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn next(&mut self) -> Duration {
        let delay = Duration::from_millis(5u64.saturating_mul(1 << self.failures.min(8)));
        self.failures = self.failures.saturating_add(1);
        delay.min(Duration::from_secs(1))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// At most one line a second; the lines in between are counted.
#[derive(Debug, Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    fn log(&mut self, emit: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        emit(self.suppressed);
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_a_second_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let delays: Vec<u128> = (0..10).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(5));
    }

    #[test]
    fn each_phase_has_its_own_deadline() {
        let limits = ConnectionLimits {
            request_head: Duration::from_secs(10),
            keep_alive: Duration::from_secs(60),
            client_io: Duration::from_secs(30),
            max_connections: 1,
            shutdown: Duration::from_secs(30),
        };
        let clock = Arc::new(PhaseClock::new());
        let head = clock.deadline(&limits).unwrap() - clock.origin;
        assert_eq!(head.as_secs(), 10);
        let busy = BusyGuard::begin(Arc::clone(&clock));
        assert_eq!(clock.deadline(&limits), None);
        clock.on_write(true);
        let blocked = clock.deadline(&limits).unwrap() - clock.origin;
        assert_eq!(blocked.as_secs(), 30);
        clock.on_write(false);
        assert_eq!(clock.deadline(&limits), None);
        drop(busy);
        let idle = clock.deadline(&limits).unwrap() - clock.origin;
        assert_eq!(idle.as_secs(), 60);
        clock.on_read();
        assert_eq!(clock.phase_name(), "request head");
    }

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }

    /// Each connection is served on one worker thread, and connections take the workers in
    /// turn; every connection's requests stay on its worker.
    #[test]
    fn connections_are_served_by_the_workers_in_turn() {
        use std::io::{Read, Write};
        let app = || {
            crate::serve::app::wrap(
                axum::Router::new().fallback(|| async {
                    std::thread::current()
                        .name()
                        .unwrap_or("unnamed")
                        .to_owned()
                }),
                None,
            )
        };
        let workers = Workers::start(2, app).unwrap();
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let limits = ConnectionLimits {
            request_head: Duration::from_secs(10),
            keep_alive: Duration::from_secs(10),
            client_io: Duration::from_secs(10),
            max_connections: 16,
            shutdown: Duration::from_secs(1),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listener = main.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..4 {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                let mut names = Vec::new();
                for _ in 0..2 {
                    stream
                        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                        .unwrap();
                    let mut buffer = [0u8; 1024];
                    let read = stream.read(&mut buffer).unwrap();
                    let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                    names.push(text.rsplit("\r\n").next().unwrap().to_owned());
                }
                assert_eq!(names[0], names[1], "a connection stays on its worker");
                seen.push(names.swap_remove(0));
            }
            let _ = stop.send(());
            seen
        });
        main.block_on(serve(listener, &workers, limits, async {
            let _ = stopped.await;
        }));
        let seen = clients.join().unwrap();
        assert_eq!(
            seen,
            [
                "keygate-worker-0",
                "keygate-worker-1",
                "keygate-worker-0",
                "keygate-worker-1"
            ]
        );
        workers.stop();
    }

    #[test]
    fn the_descriptor_limit_bounds_connections() {
        let fitted = fit_to_descriptor_limit(usize::MAX);
        assert!((1..usize::MAX).contains(&fitted));
        assert_eq!(fit_to_descriptor_limit(1), 1);
    }
}
