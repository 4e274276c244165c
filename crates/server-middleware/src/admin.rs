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
pub fn admin_router(handle: AuthHandle) -> Router {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/reload", post(reload))
        .with_state(handle)
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
