//! The HTTP server behind the dashboard: the event hub (`/publish`, `/ws`,
//! `/api/snapshot`, see [`crate::hub`]), static files of the built bundle,
//! a health check, the latest validation summary and the run's models.
//!
//! - [`access`]: `Host`, `Origin` and token checks on every route;
//! - [`files`]: files served from a folder, never through a link out of it;
//! - [`connections`]: the accept loop with a connection limit and
//!   header, write and shutdown timeouts.
//!
//! Binding to a non-loopback address without a token is refused, since the
//! hub accepts published events. Shutdown closes every WebSocket cleanly.

pub mod access;
pub mod blocking;
pub mod connections;
pub mod files;

pub use blocking::{run_beside, serve_until_stopped};

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cis490_shared::events::{Event, PerfEvent};
use tokio::sync::watch;

use crate::hub::routes::{HubState, WsLimits};
use crate::hub::{self, Hub, HubLimits, HubStats};
use access::{Access, AccessConfigError, HostPolicy, OriginPolicy, Rule, Token};
use cis490_shared::validation::SUMMARY_FILE;
use cis490_store::run_layout::{self, ONNX_FILE};
use connections::{ConnectionLimits, ConnectionStats};
use files::Folder;

/// The default bind address (compatible with the earlier Python producers).
pub const DEFAULT_BIND: &str = "127.0.0.1:8447";

/// Time limits and sizes that keep slow or hostile clients from holding
/// the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections open at once (WebSockets included); one more gets `503`.
    pub max_connections: usize,
    /// Time for a request's headers, and for silence on a connection
    /// between requests.
    pub header_read_timeout: Duration,
    /// Time for a `POST /publish` body.
    pub body_read_timeout: Duration,
    /// Time a write may wait for the peer to accept a byte.
    pub write_stall_timeout: Duration,
    /// Interval of WebSocket pings.
    pub ws_ping_every: Duration,
    /// A WebSocket silent this long (not even a pong) is closed.
    pub ws_idle_timeout: Duration,
    /// Largest WebSocket message (and frame) accepted from a client.
    pub ws_max_message_bytes: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(30),
            ws_ping_every: Duration::from_secs(30),
            ws_idle_timeout: Duration::from_secs(75),
            ws_max_message_bytes: 4096,
        }
    }
}

/// Open files kept free of connections (listener, logs, model files, …).
const RESERVED_FILES: u64 = 64;

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
    /// Whether reading (`/ws`, `/api/...`, `/models/...`) needs the token too.
    pub private: bool,
    /// Extra host names the hub answers to (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// Extra origins whose pages may publish and stream (`--allow-origin`).
    pub allow_origins: Vec<String>,
    /// A training run folder whose `<model>-<variant>/model.onnx` files are
    /// listed at `/api/models` and served at `/models/<name>/model.onnx`.
    pub run_dir: Option<PathBuf>,
    /// Connection and time limits.
    pub limits: ServeLimits,
    /// What the hub may hold.
    pub hub_limits: HubLimits,
    /// A folder where the hub keeps its state across restarts
    /// (`--state-dir`; [`crate::hub::persist`]).
    pub state_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// Serving `public_dir` at `bind` with no token, validation or run,
    /// and the default limits.
    pub fn new(bind: SocketAddr, public_dir: PathBuf) -> Self {
        Self {
            bind,
            public_dir,
            validation_dir: None,
            token: None,
            private: false,
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            run_dir: None,
            limits: ServeLimits::default(),
            hub_limits: HubLimits::default(),
            state_dir: None,
        }
    }
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
    /// `--private` without a token.
    #[error("--private needs --token (or CIS490_TOKEN): readers must have something to present")]
    PrivateWithoutToken,
    /// A bad `--allow-host` or `--allow-origin`.
    #[error(transparent)]
    Access(#[from] AccessConfigError),
    /// Binding failed.
    #[error("cannot bind {addr} (is another cis490 serve running?)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: Router,
    hub: Arc<Hub>,
    connection_limits: ConnectionLimits,
    stop_sockets: watch::Sender<bool>,
    state_file: Option<hub::persist::StateFile>,
}

struct AppState {
    validation_dir: Option<PathBuf>,
    run: Option<Folder>,
}

/// The connection limit that fits the open-file limit, after raising it.
fn fitting_connection_limit(asked: usize) -> usize {
    match connections::raise_open_file_limit() {
        Some(files) if (asked as u64) + RESERVED_FILES > files => {
            let fits = files.saturating_sub(RESERVED_FILES).max(1) as usize;
            tracing::warn!(
                "the open-file limit is {files}: serving at most {fits} connections instead of {asked} (raise `ulimit -n`)"
            );
            fits
        }
        _ => asked,
    }
}

/// Binds the server described by `config`.
pub async fn bind(config: ServeConfig) -> Result<BoundServer, ServeError> {
    if !config.bind.ip().is_loopback() && config.token.is_none() {
        return Err(ServeError::NonLoopbackWithoutToken { addr: config.bind });
    }
    if config.private && config.token.is_none() {
        return Err(ServeError::PrivateWithoutToken);
    }
    if !config.public_dir.join("index.html").is_file() {
        tracing::warn!(dir = %config.public_dir.display(), "no index.html here: the dashboard page will be missing");
    }
    let origins = OriginPolicy::new(&config.allow_origins)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Bind { addr: config.bind, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.bind, source })?;
    let access = Arc::new(Access {
        hosts: HostPolicy::new(addr.ip(), addr.port(), &config.allow_hosts)?,
        origins,
        token: config.token.as_deref().map(Token::new),
        private: config.private,
    });
    let limits = config.limits;
    let hub = Arc::new(Hub::with_limits(config.hub_limits));
    let state_file = config.state_dir.as_deref().and_then(|dir| hub::persist::open(dir, &hub));
    let (stop_sockets, shutdown) = watch::channel(false);
    let hub_state = Arc::new(HubState {
        hub: hub.clone(),
        shutdown,
        body_read_timeout: limits.body_read_timeout,
        ws: WsLimits {
            max_message_bytes: limits.ws_max_message_bytes,
            ping_every: limits.ws_ping_every,
            idle_timeout: limits.ws_idle_timeout,
        },
    });
    let app =
        Arc::new(AppState { validation_dir: config.validation_dir, run: config.run_dir.as_deref().map(Folder::new) });
    let router = routes(access, hub_state, app, Arc::new(Folder::new(&config.public_dir)));
    let connection_limits = ConnectionLimits {
        max_connections: fitting_connection_limit(limits.max_connections),
        header_read_timeout: limits.header_read_timeout,
        write_stall_timeout: limits.write_stall_timeout,
    };
    Ok(BoundServer { listener, addr, router, hub, connection_limits, stop_sockets, state_file })
}

/// Every route with the access rule it needs; the `Host` check covers all.
fn routes(access: Arc<Access>, hub_state: Arc<HubState>, app: Arc<AppState>, public: Arc<Folder>) -> Router {
    let rule = |rule: Rule| from_fn_with_state((access.clone(), rule), access::check_rule);
    let hub_routes = Router::new()
        .route("/publish", post(hub::routes::publish).route_layer(rule(Rule::Publish)))
        .route("/ws", get(hub::routes::ws).route_layer(rule(Rule::Stream)))
        .route("/api/snapshot", get(hub::routes::snapshot).route_layer(rule(Rule::Read)))
        .with_state(hub_state);
    let artifacts = Router::new()
        .route("/api/validation/summary", get(validation_summary).route_layer(rule(Rule::Read)))
        .route("/api/models", get(list_models).route_layer(rule(Rule::Read)))
        .route("/models/{name}/model.onnx", get(model_file).route_layer(rule(Rule::Read)))
        .with_state(app);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(hub_routes)
        .merge(artifacts)
        .fallback_service(get(files::static_files).with_state(public))
        .layer(from_fn_with_state(access, access::check_host))
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
    /// connections gracefully. The hub's own counters (clients, drops,
    /// evictions, refused connections) are published as `perf` events
    /// (source `hub`) once a second when they change. With a state folder,
    /// the hub's state is saved while it changes (at most every
    /// [`hub::persist::SAVE_EVERY`]) and once more after the connections
    /// have closed.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let stop_sockets = self.stop_sockets;
        let stats = Arc::new(ConnectionStats::default());
        let reporter = tokio::spawn(report_hub_perf(self.hub.clone(), stats.clone()));
        let (stop_saving, saving_stopped) = watch::channel(false);
        let saver = self.state_file.map(|file| {
            tokio::spawn(hub::persist::keep_saved(self.hub.clone(), file, hub::persist::SAVE_EVERY, saving_stopped))
        });
        let stopping = stop_sockets.subscribe();
        tokio::spawn(async move {
            shutdown.await;
            // Receivers may all be gone already; nothing to close then.
            let _ = stop_sockets.send(true);
        });
        connections::serve(self.listener, self.router, self.connection_limits, stats, stopping).await;
        reporter.abort();
        let _ = stop_saving.send(true);
        if let Some(saver) = saver
            && let Err(e) = saver.await
        {
            tracing::error!("the hub state saver stopped: {e}");
        }
    }
}

/// Publishes the server's own figures (serializing them cannot fail; if
/// it did, the figure is missing and the log says why).
fn publish_perf(hub: &Hub, events: Vec<Event>) {
    if let Err(e) = hub.publish_all(events) {
        tracing::warn!("a perf figure of the server was not published: {e}");
    }
}

/// Seconds between the server's own memory/CPU `perf` events.
const PROCESS_PERF_EVERY: u64 = 5;

async fn report_hub_perf(hub: Arc<Hub>, connections: Arc<ConnectionStats>) {
    let mut last = (HubStats::default(), 0u64);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut process = cis490_publish::perf::sample("self");
    let mut ticks = 0u64;
    loop {
        tick.tick().await;
        ticks += 1;
        if ticks.is_multiple_of(PROCESS_PERF_EVERY)
            && let (Some(before), Some(now)) = (process, cis490_publish::perf::sample("self"))
        {
            publish_perf(&hub, cis490_publish::perf::events(crate::hub::SERVER_PERF_SOURCES[1], &before, &now));
            process = Some(now);
        }
        let now = (hub.stats(), connections.refused());
        if now != last {
            let (stats, refused) = now;
            for (name, value, unit) in [
                ("dropped_events", stats.dropped_events, "events"),
                ("clients", stats.clients as u64, "clients"),
                ("evicted_events", stats.evicted_events, "events"),
                ("overflowed_clients", stats.overflowed_clients, "clients"),
                ("refused_connections", refused, "connections"),
            ] {
                publish_perf(
                    &hub,
                    vec![Event::Perf(PerfEvent::new(crate::hub::SERVER_PERF_SOURCES[0], name, value.into(), unit))],
                );
            }
            // Publishing may have changed the counters (not the client count).
            last = (hub.stats(), connections.refused());
        }
    }
}

/// The run's models ([`run_layout::model_folders`]: the same list train
/// and eval see), each with its ONNX file's canonical path inside the run folder
/// and its size. A run folder not made yet lists nothing; one that cannot
/// be read lists nothing, logged.
fn onnx_models(run: &Folder) -> Vec<(String, PathBuf, u64)> {
    let models = match run_layout::model_folders(run.path()) {
        Ok(models) => models,
        // Not trained yet (the demo's hub starts before its run exists).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!("{}: cannot list the run's models: {e}", run.path().display());
            return Vec::new();
        }
    };
    models
        .into_iter()
        .filter_map(|(name, _)| {
            let file = run.file(&Path::new(&name).join(ONNX_FILE))?;
            let bytes = std::fs::metadata(&file).ok()?.len();
            Some((name, file, bytes))
        })
        .collect()
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let Some(run) = &state.run else {
        return axum::Json(serde_json::json!({ "models": [] })).into_response();
    };
    let models: Vec<serde_json::Value> = onnx_models(run)
        .into_iter()
        .map(|(name, _, bytes)| serde_json::json!({"name": name, "url": format!("/models/{name}/model.onnx"), "bytes": bytes}))
        .collect();
    axum::Json(serde_json::json!({ "models": models })).into_response()
}

async fn model_file(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let Some(run) = &state.run else {
        return json_error(StatusCode::NOT_FOUND, "no run is served (start with --run RUN)");
    };
    // Only names listed by /api/models: no path tricks reach the disk.
    let Some((_, file, _)) = onnx_models(run).into_iter().find(|(listed, _, _)| *listed == name) else {
        return json_error(StatusCode::NOT_FOUND, &format!("no model {name:?} in this run"));
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{name}: {e}")),
    }
}

/// A JSON error answer: `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
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
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || cis490_store::regular_file::read_regular(&path, 64 << 20)).await
    };
    match read.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
        Ok(bytes) => match serde_json::from_slice::<cis490_shared::validation::ValidationSummary>(&bytes) {
            Ok(summary) => axum::Json(summary).into_response(),
            Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            json_error(StatusCode::NOT_FOUND, &format!("{} does not exist yet", path.display()))
        }
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{}: {e}", path.display())),
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
