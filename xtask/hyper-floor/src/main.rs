//! `hyper-floor <listen> <upstream>`: the floor of the stack `keygate serve` is built on, for
//! `cargo xtask load` to measure keygate's own cost against (docs/benchmarks.md).
//!
//! It is `keygate serve` without keygate: a current-thread tokio runtime per core, connections
//! handed to them in turn by an accept thread, hyper's HTTP/1 server on each, and one pool of
//! hyper HTTP/1 client connections to the upstream per worker (`writev(false)` on both sides,
//! `TCP_NODELAY`, mimalloc). Requests and responses go through unchanged: no routing, no
//! policy, no header work, no timeouts. A failed exchange closes the client's connection.
//! Not a product: it forwards whatever it is sent.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Why an exchange failed: hyper closes the client's connection.
type ExchangeError = Box<dyn Error + Send + Sync>;

/// One worker's idle upstream connections, most recently used last.
type Pool = Arc<Mutex<Vec<SendRequest<Incoming>>>>;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: hyper-floor <listen address> <upstream address>".into());
    };
    let address = |text: String| {
        text.parse::<SocketAddr>()
            .map_err(|_| format!("hyper-floor: {text:?} is not an address (ip:port)"))
    };
    let (listen, upstream) = (address(listen)?, address(upstream)?);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut handles = Vec::with_capacity(workers);
    for index in 0..workers {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        handles.push((runtime.handle().clone(), Pool::default()));
        std::thread::Builder::new()
            .name(format!("hyper-floor-{index}"))
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    }
    let main = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    main.block_on(accept(listen, upstream, &handles))?;
    Ok(())
}

/// Accepts connections and hands them to the workers in turn.
async fn accept(
    listen: SocketAddr,
    upstream: SocketAddr,
    workers: &[(Handle, Pool)],
) -> io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!(
        "hyper-floor is listening on http://{}",
        listener.local_addr()?
    );
    for (handle, pool) in workers.iter().cycle() {
        let (stream, _) = listener.accept().await?;
        // Registered again with the worker's own reactor.
        let stream = stream.into_std()?;
        let pool = Arc::clone(pool);
        handle.spawn(async move {
            if let Ok(stream) = TcpStream::from_std(stream) {
                serve(stream, upstream, pool).await;
            }
        });
    }
    Ok(())
}

async fn serve(stream: TcpStream, upstream: SocketAddr, pool: Pool) {
    let _ = stream.set_nodelay(true);
    let service =
        hyper::service::service_fn(move |request| forward(request, upstream, Arc::clone(&pool)));
    let _ = hyper::server::conn::http1::Builder::new()
        .writev(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Sends `request` on a pooled connection (or a new one) and returns the upstream's response.
async fn forward(
    request: Request<Incoming>,
    upstream: SocketAddr,
    pool: Pool,
) -> Result<Response<Incoming>, ExchangeError> {
    let mut sender = match idle(&pool).await {
        Some(sender) => sender,
        None => connect(upstream).await?,
    };
    let response = sender.send_request(request).await;
    // Back at once: the next request waits for it to be ready (its response read to the end).
    pool.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(sender);
    Ok(response?)
}

/// The most recently used idle connection that can take a request.
async fn idle(pool: &Pool) -> Option<SendRequest<Incoming>> {
    loop {
        let mut sender = pool.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        if sender.ready().await.is_ok() {
            return Some(sender);
        }
    }
}

async fn connect(upstream: SocketAddr) -> Result<SendRequest<Incoming>, ExchangeError> {
    let stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .writev(false)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(connection);
    Ok(sender)
}
