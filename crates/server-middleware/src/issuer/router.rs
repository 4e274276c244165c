//! `POST /auth/token` and `GET /.well-known/jwks.json`.

use std::fmt;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Json, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::header::HeaderValue;
use serde::Deserialize;

use crate::handle::AuthHandle;
use crate::response::{error_response, json_response, overloaded_response, unauthorized_response};
use crate::telemetry::{self, TokenOutcome};

/// Largest token request body accepted.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The token issuer's routes, to merge into the application's router. They answer 404 while
/// the current configuration has no token issuer (a reload can add or remove it).
///
/// - `POST /auth/token` with `{"projectId", "projectKey"}` → `{"token", "expiresIn"}`; wrong
///   id or key → 401 `invalid_client` (identical responses); a malformed body → 400.
/// - `GET /.well-known/jwks.json` → the issuer's public key as a JWK set.
pub fn token_issuer_router(handle: AuthHandle) -> Router {
    Router::new()
        .route("/auth/token", post(issue_token))
        .route("/.well-known/jwks.json", get(jwks))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle)
}

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(rename = "projectId")]
    project_id: String,
    #[serde(rename = "projectKey")]
    project_key: String,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

async fn issue_token(
    State(handle): State<AuthHandle>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Response {
    let state = handle.state();
    let Some(issuer) = state.issuer().cloned() else {
        return not_configured();
    };
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            telemetry::token_request(TokenOutcome::InvalidRequest);
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                malformed_body_message(&rejection),
            );
        }
    };
    let stats = handle.stats_handle();
    let clock = handle.clock();
    let project_id = request.project_id.clone();
    let outcome = handle
        .kdf_pool()
        .run(move || {
            let check = issuer.check(&request.project_id, &request.project_key);
            stats.record_kdf_runs(check.kdf_runs);
            check.result.ok().map(|_| {
                let now = clock.unix_now();
                (issuer.sign(&request.project_id, now), issuer.ttl())
            })
        })
        .await;
    match outcome {
        Err(_) => {
            telemetry::token_request(TokenOutcome::Overloaded);
            overloaded_response()
        }
        Ok(None) => {
            telemetry::token_request(TokenOutcome::InvalidClient);
            tracing::info!(project_id = %project_id, "token request refused: invalid client");
            invalid_client()
        }
        Ok(Some((Ok(token), ttl))) => {
            telemetry::token_request(TokenOutcome::Issued);
            tracing::info!(project_id = %project_id, "token issued");
            json_response(
                StatusCode::OK,
                &serde_json::json!({ "token": token, "expiresIn": ttl.as_secs() }),
            )
        }
        Ok(Some((Err(error), _))) => {
            tracing::error!(%error, "the token issuer failed to sign a token");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token could not be issued; retry shortly",
            )
        }
    }
}

async fn jwks(State(handle): State<AuthHandle>) -> Response {
    match handle.state().issuer() {
        Some(issuer) => {
            let mut response = Json(issuer.jwks().clone()).into_response();
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        None => not_configured(),
    }
}

/// One response for every bad credential, so nothing tells which part was wrong.
fn invalid_client() -> Response {
    unauthorized_response(
        "invalid_client",
        "unknown project or wrong project key",
        None,
    )
}

fn not_configured() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no token issuer is configured",
    )
}

/// A fixed message per kind of rejection: serde's own text could quote the body (the key).
fn malformed_body_message(rejection: &JsonRejection) -> &'static str {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "the request needs Content-Type: application/json"
        }
        JsonRejection::JsonSyntaxError(_) => "the request body is not valid JSON",
        JsonRejection::JsonDataError(_) => {
            "the request body must be {\"projectId\": string, \"projectKey\": string}"
        }
        JsonRejection::BytesRejection(_) => "the request body could not be read (at most 16 KiB)",
        _ => "the request body is malformed",
    }
}
