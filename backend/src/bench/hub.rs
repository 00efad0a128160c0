//! Hub load: a publisher posts `replay` events over HTTP while N WebSocket
//! clients receive them. Two runs per client count: as fast as possible
//! (delivered events/s) and at a fixed 1,000 events/s (publish→receive
//! latency p50/p99). Each event carries its send time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cis490_shared::events::{Event, ReplayEvent};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::BenchError;
use cis490_pipeline::publish::{HttpPublisher, Publish};
use cis490_server::serve::{self, ServeConfig};

/// One measured configuration.
#[derive(Debug, Clone)]
pub struct HubLine {
    /// Connected clients.
    pub clients: usize,
    /// What was run.
    pub mode: &'static str,
    /// Events published.
    pub published: u64,
    /// Events received by all clients together.
    pub delivered: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Median publish→receive latency in ms.
    pub p50_ms: f64,
    /// 99th percentile latency in ms.
    pub p99_ms: f64,
}

fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "hub".into(), source: cause.into() }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Publishes `batches` batches of `per_batch` events, one batch every
/// `pause` (none: as fast as possible); returns events published.
fn publish_load(
    addr: SocketAddr,
    epoch: Instant,
    batches: usize,
    per_batch: usize,
    pause: Option<Duration>,
) -> Result<u64, BenchError> {
    let publisher = HttpPublisher::new(&format!("http://{addr}"), None).map_err(tool)?;
    let started = Instant::now();
    for b in 0..batches {
        if let Some(pause) = pause {
            let due = pause * b as u32;
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let sent_us = epoch.elapsed().as_micros() as u64;
        let events: Vec<Event> = (0..per_batch)
            .map(|i| {
                Event::Replay(ReplayEvent {
                    episode_id: "bench".into(),
                    host_id: "bench".into(),
                    t_s: (b * per_batch + i).into(),
                    label: "benign".into(),
                    values: Map::from_iter([("proc.cpu_user".to_string(), Value::from(1.0))]),
                    extra: Map::from_iter([("sent_us".to_string(), Value::from(sent_us))]),
                })
            })
            .collect();
        publisher.publish(&events).map_err(tool)?;
    }
    Ok((batches * per_batch) as u64)
}

async fn run_one(
    clients: usize,
    mode: &'static str,
    batches: usize,
    per_batch: usize,
    pause: Option<Duration>,
) -> Result<HubLine, BenchError> {
    // The dashboard is not served here; an empty page keeps the server quiet.
    let public_dir = std::env::temp_dir().join(format!("cis490-bench-hub-{}", std::process::id()));
    std::fs::create_dir_all(&public_dir)
        .and_then(|()| std::fs::write(public_dir.join("index.html"), ""))
        .map_err(tool)?;
    let config = ServeConfig::new("127.0.0.1:0".parse().map_err(tool)?, public_dir);
    let server = serve::bind(config).await.map_err(tool)?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let epoch = Instant::now();
    let expected = (batches * per_batch) as u64;
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..clients {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.map_err(tool)?;
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while (latencies.len() as u64) < expected && !done.load(Ordering::Relaxed) {
                let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await else { break };
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                if let Some(sent) = v["sent_us"].as_u64() {
                    latencies.push((epoch.elapsed().as_micros() as u64).saturating_sub(sent) as f64 / 1000.0);
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let published = tokio::task::spawn_blocking(move || publish_load(addr, epoch, batches, per_batch, pause))
        .await
        .map_err(tool)??;
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.map_err(tool)?);
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let _ = stop.send(());
    let _ = served.await;
    all.sort_by(f64::total_cmp);
    Ok(HubLine {
        clients,
        mode,
        published,
        delivered: all.len() as u64,
        seconds,
        p50_ms: percentile(&all, 0.5),
        p99_ms: percentile(&all, 0.99),
    })
}

/// Runs the hub benchmark with 1, 10 and 100 clients and prints a table.
pub fn hub_load(seconds: f64) -> Result<Vec<HubLine>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(tool)?;
    let mut lines = Vec::new();
    let rate_batches = (seconds * 100.0).round() as usize; // 10 events every 10 ms = 1,000/s
    for clients in [1usize, 10, 100] {
        lines.push(runtime.block_on(run_one(clients, "as fast as possible", 40, 50, None))?);
        lines.push(runtime.block_on(run_one(
            clients,
            "1,000 events/s",
            rate_batches,
            10,
            Some(Duration::from_millis(10)),
        ))?);
    }
    println!(
        "{:>7}  {:<20} {:>9} {:>10} {:>12} {:>8} {:>8}",
        "clients", "mode", "published", "delivered", "delivered/s", "p50 ms", "p99 ms"
    );
    for l in &lines {
        println!(
            "{:>7}  {:<20} {:>9} {:>10} {:>12.0} {:>8.2} {:>8.2}",
            l.clients,
            l.mode,
            l.published,
            l.delivered,
            l.delivered as f64 / l.seconds,
            l.p50_ms,
            l.p99_ms
        );
    }
    Ok(lines)
}
