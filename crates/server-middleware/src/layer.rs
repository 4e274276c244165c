//! [`AuthLayer`] and [`Auth`]: the policy as tower middleware.
//!
//! Where the layer is mounted decides what it protects: [`AuthHandle::require`] protects
//! exactly the routes it wraps with one class's policy, whatever their paths.
//! [`AuthHandle::by_path_prefix`] instead classifies every request by its path (the Moose
//! prefixes, or [`AuthState::routes`](crate::AuthState::routes)), which is what a gateway in
//! front of a whole upstream needs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth_core::policy::RouteClass;
use axum::extract::OriginalUri;
use bytes::Bytes;
use http::header::{AUTHORIZATION, Entry};
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

use crate::handle::AuthHandle;

/// How an [`AuthLayer`] finds a request's route class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Classify {
    /// Every request it sees has this class.
    Fixed(RouteClass),
    /// By the path's prefix (the original URI in nested routers).
    ByPathPrefix,
}

/// Applies the policy to every request of the service it wraps; see [`AuthHandle::require`].
///
/// Allowed requests reach the inner service with the [`Principal`](auth_core::policy::Principal)
/// in their extensions (read it with [`Authenticated`](crate::Authenticated) or
/// [`Claims`](crate::Claims)); refused ones get the RFC 6750 response without reaching it.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    handle: AuthHandle,
    classify: Classify,
}

impl AuthHandle {
    /// A layer that protects what it wraps with `class`'s policy: `Router::layer` protects the
    /// whole router, `Router::route_layer` and `MethodRouter::layer` the routes they are
    /// given — whatever their paths.
    #[must_use]
    pub fn require(&self, class: RouteClass) -> AuthLayer {
        AuthLayer {
            handle: self.clone(),
            classify: Classify::Fixed(class),
        }
    }

    /// A layer that classifies each request by its path prefix
    /// ([`AuthHandle::authorize`]); paths that match no rule are public. For a gateway in front
    /// of a whole service; embedded routes are better served by [`AuthHandle::require`].
    #[must_use]
    pub fn by_path_prefix(&self) -> AuthLayer {
        AuthLayer {
            handle: self.clone(),
            classify: Classify::ByPathPrefix,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Auth<S> {
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
        let AuthLayer { handle, classify } = self.layer.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                let client = handle.client_of(&request);
                let decided = match classify {
                    Classify::Fixed(class) => {
                        handle
                            .authorize_class(class, request.headers(), client)
                            .await
                    }
                    Classify::ByPathPrefix => {
                        let path = match request.extensions().get::<OriginalUri>() {
                            Some(original) => original.path(),
                            None => request.uri().path(),
                        };
                        handle.authorize(path, request.headers(), client).await
                    }
                };
                match decided {
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
