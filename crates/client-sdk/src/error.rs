//! The SDK's errors. Their messages never contain a token, a project key or a URL.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::TokenCacheError;

/// Why no token could be obtained.
///
/// [`AuthError::is_transient`] says whether trying again later may succeed. The type is
/// `Clone` because callers that share one fetch all receive its error.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused the credentials (HTTP 401 or 403), e.g. a wrong project key
    /// (`invalid_client`) or, for a backend URL, no valid session.
    #[error("the token endpoint refused the credentials (HTTP {status}{})", code_suffix(.code.as_deref()))]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The `error` code of the response body, if it had a plausible one.
        code: Option<String>,
    },
    /// The token endpoint answered another unsuccessful status.
    #[error("the token endpoint answered HTTP {status}{}", code_suffix(.code.as_deref()))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The `error` code of the response body, if it had a plausible one.
        code: Option<String>,
    },
    /// The token endpoint could not be reached, or the connection failed mid-response.
    #[error("could not reach the token endpoint")]
    Transport(#[source] Arc<reqwest::Error>),
    /// The fetch did not finish within the fetch timeout.
    #[error("fetching a token timed out after {} ms", .after.as_millis())]
    Timeout {
        /// The fetch timeout that elapsed.
        after: Duration,
    },
    /// The token endpoint answered 2xx, but not with a usable `{"token", "expiresIn"}`.
    #[error("the token response is unusable: {0}")]
    InvalidResponse(&'static str),
    /// An authenticator was configured with something unusable (a bad URL or header).
    #[error("invalid authenticator configuration: {0}")]
    InvalidConfig(String),
    /// A custom authenticator failed; see [`AuthError::other`] and [`AuthError::transient`].
    #[error("the authenticator failed: {error}")]
    Other {
        /// Whether trying again later may succeed.
        transient: bool,
        /// The authenticator's own error.
        error: Arc<dyn StdError + Send + Sync>,
    },
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|code| format!(", {code}")).unwrap_or_default()
}

impl AuthError {
    /// A permanent failure of a custom authenticator (retrying will not help).
    pub fn other(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Other {
            transient: false,
            error: Arc::from(error.into()),
        }
    }

    /// A temporary failure of a custom authenticator (retrying later may help).
    pub fn transient(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Other {
            transient: true,
            error: Arc::from(error.into()),
        }
    }

    /// Whether trying again later may succeed: network failures, timeouts, HTTP 408, 425, 429
    /// and 5xx. Refused credentials, unusable responses and bad configuration are permanent.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_transient_status(*status),
            Self::Transport(error) => !error.is_builder(),
            Self::Timeout { .. } => true,
            Self::Other { transient, .. } => *transient,
            Self::Rejected { .. } | Self::InvalidResponse(_) | Self::InvalidConfig(_) => false,
        }
    }

    /// The HTTP status the token endpoint answered, if that is what failed.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } | Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn transport(error: reqwest::Error) -> Self {
        Self::Transport(Arc::new(error.without_url()))
    }
}

pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

impl From<TokenCacheError<AuthError>> for AuthError {
    fn from(error: TokenCacheError<AuthError>) -> Self {
        match error {
            TokenCacheError::Fetch(error) => error,
            TokenCacheError::Timeout { after } => Self::Timeout { after },
        }
    }
}

/// Why a [`Client`](crate::Client) request failed.
///
/// An HTTP error status from the API is not an error: the response is returned as it is
/// (after the one retry a 401 gets).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No token could be obtained.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Sending the request or reading the response failed.
    #[error("the request failed")]
    Request(#[source] reqwest::Error),
    /// The request's URL is not under the client's base URL, so the token is not sent there.
    #[error("the request URL is outside the client's base URL")]
    OutsideBaseUrl,
    /// The request path is not a valid path under the client's base URL.
    #[error("invalid request path: {0}")]
    InvalidPath(String),
    /// The client was configured with something unusable.
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),
}

impl ClientError {
    /// Whether trying again later may succeed (see [`AuthError::is_transient`]; for requests:
    /// connection failures and timeouts).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Auth(error) => error.is_transient(),
            Self::Request(error) => error.is_connect() || error.is_timeout(),
            Self::OutsideBaseUrl | Self::InvalidPath(_) | Self::InvalidConfig(_) => false,
        }
    }

    pub(crate) fn request(error: reqwest::Error) -> Self {
        Self::Request(error.without_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_classification() {
        let status = |status| AuthError::Status { status, code: None };
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(status(408).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(404).is_transient());
        let rejected = AuthError::Rejected {
            status: 401,
            code: Some("invalid_client".to_owned()),
        };
        assert!(!rejected.is_transient());
        assert_eq!(rejected.status(), Some(401));
        assert!(
            AuthError::Timeout {
                after: Duration::from_secs(30)
            }
            .is_transient()
        );
        assert!(!AuthError::InvalidResponse("x").is_transient());
        assert!(AuthError::transient("backend restarting").is_transient());
        assert!(!AuthError::other("no session").is_transient());
        assert!(ClientError::from(status(502)).is_transient());
        assert!(!ClientError::OutsideBaseUrl.is_transient());
    }

    #[test]
    fn messages_are_precise() {
        let rejected = AuthError::Rejected {
            status: 401,
            code: Some("invalid_client".to_owned()),
        };
        assert_eq!(
            rejected.to_string(),
            "the token endpoint refused the credentials (HTTP 401, invalid_client)"
        );
        assert_eq!(
            AuthError::Status {
                status: 503,
                code: None
            }
            .to_string(),
            "the token endpoint answered HTTP 503"
        );
        assert_eq!(
            AuthError::other("session expired").to_string(),
            "the authenticator failed: session expired"
        );
        assert_eq!(
            AuthError::from(TokenCacheError::Timeout {
                after: Duration::from_secs(30)
            })
            .to_string(),
            "fetching a token timed out after 30000 ms"
        );
    }

    #[test]
    fn cache_errors_unwrap_to_the_fetch_error() {
        let error = AuthError::from(TokenCacheError::Fetch(AuthError::InvalidResponse("x")));
        assert!(matches!(error, AuthError::InvalidResponse("x")));
    }
}
