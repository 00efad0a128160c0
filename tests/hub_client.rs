//! What the hub tests share: a hub on a free loopback port configured per
//! test, a minimal raw HTTP/1.1 client (any method, path and headers, so
//! tests can send what browsers and attackers send), and WebSocket clients.

use std::net::SocketAddr;
use std::time::Duration;

use cis490_server::serve::{self, ServeConfig};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Any test error.
pub type Error = Box<dyn std::error::Error>;
/// A WebSocket client.
pub type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
/// A running hub: its address and the sender that stops it.
pub type Started = (SocketAddr, tokio::sync::oneshot::Sender<()>);

/// Starts a hub configured by `configure` (from the defaults, serving the
/// temporary folder on a free loopback port).
pub async fn start_with(configure: impl FnOnce(&mut ServeConfig)) -> Result<Started, Error> {
    let mut config = ServeConfig::new("127.0.0.1:0".parse()?, std::env::temp_dir());
    configure(&mut config);
    let server = serve::bind(config).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Ok((addr, stop))
}

/// An HTTP response: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The header lines after the status line, as sent.
    pub head: String,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`; `Host: addr` and a
/// `Content-Length` unless `headers` set them) and reads the answer.
pub async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, Error> {
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !has("host") {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has("content-length") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    // A server may answer (413, 415, …) before reading the whole body; ignore a reset here.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no header end")? + 4;
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status line")?;
    Ok(Answer { status, head, body: response[head_end..].to_vec() })
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Answer, Error> {
    exchange(addr, "GET", path, headers, b"").await
}

/// `POST /publish` of `body` as `application/json` (unless `headers` set
/// another `Content-Type`).
pub async fn post(addr: SocketAddr, body: &[u8], headers: &[(&str, &str)]) -> Result<Answer, Error> {
    let mut all: Vec<(&str, &str)> = Vec::new();
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        all.push(("Content-Type", "application/json"));
    }
    all.extend_from_slice(headers);
    exchange(addr, "POST", "/publish", &all, body).await
}

/// Opens `/ws` with extra request headers (e.g. `Origin`); `path_query`
/// is appended to `/ws` (e.g. `?token=T`).
pub async fn connect_with(addr: SocketAddr, path_query: &str, headers: &[(&str, &str)]) -> Result<Client, Error> {
    let mut request = format!("ws://{addr}/ws{path_query}").into_client_request()?;
    for (k, v) in headers {
        request.headers_mut().insert(header_name(k)?, v.parse()?);
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(ws)
}

fn header_name(name: &str) -> Result<tokio_tungstenite::tungstenite::http::HeaderName, Error> {
    Ok(tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())?)
}

/// The HTTP status a refused WebSocket handshake got (`None` if it opened).
pub async fn ws_refusal(addr: SocketAddr, path_query: &str, headers: &[(&str, &str)]) -> Result<Option<u16>, Error> {
    match connect_with(addr, path_query, headers).await {
        Ok(_) => Ok(None),
        Err(e) => match e.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            Some(tokio_tungstenite::tungstenite::Error::Http(response)) => Ok(Some(response.status().as_u16())),
            _ => Err(e),
        },
    }
}

/// Opens `/ws`.
pub async fn connect(addr: SocketAddr) -> Result<Client, Error> {
    connect_with(addr, "", &[]).await
}

/// The next JSON event, skipping the hub's own `perf` reports.
pub async fn next_event(ws: &mut Client) -> Result<Value, Error> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.ok_or("socket closed")??;
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == "perf" && v["source"] == "hub" {
                continue;
            }
            return Ok(v);
        }
    }
}

/// Whether the hub ends the socket (a Close frame, an error or the end of
/// the stream) within `within`, reading whatever comes before.
pub async fn closed_within(ws: &mut Client, within: Duration) -> bool {
    let ended = async {
        while let Some(msg) = ws.next().await {
            if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                return;
            }
        }
    };
    tokio::time::timeout(within, ended).await.is_ok()
}
