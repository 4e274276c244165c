use std::fmt;

use async_trait::async_trait;
use auth_core::secrecy::{ExposeSecret, SecretString};
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use serde::Serialize;

use super::read_token_response;
use crate::http::{self, Redirects};
use crate::url::{join, parse_base_url};
use crate::{AuthError, AuthToken, Authenticator};

/// The server-side authenticator: exchanges a project id and project key for a short-lived
/// token at the issuer's `POST {base_url}/auth/token` (reference §7).
///
/// Request `{"projectId", "projectKey"}`, answer `{"token", "expiresIn"}`. Wrong credentials
/// give [`AuthError::Rejected`] (the server says 401 `invalid_client`). The project key never
/// appears in `Debug` output or errors; keep it on the server. The exchange follows no
/// redirects (a 307 would re-send the key wherever it points): a 3xx is an
/// [`AuthError::Status`].
pub struct ProjectKeyAuthenticator {
    http: reqwest::Client,
    endpoint: Url,
    project_id: String,
    project_key: SecretString,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest<'a> {
    project_id: &'a str,
    project_key: &'a str,
}

impl ProjectKeyAuthenticator {
    /// Exchanges `project_key` at `{base_url}/auth/token`, with its own HTTP client (10 s
    /// connect and 30 s request timeouts).
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] if `base_url` is not an absolute `http(s)` URL without
    /// credentials, query or fragment, or the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        project_id: impl Into<String>,
        project_key: impl Into<String>,
    ) -> Result<Self, AuthError> {
        let http = http::default_client(Redirects::Refuse).map_err(AuthError::InvalidConfig)?;
        Self::with_http_client(http, base_url, project_id, project_key)
    }

    /// Like [`new`](Self::new), sending through `http` (whose timeouts and redirect policy then
    /// apply; give it `redirect(Policy::none())` so the key is never re-sent elsewhere).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_http_client(
        http: reqwest::Client,
        base_url: &str,
        project_id: impl Into<String>,
        project_key: impl Into<String>,
    ) -> Result<Self, AuthError> {
        let base = parse_base_url(base_url).map_err(AuthError::InvalidConfig)?;
        let project_key = SecretString::from(project_key.into());
        Self::from_secret(http, &base, project_id.into(), project_key)
    }

    /// `base_url` must come from `parse_base_url`.
    pub(crate) fn from_secret(
        http: reqwest::Client,
        base_url: &Url,
        project_id: String,
        project_key: SecretString,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            http,
            endpoint: join(base_url, "auth/token").map_err(AuthError::InvalidConfig)?,
            project_id,
            project_key,
        })
    }

    /// The token endpoint this authenticator posts to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The project id sent with every exchange.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }
}

#[async_trait]
impl Authenticator for ProjectKeyAuthenticator {
    async fn get_auth_token(&self) -> Result<AuthToken, AuthError> {
        let body = TokenRequest {
            project_id: &self.project_id,
            project_key: self.project_key.expose_secret(),
        };
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .json(&body)
            .send()
            .await
            .map_err(AuthError::transport)?;
        read_token_response(response).await
    }
}

impl fmt::Debug for ProjectKeyAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectKeyAuthenticator")
            .field("endpoint", &self.endpoint.as_str())
            .field("project_id", &self.project_id)
            .field("project_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}
