//! Raw sockets for attacking the gateway: a client that sends bytes exactly as written, and an
//! upstream that records the exact request line and headers it receives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The request line, e.g. `GET /api/x HTTP/1.1`.
    pub(crate) line: String,
    /// Header names (as sent) and values, in order.
    pub(crate) headers: Vec<(String, String)>,
}

impl Received {
    /// The request target of the request line.
    pub(crate) fn target(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or_default()
    }

    /// Every value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What the recording upstream does after reading a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// Answer `200 ok` at once.
    Answer,
    /// Answer after a pause.
    AnswerAfter(Duration),
    /// Send the head and part of a body, then stall for the given time.
    StallMidBody(Duration),
    /// Answer `200 ok` (without `Connection: close`), then close the connection: what an
    /// upstream whose keep-alive timeout just ran out does.
    AnswerThenClose,
}

/// An HTTP/1.1 upstream on 127.0.0.1 that records what it receives.
pub(crate) struct RecordingUpstream {
    pub(crate) addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl RecordingUpstream {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let addr = listener.local_addr().expect("upstream address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_upstream(stream, &log, behaviour));
            }
        });
        Self {
            addr,
            received,
            connections,
        }
    }

    /// How many connections it has accepted.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Everything received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().expect("upstream log").clone()
    }

    /// The base URL, optionally with a base path.
    pub(crate) fn url(&self, base: &str) -> String {
        format!("http://{}{base}", self.addr)
    }
}

fn serve_upstream(stream: TcpStream, log: &Mutex<Vec<Received>>, behaviour: Behaviour) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end_matches(['\r', '\n']);
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        let received = Received {
            line: line.trim_end().to_owned(),
            headers,
        };
        if !skip_body(&mut reader, &received) {
            return;
        }
        log.lock().expect("upstream log").push(received);
        let stream = reader.get_mut();
        match behaviour {
            Behaviour::Answer | Behaviour::AnswerThenClose => {}
            Behaviour::AnswerAfter(pause) => std::thread::sleep(pause),
            Behaviour::StallMidBody(pause) => {
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
                let _ = stream.flush();
                std::thread::sleep(pause);
                return;
            }
        }
        if stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok",
            )
            .is_err()
            || matches!(behaviour, Behaviour::AnswerThenClose)
        {
            return;
        }
    }
}

/// Reads the request body (content-length or chunked); `false` when the stream broke.
fn skip_body(reader: &mut BufReader<TcpStream>, received: &Received) -> bool {
    if let Some(length) = received.header("content-length").first() {
        let Ok(length) = length.parse::<u64>() else {
            return false;
        };
        return std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink())
            .is_ok_and(|n| n == length);
    }
    if received
        .header("transfer-encoding")
        .iter()
        .any(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                return false;
            }
            let Ok(size) = u64::from_str_radix(size.trim(), 16) else {
                return false;
            };
            let mut chunk = vec![0; usize::try_from(size).unwrap_or(0) + 2];
            if reader.read_exact(&mut chunk).is_err() {
                return false;
            }
            if size == 0 {
                return true;
            }
        }
    }
    true
}

/// A response as the raw client read it.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl RawResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` exactly as written and reads one response (the request should say
/// `Connection: close`, or the response must carry a length).
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect to the gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(request).expect("send the request");
    read_response(&mut stream).expect("a response")
}

/// Reads one HTTP/1.1 response from `stream`; `None` when the connection closed first.
pub(crate) fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).ok()?;
        }
        None => {
            let _ = reader.read_to_end(&mut body);
        }
    }
    Some(RawResponse {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// `GET <target>` with the given extra header lines, `Connection: close`.
pub(crate) fn get(addr: SocketAddr, target: &str, headers: &[&str]) -> RawResponse {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw(addr, request.as_bytes())
}

/// Waits until the peer closes `stream` (reads return 0 or fail) and returns how long it took;
/// `None` if it is still open after `bound`.
pub(crate) fn time_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buffer = [0u8; 1024];
    while started.elapsed() < bound {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// The gateway's address from its base URL.
pub(crate) fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("the base URL is an address")
}
