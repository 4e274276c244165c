//! [`Client`]: attaches the cached token to API requests and retries once on 401.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Serialize;

use crate::url::{is_within, join};
use crate::{AuthError, AuthToken, Authenticator, CachingAuthenticator, ClientError};

mod builder;

pub use builder::ClientBuilder;

/// The authenticator type a [`Client`] holds: any authenticator, behind the cache.
pub type CachedAuthenticator = CachingAuthenticator<Box<dyn Authenticator>>;

/// An HTTP client for a keygate-protected API.
///
/// Every request carries `Authorization: Bearer <token>` from the client's authenticator,
/// which is always wrapped in the token cache ([`CachingAuthenticator`]). When the API
/// answers 401, the token it rejected is dropped from the cache (compare-and-swap, so
/// concurrent requests rejected for the same token cause one refetch) and the request is sent
/// once more with a fresh token; whatever the API answers then is returned, 401 included —
/// never a loop. Requests whose body cannot be replayed (streams) are not retried.
///
/// Cloning is cheap and clones share the cache. `Debug` never shows a token or project key.
///
/// ```no_run
/// # async fn run() -> Result<(), client_sdk::ClientError> {
/// use client_sdk::Client;
///
/// // Server side: the project key stays here.
/// let client = Client::new("https://api.example.com", "my-project", "0123abcd.4567ef89")?;
/// let response = client.get("/api/items").await?;
/// let token = client.get_auth_token().await?; // e.g. to forward to a frontend
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: Url,
    project_id: String,
    http: reqwest::Client,
    auth: CachedAuthenticator,
}

impl Client {
    /// The server-side client: exchanges `project_key` for short-lived tokens at
    /// `{base_url}/auth/token` ([`ProjectKeyAuthenticator`](crate::ProjectKeyAuthenticator)),
    /// with the default timeouts. Does no I/O until the first request.
    ///
    /// # Errors
    /// [`ClientError::InvalidConfig`] if `base_url` is not an absolute `http(s)` URL without
    /// credentials, query or fragment.
    pub fn new(
        base_url: &str,
        project_id: impl Into<String>,
        project_key: impl Into<String>,
    ) -> Result<Self, ClientError> {
        Self::builder(base_url, project_id)
            .project_key(project_key)
            .build()
    }

    /// A client that gets its tokens from `authenticator` (e.g. a
    /// [`BackendUrlAuthenticator`](crate::BackendUrlAuthenticator) in a frontend), cached.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_authenticator(
        base_url: &str,
        project_id: impl Into<String>,
        authenticator: impl Authenticator + 'static,
    ) -> Result<Self, ClientError> {
        Self::builder(base_url, project_id)
            .authenticator(authenticator)
            .build()
    }

    /// A builder, for timeouts, your own `reqwest::Client` or a test clock.
    pub fn builder(base_url: &str, project_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url, project_id.into())
    }

    /// The base URL request paths are relative to (always ending in `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The project this client acts for.
    pub fn project_id(&self) -> &str {
        &self.inner.project_id
    }

    /// The cached authenticator, for [`invalidate`](CachingAuthenticator::invalidate),
    /// [`force_refresh`](CachingAuthenticator::force_refresh) and
    /// [`cached`](CachingAuthenticator::cached).
    pub fn authenticator(&self) -> &CachedAuthenticator {
        &self.inner.auth
    }

    /// Drops the cached token, so the next request fetches a new one.
    pub fn invalidate(&self) {
        self.inner.auth.invalidate();
    }

    /// Fetches and caches a new token now, even if the cached one is still fresh.
    ///
    /// # Errors
    /// [`AuthError`] if no token can be obtained; the previous token stays cached.
    pub async fn force_refresh(&self) -> Result<AuthToken, AuthError> {
        self.inner.auth.force_refresh().await
    }

    /// A token with the time it has left, from the cache or freshly fetched. This is what a
    /// backend's token route returns to its frontend (it serializes as
    /// `{"token", "expiresIn"}`).
    ///
    /// # Errors
    /// [`AuthError`] if no token can be obtained.
    pub async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        self.inner.auth.get_auth_token().await
    }

    /// `Bearer <token>` for the current token.
    ///
    /// # Errors
    /// [`AuthError`] if no token can be obtained.
    pub async fn get_auth_header(&self) -> Result<String, AuthError> {
        self.inner.auth.get_auth_header().await
    }

    /// A request builder for `path` under the base URL (a leading `/` is ignored:
    /// `"/api/x"` and `"api/x"` both extend the base URL's path). Send it with
    /// [`send`](Self::send) to have the token attached.
    ///
    /// # Errors
    /// [`ClientError::InvalidPath`] if `path` is not a valid path or leaves the base URL.
    pub fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        let url = join(&self.inner.base_url, path).map_err(ClientError::InvalidPath)?;
        Ok(self.inner.http.request(method, url))
    }

    /// `GET path` with the token attached.
    ///
    /// # Errors
    /// See [`send`](Self::send).
    pub async fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.send(self.request(Method::GET, path)?).await
    }

    /// `POST path` with `body` as JSON and the token attached.
    ///
    /// # Errors
    /// See [`send`](Self::send).
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<Response, ClientError> {
        self.send(self.request(Method::POST, path)?.json(body))
            .await
    }

    /// Sends `request` with `Authorization: Bearer <token>` (replacing any `Authorization`
    /// it had), retrying once with a fresh token if the API answers 401.
    ///
    /// # Errors
    /// [`ClientError::Auth`] if no token can be obtained (also for the retry),
    /// [`ClientError::OutsideBaseUrl`] if the request does not go under the base URL (the
    /// token is only ever sent there), [`ClientError::Request`] if sending fails. An HTTP
    /// error status is a response, not an error.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let (http, request) = request.build_split();
        let request = request.map_err(ClientError::request)?;
        if !is_within(&self.inner.base_url, request.url()) {
            return Err(ClientError::OutsideBaseUrl);
        }
        let replay = request.try_clone();

        let token = self.inner.auth.get_auth_token().await?;
        let response = execute(&http, request, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        // Only this token is known bad; if a concurrent request already replaced it, the
        // replacement is used as it is.
        self.inner.auth.invalidate_token(&token.token);
        let Some(replay) = replay else {
            return Ok(response);
        };
        let token = self.inner.auth.get_auth_token().await?;
        execute(&http, replay, &token).await
    }
}

async fn execute(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    token: &AuthToken,
) -> Result<Response, ClientError> {
    let mut value = HeaderValue::from_str(&token.header_value())
        .map_err(|_| AuthError::InvalidResponse("the token is not valid in a header"))?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    http.execute(request).await.map_err(ClientError::request)
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("project_id", &self.inner.project_id)
            .field("authenticator", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `base_url` must come from `parse_base_url`.
    fn from_parts(
        base_url: Url,
        project_id: String,
        http: reqwest::Client,
        auth: CachedAuthenticator,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                base_url,
                project_id,
                http,
                auth,
            }),
        }
    }
}
