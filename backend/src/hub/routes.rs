//! The hub's HTTP endpoints: `POST /publish`, `GET /ws`, `GET /api/snapshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cis490_shared::events::{EventKind, check_event};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::Hub;

/// Largest accepted `POST /publish` body.
pub const PUBLISH_BODY_LIMIT: usize = 1 << 20;

/// What the hub's handlers share.
#[derive(Debug, Clone)]
pub struct HubState {
    /// The hub.
    pub hub: Arc<Hub>,
    /// Token publishers must present, if any.
    pub token: Option<String>,
    /// Becomes `true` when the server shuts down (sockets then close).
    pub shutdown: watch::Receiver<bool>,
}

/// The hub's routes.
pub fn router(state: Arc<HubState>) -> Router {
    Router::new()
        .route("/publish", post(publish).layer(DefaultBodyLimit::max(PUBLISH_BODY_LIMIT)))
        .route("/ws", get(ws))
        .route("/api/snapshot", get(snapshot))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("authorization").and_then(|v| v.strip_prefix("Bearer ")) == Some(token)
        || header("x-cis490-token") == Some(token)
}

async fn publish(State(s): State<Arc<HubState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = &s.token
        && !authorized(token, &headers)
    {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong token: send `Authorization: Bearer <token>`");
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")),
    };
    let (events, batch) = match value {
        Value::Array(list) => (list, true),
        one => (vec![one], false),
    };
    if events.is_empty() {
        return error(StatusCode::BAD_REQUEST, "an empty array holds no event");
    }
    let mut kinds: Vec<EventKind> = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        match check_event(event) {
            Ok(kind) => kinds.push(kind),
            Err(e) if batch => return error(StatusCode::BAD_REQUEST, format!("event {i}: {e}")),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let seqs: Vec<u64> = events.into_iter().zip(kinds).map(|(event, kind)| s.hub.publish(kind, event)).collect();
    axum::Json(json!({ "accepted": seqs.len(), "seq": seqs })).into_response()
}

async fn snapshot(State(s): State<Arc<HubState>>) -> Response {
    axum::Json(s.hub.snapshot_json()).into_response()
}

async fn ws(upgrade: WebSocketUpgrade, State(s): State<Arc<HubState>>) -> Response {
    upgrade.on_upgrade(move |socket| serve_client(socket, s))
}

/// Sends the state, then live events, until the client leaves or the
/// server shuts down. Incoming messages are ignored (the protocol is one-way).
async fn serve_client(mut socket: WebSocket, s: Arc<HubState>) {
    let (first, queue) = s.hub.subscribe();
    let mut shutdown = s.shutdown.clone();
    let text = |t: &Arc<str>| Message::Text(t.as_ref().into());
    let mut ok = true;
    for q in &first {
        if socket.send(text(&q.text)).await.is_err() {
            ok = false;
            break;
        }
    }
    while ok {
        tokio::select! {
            batch = queue.next_batch() => {
                for q in &batch {
                    if socket.send(text(&q.text)).await.is_err() {
                        ok = false;
                        break;
                    }
                }
            }
            incoming = socket.recv() => {
                if matches!(incoming, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                    ok = false;
                }
            }
            _ = shutdown.changed() => {
                // Best effort: the client may already be gone.
                let _ = socket.send(Message::Close(None)).await;
                ok = false;
            }
            () = tokio::time::sleep(Duration::from_secs(30)) => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    ok = false;
                }
            }
        }
    }
    queue.close();
}
