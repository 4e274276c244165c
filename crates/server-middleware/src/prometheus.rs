//! The Prometheus exporter: the global recorder and `GET /admin/metrics`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CONTENT_TYPE, HeaderValue};
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

/// Installs the global Prometheus recorder (once per process) and describes keygate's metrics.
/// From then on keygate's per-request counters are resolved in it once each and kept (a local
/// recorder set later with `metrics::with_local_recorder` does not see them).
///
/// # Errors
/// [`BuildError`] when a global recorder is already installed.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    crate::telemetry::describe_metrics();
    crate::telemetry::keep_counters_resolved();
    Ok(handle)
}

/// `GET /admin/metrics`: the Prometheus text exposition format. Like the admin routes, it needs
/// an [`AuthLayer`](crate::AuthLayer) over it.
pub fn metrics_router(metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/admin/metrics", get(render))
        .with_state(metrics)
}

async fn render(State(metrics): State<PrometheusHandle>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics.render(),
    )
        .into_response()
}
