//! Admin building blocks for a gateway: status, reload and Prometheus metrics routes.
//!
//! The routes are not protected by themselves: put [`AuthLayer`](crate::AuthLayer) over the
//! application so that `/admin/*` requires the admin credential.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

use crate::handle::{AuthHandle, ReloadError};
use crate::response::{error_response, json_response};
use crate::status::Status;

#[derive(Clone)]
struct AdminState {
    handle: AuthHandle,
    metrics: Option<PrometheusHandle>,
}

/// `GET /admin/status`, `POST /admin/reload` and, with a Prometheus handle, `GET /admin/metrics`.
///
/// - status: [`Status`] as JSON.
/// - reload: 200 `{"status": "reloaded", "generation": N}`; when the new configuration is
///   refused, 422 `{"error": "reload_failed", "message": ...}` and the old one keeps serving;
///   without a reload callback 501 `reload_unavailable`.
/// - metrics: the Prometheus text exposition format.
pub fn admin_router(handle: AuthHandle, metrics: Option<PrometheusHandle>) -> Router {
    let mut router = Router::new()
        .route("/admin/status", get(status))
        .route("/admin/reload", post(reload));
    if metrics.is_some() {
        router = router.route("/admin/metrics", get(render_metrics));
    }
    router.with_state(AdminState { handle, metrics })
}

/// Installs the global Prometheus recorder (once per process) and describes keygate's metrics.
///
/// # Errors
/// [`BuildError`] when a global recorder is already installed.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    crate::telemetry::describe_metrics();
    Ok(handle)
}

async fn status(State(admin): State<AdminState>) -> Response {
    axum::Json(Status::of(&admin.handle)).into_response()
}

async fn reload(State(admin): State<AdminState>) -> Response {
    match admin.handle.reload().await {
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

async fn render_metrics(State(admin): State<AdminState>) -> Response {
    let text = admin.metrics.map(|m| m.render()).unwrap_or_default();
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
