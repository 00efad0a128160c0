//! The hub's HTTP handlers: `POST /publish`, `GET /ws`, `GET /api/snapshot`
//! (routed, with their access rules, in [`crate::serve`]).
//!
//! `/publish` takes only `Content-Type: application/json` (a cross-site
//! form or `text/plain` post is refused with 415 even where no `Origin`
//! says where it came from), at most [`PUBLISH_BODY_LIMIT`] bytes, within
//! the body read timeout. `/ws` reads nothing from clients but pongs and a
//! close (messages over a few KiB close the socket), pings every
//! `ping_every`, and closes a socket silent for `idle_timeout`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cis490_shared::events::Event;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Hub, Serialized};
use crate::serve::connections::stopping;
use crate::serve::json_error;

/// Largest accepted `POST /publish` body.
pub const PUBLISH_BODY_LIMIT: usize = 1 << 20;

/// How WebSocket clients are held to account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest message (and frame) read from a client.
    pub max_message_bytes: usize,
    /// Interval of pings.
    pub ping_every: Duration,
    /// A socket silent this long (not even a pong) is closed.
    pub idle_timeout: Duration,
}

/// What the hub's handlers share.
#[derive(Debug, Clone)]
pub struct HubState {
    /// The hub.
    pub hub: Arc<Hub>,
    /// Becomes `true` when the server shuts down (sockets then close).
    pub shutdown: watch::Receiver<bool>,
    /// Time for a `/publish` body to arrive.
    pub body_read_timeout: Duration,
    /// WebSocket limits.
    pub ws: WsLimits,
}

/// `Ok` for `application/json` (any parameters, any case), else the problem.
fn json_content_type(headers: &HeaderMap) -> Result<(), String> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err("Content-Type is missing: send `Content-Type: application/json`".into());
    };
    let text = value.to_str().unwrap_or("(not text)");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(format!("Content-Type {text:?} is not application/json: send `Content-Type: application/json`"))
    }
}

/// Why a `/publish` body was not read.
#[derive(Debug, Clone, PartialEq)]
enum BodyProblem {
    /// Over the limit (declared or sent).
    TooLarge,
    /// Not within the time limit.
    TimedOut(Duration),
    /// The connection failed mid-body.
    Unreadable(String),
}

impl BodyProblem {
    fn into_response(self) -> Response {
        match self {
            BodyProblem::TooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is over the {} MiB limit: publish fewer events at a time", PUBLISH_BODY_LIMIT >> 20),
            ),
            BodyProblem::TimedOut(limit) => json_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the body did not arrive within {} s", limit.as_secs_f64()),
            ),
            BodyProblem::Unreadable(why) => {
                json_error(StatusCode::BAD_REQUEST, &format!("cannot read the body: {why}"))
            }
        }
    }
}

/// Reads a body of at most `limit` bytes within `timeout`.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize, timeout: Duration) -> Result<Bytes, BodyProblem> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyProblem::TooLarge);
    }
    let read = async {
        let mut chunks = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| BodyProblem::Unreadable(e.to_string()))?;
            if bytes.len() + chunk.len() > limit {
                return Err(BodyProblem::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    };
    tokio::time::timeout(timeout, read).await.unwrap_or(Err(BodyProblem::TimedOut(timeout)))
}

/// `POST /publish`: one event or an array, all parsed before any is published.
pub async fn publish(State(s): State<Arc<HubState>>, headers: HeaderMap, body: Body) -> Response {
    if let Err(problem) = json_content_type(&headers) {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &problem);
    }
    let body = match read_body(&headers, body, PUBLISH_BODY_LIMIT, s.body_read_timeout).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")),
    };
    let (events, batch) = match value {
        Value::Array(list) => (list, true),
        one => (vec![one], false),
    };
    if events.is_empty() {
        return json_error(StatusCode::BAD_REQUEST, "an empty array holds no event");
    }
    let mut parsed: Vec<Event> = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        match Event::from_value(event) {
            Ok(event) => parsed.push(event),
            Err(e) if batch => return json_error(StatusCode::BAD_REQUEST, &format!("event {i}: {e}")),
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }
    match s.hub.publish_all(parsed) {
        Ok(seqs) => axum::Json(json!({ "accepted": seqs.len(), "seq": seqs })).into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot serialize the events: {e}")),
    }
}

/// `GET /api/snapshot`: the kept texts joined into one JSON array.
pub async fn snapshot(State(s): State<Arc<HubState>>) -> Response {
    ([(CONTENT_TYPE, "application/json")], s.hub.snapshot_text()).into_response()
}

/// `GET /ws`: upgrades, reading client messages of a few KiB at most.
pub async fn ws(upgrade: WebSocketUpgrade, State(s): State<Arc<HubState>>) -> Response {
    upgrade
        .max_message_size(s.ws.max_message_bytes)
        .max_frame_size(s.ws.max_message_bytes)
        .on_upgrade(move |socket| serve_client(socket, s))
}

fn text(event: &Serialized) -> Message {
    Message::Text(event.text.as_ref().into())
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// Sends the state, then live events, until the client leaves, falls too
/// far behind, goes silent, or the server shuts down.
async fn serve_client(mut socket: WebSocket, s: Arc<HubState>) {
    let (first, queue) = s.hub.subscribe();
    let mut ok = true;
    for event in &first {
        if socket.send(text(event)).await.is_err() {
            ok = false;
            break;
        }
    }
    drop(first);
    let mut shutdown = s.shutdown.clone();
    let mut ping = tokio::time::interval_at(Instant::now() + s.ws.ping_every, s.ws.ping_every);
    let mut last_heard = Instant::now();
    while ok {
        tokio::select! {
            batch = queue.next_batch() => match batch {
                Some(batch) => {
                    for event in &batch {
                        if socket.send(text(event)).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                }
                None => {
                    // Best effort: the client is too far behind to read it soon.
                    let _ = socket.send(close(close_code::AGAIN, "too far behind: reconnect for a fresh state")).await;
                    ok = false;
                }
            },
            incoming = socket.recv() => match incoming {
                // An error includes a message over the size limit.
                None | Some(Err(_) | Ok(Message::Close(_))) => ok = false,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            () = stopping(&mut shutdown) => {
                // Best effort: the client may already be gone.
                let _ = socket.send(close(close_code::AWAY, "the hub is shutting down")).await;
                ok = false;
            }
            _ = ping.tick() => {
                ok = if last_heard.elapsed() >= s.ws.idle_timeout {
                    let _ = socket.send(close(close_code::POLICY, "silent for too long")).await;
                    false
                } else {
                    socket.send(Message::Ping(Bytes::new())).await.is_ok()
                };
            }
        }
    }
    queue.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_json_content_types_are_accepted() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            json_content_type(&headers)
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            " application/json ",
        ] {
            assert_eq!(with(ok), Ok(()), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "",
        ] {
            assert!(with(refused).is_err_and(|e| e.contains("Content-Type")), "{refused}");
        }
        assert!(json_content_type(&HeaderMap::new()).is_err_and(|e| e.contains("missing")));
    }
}
