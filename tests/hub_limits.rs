//! The hub's bounds over real sockets: a snapshot bounded however many
//! keys and bytes are published, a WebSocket message over the cap closing
//! the socket, a silent WebSocket closed, slow-header and slow-body clients
//! cut off, and the connection limit answered with `503`. Limits are set
//! small per test (`ServeConfig::limits`, `hub_limits`) to keep them fast.

use std::time::{Duration, Instant};

use cis490_server::hub::HubLimits;
use cis490_server::hub::state::Bound;
use cis490_tests::hub_client::{Error, closed_within, connect, exchange, get, next_event, post, start_with};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

type TestResult = Result<(), Error>;

#[tokio::test]
async fn the_snapshot_and_a_late_clients_state_are_bounded_by_count_and_bytes() -> TestResult {
    let (addr, _stop) = start_with(|config| {
        config.hub_limits =
            HubLimits { state_per_kind: Bound { events: 100, bytes: 64 * 1024 }, ..HubLimits::default() };
    })
    .await?;
    for batch in 0..6 {
        let events: Vec<Value> = (0..500)
            .map(|i| json!({"type": "perf", "source": "flood", "name": format!("k{}", batch * 500 + i), "value": 1, "unit": "x"}))
            .collect();
        assert_eq!(post(addr, Value::Array(events).to_string().as_bytes(), &[]).await?.status, 200);
    }
    for i in 0..40 {
        let big = json!({"type": "progress", "job": "flood", "id": i.to_string(), "done": 1, "total": 2, "message": "m".repeat(10_000)});
        assert_eq!(post(addr, big.to_string().as_bytes(), &[]).await?.status, 200);
    }
    let snapshot = get(addr, "/api/snapshot", &[]).await?;
    let events: Vec<Value> = serde_json::from_slice(&snapshot.body)?;
    let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
    assert!(count("perf") <= 100, "{} perf events kept", count("perf"));
    assert!(count("progress") <= 6, "{} × 10 kB progress events kept in 64 KiB", count("progress"));
    assert!(snapshot.body.len() < 2 * 64 * 1024, "{} bytes", snapshot.body.len());
    let newest = events.iter().filter(|e| e["type"] == "progress").filter_map(|e| e["id"].as_str()).collect::<Vec<_>>();
    assert!(newest.contains(&"39"), "the newest survive: {newest:?}");
    // The hub counts its evictions in its own perf series.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<Value> = serde_json::from_slice(&get(addr, "/api/snapshot", &[]).await?.body)?;
        let evicted = events.iter().find(|e| e["source"] == "hub" && e["name"] == "evicted_events");
        if evicted.and_then(|e| e["value"].as_f64()).is_some_and(|v| v >= 2900.0 + 34.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no evicted_events report: {evicted:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A late client is sent the bounded state, not everything ever published.
    let mut late = connect(addr).await?;
    let mut received = 0;
    while tokio::time::timeout(Duration::from_millis(500), next_event(&mut late)).await.is_ok() {
        received += 1;
    }
    assert!(received <= 100 + 6 + 2, "{received} events sent to a late client");
    Ok(())
}

#[tokio::test]
async fn a_websocket_message_over_the_cap_closes_the_socket() -> TestResult {
    let (addr, _stop) = start_with(|_| {}).await?;
    let mut small = connect(addr).await?;
    small.send(Message::text("x".repeat(1000))).await?;
    let event = json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 1, "label": "benign", "values": {}});
    assert_eq!(post(addr, event.to_string().as_bytes(), &[]).await?.status, 200);
    assert_eq!(next_event(&mut small).await?["t_s"], 1, "a small message is ignored");
    let mut big = connect(addr).await?;
    big.send(Message::text("x".repeat(64 * 1024))).await?;
    assert!(closed_within(&mut big, Duration::from_secs(5)).await, "a 64 KiB message did not close the socket");
    Ok(())
}

#[tokio::test]
async fn a_silent_websocket_is_closed_and_a_listening_one_kept() -> TestResult {
    let (addr, _stop) = start_with(|config| {
        config.limits.ws_ping_every = Duration::from_millis(100);
        config.limits.ws_idle_timeout = Duration::from_millis(400);
    })
    .await?;
    let mut silent = connect(addr).await?;
    let mut listening = connect(addr).await?;
    // Reading answers pings (tungstenite pongs by itself); the silent client reads nothing for a while.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        let _ = tokio::time::timeout(Duration::from_millis(50), futures_util::StreamExt::next(&mut listening)).await;
    }
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await, "the silent socket is still open");
    let event = json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 7, "label": "benign", "values": {}});
    assert_eq!(post(addr, event.to_string().as_bytes(), &[]).await?.status, 200);
    assert_eq!(next_event(&mut listening).await?["t_s"], 7, "the listening client is still served");
    Ok(())
}

/// Whether the server closes `stream` within `within` (reading what it sends).
async fn closed_by_server(stream: &mut tokio::net::TcpStream, within: Duration) -> (bool, String) {
    let mut seen = Vec::new();
    let read = stream.read_to_end(&mut seen);
    let closed = tokio::time::timeout(within, read).await.is_ok();
    (closed, String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn slow_and_silent_clients_are_cut_off() -> TestResult {
    let (addr, _stop) = start_with(|config| {
        config.limits.header_read_timeout = Duration::from_millis(300);
        config.limits.body_read_timeout = Duration::from_millis(300);
    })
    .await?;
    let mut slow_header = tokio::net::TcpStream::connect(addr).await?;
    slow_header.write_all(b"GET /heal").await?;
    let mut silent = tokio::net::TcpStream::connect(addr).await?;
    let mut slow_body = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /publish HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\""
    );
    slow_body.write_all(head.as_bytes()).await?;
    let started = Instant::now();
    assert!(closed_by_server(&mut slow_header, Duration::from_secs(3)).await.0, "half a request line stayed open");
    assert!(closed_by_server(&mut silent, Duration::from_secs(3)).await.0, "a silent connection stayed open");
    let (closed, answer) = closed_by_server(&mut slow_body, Duration::from_secs(3)).await;
    assert!(closed && answer.starts_with("HTTP/1.1 408"), "a stalled body: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // A prompt request on the same server is served.
    assert_eq!(get(addr, "/healthz", &[]).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn connections_over_the_limit_get_a_quick_503() -> TestResult {
    let (addr, _stop) = start_with(|config| config.limits.max_connections = 2).await?;
    let idle_one = tokio::net::TcpStream::connect(addr).await?;
    let idle_two = tokio::net::TcpStream::connect(addr).await?;
    let started = Instant::now();
    let busy = exchange(addr, "GET", "/healthz", &[], b"").await?;
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert!(busy.text().contains("too many open connections"));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop((idle_one, idle_two));
    // The slots come back once the idle connections are closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(addr, "/healthz", &[]).await?.status != 200 {
        assert!(Instant::now() < deadline, "slots were not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
