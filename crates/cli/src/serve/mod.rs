//! `keygate serve`: the auth gateway (reference §9).
//!
//! `/ingest/*`, `/api/*` and `/admin/*` are protected by the policy; everything else is public.
//! Authenticated requests go to `--upstream` (or to JSON echo handlers without one). `/health`,
//! the token issuer routes and the admin routes are always mounted.

mod app;
mod dev;
mod echo;
mod idle;
mod pool;
mod proxy;
mod server;
pub(crate) mod state;

use std::time::Duration;

use anyhow::{Context, Result};
use auth_core::apikey::AdminCredential;
use auth_core::secrecy::SecretString;
use axum::Router;
use axum::handler::HandlerWithoutStateExt;
use axum::routing::get;
use server_middleware::{
    AuthHandle, CorsSettings, MetricsError, PrometheusHandle, ReloadError, admin_router,
    forward_auth_router, install_prometheus_recorder, metrics_router, token_issuer_router,
};
use tower::Layer;

use crate::cli::ServeArgs;
use crate::exit::{Outcome, usage};
use crate::serve::app::{App, wrap};

pub(crate) fn run(args: ServeArgs) -> Result<Outcome> {
    init_tracing();
    // The accept loop, signals and background work (reloads, JWKS refreshes) run here;
    // connections run on the workers (`server::Workers`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<Outcome> {
    let options = crate::commands::config::options(args.config.clone());
    let cli_admin = cli_admin_token(args.admin_token.as_deref())?;
    let (handle, settings, banner) = if options.is_unconfigured() {
        let dev = dev::DevMode::new(cli_admin)?;
        let managed = state::managed_keys(&auth_config::KeysSettings::default()).await?;
        let handle = AuthHandle::new(dev.state(managed)?);
        (handle, auth_config::ServerSettings::default(), Some(dev))
    } else {
        let config = crate::commands::config::load(&options)?;
        let managed = state::managed_keys(config.keys()).await?;
        let initial = state::from_config(&config, cli_admin.clone(), managed.as_ref())?;
        state::log_mechanisms(&config, &initial);
        let reload_options = options.clone();
        // The key store is opened once: a reload keeps its connection, caches and poll.
        let handle = AuthHandle::with_reloader(initial, move || {
            let config = auth_config::Config::load(&reload_options)?;
            state::from_config(&config, cli_admin.clone(), managed.as_ref())
                .map_err(|e| format!("{e:#}").into())
        });
        (handle, config.server().clone(), None)
    };
    let listen = match args.listen {
        Some(addr) => addr,
        None => settings.listen,
    };
    let upstream_limits = proxy::UpstreamLimits {
        timeout: Duration::from_secs(settings.upstream_timeout_seconds),
        underscores_in_headers: settings.underscores_in_headers,
    };
    let upstream = args
        .upstream
        .or(settings.upstream.clone())
        .map(|url| proxy::Upstream::new(&url, upstream_limits))
        .transpose()?;
    let limits = server::ConnectionLimits {
        request_head: Duration::from_secs(settings.request_head_timeout_seconds),
        keep_alive: Duration::from_secs(settings.keep_alive_timeout_seconds),
        client_io: Duration::from_secs(settings.client_body_timeout_seconds),
        max_connections: server::fit_to_descriptor_limit(settings.max_connections),
        shutdown: Duration::from_secs(settings.shutdown_timeout_seconds),
    };
    let surface = Surface::of(&settings);
    let metrics = match install_prometheus_recorder() {
        Ok(handle) => Some(handle),
        // Already installed: a second server in this process (tests) serves no metrics route.
        Err(MetricsError::Recorder(_)) => None,
        Err(error) => {
            tracing::warn!(%error, "metrics are off: /admin/metrics is not served");
            None
        }
    };
    // One router per worker, each with its own upstream connection pool, so a request and the
    // upstream connection it uses always run on the same thread.
    let workers = server::Workers::start(server::worker_count(), || {
        router(
            &handle,
            upstream.as_ref().map(proxy::Upstream::with_own_pool),
            &surface,
            metrics.clone(),
        )
    })
    .context("could not start the worker threads")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}"))?;
    let bound = listener.local_addr().unwrap_or(listen);
    match &banner {
        Some(dev) => dev.print_banner(bound),
        None => println!("keygate is listening on http://{bound}"),
    }
    let reloads = tokio::spawn(reload_on_hangup(handle.clone()));
    server::serve(listener, &workers, limits, shutdown_signal()).await;
    workers.stop();
    reloads.abort();
    tracing::info!("keygate stopped");
    Ok(Outcome::Success)
}

/// `--admin-token`: a plain-text token. A stored hash there is a usage error (exit 2) that never
/// shows the value: hashes go in `[authentication] admin_api_key`.
fn cli_admin_token(token: Option<&str>) -> Result<Option<SecretString>> {
    match token {
        Some(token) if AdminCredential::plain_token_is_stored_hash(token) => Err(usage(
            "--admin-token holds a stored API-key hash, not a token: stored hashes go in \
             [authentication] admin_api_key, while --admin-token takes the plain-text admin token",
        )),
        other => Ok(other.map(|t| SecretString::from(t.to_owned()))),
    }
}

/// What the gateway serves besides the policy (`[server]`; read at start).
#[derive(Debug, Clone, Default)]
pub(crate) struct Surface {
    /// Cross-origin access for browser frontends; `None`: no CORS headers at all.
    pub(crate) cors: Option<CorsSettings>,
    /// Whether `/auth/verify` answers the trusted proxies.
    pub(crate) forward_auth: bool,
}

impl Surface {
    fn of(settings: &auth_config::ServerSettings) -> Self {
        let cors = (!settings.cors_allowed_origins.is_empty()).then(|| CorsSettings {
            allowed_origins: settings.cors_allowed_origins.clone(),
            allowed_methods: settings.cors_allowed_methods.clone(),
            allowed_headers: settings.cors_allowed_headers.clone(),
            max_age_seconds: settings.cors_max_age_seconds,
            allow_credentials: settings.cors_allow_credentials,
        });
        Self {
            cors,
            forward_auth: settings.forward_auth,
        }
    }
}

/// The gateway's routes, all behind the auth layer (which lets public paths through), with
/// what must run before routing in front of them ([`wrap`]). `metrics`: the process's
/// Prometheus recorder, installed once (none when another recorder holds the global slot: then
/// `/admin/metrics` is not served).
pub(crate) fn router(
    handle: &AuthHandle,
    upstream: Option<proxy::Upstream>,
    surface: &Surface,
    metrics: Option<PrometheusHandle>,
) -> App {
    let mut app = Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .merge(token_issuer_router(handle.clone()))
        .merge(admin_router(handle.clone()));
    if let Some(metrics) = metrics {
        app = app.merge(metrics_router(metrics));
    }
    let auth = handle.by_path_prefix();
    // The fallback is wrapped in the auth layer itself, and the routes get it with
    // `route_layer`: `Router::layer` would box the wrapped fallback once more, which costs
    // every proxied request another boxed clone and route future.
    let app = match upstream {
        Some(upstream) => {
            let handle = handle.clone();
            // A service, not a handler: axum calls a fallback service directly, where a handler
            // fallback is wrapped in a method router and cloned into a route for every request.
            app.fallback_service(auth.layer(tower::service_fn(move |request| {
                proxy::forward(upstream.clone(), handle.clone(), request)
            })))
        }
        None => app.fallback_service(auth.layer(echo::echo.into_service())),
    };
    let mut app = app.route_layer(auth);
    if surface.forward_auth {
        // Outside the prefix layer: the endpoint decides about the path it is asked about, not
        // about its own.
        app = app.merge(forward_auth_router(handle.clone()));
    }
    wrap(app, surface.cors.as_ref())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// SIGINT or SIGTERM: stop accepting, finish in-flight requests (bounded by the drain period).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// SIGHUP reloads the configuration exactly as `POST /admin/reload` does: a refused
/// configuration is logged and the running one keeps serving.
async fn reload_on_hangup(handle: AuthHandle) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("SIGHUP cannot be handled here; reload with POST /admin/reload");
            return;
        };
        while hangups.recv().await.is_some() {
            match handle.reload().await {
                Ok(generation) => tracing::info!(generation, "SIGHUP: configuration reloaded"),
                Err(ReloadError::NotConfigured) => {
                    tracing::warn!("SIGHUP: development mode has no configuration to reload")
                }
                // The handle has logged why the new configuration was refused.
                Err(_) => tracing::warn!(
                    "SIGHUP: reload refused; the previous configuration keeps serving"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = handle;
}
