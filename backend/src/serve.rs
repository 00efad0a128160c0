//! The HTTP server behind the dashboard: the event hub (`/publish`, `/ws`,
//! `/api/snapshot`, see [`crate::hub`]), static files of the built bundle,
//! a health check and the latest validation summary.
//!
//! Binding to a non-loopback address without a token is refused, since the
//! hub accepts published events. Shutdown closes every WebSocket cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cis490_shared::events::EventKind;
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};

use crate::hub::{self, Hub, routes::HubState};

use crate::validate::SUMMARY_FILE;

/// The default bind address (compatible with the earlier Python producers).
pub const DEFAULT_BIND: &str = "127.0.0.1:8447";

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to bind.
    pub bind: SocketAddr,
    /// Folder with `index.html` and the built bundle (`pkg/`).
    pub public_dir: PathBuf,
    /// Folder with the latest validation outputs, if any.
    pub validation_dir: Option<PathBuf>,
    /// Token publishers must present; required off loopback.
    pub token: Option<String>,
    /// A training run folder whose `<model>-<variant>/model.onnx` files are
    /// listed at `/api/models` and served at `/models/<name>/model.onnx`.
    pub run_dir: Option<PathBuf>,
}

/// The server could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("refusing to serve on {addr} without --token: only loopback addresses may run without one")]
    NonLoopbackWithoutToken {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Binding failed.
    #[error("cannot bind {addr}: {source} (is another cis490 serve running?)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server failed: {0}")]
    Run(#[source] std::io::Error),
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: Router,
    hub: Arc<Hub>,
    stop_sockets: watch::Sender<bool>,
}

struct AppState {
    validation_dir: Option<PathBuf>,
    run_dir: Option<PathBuf>,
}

/// Binds the server described by `config`.
pub async fn bind(config: ServeConfig) -> Result<BoundServer, ServeError> {
    if !config.bind.ip().is_loopback() && config.token.is_none() {
        return Err(ServeError::NonLoopbackWithoutToken { addr: config.bind });
    }
    if !config.public_dir.join("index.html").is_file() {
        tracing::warn!(dir = %config.public_dir.display(), "no index.html here: the dashboard page will be missing");
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Bind { addr: config.bind, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.bind, source })?;
    let state = Arc::new(AppState { validation_dir: config.validation_dir, run_dir: config.run_dir });
    let hub = Arc::new(Hub::new());
    let (stop_sockets, shutdown) = watch::channel(false);
    let hub_state = Arc::new(HubState { hub: hub.clone(), token: config.token, shutdown });
    let static_files = ServeDir::new(&config.public_dir)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(config.public_dir.join("index.html")));
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/validation/summary", get(validation_summary))
        .route("/api/models", get(list_models))
        .route("/models/{name}/model.onnx", get(model_file))
        .with_state(state)
        .merge(hub::routes::router(hub_state))
        .fallback_service(static_files);
    Ok(BoundServer { listener, addr, router, hub, stop_sockets })
}

impl BoundServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hub, for in-process producers.
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Serves until `shutdown` completes, then closes WebSockets and
    /// connections gracefully. Drops for slow clients are published as
    /// `perf` events (source `hub`) once a second when they change.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let stop_sockets = self.stop_sockets;
        let reporter = tokio::spawn(report_hub_perf(self.hub.clone()));
        let signal = async move {
            shutdown.await;
            // Receivers may all be gone already; nothing to close then.
            let _ = stop_sockets.send(true);
        };
        let served = axum::serve(self.listener, self.router).with_graceful_shutdown(signal).await;
        reporter.abort();
        served.map_err(ServeError::Run)
    }
}

/// Seconds between the server's own memory/CPU `perf` events.
const PROCESS_PERF_EVERY: u64 = 5;

async fn report_hub_perf(hub: Arc<Hub>) {
    let mut last = (0usize, 0u64);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut process = crate::producers::perf::sample("self");
    let mut ticks = 0u64;
    loop {
        tick.tick().await;
        ticks += 1;
        if ticks.is_multiple_of(PROCESS_PERF_EVERY)
            && let (Some(before), Some(now)) = (process, crate::producers::perf::sample("self"))
        {
            for event in crate::producers::perf::events("cis490-serve", &before, &now) {
                hub.publish(EventKind::Perf, event);
            }
            process = Some(now);
        }
        let now = hub.stats();
        if now != last {
            for (name, value, unit) in
                [("dropped_events", now.1 as f64, "events"), ("clients", now.0 as f64, "clients")]
            {
                let event =
                    serde_json::json!({"type": "perf", "source": "hub", "name": name, "value": value, "unit": unit});
                hub.publish(EventKind::Perf, event);
            }
            last = hub.stats();
        }
    }
}

/// `<model>-<variant>` folders of the run that hold a `model.onnx`.
fn onnx_models(run: &std::path::Path) -> Vec<(String, u64)> {
    let mut models: Vec<(String, u64)> = std::fs::read_dir(run)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let meta = std::fs::metadata(e.path().join("model.onnx")).ok()?;
                    meta.is_file().then_some((name, meta.len()))
                })
                .collect()
        })
        .unwrap_or_default();
    models.sort();
    models
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let Some(run) = &state.run_dir else {
        return axum::Json(serde_json::json!({ "models": [] })).into_response();
    };
    let models: Vec<serde_json::Value> = onnx_models(run)
        .into_iter()
        .map(|(name, bytes)| serde_json::json!({"name": name, "url": format!("/models/{name}/model.onnx"), "bytes": bytes}))
        .collect();
    axum::Json(serde_json::json!({ "models": models })).into_response()
}

async fn model_file(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let Some(run) = &state.run_dir else {
        return json_error(StatusCode::NOT_FOUND, "no run is served (start with --run RUN)");
    };
    // Only names listed by /api/models: no path tricks reach the disk.
    if !onnx_models(run).iter().any(|(listed, _)| *listed == name) {
        return json_error(StatusCode::NOT_FOUND, &format!("no model {name:?} in this run"));
    }
    match tokio::fs::read(run.join(&name).join("model.onnx")).await {
        Ok(bytes) => ([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{name}: {e}")),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn validation_summary(State(state): State<Arc<AppState>>) -> Response {
    let Some(dir) = &state.validation_dir else {
        return json_error(
            StatusCode::NOT_FOUND,
            "no validation results: run `cis490 validate` and serve with --validation DIR",
        );
    };
    let path = dir.join(SUMMARY_FILE);
    match tokio::fs::read(&path).await {
        Ok(bytes) => match serde_json::from_slice::<cis490_shared::validation::ValidationSummary>(&bytes) {
            Ok(summary) => axum::Json(summary).into_response(),
            Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{}: {e}", path.display())),
        },
        Err(_) => json_error(StatusCode::NOT_FOUND, &format!("{} does not exist yet", path.display())),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
