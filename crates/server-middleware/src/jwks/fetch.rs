//! One JWKS fetch: a bounded HTTP GET, then the usable signature keys of the document.

use auth_core::jwt::{JwkSet, JwkSetError, VerifyingKey};
use reqwest::{Client, Url, redirect};

use super::JwksError;
use super::settings::JwksSettings;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 3;

/// Why a fetch did not produce a key set. The previous set stays in use. Messages never
/// contain the URL's credentials or the response body.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The whole fetch took longer than [`JwksSettings::timeout`].
    #[error("the JWKS fetch timed out")]
    Timeout,
    /// No connection could be made.
    #[error("could not connect to the JWKS endpoint")]
    Connect,
    /// The endpoint answered with a status other than 2xx.
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is larger than [`JwksSettings::max_response_bytes`].
    #[error("the JWKS response is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body is not a JSON object with a `keys` array.
    #[error("the JWKS response is not a JSON key set ({{\"keys\": [...]}})")]
    NotJwks,
    /// The set has no key keygate can verify with (all were skipped, or it is empty).
    #[error("the JWKS has no usable signature key ({total} keys, none usable)")]
    NoUsableKeys {
        /// Keys in the document.
        total: usize,
    },
    /// Another transport error (redirect refused, protocol error, ...).
    #[error("the JWKS fetch failed: {0}")]
    Http(String),
    /// The fetch task ended before the fetch did (the runtime is shutting down).
    #[error("the JWKS fetch was cancelled")]
    Cancelled,
    /// No async runtime was available to run the fetch on.
    #[error("no async runtime is available to fetch the JWKS")]
    NoRuntime,
}

/// The usable keys of one fetched document, with a fingerprint to tell whether it changed.
#[derive(Debug)]
pub(crate) struct FetchedKeys {
    pub(crate) keys: Vec<VerifyingKey>,
    /// The accepted JWKs as canonical JSON, sorted: equal fingerprints mean equal key sets.
    pub(crate) fingerprint: Vec<String>,
}

/// A client for JWKS fetches: bounded time, few redirects and never from `https` to `http`.
/// Proxies are not read from the environment (this crate reads none).
pub(crate) fn client(settings: &JwksSettings) -> Result<Client, JwksError> {
    let redirects = redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() != "https"
            && attempt
                .previous()
                .first()
                .is_some_and(|u| u.scheme() == "https");
        if downgrade {
            attempt.error("refused a redirect from https to plain http")
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(redirects)
        .no_proxy()
        .user_agent(concat!("keygate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| JwksError::Client)
}

/// GETs `url` and parses the key set, within `settings`' time and size bounds.
pub(crate) async fn fetch(
    client: &Client,
    url: &Url,
    settings: &JwksSettings,
) -> Result<FetchedKeys, FetchError> {
    let body = tokio::time::timeout(settings.timeout, read_body(client, url, settings))
        .await
        .map_err(|_| FetchError::Timeout)??;
    parse(&body)
}

async fn read_body(
    client: &Client,
    url: &Url,
    settings: &JwksSettings,
) -> Result<Vec<u8>, FetchError> {
    let limit = settings.max_response_bytes;
    let mut response = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport_error)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(FetchError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else if error.is_connect() {
        FetchError::Connect
    } else {
        // Without the URL: it may carry credentials.
        FetchError::Http(error.without_url().to_string())
    }
}

/// The usable keys of a JWKS document; unusable ones are skipped with a warning.
pub(crate) fn parse(body: &[u8]) -> Result<FetchedKeys, FetchError> {
    let set = JwkSet::parse(body).map_err(|error| match error {
        JwkSetError::NoUsableKeys { total } => FetchError::NoUsableKeys { total },
        _ => FetchError::NotJwks,
    })?;
    for skipped in &set.skipped {
        tracing::warn!(
            kid = %crate::telemetry::untrusted(&skipped.kid),
            reason = %skipped.reason,
            "skipping an unusable JWKS key"
        );
    }
    Ok(FetchedKeys {
        keys: set.keys,
        fingerprint: set.fingerprint,
    })
}
