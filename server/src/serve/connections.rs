//! Accepting connections with limits, instead of `axum::serve`, which has
//! none:
//!
//! - at most `max_connections` open at once (WebSockets included: a
//!   connection's slot travels with its socket into the upgrade); one more
//!   is answered a minimal `503` and closed at once;
//! - a request's headers must arrive within `header_read_timeout` (hyper's
//!   timer, which also closes a connection that sends nothing, or stays
//!   idle that long between keep-alive requests);
//! - a write the peer accepts no byte of for `write_stall_timeout` fails
//!   and closes the connection (a client that never reads);
//! - the soft limit on open files is raised to the hard limit at start
//!   ([`raise_open_file_limit`]).
//!
//! Shutdown stops accepting, asks every connection to finish its current
//! request, and waits up to [`SHUTDOWN_GRACE`] for them to close.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// How long shutdown waits for open connections to close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Refused connections lingering at once for the rest of their request
/// (beyond this they are closed right after their `503`).
const REFUSALS_LINGERING: usize = 64;

/// Most bytes hyper buffers for one connection's request head.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The answer to a connection over the limit.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\nretry-after: 5\r\ncontent-length: 64\r\n\r\n\
{\"error\":\"the hub has too many open connections; retry shortly\"}";

/// The connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a request's headers (and for silence between requests).
    pub header_read_timeout: Duration,
    /// Time a write may wait for the peer to accept a byte.
    pub write_stall_timeout: Duration,
}

/// Raises the soft limit on open files to the hard limit; returns the
/// soft limit in force afterwards (`None` where it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
            && current < maximum
        {
            let raised = rustix::process::Rlimit { current: Some(maximum), maximum: Some(maximum) };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!("cannot raise the open-file limit from {current} to {maximum}: {e}");
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A served connection's socket: holds the connection's slot while it is
/// open (also inside a WebSocket upgrade) and fails a write the peer has
/// not accepted a byte of within the stall limit.
struct ServedStream {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    write_stall: Duration,
    /// The deadline of the pending write, allocated once and re-armed.
    deadline: Pin<Box<tokio::time::Sleep>>,
    armed: bool,
}

impl ServedStream {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, write_stall: Duration) -> Self {
        let deadline = Box::pin(tokio::time::sleep(write_stall));
        Self { stream, _slot: slot, write_stall, deadline, armed: false }
    }

    /// Passes a finished write through; a pending one fails once it has
    /// been pending for the stall limit.
    fn within_stall_limit<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        if !self.armed {
            self.armed = true;
            let until = tokio::time::Instant::now() + self.write_stall;
            self.deadline.as_mut().reset(until);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the peer accepted nothing for {} s", self.write_stall.as_secs_f64()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for ServedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.within_stall_limit(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.within_stall_limit(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.within_stall_limit(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Completes once `shutdown` turns true (or its sender is gone).
pub async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send).
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Counts what the accept loop refused.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    refused: AtomicU64,
}

impl ConnectionStats {
    /// Connections answered `503` (or closed) for being over the limit.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Answers `503` to a connection over the limit and closes it. Closing a
/// socket with unread bytes resets it, and a reset can cost the client the
/// answer: what the client already sent is read first, and while few
/// refused connections do, the socket lingers a moment for the rest.
fn refuse(stream: TcpStream, lingering: &Arc<Semaphore>) {
    // A fresh socket's send buffer has room for these few bytes.
    let _ = stream.try_write(BUSY);
    let mut sink = [0u8; 4096];
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
    let Ok(slot) = lingering.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = stream.shutdown().await;
        let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
        drop(slot);
    });
}

/// Serves one connection until it closes, or finishes its current request
/// once `shutdown` turns true.
async fn serve_connection(
    stream: ServedStream,
    router: Router,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).max_buf_size(MAX_HEAD_BYTES);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router)).with_upgrades();
    tokio::pin!(connection);
    let finished = tokio::select! {
        finished = connection.as_mut() => finished,
        () = stopping(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            tokio::time::timeout(SHUTDOWN_GRACE, connection.as_mut()).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = finished {
        // Timeouts, resets and malformed requests: the client's business.
        tracing::debug!("connection closed: {e}");
    }
}

/// Accepts and serves connections until `shutdown` turns true, then waits
/// up to [`SHUTDOWN_GRACE`] for open ones to close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let lingering = Arc::new(Semaphore::new(REFUSALS_LINGERING));
    loop {
        let (stream, _peer) = tokio::select! {
            () = stopping(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let stream = ServedStream::new(stream, slot, limits.write_stall_timeout);
                tokio::spawn(serve_connection(stream, router.clone(), limits, shutdown.clone()));
            }
            Err(_) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                refuse(stream, &lingering);
            }
        }
    }
    drop(listener);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("some connections were still open {} s after shutdown", SHUTDOWN_GRACE.as_secs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() -> Result<(), Box<dyn std::error::Error>> {
        let text = std::str::from_utf8(BUSY)?;
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no head")?;
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let parsed: serde_json::Value = serde_json::from_str(body)?;
        assert!(parsed["error"].is_string());
        Ok(())
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        #[cfg(unix)]
        {
            let now = raise_open_file_limit();
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
            assert_eq!(now, limit.current);
            if limit.maximum.is_some() {
                assert_eq!(limit.current, limit.maximum);
            }
        }
    }
}
