//! `POST /auth/token` and `GET /.well-known/jwks.json`.

use std::fmt;

use auth_cache::client::ClientId;
use auth_cache::verify::Lookup;
use auth_core::policy::{InvalidReason, Principal, RouteClass};
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Json, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::header::HeaderValue;
use serde::Deserialize;

use sha2::{Digest, Sha256};

use super::TokenIssuer;
use crate::handle::AuthHandle;
use crate::response::{
    Rejection, Unavailable, error_response, json_response, too_many_requests_response,
    unauthorized_response,
};
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

async fn issue_token(State(handle): State<AuthHandle>, request: Request) -> Response {
    let client = handle.client_of(&request).map(ClientId::of);
    let active = handle.active();
    let Some(issuer) = active.state.issuer().cloned() else {
        return not_configured();
    };
    let body = match Json::<TokenRequest>::from_request(request, &()).await {
        Ok(Json(body)) => body,
        Err(rejection) => {
            telemetry::token_request(TokenOutcome::InvalidRequest);
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than 16 KiB",
                );
            }
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                malformed_body_message(&rejection),
            );
        }
    };
    let shown = shown_project(&issuer, &body.project_id);
    let budgets = &active.budgets;
    let project = budgets.project_key(&body.project_id);
    if let Some(managed) = active.state.managed_keys()
        && auth_core::apikey::is_managed(&body.project_key)
    {
        // A managed `project` key (docs/keys.md): projectId is the key's name. No KDF runs;
        // the key is looked up by its id like any managed key.
        use key_store::{Judged, KeyClass};
        // A lookup of an id memory does not know may cost a store query: charged like a KDF run.
        let charge = match budgets.reserve(client, Some(project), 1) {
            Ok(charge) => charge,
            Err(over) => return over_budget(budgets, &shown, over).await,
        };
        let judged = managed.verify(KeyClass::Project, &body.project_key).await;
        // Only a refusal is a failure: a rate limit or an unreachable store says nothing of
        // the key.
        let failed = match &judged {
            Ok(Judged::Allowed(key)) => key.record.name != body.project_id,
            Ok(Judged::Refused(_)) => true,
            _ => false,
        };
        charge.settle(u32::from(failed));
        let refuse = || {
            telemetry::token_request(TokenOutcome::InvalidClient);
            tracing::info!(project = %shown, "token request refused: unknown project or wrong key");
            invalid_client()
        };
        match judged {
            Ok(Judged::Allowed(key)) if key.record.name == body.project_id => {}
            Ok(Judged::Limited(limited)) => {
                telemetry::token_request(TokenOutcome::OverBudget);
                return Rejection::from(Unavailable::RateLimited(limited)).to_response();
            }
            Ok(_) => return refuse(),
            Err(error) => {
                tracing::warn!(%error, "the key store cannot be reached; refusing a managed project key with 503");
                telemetry::token_request(TokenOutcome::Overloaded);
                return Rejection::StoreUnavailable.to_response();
            }
        }
        return sign(
            &issuer,
            &body.project_id,
            active.clock.unix_now(),
            &telemetry::untrusted(&body.project_id),
        );
    }
    // The check is cached by a digest of both fields, like a verification: a replayed wrong key
    // costs no KDF run for `failure_ttl`, a valid one none for `api_key_ttl`, and neither is
    // charged to a budget. Uncached, its KDF run is charged to the client and to the project id
    // before it runs.
    let credentials = format!("{}\u{0}{}", body.project_id, body.project_key);
    let lookup = Lookup::token_request(active.generation, &credentials);
    let compute = || async {
        // Malformed keys cost no KDF run and are not charged.
        let cost = issuer.kdf_cost(&body.project_id, &body.project_key);
        let charge = (cost > 0)
            .then(|| budgets.reserve(client, Some(project), cost))
            .transpose()
            .map_err(Unavailable::OverBudget)?;
        let stats = handle.stats_handle();
        let job_issuer = issuer.clone();
        let (id, key) = (body.project_id.clone(), body.project_key.clone());
        let ran = active
            .pool
            .run(client, move || job_issuer.check(&id, &key))
            .await;
        let failures = match &ran {
            Ok(check) if check.result.is_err() => check.kdf_runs,
            _ => 0,
        };
        if let Some(charge) = charge {
            charge.settle(failures);
        }
        let check = ran.map_err(Unavailable::Pool)?;
        stats.record_kdf_runs(check.kdf_runs);
        Ok::<_, Unavailable>(
            check
                .result
                .map(|key_id| Principal::ApiKey {
                    class: RouteClass::Public,
                    key_id,
                })
                .map_err(InvalidReason::ApiKey),
        )
    };
    let verified = match active.cache.get_or_verify(lookup, compute).await {
        Ok(verified) => verified,
        Err(error) => match *error {
            Unavailable::OverBudget(over) => return over_budget(budgets, &shown, over).await,
            other => {
                telemetry::token_request(TokenOutcome::Overloaded);
                return Rejection::from(other).to_response();
            }
        },
    };
    if verified.outcome.is_err() {
        telemetry::token_request(TokenOutcome::InvalidClient);
        tracing::info!(project = %shown, "token request refused: unknown project or wrong key");
        return invalid_client();
    }
    sign(&issuer, &body.project_id, active.clock.unix_now(), &shown)
}

/// The token for a project whose key was accepted.
fn sign(issuer: &TokenIssuer, project_id: &str, now: u64, shown: &str) -> Response {
    match issuer.sign(project_id, now) {
        Ok(token) => {
            telemetry::token_request(TokenOutcome::Issued);
            tracing::info!(project = %shown, "token issued");
            json_response(
                StatusCode::OK,
                &serde_json::json!({ "token": token, "expiresIn": issuer.ttl().as_secs() }),
            )
        }
        Err(error) => {
            tracing::error!(%error, "the token issuer failed to sign a token");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token could not be issued; retry shortly",
            )
        }
    }
}

/// The answer to a token request over a failure budget, held like every such refusal.
async fn over_budget(
    budgets: &crate::runtime::RunningBudgets,
    shown: &str,
    over: auth_cache::budget::OverBudget,
) -> Response {
    budgets.hold_refusal().await;
    telemetry::token_request(TokenOutcome::OverBudget);
    tracing::info!(project = %shown, "token request refused: over the failure budget");
    too_many_requests_response(over.retry_after)
}

/// How logs name a presented project id: a configured one as configured (escaped), an unknown
/// one never as given — it may be a misplaced key, a forged log line, or 16 KiB of noise — but
/// by a short hash, so repeated attempts can still be told apart.
fn shown_project(issuer: &TokenIssuer, project_id: &str) -> String {
    if issuer.project(project_id).is_some() {
        return telemetry::untrusted(project_id);
    }
    let digest = Sha256::digest(project_id.as_bytes());
    format!(
        "unknown (sha256 {})",
        hex::encode(digest.get(..4).unwrap_or_default())
    )
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
        JsonRejection::BytesRejection(_) => "the request body could not be read",
        _ => "the request body is malformed",
    }
}
