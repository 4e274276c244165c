//! The SDK's default reqwest client settings.

use std::time::Duration;

/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a whole request, response body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const USER_AGENT: &str = concat!("keygate-client-sdk/", env!("CARGO_PKG_VERSION"));

/// Whether a client follows redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// reqwest's default (up to 10; `Authorization` and `Cookie` dropped across origins).
    Follow,
    /// None: for the project-key exchange, whose request body carries the key and would be
    /// re-sent by a 307/308 redirect to wherever it points.
    Refuse,
}

pub(crate) fn client(
    connect: Duration,
    request: Duration,
    redirects: Redirects,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .user_agent(USER_AGENT);
    if redirects == Redirects::Refuse {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

pub(crate) fn default_client(redirects: Redirects) -> Result<reqwest::Client, String> {
    client(DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, redirects)
}
