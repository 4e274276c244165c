//! The forward-auth decision endpoint: `/auth/verify` lets a proxy that already sits in front of
//! an application (nginx `auth_request`, ingress-nginx, Traefik `ForwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`) ask keygate whether a request may pass, without proxying
//! the request itself through keygate.
//!
//! The original request is read from the headers each proxy sends — `X-Original-URI` and
//! `X-Original-Method` (nginx), `X-Original-URL` (ingress-nginx), `X-Forwarded-Uri` and
//! `X-Forwarded-Method` (Traefik, Caddy) — or from the path itself, which Envoy appends to the
//! endpoint (`/auth/verify/<original path>`). They are believed only from
//! [`TrustedProxies`](crate::TrustedProxies); anyone else gets 403. When several are present
//! they must name the same path and method (a client can add headers the proxy passes along),
//! or the answer is 400.
//!
//! The proxy forwards the path as the client sent it, so a path not in normal form is refused
//! (400) rather than judged on its normal form: what keygate judges must be what the upstream
//! gets. Otherwise the path is classified by the route rules and decided exactly as the gateway
//! would: 200 with the identity headers (always `X-Keygate-Subject` and `X-Keygate-Method`,
//! plus the mapped claim headers), or the gateway's own 400/401/429/503 with `WWW-Authenticate`.
//! The endpoint never reads a request body.

use std::borrow::Cow;
use std::net::SocketAddr;

use auth_core::path::{PathError, normalize};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::canonical::RewrittenPath;
use crate::handle::AuthHandle;
use crate::response::{denial_response, error_response, invalid_path_response};

/// Where the endpoint answers; Envoy's `path_prefix`.
pub const FORWARD_AUTH_PATH: &str = "/auth/verify";

/// `/auth/verify` and `/auth/verify/<original path>`, any method. Mount it where the route
/// rules do not apply to its own path (the gateway merges it outside its prefix layer).
pub fn forward_auth_router(handle: AuthHandle) -> Router {
    Router::new()
        .route(FORWARD_AUTH_PATH, any(verify))
        .route("/auth/verify/{*original}", any(verify))
        .with_state(handle)
}

async fn verify(State(handle): State<AuthHandle>, request: Request) -> Response {
    let state = handle.state();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let Some(peer) = peer.filter(|peer| state.trusted_proxies().trusts(*peer)) else {
        return error_response(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the forward-auth endpoint answers trusted proxies only ([server] trusted_proxies)",
        );
    };
    let original = match original_request(&request) {
        Ok(original) => original,
        Err(refused) => return refused.response(),
    };
    if original.method == Method::CONNECT || original.method == Method::TRACE {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "CONNECT and TRACE are not served",
        );
    }
    // Judged only in normal form: the proxy forwards this path as it is.
    match normalize(&original.path) {
        Ok(Cow::Borrowed(_)) => {}
        Ok(Cow::Owned(_)) => return invalid_path_response(PathError::NotNormal),
        Err(error) => return invalid_path_response(error),
    }
    let class = match state.routes().classify_normal(&original.path) {
        Ok(class) => class,
        Err(error) => return invalid_path_response(error),
    };
    let headers = request.headers();
    let client = state.trusted_proxies().client(peer, headers);
    match handle.authorize_class(class, headers, Some(client)).await {
        Ok(principal) => {
            let mut response = Response::new(axum::body::Body::empty());
            match state.identity_headers().insert_for(
                &principal,
                headers.get(AUTHORIZATION),
                response.headers_mut(),
            ) {
                Ok(()) => response,
                Err(denial) => denial_response(&denial),
            }
        }
        Err(rejection) => rejection.to_response(),
    }
}

/// The request the proxy asks about.
struct Original {
    method: Method,
    path: String,
}

/// Why the original request cannot be judged.
enum Refused {
    /// A convention's header is sent twice, or two conventions disagree.
    Conflict(&'static str),
    /// A header does not name a request.
    Unreadable(&'static str),
    /// No convention names the original request.
    Missing,
    /// Envoy's appended path was not in normal form.
    NotNormal,
}

impl Refused {
    fn response(&self) -> Response {
        let message = match self {
            Self::Conflict(what) => {
                format!("the original request's {what} is given more than once, differently")
            }
            Self::Unreadable(name) => format!("the {name} header does not name a request"),
            Self::Missing => "no original request: send X-Original-URI, X-Original-URL or \
                              X-Forwarded-Uri, or append the path to /auth/verify"
                .to_owned(),
            Self::NotNormal => return invalid_path_response(PathError::NotNormal),
        };
        error_response(StatusCode::BAD_REQUEST, "invalid_request", &message)
    }
}

/// The original method and path from every convention present; they must agree.
fn original_request(request: &Request) -> Result<Original, Refused> {
    let headers = request.headers();
    let mut paths: Vec<String> = Vec::new();
    let mut methods: Vec<Method> = Vec::new();
    // Envoy: the original path follows the endpoint's own.
    let own = request.uri().path();
    if let Some(rest) = own
        .strip_prefix(FORWARD_AUTH_PATH)
        .filter(|rest| rest.starts_with('/'))
    {
        if request.extensions().get::<RewrittenPath>().is_some() {
            return Err(Refused::NotNormal);
        }
        paths.push(rest.to_owned());
        methods.push(request.method().clone());
    }
    for name in ["x-original-uri", "x-forwarded-uri", "x-original-url"] {
        if let Some(value) = single(headers, name).map_err(|()| Refused::Conflict("path"))? {
            let uri: Uri = value.parse().map_err(|_| Refused::Unreadable(name))?;
            paths.push(uri.path().to_owned());
        }
    }
    for name in ["x-original-method", "x-forwarded-method"] {
        if let Some(value) = single(headers, name).map_err(|()| Refused::Conflict("method"))? {
            let method =
                Method::from_bytes(value.as_bytes()).map_err(|_| Refused::Unreadable(name))?;
            methods.push(method);
        }
    }
    let path = paths.first().cloned().ok_or(Refused::Missing)?;
    if paths.iter().any(|other| *other != path) {
        return Err(Refused::Conflict("path"));
    }
    // Without a method header the proxy asks with the original method itself (Envoy).
    let method = methods
        .first()
        .cloned()
        .unwrap_or_else(|| request.method().clone());
    if methods.iter().any(|other| *other != method) {
        return Err(Refused::Conflict("method"));
    }
    Ok(Original { method, path })
}

/// The one value of header `name`; `Err` when it is sent twice.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    Ok(Some(first.to_str().map_err(|_| ())?))
}
