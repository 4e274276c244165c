//! Responses the middleware writes itself: RFC 6750 denials, load shedding, bad paths. Every
//! one has the JSON body of [`error_response`], and every challenge comes from
//! [`auth_core::policy::challenge`].

use auth_cache::budget::OverBudget;
use auth_cache::pool::KdfError;
use auth_core::path::PathError;
use auth_core::policy::{Denial, Refusal, challenge};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

/// Seconds a shed request is told to wait before retrying.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Why a request is not let through, and so which response it gets.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The policy refused it: 400 or 401 as RFC 6750 says.
    Denied(Denial),
    /// Verifying it needs the KDF pool, which is full (or failing): 503 with `Retry-After`.
    Overloaded,
    /// The client has spent its failure budget, or holds its share of the KDF pool: 429 with
    /// `Retry-After` (RFC 6585), at no KDF cost.
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Its path cannot be judged safely (see [`auth_core::path`]): 400 `invalid_request`.
    InvalidPath(PathError),
    /// A valid managed key over its rate limit: 429 with `Retry-After`, `RateLimit-Policy`
    /// and `RateLimit` (IETF httpapi ratelimit-headers draft).
    RateLimited {
        /// Seconds until a request would pass.
        retry_after: u64,
        /// The key's limit: requests per window.
        requests: u32,
        /// The window in seconds.
        window: u32,
    },
    /// A managed key not in memory while the key store cannot be reached: 503 with
    /// `Retry-After` (fails closed).
    StoreUnavailable,
}

/// Why a verification could not be made now (the verifier's `Unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The KDF pool refused the job.
    Pool(KdfError),
    /// The client is over its failure budget.
    OverBudget(OverBudget),
    /// A managed key is over its rate limit.
    RateLimited(key_store::RateLimited),
    /// The key store cannot answer for a key that is not in memory.
    Store,
}

impl From<Unavailable> for Rejection {
    fn from(unavailable: Unavailable) -> Self {
        match unavailable {
            Unavailable::OverBudget(over) => Self::TooManyRequests {
                retry_after: over.retry_after,
            },
            Unavailable::Pool(KdfError::ClientShareFull) => Self::TooManyRequests {
                retry_after: RETRY_AFTER_SECONDS,
            },
            Unavailable::Pool(_) => Self::Overloaded,
            Unavailable::RateLimited(limited) => Self::RateLimited {
                retry_after: limited.retry_after,
                requests: limited.limit.requests,
                window: limited.limit.seconds,
            },
            Unavailable::Store => Self::StoreUnavailable,
        }
    }
}

impl From<Refusal<Unavailable>> for Rejection {
    fn from(refusal: Refusal<Unavailable>) -> Self {
        match refusal {
            Refusal::Denied(denial) => Self::Denied(denial),
            Refusal::Unavailable(unavailable) => unavailable.into(),
            // `Refusal` is non-exhaustive; refuse what it may grow as "try later".
            _ => Self::Overloaded,
        }
    }
}

impl Rejection {
    /// The HTTP status of the response.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Denied(denial) => {
                StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            Self::Overloaded | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::InvalidPath(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The response: the denial's status, `WWW-Authenticate` and JSON body, 503 with
    /// `Retry-After` for [`Rejection::Overloaded`], 400 for [`Rejection::InvalidPath`].
    #[must_use]
    pub fn to_response<B: From<Bytes>>(&self) -> Response<B> {
        match self {
            Self::Denied(denial) => denial_response(denial),
            Self::Overloaded => overloaded_response(),
            Self::TooManyRequests { retry_after } => too_many_requests_response(*retry_after),
            Self::InvalidPath(error) => invalid_path_response(*error),
            Self::RateLimited {
                retry_after,
                requests,
                window,
            } => rate_limited_response(*retry_after, *requests, *window),
            Self::StoreUnavailable => store_unavailable_response(),
        }
    }
}

impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        self.to_response()
    }
}

/// The RFC 6750 response for a denial.
#[must_use]
pub fn denial_response<B: From<Bytes>>(denial: &Denial) -> Response<B> {
    let mut response = error_response(
        StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::UNAUTHORIZED),
        denial.body_error(),
        &denial.message(),
    );
    set_challenge(&mut response, &denial.www_authenticate());
    response
}

/// A 401 whose challenge carries `error` (`None`: the bare `Bearer realm="keygate"`).
#[must_use]
pub fn unauthorized_response<B: From<Bytes>>(
    code: &str,
    message: &str,
    error: Option<(&str, &str)>,
) -> Response<B> {
    let mut response = error_response(StatusCode::UNAUTHORIZED, code, message);
    set_challenge(&mut response, &challenge(error));
    response
}

fn set_challenge<B>(response: &mut Response<B>, value: &str) {
    let value = HeaderValue::from_str(value)
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer realm="keygate""#));
    response.headers_mut().insert(WWW_AUTHENTICATE, value);
}

/// 503 with `Retry-After` and a JSON body.
#[must_use]
pub fn overloaded_response<B: From<Bytes>>() -> Response<B> {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the server is busy verifying credentials; retry shortly",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// 429 `too_many_requests` with `Retry-After` (RFC 6585 §4).
#[must_use]
pub fn too_many_requests_response<B: From<Bytes>>(retry_after: u64) -> Response<B> {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "too many failed credentials from this client; retry later",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    response
}

/// 429 for a managed key over its limit: `Retry-After` (RFC 6585 §4) and the IETF httpapi
/// ratelimit-headers draft's `RateLimit-Policy: "key";q=<requests>;w=<window>` and
/// `RateLimit: "key";r=0;t=<seconds>`.
#[must_use]
pub fn rate_limited_response<B: From<Bytes>>(
    retry_after: u64,
    requests: u32,
    window: u32,
) -> Response<B> {
    let retry_after = retry_after.max(1);
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "this API key is over its rate limit; retry later",
    );
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
    let policy = format!("\"key\";q={requests};w={window}");
    let state = format!("\"key\";r=0;t={retry_after}");
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(http::HeaderName::from_static(name), value);
        }
    }
    response
}

/// 503 with `Retry-After`: a managed key is not in memory and the key store cannot be reached.
#[must_use]
pub fn store_unavailable_response<B: From<Bytes>>() -> Response<B> {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the key store is unavailable; retry shortly",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// 400 `invalid_request` for a path that cannot be judged safely.
#[must_use]
pub fn invalid_path_response<B: From<Bytes>>(error: PathError) -> Response<B> {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &error.to_string(),
    )
}

/// A JSON `{"error", "message"}` response: the body of every error keygate writes.
#[must_use]
pub fn error_response<B: From<Bytes>>(
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<B> {
    json_response(
        status,
        &serde_json::json!({ "error": code, "message": message }),
    )
}

/// A JSON response that caches nowhere (it concerns credentials).
pub(crate) fn json_response<B: From<Bytes>>(
    status: StatusCode,
    body: &serde_json::Value,
) -> Response<B> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(B::from(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
