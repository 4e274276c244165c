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

use crate::handle::{AuthHandle, Decision, Route};

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
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        mark_authorization_sensitive(request.headers_mut());
        // The clone that was driven to readiness goes with this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let handle = &self.layer.handle;
        let route = match self.layer.classify {
            Classify::Fixed(class) => Route::Class(class),
            Classify::ByPathPrefix => {
                Route::Path(match request.extensions().get::<OriginalUri>() {
                    Some(original) => original.path(),
                    None => request.uri().path(),
                })
            }
        };
        // A cached decision is made here; only one that must wait gets a future of its own.
        let decided = match handle.decide_request(route, &request) {
            Decision::Decided(decided) => decided,
            Decision::Pending(pending) => {
                return ResponseFuture::pending(async move {
                    match pending.finish(request.headers()).await {
                        Ok(principal) => {
                            request.extensions_mut().insert(principal);
                            inner.call(request).await
                        }
                        Err(rejection) => Ok(rejection.to_response()),
                    }
                });
            }
        };
        match decided {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                ResponseFuture::inner(inner.call(request))
            }
            Err(rejection) => ResponseFuture::refused(rejection.to_response()),
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

pin_project_lite::pin_project! {
    /// Response future of [`Auth`]: the inner service's, a refusal, or a decision that waits.
    pub struct ResponseFuture<F: Future> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<F: Future> {
        Inner { #[pin] future: F },
        Refused { response: Option<F::Output> },
        Pending { future: Pin<Box<dyn Future<Output = F::Output> + Send>> },
    }
}

impl<F: Future> ResponseFuture<F> {
    fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    fn refused<B, E>(response: Response<B>) -> Self
    where
        F: Future<Output = Result<Response<B>, E>>,
    {
        Self {
            state: State::Refused {
                response: Some(Ok(response)),
            },
        }
    }

    fn pending(future: impl Future<Output = F::Output> + Send + 'static) -> Self {
        Self {
            state: State::Pending {
                future: Box::pin(future),
            },
        }
    }
}

impl<F: Future> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::Inner { future } => future.poll(cx),
            StateProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(response),
                // Polled again after it completed: a caller's bug, answered as futures do.
                None => Poll::Pending,
            },
            StateProjection::Pending { future } => future.as_mut().poll(cx),
        }
    }
}
