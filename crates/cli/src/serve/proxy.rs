//! `--upstream`: forward authenticated requests to an HTTP service, streaming bodies both ways.
//!
//! The upstream receives exactly the path the policy judged (the gateway's
//! [`CanonicalRequestLayer`](server_middleware::CanonicalRequestLayer) put it in normal form),
//! below the upstream's base path; identity headers are only ever keygate's own.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use auth_core::policy::Principal;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{AUTHORIZATION, HOST};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use server_middleware::{AuthHandle, IdentityHeaders, denial_response, error_response};

use crate::serve::idle::{IdleBody, Watch};
use crate::serve::pool::{UpstreamError, UpstreamPool};

/// How the upstream is reached and how long it may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpstreamLimits {
    /// Longest wait for the response head (counted from the request body's latest progress),
    /// and longest pause in the response body.
    pub(crate) timeout: Duration,
    /// Forward inbound headers whose names contain `_` (nginx's `underscores_in_headers`).
    pub(crate) underscores_in_headers: bool,
}

/// The upstream's base URL and a pool of HTTP/1 connections to it (cloned per request: one
/// reference count).
#[derive(Debug, Clone)]
pub(crate) struct Upstream(Arc<UpstreamInner>);

#[derive(Debug)]
struct UpstreamInner {
    /// The `Host` the upstream receives: its own authority.
    host: HeaderValue,
    /// The base path, without a trailing `/` (empty for none).
    base_path: String,
    pool: UpstreamPool,
    limits: UpstreamLimits,
}

impl Upstream {
    /// Accepts `http://host:port[/base]`; anything else is a usage error.
    pub(crate) fn new(url: &str, limits: UpstreamLimits) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .map_err(|_| crate::exit::usage(format!("--upstream {url:?} is not a URL")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(crate::exit::UsageError(
                "--upstream must be an http:// URL: keygate proxies to services on a private network; \
                 terminate TLS in front of keygate, not behind it"
                    .into()
            )),
            _ => bail!(crate::exit::UsageError(format!("--upstream {url:?} must start with http://"))),
        }
        let Some(authority) = uri.authority() else {
            bail!(crate::exit::UsageError(format!(
                "--upstream {url:?} has no host"
            )));
        };
        if authority.as_str().contains('@') {
            // The URL is not repeated: it holds a password.
            bail!(crate::exit::UsageError(
                "--upstream must not carry credentials (user@host): keygate sends none upstream"
                    .into()
            ));
        }
        if uri.query().is_some() {
            bail!(crate::exit::UsageError(format!(
                "--upstream {url:?} must not have a query"
            )));
        }
        let base_path = match auth_core::path::normalize(uri.path()) {
            Ok(path) if path == uri.path() => path.trim_end_matches('/').to_owned(),
            _ => bail!(crate::exit::UsageError(format!(
                "--upstream {url:?} has a base path that is not in normal form (no '.', '..', '//' or encoded separators)"
            ))),
        };
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| crate::exit::usage(format!("--upstream {url:?} has an invalid host")))?;
        let address = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{authority}:80"),
        };
        Ok(Self(Arc::new(UpstreamInner {
            host,
            base_path,
            pool: UpstreamPool::new(address),
            limits,
        })))
    }

    /// The same upstream with a connection pool of its own (for another worker thread: an
    /// upstream connection is driven by the thread that opened it).
    pub(crate) fn with_own_pool(&self) -> Self {
        Self(Arc::new(UpstreamInner {
            host: self.0.host.clone(),
            base_path: self.0.base_path.clone(),
            pool: self.0.pool.with_own_connections(),
            limits: self.0.limits,
        }))
    }

    /// The origin-form URI the upstream receives for a request whose path is in normal form:
    /// the base path, then the path, then the query as the client sent it.
    fn target(&self, original: &Uri) -> Option<Uri> {
        let path_and_query = original
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let path_and_query = if self.0.base_path.is_empty() {
            path_and_query
        } else {
            PathAndQuery::try_from(format!("{}{path_and_query}", self.0.base_path)).ok()?
        };
        Some(Uri::from(path_and_query))
    }
}

/// How the client's request body is doing, reported by the connection's body wrapper: when it
/// last made progress (so a slow but steady upload is not taken for a silent upstream), and why
/// it ended early, if it did (so a client fault is not reported as an upstream fault).
#[derive(Debug, Clone)]
pub(crate) struct ClientBodyStatus(Arc<BodyProgress>);

#[derive(Debug)]
struct BodyProgress {
    started: Instant,
    /// Milliseconds after `started` of the latest piece of body.
    last_progress: AtomicU64,
    /// The body is being read and the client has not sent the next piece yet: a silence now is
    /// the client's, and its own timeout (408) will end it.
    waiting_for_client: AtomicBool,
    failure: OnceLock<ClientBodyFailure>,
}

impl Default for ClientBodyStatus {
    fn default() -> Self {
        Self(Arc::new(BodyProgress {
            started: Instant::now(),
            last_progress: AtomicU64::new(0),
            waiting_for_client: AtomicBool::new(false),
            failure: OnceLock::new(),
        }))
    }
}

/// How a request body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientBodyFailure {
    /// Broken framing (e.g. malformed chunked encoding).
    Malformed,
    /// The client paused longer than the body timeout.
    TimedOut,
}

impl Watch for ClientBodyStatus {
    fn waiting(&self) {
        self.0.waiting_for_client.store(true, Ordering::Relaxed);
    }

    fn progressed(&self) {
        let elapsed = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_progress.store(elapsed, Ordering::Relaxed);
        self.0.waiting_for_client.store(false, Ordering::Relaxed);
    }

    fn failed(&self) {
        self.fail(ClientBodyFailure::Malformed);
    }

    fn timed_out(&self) {
        self.fail(ClientBodyFailure::TimedOut);
    }
}

impl ClientBodyStatus {
    fn fail(&self, failure: ClientBodyFailure) {
        let _ = self.0.failure.set(failure);
    }

    fn failure(&self) -> Option<ClientBodyFailure> {
        self.0.failure.get().copied()
    }

    fn last_progress(&self) -> Instant {
        self.0.started + Duration::from_millis(self.0.last_progress.load(Ordering::Relaxed))
    }
}

/// Waits for the upstream's response head: at most `timeout` after the request body last made
/// progress (`None` when the upstream is silent too long).
async fn await_response<F: std::future::Future>(
    forwarded: F,
    timeout: Duration,
    body: Option<&ClientBodyStatus>,
) -> Option<F::Output> {
    tokio::pin!(forwarded);
    let mut deadline = Instant::now() + timeout;
    loop {
        tokio::select! {
            // In order: no random draw per poll, and the answer wins over a deadline it beat.
            biased;
            output = &mut forwarded => return Some(output),
            () = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                let resumed = match body {
                    // The client is the silent one: its body timeout answers 408.
                    Some(body) if body.0.waiting_for_client.load(Ordering::Relaxed) => now + timeout,
                    Some(body) => body.last_progress() + timeout,
                    None => deadline,
                };
                if resumed <= now {
                    return None;
                }
                deadline = resumed;
            }
        }
    }
}

/// The fallback service: every request that reached it passed the auth layer.
///
/// Its future is moved a few times before it first runs (into axum's route future, then onto
/// the heap), so what waits for the upstream is boxed and the future itself stays small.
pub(crate) async fn forward(
    upstream: Upstream,
    handle: AuthHandle,
    request: Request,
) -> Result<Response, Infallible> {
    let (request, body_status) = match prepare(&upstream, &handle, request) {
        Prepared::Forward(request, body_status) => (request, body_status),
        Prepared::Refused(refused) => return Ok(refused),
    };
    let timeout = upstream.0.limits.timeout;
    let forwarded = Box::pin(upstream.0.pool.send(request));
    Ok(
        match await_response(forwarded, timeout, body_status.as_ref()).await {
            Some(Ok(mut response)) => {
                strip_hop_by_hop(response.headers_mut());
                response.map(|body| Body::new(IdleBody::new(body, timeout, UpstreamPause(timeout))))
            }
            Some(Err(error)) => match body_status.and_then(|status| status.failure()) {
                Some(ClientBodyFailure::Malformed) => error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the request body is malformed",
                ),
                Some(ClientBodyFailure::TimedOut) => error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request body did not arrive in time",
                ),
                None => error_response(
                    StatusCode::BAD_GATEWAY,
                    "bad_gateway",
                    match error {
                        UpstreamError::Connect => "the upstream service is unreachable",
                        UpstreamError::Exchange => {
                            "the upstream service failed to send a valid response"
                        }
                    },
                ),
            },
            None => error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "the upstream service did not answer in time",
            ),
        },
    )
}

/// What [`prepare`] makes of a request.
enum Prepared {
    /// The request as the upstream receives it, with the client body's status.
    Forward(Request, Option<ClientBodyStatus>),
    /// The answer that refuses it.
    Refused(Response),
}

/// Readies a request for the upstream, in place: a request is large, and every move copies it.
fn prepare(upstream: &Upstream, handle: &AuthHandle, mut request: Request) -> Prepared {
    let principal = request.extensions_mut().remove::<Principal>();
    let body_status = request.extensions().get::<ClientBodyStatus>().cloned();
    if !is_normal(request.uri().path()) {
        // The gateway normalises every path before routing; never forward another spelling.
        return Prepared::Refused(server_middleware::invalid_path_response(
            auth_core::path::PathError::NotAPath,
        ));
    }
    let Some(target) = upstream.target(request.uri()) else {
        return Prepared::Refused(error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request path cannot be forwarded",
        ));
    };
    *request.uri_mut() = target;
    let state = handle.state();
    let identity = state.identity_headers();
    let headers = request.headers_mut();
    let authorization = headers.get(AUTHORIZATION).cloned();
    clean_headers(
        headers,
        &upstream.0.host,
        upstream.0.limits.underscores_in_headers,
        identity,
    );
    if let Some(principal) = principal
        && let Err(denial) = identity.insert_for(&principal, authorization.as_ref(), headers)
    {
        return Prepared::Refused(denial_response(&denial));
    }
    // A proxy sends its own HTTP version (RFC 9110 §2.5): an HTTP/1.0 client's request goes
    // upstream as HTTP/1.1, so it keeps its pooled connection instead of closing it.
    *request.version_mut() = http::Version::HTTP_11;
    Prepared::Forward(request, body_status)
}

fn is_normal(path: &str) -> bool {
    matches!(
        auth_core::path::normalize(path),
        Ok(std::borrow::Cow::Borrowed(_))
    )
}

/// Removes what must not reach the upstream: hop-by-hop headers, headers with `_` in their
/// names (unless allowed), and — by `identity` — the credential and every spelling of the
/// headers keygate sets itself, in one pass over the names; and replaces the client's `Host`
/// (every copy of it) with `upstream_host`, in place.
fn clean_headers(
    headers: &mut HeaderMap,
    upstream_host: &HeaderValue,
    underscores_in_headers: bool,
    identity: &IdentityHeaders,
) {
    headers.insert(HOST, upstream_host.clone());
    headers.remove(AUTHORIZATION);
    let named_in_connection = connection_options(headers);
    let unwanted: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            is_hop_by_hop(name)
                || identity.is_reserved(name)
                || (!underscores_in_headers && name.as_str().contains('_'))
        })
        .cloned()
        .chain(named_in_connection)
        .collect();
    for name in unwanted {
        headers.remove(name);
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names present is cheaper than looking up
    // each name of the list.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named_in_connection = connection_options(headers);
    let present: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name))
        .cloned()
        .chain(named_in_connection)
        .collect();
    for name in present {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    auth_core::header::HOP_BY_HOP_HEADERS.contains(&name.as_str())
}

/// The headers present that a `Connection` header lists: hop-by-hop too (RFC 9110 §7.6.1).
/// An option names no header present in most messages (`keep-alive`, `close`): looking it up
/// by its text costs no allocation, and a long list costs one lookup per option.
fn connection_options(headers: &HeaderMap) -> impl Iterator<Item = HeaderName> + '_ {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|option| !option.is_empty() && headers.contains_key(*option))
        .filter_map(|option| HeaderName::from_bytes(option.as_bytes()).ok())
}

/// The upstream's response body is cut (which aborts the client's response) when the upstream
/// pauses longer than its timeout in the middle of it.
struct UpstreamPause(Duration);

impl Watch for UpstreamPause {
    fn timed_out(&self) {
        tracing::warn!(
            idle_seconds = self.0.as_secs(),
            "the upstream paused its response body too long; the response is cut"
        );
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn upstream_urls_are_checked_and_credentials_never_repeated() {
        let limits = UpstreamLimits {
            timeout: Duration::from_secs(1),
            underscores_in_headers: false,
        };
        let upstream = Upstream::new("http://127.0.0.1:9000/svc", limits).unwrap();
        let target = upstream.target(&Uri::from_static("/api/x?q=1")).unwrap();
        assert_eq!(target.to_string(), "/svc/api/x?q=1");
        assert_eq!(upstream.0.host, "127.0.0.1:9000");
        let bare = Upstream::new("http://backend", limits).unwrap();
        assert_eq!(bare.target(&Uri::from_static("/")).unwrap(), "/");
        assert_eq!(bare.0.pool.address(), "backend:80");
        let refused = Upstream::new("http://user:hunter2@backend", limits).unwrap_err();
        assert!(!format!("{refused:#}").contains("hunter2"), "{refused:#}");
        for bad in [
            "https://backend",
            "backend:80",
            "http://backend/?q=1",
            "http://b/a/../c",
        ] {
            assert!(Upstream::new(bad, limits).is_err(), "{bad}");
        }
    }

    #[test]
    fn underscores_hop_by_hop_and_identity_headers_are_removed_and_host_is_replaced() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-keygate-subject",
            "X_Keygate_Subject",
            "x-custom_header",
            "authorization",
            "host",
            "connection",
            "x-named-in-connection",
        ] {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("forged"),
            );
        }
        headers.insert(
            "connection",
            HeaderValue::from_static("x-named-in-connection"),
        );
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        headers.append("host", HeaderValue::from_static("second.example"));
        let mut allowed = headers.clone();
        let identity = IdentityHeaders::default();
        let upstream = HeaderValue::from_static("backend:80");
        clean_headers(&mut headers, &upstream, false, &identity);
        let kept: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(kept, ["host", "x-kept"]);
        let hosts: Vec<&HeaderValue> = headers.get_all(HOST).iter().collect();
        assert_eq!(hosts, [&upstream], "every client copy of Host is replaced");
        clean_headers(&mut allowed, &upstream, true, &identity);
        let mut kept: Vec<&str> = allowed.keys().map(HeaderName::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["host", "x-custom_header", "x-kept"]);
    }
}
