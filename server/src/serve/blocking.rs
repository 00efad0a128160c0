//! Running the server from synchronous code (the `cis490` binary): its own
//! async runtime, until Ctrl-C (or SIGTERM), optionally with blocking work
//! beside it that publishes to the server's hub in-process (the demo).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cis490_publish::Publish;

use super::{ServeConfig, ServeError, bind, shutdown_signal};

/// Serves until Ctrl-C, calling `on_bound` with the address once bound.
pub fn serve_until_stopped(config: ServeConfig, on_bound: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    run_beside(config, on_bound, |_, _| Ok::<(), std::convert::Infallible>(()))
}

/// Serves until Ctrl-C and, on a blocking thread, runs `work` with the
/// server's hub and a flag that Ctrl-C sets. If `work` fails, the error is
/// logged and the server keeps serving what exists.
pub fn run_beside<E>(
    config: ServeConfig,
    on_bound: impl FnOnce(SocketAddr),
    work: impl FnOnce(Arc<dyn Publish>, &AtomicBool) -> Result<(), E> + Send + 'static,
) -> Result<(), ServeError>
where
    E: std::error::Error + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let server = bind(config).await?;
        on_bound(server.local_addr());
        let hub: Arc<dyn Publish> = server.hub();
        let stop = Arc::new(AtomicBool::new(false));
        let stopper = Arc::clone(&stop);
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.store(true, Ordering::Relaxed);
        });
        let served = tokio::spawn(server.run(shutdown_signal()));
        let worker = tokio::task::spawn_blocking(move || work(hub, &stop));
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("{} (still serving what exists)", cis490_shared::error_chain(&e)),
            Err(e) => tracing::error!("the work beside the server stopped: {e} (still serving what exists)"),
        }
        if let Err(e) = served.await {
            tracing::error!("the server task stopped: {e}");
        }
        Ok(())
    })
}
