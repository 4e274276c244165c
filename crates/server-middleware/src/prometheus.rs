//! The Prometheus exporter: the global recorder and `GET /admin/metrics`.

use std::convert::Infallible;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CONTENT_TYPE, HeaderValue};
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

/// How often the recorder's histogram samples are drained into their summaries. A scrape drains
/// them too, but a gateway may never be scraped, and until a drain each sample is held (about
/// 16 bytes; one per KDF job and per JWT verification). The exporter's own listener uses 5 s;
/// a second keeps a flood's backlog small, for one short lock per histogram.
pub const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Why [`install_prometheus_recorder`] installed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A global recorder is already installed.
    #[error(transparent)]
    Recorder(#[from] BuildError),
    /// The thread that drains histogram samples could not be started.
    #[error("could not start the metrics upkeep thread")]
    UpkeepThread(#[source] std::io::Error),
}

/// Installs the global Prometheus recorder (once per process) and describes keygate's metrics.
/// From then on keygate's per-request counters are resolved in it once each and kept (a local
/// recorder set later with `metrics::with_local_recorder` does not see them).
///
/// A thread named `keygate-metrics` drains the histograms every [`METRICS_UPKEEP_INTERVAL`] for
/// as long as the process runs, so their memory stays bounded whether or not `/admin/metrics`
/// is scraped.
///
/// # Errors
/// [`MetricsError::Recorder`] when a global recorder is already installed;
/// [`MetricsError::UpkeepThread`] when the thread cannot be started. Either way no recorder
/// is installed.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, MetricsError> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // The thread ends when `keep_running` is dropped: only if the recorder is not installed.
    let (keep_running, stopped) = mpsc::channel::<Infallible>();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("keygate-metrics".to_owned())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(METRICS_UPKEEP_INTERVAL)
            {
                upkeep.run_upkeep();
            }
        })
        .map_err(MetricsError::UpkeepThread)?;
    metrics::set_global_recorder(recorder).map_err(BuildError::from)?;
    // Installed: the recorder is the process's for good, and so is its upkeep.
    std::mem::forget(keep_running);
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
