use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Client;
use crate::cache::{Clock, DEFAULT_FETCH_TIMEOUT};
use crate::http::{self, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, Redirects};
use crate::url::parse_base_url;
use crate::{AuthError, Authenticator, CachingAuthenticator, ClientError, ProjectKeyAuthenticator};

/// Configures a [`Client`]: credentials, timeouts, HTTP client, clock.
///
/// ```
/// use std::time::Duration;
/// use client_sdk::{Client, StaticTokenAuthenticator};
///
/// let client = Client::builder("https://api.example.com", "my-project")
///     .authenticator(StaticTokenAuthenticator::new("0123abcd.4567ef89"))
///     .fetch_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://api.example.com/");
/// # Ok::<(), client_sdk::ClientError>(())
/// ```
pub struct ClientBuilder {
    base_url: String,
    project_id: String,
    credentials: Option<Credentials>,
    fetch_timeout: Duration,
    connect_timeout: Duration,
    request_timeout: Duration,
    http: Option<reqwest::Client>,
    clock: Option<Arc<dyn Clock>>,
}

enum Credentials {
    ProjectKey(auth_core::secrecy::SecretString),
    Authenticator(Box<dyn Authenticator>),
}

impl ClientBuilder {
    pub(super) fn new(base_url: &str, project_id: String) -> Self {
        Self {
            base_url: base_url.to_owned(),
            project_id,
            credentials: None,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            http: None,
            clock: None,
        }
    }

    /// Authenticate with the project key, exchanged at `{base_url}/auth/token`.
    #[must_use]
    pub fn project_key(mut self, project_key: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::ProjectKey(project_key.into().into()));
        self
    }

    /// Authenticate with `authenticator` (it is wrapped in the cache).
    #[must_use]
    pub fn authenticator(mut self, authenticator: impl Authenticator + 'static) -> Self {
        self.credentials = Some(Credentials::Authenticator(Box::new(authenticator)));
        self
    }

    /// Longest a token fetch may take before it fails with [`AuthError::Timeout`] (default
    /// 30 s).
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Longest time to connect (default 10 s). Ignored with [`http_client`](Self::http_client).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest time for a whole request including its response body (default 30 s).
    /// Ignored with [`http_client`](Self::http_client).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sends everything (API requests and project-key exchanges) through `http`, with its
    /// own settings, timeouts and redirect policy. (The default clients follow redirects for
    /// API requests but never for the project-key exchange, whose body carries the key.)
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses `clock` for token expiry (e.g. a [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`ClientError::InvalidConfig`] for a bad base URL, missing credentials, or an HTTP
    /// client that cannot be built.
    pub fn build(self) -> Result<Client, ClientError> {
        let base_url = parse_base_url(&self.base_url).map_err(ClientError::InvalidConfig)?;
        let (http, exchange_http) = match self.http {
            Some(http) => (http.clone(), http),
            None => {
                let build = |redirects| {
                    http::client(self.connect_timeout, self.request_timeout, redirects)
                        .map_err(ClientError::InvalidConfig)
                };
                (build(Redirects::Follow)?, build(Redirects::Refuse)?)
            }
        };
        let inner: Box<dyn Authenticator> = match self.credentials {
            Some(Credentials::ProjectKey(key)) => Box::new(
                ProjectKeyAuthenticator::from_secret(
                    exchange_http,
                    &base_url,
                    self.project_id.clone(),
                    key,
                )
                .map_err(|e: AuthError| ClientError::InvalidConfig(e.to_string()))?,
            ),
            Some(Credentials::Authenticator(authenticator)) => authenticator,
            None => {
                return Err(ClientError::InvalidConfig(
                    "no credentials: call project_key or authenticator".to_owned(),
                ));
            }
        };
        let mut auth = CachingAuthenticator::new(inner).with_fetch_timeout(self.fetch_timeout);
        if let Some(clock) = self.clock {
            auth = auth.with_clock(clock);
        }
        Ok(Client::from_parts(base_url, self.project_id, http, auth))
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match self.credentials {
            Some(Credentials::ProjectKey(_)) => "project key [redacted]",
            Some(Credentials::Authenticator(_)) => "authenticator",
            None => "none",
        };
        f.debug_struct("ClientBuilder")
            .field("project_id", &self.project_id)
            .field("credentials", &credentials)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_project_key() {
        let builder = Client::builder("http://127.0.0.1:1", "my-project").project_key("k3y-s3cr3t");
        let debug = format!("{builder:?}");
        assert!(!debug.contains("k3y-s3cr3t"), "{debug}");
        assert!(debug.contains("project key [redacted]"), "{debug}");
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("k3y-s3cr3t"));
    }

    #[test]
    fn build_needs_credentials_and_a_usable_base_url() {
        let missing = Client::builder("http://127.0.0.1:1", "p")
            .build()
            .unwrap_err();
        assert!(matches!(missing, ClientError::InvalidConfig(m) if m.contains("no credentials")));
        let bad = Client::new("https://user:pw@api.example.com", "p", "k").unwrap_err();
        assert!(matches!(&bad, ClientError::InvalidConfig(_)));
        assert!(!bad.to_string().contains("pw"), "{bad}");
    }
}
