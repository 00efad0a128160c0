//! Hub memory under hostile publishing (`cis490 bench hub-memory`): a
//! served hub on loopback is sent what an attacker measured against the
//! release binary, over HTTP, and this process's resident memory is read
//! from `/proc/self/status` before and after.
//!
//! Scenarios (each in a fresh child process, so one does not inherit the
//! other's heap): `keys`, 200,000 distinct `perf` state keys in batches of
//! 1,000; `progress`, 1,000 distinct ~1 MB `progress` events; `frames`, 240
//! `replay` + 480 `prediction` frames of ~1 MB. After publishing, a late
//! WebSocket client counts the events it is sent first, and
//! `/api/snapshot` is fetched while a small event is published every
//! 10 ms (the slowest of those publishes shows how long the snapshot held
//! publishers up).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::BenchError;
use crate::hub::client::{HttpPublisher, Publish};
use crate::serve::{self, ServeConfig};

/// Marks every event this benchmark publishes (and nothing else).
const MARK: &str = "bench-memory";

/// The scenarios, by name.
pub const SCENARIOS: [&str; 3] = ["keys", "progress", "frames"];

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct MemoryLine {
    /// The scenario.
    pub scenario: String,
    /// Events published.
    pub published: usize,
    /// Resident MiB growth after publishing.
    pub rss_growth_mib: f64,
    /// Peak resident MiB growth over the whole scenario (incl. the snapshot).
    pub peak_growth_mib: f64,
    /// Events a late WebSocket client was sent as the state.
    pub late_client_events: u64,
    /// MiB of those events.
    pub late_client_mib: f64,
    /// MiB of `/api/snapshot`.
    pub snapshot_mib: f64,
    /// Seconds to receive `/api/snapshot`.
    pub snapshot_s: f64,
    /// Slowest small publish while the snapshot was served, ms.
    pub publish_max_ms: f64,
}

fn tool(message: impl ToString) -> BenchError {
    BenchError::Tool { tool: "hub-memory".into(), message: message.to_string() }
}

/// `VmRSS` and `VmHWM` of this process in MiB.
fn resident_mib() -> Result<(f64, f64), BenchError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(tool)?;
    let field = |name: &str| -> Result<f64, BenchError> {
        let line = status.lines().find(|l| l.starts_with(name)).ok_or_else(|| tool(format!("no {name}")))?;
        let kib: f64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or_else(|| tool(line))?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// A filler string of `bytes` characters.
fn pad(bytes: usize) -> String {
    "x".repeat(bytes)
}

/// The batches a scenario publishes.
fn batches(scenario: &str) -> Result<Vec<Vec<Value>>, BenchError> {
    const BIG: usize = 1_000_000;
    match scenario {
        "keys" => Ok((0..200)
            .map(|b| {
                (0..1000)
                    .map(|i| json!({"type": "perf", "source": MARK, "name": format!("k{}", b * 1000 + i), "value": 1, "unit": "x"}))
                    .collect()
            })
            .collect()),
        "progress" => Ok((0..1000)
            .map(|i| {
                vec![json!({"type": "progress", "job": MARK, "id": format!("j{i}"), "done": 1, "total": 2,
                            "message": pad(BIG)})]
            })
            .collect()),
        "frames" => Ok((0..720)
            .map(|i| {
                if i < 240 {
                    vec![json!({"type": "replay", "episode_id": MARK, "host_id": "h", "t_s": i, "label": "benign",
                                "values": {"pad": pad(BIG)}})]
                } else {
                    vec![json!({"type": "prediction", "model": MARK, "variant": "realistic", "episode_id": "e",
                                "t_s": i, "probs": {"benign": 1.0}, "predicted": "benign", "truth": "benign",
                                "latency_us": 1, "runtime": "server", "pad": pad(BIG)})]
                }
            })
            .collect()),
        other => Err(tool(format!("unknown scenario {other:?} (known: {})", SCENARIOS.join(", ")))),
    }
}

/// Counts the marked events a late WebSocket client is sent first (until
/// 2 s pass without one).
async fn late_client(addr: SocketAddr) -> Result<(u64, u64), BenchError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.map_err(tool)?;
    let (mut events, mut bytes) = (0u64, 0u64);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
        if let Ok(text) = msg.to_text()
            && text.contains(MARK)
        {
            events += 1;
            bytes += text.len() as u64;
        }
    }
    Ok((events, bytes))
}

/// Receives `/api/snapshot` (discarding it); returns its bytes and seconds.
fn fetch_snapshot(addr: SocketAddr) -> Result<(u64, f64), BenchError> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).map_err(tool)?;
    stream
        .write_all(format!("GET /api/snapshot HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(tool)?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buffer).map_err(tool)? {
            0 => break,
            n => total += n as u64,
        }
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// Publishes a small event every 10 ms until `done`; returns the slowest in ms.
fn publish_while(publisher: &HttpPublisher, done: &std::sync::atomic::AtomicBool) -> Result<f64, BenchError> {
    let mut slowest = 0.0f64;
    let mut i = 0u64;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let started = Instant::now();
        let event = json!({"type": "perf", "source": "probe", "name": "p", "value": i, "unit": "x"});
        publisher.publish(&[event]).map_err(tool)?;
        slowest = slowest.max(started.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(slowest)
}

/// Runs one scenario in this process.
pub fn run_scenario(scenario: &str) -> Result<MemoryLine, BenchError> {
    let batches = batches(scenario)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(tool)?;
    let public_dir = std::env::temp_dir().join(format!("cis490-bench-hub-memory-{}", std::process::id()));
    std::fs::create_dir_all(&public_dir)
        .and_then(|()| std::fs::write(public_dir.join("index.html"), ""))
        .map_err(tool)?;
    let config = ServeConfig {
        bind: "127.0.0.1:0".parse().map_err(tool)?,
        public_dir,
        validation_dir: None,
        token: None,
        run_dir: None,
    };
    let server = runtime.block_on(serve::bind(config)).map_err(tool)?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = runtime.spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let publisher = HttpPublisher::new(&format!("http://{addr}"), None).map_err(tool)?;
    let (rss_before, _) = resident_mib()?;
    let published = batches.iter().map(Vec::len).sum();
    for batch in batches {
        publisher.publish(&batch).map_err(tool)?;
    }
    let (rss_after, _) = resident_mib()?;
    let (late_client_events, late_bytes) = runtime.block_on(late_client(addr))?;
    let done = std::sync::atomic::AtomicBool::new(false);
    let ((snapshot_bytes, snapshot_s), publish_max_ms) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| publish_while(&publisher, &done));
        std::thread::sleep(Duration::from_millis(50));
        let snapshot = fetch_snapshot(addr);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let slowest = prober.join().map_err(|_| tool("the publishing thread panicked"))?;
        Ok::<_, BenchError>((snapshot?, slowest?))
    })?;
    let (_, peak) = resident_mib()?;
    let _ = stop.send(());
    let _ = runtime.block_on(served);
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    Ok(MemoryLine {
        scenario: scenario.to_string(),
        published,
        rss_growth_mib: rss_after - rss_before,
        peak_growth_mib: peak - rss_before,
        late_client_events,
        late_client_mib: mib(late_bytes),
        snapshot_mib: mib(snapshot_bytes),
        snapshot_s,
        publish_max_ms,
    })
}

/// Prints the table header.
pub fn print_header() {
    println!(
        "{:<9} {:>9} {:>11} {:>12} {:>12} {:>10} {:>13} {:>11} {:>15}",
        "scenario",
        "published",
        "RSS +MiB",
        "peak +MiB",
        "late events",
        "late MiB",
        "snapshot MiB",
        "snapshot s",
        "publish max ms"
    );
}

/// Prints one line of the table.
pub fn print_line(l: &MemoryLine) {
    println!(
        "{:<9} {:>9} {:>11.1} {:>12.1} {:>12} {:>10.1} {:>13.1} {:>11.2} {:>15.1}",
        l.scenario,
        l.published,
        l.rss_growth_mib,
        l.peak_growth_mib,
        l.late_client_events,
        l.late_client_mib,
        l.snapshot_mib,
        l.snapshot_s,
        l.publish_max_ms
    );
}

/// Runs every scenario, each in a child process of this binary
/// (`cis490 bench hub-memory --scenario NAME`), and prints the table.
pub fn hub_memory_all() -> Result<(), BenchError> {
    let exe = std::env::current_exe().map_err(tool)?;
    print_header();
    for scenario in SCENARIOS {
        let out = std::process::Command::new(&exe)
            .args(["bench", "hub-memory", "--scenario", scenario, "--no-header"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(tool)?;
        if !out.status.success() {
            return Err(tool(format!("scenario {scenario} failed ({})", out.status)));
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    Ok(())
}
