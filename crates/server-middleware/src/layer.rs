//! [`AuthLayer`] and [`Auth`]: the policy as tower middleware.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::OriginalUri;
use bytes::Bytes;
use http::header::{AUTHORIZATION, Entry};
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

use crate::handle::AuthHandle;

/// Applies the SPEC §5 policy to every request; see the [crate docs](crate) for an example.
///
/// Allowed requests reach the inner service with the [`Principal`](auth_core::policy::Principal)
/// in their extensions (read it with [`Authenticated`](crate::Authenticated) or
/// [`Claims`](crate::Claims)); refused ones get the RFC 6750 response without reaching it.
/// Works with `Router::layer` and `Router::route_layer` (nested routers are classified by
/// their original URI).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    handle: AuthHandle,
}

impl AuthLayer {
    /// A layer enforcing `handle`'s (reloadable) configuration.
    #[must_use]
    pub fn new(handle: AuthHandle) -> Self {
        Self { handle }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            handle: self.handle.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    handle: AuthHandle,
}

impl<S> Auth<S> {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: S, handle: AuthHandle) -> Self {
        Self { inner, handle }
    }

    /// The wrapped service.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        mark_authorization_sensitive(request.headers_mut());
        // The clone that was driven to readiness goes with this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let handle = self.handle.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                let path = match request.extensions().get::<OriginalUri>() {
                    Some(original) => original.path(),
                    None => request.uri().path(),
                };
                match handle.authorize(path, request.headers()).await {
                    Ok(principal) => {
                        request.extensions_mut().insert(principal);
                        inner.call(request).await
                    }
                    Err(rejection) => Ok(rejection.to_response()),
                }
            }),
        }
    }
}

/// Marks every `Authorization` value sensitive, so `Debug` of the headers and HTTP/2 header
/// compression treat it as a secret.
fn mark_authorization_sensitive(headers: &mut HeaderMap) {
    if let Entry::Occupied(mut entry) = headers.entry(AUTHORIZATION) {
        for value in entry.iter_mut() {
            value.set_sensitive(true);
        }
    }
}

/// Response future of [`Auth`].
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>,
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}
