//! axum extractors for what [`AuthLayer`](crate::AuthLayer) established.

use std::sync::Arc;

use auth_core::policy::{Denial, InvalidReason, Principal};
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::response::{denial_response, error_response, unauthorized_response};

/// The [`Principal`] the request was allowed as.
///
/// ```
/// use server_middleware::Authenticated;
///
/// async fn whoami(Authenticated(principal): Authenticated) -> String {
///     format!("{} via {}", principal.subject(), principal.method())
/// }
/// # let _ = axum::Router::<()>::new().route("/api/whoami", axum::routing::get(whoami));
/// ```
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// The verified JWT claims of the request, deserialized into `T` (the whole claims object by
/// default). Requests authenticated otherwise are refused with 401 `invalid_token`.
///
/// ```
/// use server_middleware::Claims;
///
/// #[derive(serde::Deserialize)]
/// struct Mine { sub: String, tenant: Option<String> }
///
/// async fn tenant(Claims(claims): Claims<Mine>) -> String {
///     format!("{} in {:?}", claims.sub, claims.tenant)
/// }
/// # let _ = axum::Router::<()>::new().route("/api/tenant", axum::routing::get(tenant));
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T = serde_json::Value>(pub T);

/// Why an extractor could not produce its value.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The route is not behind [`AuthLayer`](crate::AuthLayer): a server bug, answered with 500.
    #[error("the authentication layer is not installed on this route")]
    LayerMissing,
    /// The request was not authenticated with a JWT.
    #[error("this route accepts only JWTs")]
    NotAJwt,
    /// The JWT's claims do not deserialize into the handler's type.
    #[error("the token's claims are not what this route expects")]
    ClaimsMismatch,
}

impl IntoResponse for ExtractError {
    fn into_response(self) -> Response {
        match self {
            Self::LayerMissing => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &self.to_string(),
            ),
            Self::NotAJwt => denial_response(&Denial::InvalidToken(InvalidReason::JwtRequired)),
            Self::ClaimsMismatch => {
                let message = self.to_string();
                unauthorized_response("invalid_token", &message, Some(("invalid_token", &message)))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ExtractError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Self)
            .ok_or(ExtractError::LayerMissing)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = ExtractError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let claims = jwt_claims(parts)?;
        claims
            .deserialize()
            .map(Self)
            .map_err(|_| ExtractError::ClaimsMismatch)
    }
}

fn jwt_claims(parts: &Parts) -> Result<Arc<auth_core::jwt::Claims>, ExtractError> {
    match parts.extensions.get::<Principal>() {
        None => Err(ExtractError::LayerMissing),
        Some(Principal::Jwt(claims)) => Ok(Arc::clone(claims)),
        Some(_) => Err(ExtractError::NotAJwt),
    }
}
