use std::fmt;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue};

use super::read_token_response;
use crate::http::{self, Redirects};
use crate::url::{parse_endpoint_url, redacted};
use crate::{AuthError, AuthToken, Authenticator};

/// The frontend's authenticator: `GET`s a token from your own backend, which holds the project
/// key and forwards [`Client::get_auth_token`](crate::Client::get_auth_token) as
/// `{"token", "expiresIn"}` (the reference's `/api/moss-token` route).
///
/// The reference's `fetch(url, { credentials: 'include' })` sends the browser's session
/// cookie; here you name what to send: [`cookie`](Self::cookie), [`header`](Self::header) or
/// [`bearer_auth`](Self::bearer_auth). Their values are marked sensitive and never appear in
/// `Debug` output, nor does the URL's query.
///
/// ```
/// use client_sdk::BackendUrlAuthenticator;
///
/// let auth = BackendUrlAuthenticator::new("https://app.example.com/api/keygate-token")?
///     .cookie("session", "s3ss10n")?
///     .header("x-csrf-token", "c5rf")?;
/// assert!(!format!("{auth:?}").contains("s3ss10n"));
/// # Ok::<(), client_sdk::AuthError>(())
/// ```
pub struct BackendUrlAuthenticator {
    http: reqwest::Client,
    url: Url,
    headers: HeaderMap,
}

impl BackendUrlAuthenticator {
    /// Fetches tokens from `url` (absolute `http(s)`), with its own HTTP client (10 s connect
    /// and 30 s request timeouts).
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] for a relative or non-HTTP URL, a URL with credentials or
    /// a fragment, or if the HTTP client cannot be built.
    pub fn new(url: &str) -> Result<Self, AuthError> {
        let http = http::default_client(Redirects::Follow).map_err(AuthError::InvalidConfig)?;
        Self::with_http_client(http, url)
    }

    /// Like [`new`](Self::new), sending through `http` (whose timeouts then apply).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_http_client(http: reqwest::Client, url: &str) -> Result<Self, AuthError> {
        let url = parse_endpoint_url(url).map_err(AuthError::InvalidConfig)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(Self { http, url, headers })
    }

    /// Sends `name: value` with every token request (replacing an earlier value of `name`).
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] if `name` or `value` is not valid in an HTTP header.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, AuthError> {
        let name = HeaderName::try_from(name).map_err(|_| {
            AuthError::InvalidConfig(format!("{name:?} is not a valid header name"))
        })?;
        let value = sensitive(value, "header value")?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Sends `Authorization: Bearer <token>` with every token request (your backend's own
    /// session token, not a keygate one).
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] if `token` is not valid in an HTTP header.
    pub fn bearer_auth(mut self, token: &str) -> Result<Self, AuthError> {
        let value = sensitive(&format!("Bearer {token}"), "bearer token")?;
        self.headers.insert(AUTHORIZATION, value);
        Ok(self)
    }

    /// Sends the cookie `name=value` with every token request; several calls add several
    /// cookies to the one `Cookie` header.
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] if `name` is not an RFC 6265 token or `value` contains
    /// characters a cookie value cannot (space, `"`, `,`, `;`, `\`, controls).
    pub fn cookie(mut self, name: &str, value: &str) -> Result<Self, AuthError> {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(AuthError::InvalidConfig(format!(
                "{name:?} is not a valid cookie name"
            )));
        }
        if !value.bytes().all(is_cookie_octet) {
            return Err(AuthError::InvalidConfig(format!(
                "the value of cookie {name:?} contains characters a cookie cannot"
            )));
        }
        let pair = format!("{name}={value}");
        let cookie = match self.headers.get(COOKIE).map(HeaderValue::to_str) {
            Some(Ok(existing)) => format!("{existing}; {pair}"),
            _ => pair,
        };
        self.headers.insert(COOKIE, sensitive(&cookie, "cookie")?);
        Ok(self)
    }

    /// The URL tokens are fetched from.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| AuthError::InvalidConfig(format!("the {what} is not valid in a header")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// RFC 7230 `tchar`, which RFC 6265 uses for cookie names.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 `cookie-octet`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[async_trait]
impl Authenticator for BackendUrlAuthenticator {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        let response = self
            .http
            .get(self.url.clone())
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(AuthError::transport)?;
        read_token_response(response).await
    }
}

impl fmt::Debug for BackendUrlAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendUrlAuthenticator")
            .field("url", &redacted(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_accumulate_and_are_validated() {
        let auth = BackendUrlAuthenticator::new("http://127.0.0.1:1/token")
            .unwrap()
            .cookie("session", "abc")
            .unwrap()
            .cookie("theme", "dark")
            .unwrap();
        let cookie = auth.headers.get(COOKIE).unwrap();
        assert_eq!(cookie, "session=abc; theme=dark");
        assert!(cookie.is_sensitive());

        let auth = BackendUrlAuthenticator::new("http://127.0.0.1:1/token").unwrap();
        let bad_value = auth.cookie("session", "a;b").unwrap_err().to_string();
        assert!(!bad_value.contains("a;b"), "{bad_value}");
        let auth = BackendUrlAuthenticator::new("http://127.0.0.1:1/token").unwrap();
        assert!(auth.cookie("se ssion", "x").is_err());
    }

    #[test]
    fn headers_are_sensitive_and_debug_shows_names_only() {
        let auth = BackendUrlAuthenticator::new("http://127.0.0.1:1/token?sig=hidden")
            .unwrap()
            .header("x-csrf", "c5rf-value")
            .unwrap()
            .bearer_auth("sess-token")
            .unwrap();
        assert!(auth.headers.get("x-csrf").unwrap().is_sensitive());
        assert_eq!(
            auth.headers.get(AUTHORIZATION).unwrap(),
            "Bearer sess-token"
        );
        let debug = format!("{auth:?}");
        for secret in ["c5rf-value", "sess-token", "hidden"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("x-csrf"), "{debug}");
        assert!(
            BackendUrlAuthenticator::new("http://127.0.0.1:1/token")
                .unwrap()
                .header("bad name", "v")
                .is_err()
        );
    }

    #[test]
    fn the_url_must_be_absolute_http() {
        for url in [
            "/api/token",
            "ftp://example.com/token",
            "http://u:p@example.com/t",
        ] {
            assert!(
                matches!(
                    BackendUrlAuthenticator::new(url),
                    Err(AuthError::InvalidConfig(_))
                ),
                "{url}"
            );
        }
    }
}
