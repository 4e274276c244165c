//! [`CorsLayer`]: cross-origin access for browser frontends, for exact origins only.
//!
//! - A request without `Origin`, or from an origin not on the list, passes through untouched:
//!   no CORS header is added, and an `OPTIONS` request reaches the service as any other.
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
//!   origin is answered here, 204, before any authentication (browsers send preflights without
//!   credentials): `Access-Control-Allow-Origin` (the origin), `-Allow-Methods`,
//!   `-Allow-Headers` (at least `authorization, content-type`), `-Max-Age`.
//! - Every other answer to an allowed origin — 200, 400, 401, 403, 429, 503 alike — carries
//!   `Access-Control-Allow-Origin`, `Vary: Origin` and `Access-Control-Expose-Headers`
//!   (`WWW-Authenticate`, `Retry-After`, `RateLimit`, `RateLimit-Policy`), so the page can read
//!   why it was refused.
//!
//! tower-http's `CorsLayer` answers every `OPTIONS` request itself (with 200, also without an
//! `Origin`) and adds `Vary` to every response, so it is not used (`docs/hand-written.md`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN, VARY,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Headers a page may always send: the credential and the body's type.
const ALWAYS_ALLOWED_HEADERS: [&str; 2] = ["authorization", "content-type"];
/// Headers a page may read from every answer.
const EXPOSED_HEADERS: &str = "www-authenticate, retry-after, ratelimit, ratelimit-policy";
/// `Vary` of a preflight answer.
const PREFLIGHT_VARY: &str =
    "origin, access-control-request-method, access-control-request-headers";

/// Which browser origins may call the service, and how (`[server] cors_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example`, `http://localhost:3000`); empty: no CORS at all.
    pub allowed_origins: Vec<String>,
    /// Methods a preflight allows.
    pub allowed_methods: Vec<Method>,
    /// Request headers a preflight allows besides `authorization` and `content-type`.
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    pub max_age_seconds: u64,
    /// Whether pages may send cookies (`Access-Control-Allow-Credentials: true`).
    pub allow_credentials: bool,
}

impl CorsSettings {
    /// Default preflight cache: 10 minutes.
    pub const DEFAULT_MAX_AGE_SECONDS: u64 = 600;

    /// Default allowed methods.
    #[must_use]
    pub fn default_methods() -> Vec<Method> {
        vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ]
    }
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_methods: Self::default_methods(),
            allowed_headers: Vec::new(),
            max_age_seconds: Self::DEFAULT_MAX_AGE_SECONDS,
            allow_credentials: false,
        }
    }
}

/// The header values, rendered once.
#[derive(Debug)]
struct Rendered {
    origins: Vec<HeaderValue>,
    methods: HeaderValue,
    headers: HeaderValue,
    max_age: HeaderValue,
    credentials: bool,
}

/// Puts [`Cors`] in front of a service.
#[derive(Debug, Clone)]
pub struct CorsLayer {
    rendered: Arc<Rendered>,
}

impl CorsLayer {
    /// The layer for `settings`; origins that are not valid header values are ignored (the
    /// configuration is checked when it is loaded).
    #[must_use]
    pub fn new(settings: &CorsSettings) -> Self {
        let join = |items: Vec<String>| {
            HeaderValue::from_str(&items.join(", ")).unwrap_or(HeaderValue::from_static(""))
        };
        let headers = ALWAYS_ALLOWED_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .chain(
                settings
                    .allowed_headers
                    .iter()
                    .map(|h| h.to_ascii_lowercase()),
            )
            .collect();
        Self {
            rendered: Arc::new(Rendered {
                origins: settings
                    .allowed_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect(),
                methods: join(
                    settings
                        .allowed_methods
                        .iter()
                        .map(|m| m.as_str().to_owned())
                        .collect(),
                ),
                headers: join(headers),
                max_age: HeaderValue::from(settings.max_age_seconds),
                credentials: settings.allow_credentials,
            }),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            rendered: Arc::clone(&self.rendered),
        }
    }
}

/// The service [`CorsLayer`] produces.
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    rendered: Arc<Rendered>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CorsFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let allowed = request
            .headers()
            .get(ORIGIN)
            .and_then(|origin| self.rendered.origins.iter().find(|o| *o == origin))
            .cloned();
        let Some(origin) = allowed else {
            return CorsFuture {
                kind: Kind::Inner {
                    future: self.inner.call(request),
                    marks: None,
                },
            };
        };
        let preflight = request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            let mut response = Response::new(ResBody::from(Bytes::new()));
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, self.rendered.methods.clone());
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, self.rendered.headers.clone());
            headers.insert(ACCESS_CONTROL_MAX_AGE, self.rendered.max_age.clone());
            headers.insert(VARY, HeaderValue::from_static(PREFLIGHT_VARY));
            if self.rendered.credentials {
                headers.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            return CorsFuture {
                kind: Kind::Preflight {
                    response: Some(response),
                },
            };
        }
        CorsFuture {
            kind: Kind::Inner {
                future: self.inner.call(request),
                marks: Some((origin, self.rendered.credentials)),
            },
        }
    }
}

pin_project! {
    /// Response future of [`Cors`].
    pub struct CorsFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, B> {
        // The inner service's answer, with the allowed origin to mark it for (if any).
        Inner {
            #[pin]
            future: F,
            marks: Option<(HeaderValue, bool)>,
        },
        // A preflight answered here.
        Preflight {
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> std::fmt::Debug for CorsFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorsFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for CorsFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Preflight { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            KindProjection::Inner { future, marks } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some((origin, credentials)) = marks.take() {
                    mark(response.headers_mut(), origin, credentials);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The headers of an answer to an allowed origin.
fn mark(headers: &mut HeaderMap, origin: HeaderValue, credentials: bool) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(VARY, HeaderValue::from_static("origin"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    if credentials {
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
