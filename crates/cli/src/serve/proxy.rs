//! `--upstream`: forward authenticated requests to an HTTP service, streaming bodies both ways.

use std::time::Duration;

use anyhow::{Result, bail};
use auth_core::policy::Principal;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use server_middleware::error_response;

/// Headers keygate sets for the upstream; any a client sent are removed so they cannot be forged.
pub(crate) const SUBJECT_HEADER: HeaderName = HeaderName::from_static("x-keygate-subject");
pub(crate) const METHOD_HEADER: HeaderName = HeaderName::from_static("x-keygate-method");

/// Hop-by-hop headers (RFC 9110 §7.6.1) are meaningful for one connection only.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How long the upstream may take to start answering.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// The upstream's base URL and a pooled HTTP/1 client.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    scheme_and_authority: String,
    base_path: String,
    client: Client<HttpConnector, Body>,
}

impl Upstream {
    /// Accepts `http://host:port[/base]`; anything else is a usage error.
    pub(crate) fn new(url: &str) -> Result<Self> {
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
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Ok(Self {
            scheme_and_authority: format!("http://{authority}"),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            client,
        })
    }

    fn target(&self, original: &Uri) -> Option<Uri> {
        let path_and_query = original.path_and_query().map_or("/", |pq| pq.as_str());
        format!(
            "{}{}{path_and_query}",
            self.scheme_and_authority, self.base_path
        )
        .parse()
        .ok()
    }
}

/// The fallback handler: every request that reached it passed the auth layer.
pub(crate) async fn forward(upstream: Upstream, request: Request) -> Response {
    let principal = request.extensions().get::<Principal>().cloned();
    let (mut parts, body) = request.into_parts();
    let Some(target) = upstream.target(&parts.uri) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request path cannot be forwarded",
        );
    };
    parts.uri = target;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(AUTHORIZATION);
    parts.headers.remove(HOST);
    parts.headers.remove(SUBJECT_HEADER);
    parts.headers.remove(METHOD_HEADER);
    if let Some(principal) = principal {
        if let Ok(subject) = HeaderValue::from_str(&principal.subject()) {
            parts.headers.insert(SUBJECT_HEADER, subject);
        }
        parts
            .headers
            .insert(METHOD_HEADER, HeaderValue::from_static(principal.method()));
    }
    let forwarded = upstream
        .client
        .request(http::Request::from_parts(parts, body));
    match tokio::time::timeout(UPSTREAM_TIMEOUT, forwarded).await {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(_)) => error_response(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "the upstream service is unreachable",
        ),
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "the upstream service did not answer in time",
        ),
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}
