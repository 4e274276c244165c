//! [`UpstreamPool`]: one worker's keep-alive HTTP/1 connections to the upstream, over hyper's
//! `client::conn::http1`.
//!
//! A worker owns its pool (`Upstream::with_own_pool`), so a request, the upstream connection it
//! uses and that connection's task all run on one thread. A connection goes back to the pool
//! when its response body has been read to the end; one whose body was abandoned is closed by
//! hyper and never reused. Idle connections are kept at most [`IDLE_TIMEOUT`], and at most
//! [`MAX_IDLE`] of them.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long an unused upstream connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most unused upstream connections one worker keeps.
pub(crate) const MAX_IDLE: usize = 1024;

/// Why a request did not get a response from the upstream.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// No connection could be opened.
    Connect,
    /// The connection failed while the request was sent or the response head awaited
    /// (including a request body that failed).
    Exchange,
}

/// One worker's connections to one upstream address.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamPool {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// `host:port`, resolved when a connection is opened.
    address: String,
    /// Most recently used last: the warmest connection is taken first.
    idle: Mutex<Vec<Idle>>,
    /// Whether the task that closes expired idle connections runs.
    sweeping: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl UpstreamPool {
    /// A pool for `address` (`host:port`); nothing is opened until the first request.
    pub(crate) fn new(address: String) -> Self {
        Self {
            shared: Arc::new(Shared {
                address,
                idle: Mutex::new(Vec::new()),
                sweeping: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The `host:port` connections are opened to.
    #[cfg(test)]
    pub(crate) fn address(&self) -> &str {
        &self.shared.address
    }

    /// A pool for the same address with no connections of its own yet.
    pub(crate) fn with_own_connections(&self) -> Self {
        Self::new(self.shared.address.clone())
    }

    /// Sends `request` (origin-form URI, `Host` set) on an idle connection, or a new one. A
    /// request an idle connection could not take (it was closing) is sent once more on a new
    /// connection; one that was sent is never repeated.
    pub(crate) async fn send(
        &self,
        request: Request<Body>,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        let (mut sender, reused) = match self.ready_idle().await {
            Some(sender) => (sender, true),
            None => (Box::pin(self.connect()).await?, false),
        };
        let request = match sender.try_send_request(request).await {
            Ok(response) => return Ok(self.pooled(response, sender)),
            Err(mut failed) => match failed.take_message() {
                Some(unsent) if reused => unsent,
                _ => return Err(UpstreamError::Exchange),
            },
        };
        let mut sender = Box::pin(self.connect()).await?;
        match sender.try_send_request(request).await {
            Ok(response) => Ok(self.pooled(response, sender)),
            Err(_) => Err(UpstreamError::Exchange),
        }
    }

    /// The most recently used idle connection, once it can take a request. A connection goes
    /// back to the pool as soon as its response body ends, so its task may not have caught up
    /// yet: that wait is short, and one that fails instead closes that connection only.
    async fn ready_idle(&self) -> Option<SendRequest<Body>> {
        while let Some(mut sender) = self.take_idle() {
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
        None
    }

    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let mut idle = self.shared.lock();
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Opens a connection (boxed by its callers: it is the rare path, and its future is large).
    async fn connect(&self) -> Result<SendRequest<Body>, UpstreamError> {
        let stream = TcpStream::connect(self.shared.address.as_str())
            .await
            .map_err(|_| UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        // One buffer per message, not a queue of buffers for `writev`: proxied heads and bodies
        // are mostly small, and copying them costs less than keeping the queue (see
        // docs/benchmarks.md).
        let (sender, connection) = http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| UpstreamError::Connect)?;
        // The connection's task ends when the upstream closes it or its sender is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.start_sweeping();
        Ok(sender)
    }

    fn pooled(
        &self,
        response: Response<Incoming>,
        sender: SendRequest<Body>,
    ) -> Response<PooledBody> {
        let (parts, body) = response.into_parts();
        let mut body = PooledBody {
            body,
            sender: Some(sender),
            pool: Arc::downgrade(&self.shared),
        };
        if http_body::Body::is_end_stream(&body.body) {
            body.release();
        }
        Response::from_parts(parts, body)
    }

    /// Starts, once per pool, the task that closes idle connections past [`IDLE_TIMEOUT`] (it
    /// runs on the worker that first connected, and ends with the pool).
    fn start_sweeping(&self) {
        use std::sync::atomic::Ordering;
        if self.shared.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let pool = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(IDLE_TIMEOUT / 3);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(shared) = pool.upgrade() else {
                    return;
                };
                shared.lock().retain(|entry| {
                    entry.since.elapsed() < IDLE_TIMEOUT && !entry.sender.is_closed()
                });
            }
        });
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put_back(&self, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() >= MAX_IDLE {
            // The coldest connection makes room.
            idle.remove(0);
        }
        idle.push(Idle {
            sender,
            since: Instant::now(),
        });
    }
}

/// An upstream response body that gives its connection back to the pool once read to the end.
#[derive(Debug)]
pub(crate) struct PooledBody {
    body: Incoming,
    sender: Option<SendRequest<Body>>,
    pool: Weak<Shared>,
}

impl PooledBody {
    fn release(&mut self) {
        if let (Some(sender), Some(pool)) = (self.sender.take(), self.pool.upgrade()) {
            pool.put_back(sender);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.release(),
            // A failed body leaves the connection unusable.
            Poll::Ready(Some(Err(_))) => this.sender = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
