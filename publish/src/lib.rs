//! Sending dashboard events to a cis490 hub, behind one [`Publish`]
//! trait: over HTTP (`--hub http://127.0.0.1:8447`, [`HttpPublisher`]) or
//! in-process (the server crate's hub implements [`Publish`]). The
//! pipeline's producers and jobs publish through it and the server
//! receives through it; it has no heavy dependency, so the hub alone
//! (`cis490-hub`) builds without the pipeline.
//!
//! - [`retry`]: producers that reconnect to a restarted hub;
//! - [`background`]: publishing from jobs without ever waiting for the hub;
//! - [`progress_events`]: throttled `progress` events for long jobs;
//! - [`perf`]: `perf` events about a process (memory, CPU).
//!
//! The HTTP client is a minimal blocking HTTP/1.1 `POST`: producers send a
//! few events a second to a hub on the same machine or LAN, so a full HTTP
//! stack is not worth its build time. Only `http://` URLs are supported.

pub mod background;
pub mod perf;
pub mod progress_events;
pub mod retry;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use cis490_shared::events::Event;

/// Publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The hub URL is not `http://host:port[/path]`.
    #[error("hub URL {url:?}: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The hub could not be reached.
    #[error("cannot reach the hub at {addr}")]
    Connect {
        /// host:port.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The hub answered with an error.
    #[error("the hub answered HTTP {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The events could not be serialized.
    #[error("cannot serialize the events: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Something events can be published to.
pub trait Publish: Send + Sync {
    /// Publishes events in order.
    fn publish(&self, events: &[Event]) -> Result<(), PublishError>;
}

/// Publishes to a hub over HTTP.
#[derive(Debug, Clone)]
pub struct HttpPublisher {
    host: String,
    path: String,
    token: Option<String>,
}

impl HttpPublisher {
    /// A publisher for `url` (`http://host:port`, path defaults to `/publish`).
    pub fn new(url: &str, token: Option<String>) -> Result<Self, PublishError> {
        let bad = |why| PublishError::Url { url: url.to_string(), why };
        let rest = url.strip_prefix("http://").ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let path = if path.is_empty() || path == "/" { "/publish".to_string() } else { path.to_string() };
        let host = if host.contains(':') { host.to_string() } else { format!("{host}:80") };
        Ok(Self { host, path, token })
    }

    /// The `host:port` published to.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Publish for HttpPublisher {
    fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let body = serde_json::to_string(events)?;
        let connect_err = |source| PublishError::Connect { addr: self.host.clone(), source };
        let addr = self
            .host
            .to_socket_addrs()
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| connect_err(std::io::Error::other("no address")))?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(connect_err)?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(connect_err)?;
        let auth = self.token.as_ref().map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).map_err(connect_err)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(connect_err)?;
        let text = String::from_utf8_lossy(&response);
        let status: u16 = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string();
            Err(PublishError::Status { status, body })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_or_refused_by_name() {
        let p = HttpPublisher::new("http://127.0.0.1:8447", None);
        assert!(p.as_ref().is_ok_and(|p| p.host == "127.0.0.1:8447" && p.path == "/publish"));
        let p = HttpPublisher::new("http://hub.local/api/publish", None);
        assert!(p.as_ref().is_ok_and(|p| p.host == "hub.local:80" && p.path == "/api/publish"));
        assert!(matches!(HttpPublisher::new("https://x", None), Err(PublishError::Url { .. })));
        assert!(matches!(HttpPublisher::new("http://", None), Err(PublishError::Url { .. })));
    }
}
