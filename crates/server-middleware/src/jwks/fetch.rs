//! One JWKS fetch: a bounded HTTP GET, then the usable signature keys of the document.

use auth_core::jwt::VerifyingKey;
use jsonwebtoken::jwk::Jwk;
use reqwest::{Client, Url, redirect};
use serde::Deserialize;

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

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of a JWKS document; unusable ones are skipped with a warning.
pub(crate) fn parse(body: &[u8]) -> Result<FetchedKeys, FetchError> {
    let document: Document = serde_json::from_slice(body).map_err(|_| FetchError::NotJwks)?;
    let total = document.keys.len();
    let mut keys = Vec::with_capacity(total);
    let mut fingerprint = Vec::with_capacity(total);
    for value in document.keys {
        let kid = value
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("(none)")
            .to_owned();
        match usable_key(&value) {
            Ok(key) => {
                keys.push(key);
                fingerprint.push(value.to_string());
            }
            Err(reason) => {
                tracing::warn!(kid = %kid, reason = %reason, "skipping an unusable JWKS key");
            }
        }
    }
    if keys.is_empty() {
        return Err(FetchError::NoUsableKeys { total });
    }
    fingerprint.sort_unstable();
    Ok(FetchedKeys { keys, fingerprint })
}

/// A verification key from one JWK, or why it cannot be one. Symmetric keys are refused by
/// [`VerifyingKey::from_jwk`]; a key declared for another algorithm (`alg`) is refused here,
/// since keygate verifies with the algorithm of the key type.
fn usable_key(value: &serde_json::Value) -> Result<VerifyingKey, String> {
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|_| "not a JWK keygate understands".to_owned())?;
    let key = VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    if let Some(declared) = jwk.common.key_algorithm {
        let declared = declared.to_string();
        if declared != key.algorithm().as_str() {
            return Err(format!(
                "the key is declared for {declared}, but keygate verifies this key type with {}",
                key.algorithm()
            ));
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::jwt::{JwtAlgorithm, SigningKey, generate_key_pair};
    use auth_core::secrecy::ExposeSecret;

    fn jwk(alg: JwtAlgorithm) -> serde_json::Value {
        let pair = generate_key_pair(alg).unwrap();
        let signer = SigningKey::from_pem(pair.private_pem.expose_secret()).unwrap();
        serde_json::to_value(signer.verifying_key().to_jwk().unwrap()).unwrap()
    }

    #[test]
    fn unusable_keys_are_skipped_and_usable_ones_kept() {
        let good = jwk(JwtAlgorithm::Es256);
        let mut wrong_alg = jwk(JwtAlgorithm::Es256);
        wrong_alg["alg"] = "ES384".into();
        let mut encryption = jwk(JwtAlgorithm::EdDsa);
        encryption["use"] = "enc".into();
        let symmetric = serde_json::json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" });
        let unknown = serde_json::json!({ "kty": "XYZ", "kid": "future" });
        let body = serde_json::json!({ "keys": [symmetric, good, wrong_alg, encryption, unknown] });

        let fetched = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(fetched.keys.len(), 1);
        assert_eq!(fetched.keys[0].algorithm(), JwtAlgorithm::Es256);
        assert_eq!(fetched.keys[0].kid(), good["kid"].as_str());
        assert_eq!(fetched.fingerprint, vec![good.to_string()]);
    }

    #[test]
    fn documents_without_usable_keys_are_errors() {
        assert_eq!(parse(b"not json").unwrap_err(), FetchError::NotJwks);
        assert_eq!(parse(b"[1, 2]").unwrap_err(), FetchError::NotJwks);
        assert_eq!(
            parse(br#"{"keys": []}"#).unwrap_err(),
            FetchError::NoUsableKeys { total: 0 }
        );
        let only_symmetric = br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#;
        assert_eq!(
            parse(only_symmetric).unwrap_err(),
            FetchError::NoUsableKeys { total: 1 }
        );
    }

    #[test]
    fn the_fingerprint_ignores_key_order() {
        let (a, b) = (jwk(JwtAlgorithm::EdDsa), jwk(JwtAlgorithm::EdDsa));
        let first = parse(serde_json::json!({ "keys": [a, b] }).to_string().as_bytes()).unwrap();
        let second = parse(serde_json::json!({ "keys": [b, a] }).to_string().as_bytes()).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
    }
}
