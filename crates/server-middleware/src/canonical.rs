//! [`CanonicalRequestLayer`]: every request reaches the routes, the policy and the upstream in
//! one spelling.
//!
//! The request's path is replaced by its normal form ([`auth_core::path::normalize`]), so that
//! the path the router matches, the path [`AuthLayer`](crate::AuthLayer) classifies and the
//! path a proxy forwards are the same string; the query is kept as sent. What cannot be
//! normalised safely is answered here with 400 `invalid_request`, and `CONNECT` and `TRACE`
//! with 405: neither has a place in front of an API (`CONNECT` would open a tunnel to the
//! upstream, `TRACE` would echo the identity headers back to the client).
//!
//! Wrap the router with it (`CanonicalRequestLayer::new().layer(router)`) rather than adding it
//! with `Router::layer`: axum runs `Router::layer` middleware after routing, so the router
//! would match the path as sent.

use std::task::{Context, Poll};

use auth_core::path::{PathError, normalize};
use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use http::header::{ALLOW, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use tower::{Layer, Service};

use crate::response::{error_response, invalid_path_response};

/// Methods the gateway answers (the `Allow` header of a 405).
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Puts [`CanonicalRequest`] in front of a service.
#[derive(Debug, Clone, Copy, Default)]
pub struct CanonicalRequestLayer;

impl CanonicalRequestLayer {
    /// The layer.
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for CanonicalRequestLayer {
    type Service = CanonicalRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CanonicalRequest { inner }
    }
}

/// The service [`CanonicalRequestLayer`] produces.
#[derive(Debug, Clone)]
pub struct CanonicalRequest<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CanonicalRequest<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CanonicalFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match canonicalize(&mut request) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(response) => Either::Left(ready(Ok(response))),
        }
    }
}

/// Response future of [`CanonicalRequest`]: the inner service's, or the refusal made here.
pub type CanonicalFuture<F, B, E> = Either<Ready<Result<Response<B>, E>>, F>;

/// Marks a request whose path was rewritten into normal form (the client sent another
/// spelling); the forward-auth endpoint, which must judge paths as sent, refuses those.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RewrittenPath;

/// Rewrites the request into its canonical form, or the response that refuses it.
fn canonicalize<ReqBody, ResBody: From<Bytes>>(
    request: &mut Request<ReqBody>,
) -> Result<(), Response<ResBody>> {
    if request.method() == Method::CONNECT || request.method() == Method::TRACE {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "CONNECT and TRACE are not served",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        return Err(response);
    }
    let uri = request.uri();
    // `*` (asterisk-form) and authority-form targets have no path starting with `/`.
    let path = uri.path();
    let normal = normalize(path).map_err(invalid_path_response)?;
    if normal == path {
        return Ok(());
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{normal}?{query}"),
        None => normal.into_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(path_and_query)
            .map_err(|_| invalid_path_response(PathError::BadPercentEncoding))?,
    );
    *request.uri_mut() =
        Uri::from_parts(parts).map_err(|_| invalid_path_response(PathError::NotAPath))?;
    request.extensions_mut().insert(RewrittenPath);
    Ok(())
}
