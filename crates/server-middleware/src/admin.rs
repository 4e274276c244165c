//! Admin building blocks for a gateway: the status and reload routes.
//!
//! The routes are not protected by themselves: put an [`AuthLayer`](crate::AuthLayer) over
//! them (the gateway's prefix layer, or [`AuthHandle::require`] with
//! [`RouteClass::Admin`](auth_core::policy::RouteClass::Admin)) so they require the admin
//! credential.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;

use crate::handle::{AuthHandle, ReloadError};
use crate::response::{error_response, json_response};
use crate::status::Status;

/// `GET /admin/status` and `POST /admin/reload`.
///
/// - status: [`Status`] as JSON.
/// - reload: 200 `{"status": "reloaded", "generation": N}`; when the new configuration is
///   refused, 422 `{"error": "reload_failed", "message": ...}` and the old one keeps serving;
///   without a reload callback 501 `reload_unavailable`.
///
/// With managed keys attached ([`AuthStateBuilder::managed_keys`](crate::AuthStateBuilder::managed_keys)),
/// also `POST /admin/keys` (create: 201 with the token, shown once), `GET /admin/keys` (list),
/// `DELETE /admin/keys/{id}` (revoke) and `POST /admin/keys/{id}/reroll` (new token; the old
/// one works for `grace`, default 24h). Without them these answer 404 `managed_keys_disabled`.
pub fn admin_router(handle: AuthHandle) -> Router {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/reload", post(reload))
        .route("/admin/keys", post(keys::create).get(keys::list))
        .route("/admin/keys/{id}", axum::routing::delete(keys::revoke))
        .route("/admin/keys/{id}/reroll", post(keys::reroll))
        .with_state(handle)
}

/// The managed-key admin routes. Their helpers return the error response itself.
#[allow(
    clippy::result_large_err,
    reason = "an early-return response, built once per failed request"
)]
mod keys {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use auth_core::apikey::ManagedKeyId;
    use auth_core::secrecy::ExposeSecret;
    use axum::extract::{Path, State};
    use axum::response::Response;
    use bytes::Bytes;
    use http::StatusCode;
    use key_store::{
        KeyClass, KeyRecord, ManagedKeys, NewKey, NewKeyError, RateLimit, StoreError,
        parse_duration,
    };

    use crate::handle::AuthHandle;
    use crate::response::{error_response, json_response};

    /// Request bodies larger than this get 413.
    const MAX_BODY_BYTES: usize = 16 * 1024;

    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct CreateBody {
        class: String,
        name: String,
        expires_in: Option<String>,
        rate_limit: Option<String>,
        #[serde(default)]
        meta: BTreeMap<String, String>,
    }

    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RerollBody {
        grace: Option<String>,
    }

    fn bad_request(message: &str) -> Response {
        error_response(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    fn managed(handle: &AuthHandle) -> Result<Arc<ManagedKeys>, Response> {
        handle.state().managed_keys().cloned().ok_or_else(|| {
            error_response(
                StatusCode::NOT_FOUND,
                "managed_keys_disabled",
                "managed keys are not enabled on this gateway: configure [keys] store",
            )
        })
    }

    fn store_failure(error: &StoreError) -> Response {
        match error {
            StoreError::NameTaken { .. } => {
                error_response(StatusCode::CONFLICT, "name_taken", &error.to_string())
            }
            _ => {
                tracing::warn!(%error, "key store request failed");
                let mut response = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the key store is unavailable; retry shortly",
                );
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(crate::response::RETRY_AFTER_SECONDS),
                );
                response
            }
        }
    }

    fn new_key_failure(error: &NewKeyError) -> Response {
        match error {
            NewKeyError::Store(store) => store_failure(store),
            NewKeyError::BadName | NewKeyError::BadMeta => bad_request(&error.to_string()),
            _ => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                &error.to_string(),
            ),
        }
    }

    fn body<T: serde::de::DeserializeOwned + Default>(
        bytes: &Bytes,
        required: bool,
    ) -> Result<T, Response> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is larger than 16 KiB",
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) && !required {
            return Ok(T::default());
        }
        serde_json::from_slice(bytes).map_err(|error| {
            // serde_json's message names the field and position, never echoes values.
            bad_request(&format!("the body is not the expected JSON: {error}"))
        })
    }

    fn with_token(record: &KeyRecord, token: &str, now: u64) -> serde_json::Value {
        let mut value = record.to_json(now);
        if let Some(object) = value.as_object_mut() {
            object.insert("token".to_owned(), serde_json::Value::from(token));
        }
        value
    }

    fn key_id(id: &str) -> Result<ManagedKeyId, Response> {
        ManagedKeyId::parse(id).map_err(|_| bad_request("a key id is 16 lower-case hex characters"))
    }

    pub(super) async fn create(State(handle): State<AuthHandle>, bytes: Bytes) -> Response {
        let result = async {
            let managed = managed(&handle)?;
            let body: CreateBody = body(&bytes, true)?;
            let class: KeyClass = body
                .class
                .parse()
                .map_err(|e: key_store::ClassError| bad_request(&e.to_string()))?;
            let expires_in: Option<Duration> = body
                .expires_in
                .map(|text| parse_duration(&text))
                .transpose()
                .map_err(|e| bad_request(&format!("expiresIn: {e}")))?;
            let rate_limit: Option<RateLimit> = body
                .rate_limit
                .map(|text| text.parse())
                .transpose()
                .map_err(|e: key_store::RateLimitError| bad_request(&format!("rateLimit: {e}")))?;
            let created = managed
                .create(NewKey {
                    class,
                    name: body.name,
                    expires_in,
                    rate_limit,
                    meta: body.meta,
                })
                .await
                .map_err(|e| new_key_failure(&e))?;
            Ok::<_, Response>(json_response(
                StatusCode::CREATED,
                &with_token(
                    &created.record,
                    created.token.expose_secret(),
                    managed.now(),
                ),
            ))
        };
        result.await.unwrap_or_else(|response| response)
    }

    pub(super) async fn list(State(handle): State<AuthHandle>) -> Response {
        let result = async {
            let managed = managed(&handle)?;
            let records = managed.list().await.map_err(|e| store_failure(&e))?;
            let now = managed.now();
            let keys: Vec<_> = records.iter().map(|r| r.to_json(now)).collect();
            Ok::<_, Response>(json_response(
                StatusCode::OK,
                &serde_json::json!({ "keys": keys }),
            ))
        };
        result.await.unwrap_or_else(|response| response)
    }

    fn not_found(id: ManagedKeyId) -> Response {
        error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no unrevoked key with id {id}"),
        )
    }

    pub(super) async fn revoke(
        State(handle): State<AuthHandle>,
        Path(id): Path<String>,
    ) -> Response {
        let result = async {
            let managed = managed(&handle)?;
            let id = key_id(&id)?;
            let record = managed
                .revoke(id)
                .await
                .map_err(|e| store_failure(&e))?
                .ok_or_else(|| not_found(id))?;
            Ok::<_, Response>(json_response(
                StatusCode::OK,
                &record.to_json(managed.now()),
            ))
        };
        result.await.unwrap_or_else(|response| response)
    }

    pub(super) async fn reroll(
        State(handle): State<AuthHandle>,
        Path(id): Path<String>,
        bytes: Bytes,
    ) -> Response {
        let result = async {
            let managed = managed(&handle)?;
            let id = key_id(&id)?;
            let body: RerollBody = body(&bytes, false)?;
            let grace = match body.grace.as_deref().map(str::trim) {
                None => Duration::from_secs(86_400),
                Some("0" | "0s") => Duration::ZERO,
                Some(text) => {
                    parse_duration(text).map_err(|e| bad_request(&format!("grace: {e}")))?
                }
            };
            let rerolled = managed
                .reroll(id, grace)
                .await
                .map_err(|e| new_key_failure(&e))?
                .ok_or_else(|| not_found(id))?;
            Ok::<_, Response>(json_response(
                StatusCode::OK,
                &with_token(
                    &rerolled.record,
                    rerolled.token.expose_secret(),
                    managed.now(),
                ),
            ))
        };
        result.await.unwrap_or_else(|response| response)
    }
}

async fn status(State(handle): State<AuthHandle>) -> Response {
    axum::Json(Status::of(&handle)).into_response()
}

async fn reload(State(handle): State<AuthHandle>) -> Response {
    match handle.reload().await {
        Ok(generation) => json_response(
            StatusCode::OK,
            &serde_json::json!({ "status": "reloaded", "generation": generation }),
        ),
        Err(error @ ReloadError::NotConfigured) => error_response(
            StatusCode::NOT_IMPLEMENTED,
            "reload_unavailable",
            &error.to_string(),
        ),
        Err(error) => error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reload_failed",
            &error.to_string(),
        ),
    }
}
