//! Hub memory under hostile publishing (`cis490 bench hub-memory`): a hub
//! (`cis490 serve` in a child process: this binary, or `--server OTHER`
//! to measure another build the same way) is sent what an attacker sent
//! the release binary, over HTTP, and the child's resident memory is read
//! from `/proc/<pid>/status` before and after.
//!
//! Scenarios, each against a fresh hub: `keys`, 200,000 distinct `perf`
//! state keys in batches of 1,000; `progress`, 1,000 distinct ~1 MB
//! `progress` events; `frames`, 240 `replay` + 480 `prediction` frames of
//! ~1 MB. After publishing, a late WebSocket client counts the events it
//! is sent first, and `/api/snapshot` is fetched while a small event is
//! published every 10 ms (the slowest of those publishes shows how long
//! the snapshot held publishers up; the publisher gives up after 10 s).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cis490_shared::events::{Event, PerfEvent, PredictionEvent, ProgressEvent, ReplayEvent};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::BenchError;
use cis490_pipeline::publish::{HttpPublisher, Publish};

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
    /// The hub's resident MiB growth after publishing.
    pub rss_growth_mib: f64,
    /// The hub's peak resident MiB growth over the scenario (incl. the snapshot).
    pub peak_growth_mib: f64,
    /// Events a late WebSocket client was sent as the state.
    pub late_client_events: u64,
    /// MiB of those events.
    pub late_client_mib: f64,
    /// MiB of `/api/snapshot`.
    pub snapshot_mib: f64,
    /// Seconds to receive `/api/snapshot`.
    pub snapshot_s: f64,
    /// Slowest small publish while the snapshot was served, ms (`None`:
    /// one gave up after 10 s).
    pub publish_max_ms: Option<f64>,
}

fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "hub-memory".into(), source: cause.into() }
}

/// `VmRSS` and `VmHWM` of process `pid` in MiB.
fn resident_mib(pid: u32) -> Result<(f64, f64), BenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(tool)?;
    let field = |name: &str| -> Result<f64, BenchError> {
        let line = status.lines().find(|l| l.starts_with(name)).ok_or_else(|| tool(format!("no {name}")))?;
        let kib: f64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or_else(|| tool(line))?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Batch `b` of `scenario` (`None` past the last).
fn batch(scenario: &str, b: usize) -> Option<Vec<Event>> {
    let big = || "x".repeat(1_000_000);
    let padded = || Map::from_iter([("pad".to_string(), Value::from(big()))]);
    match scenario {
        "keys" if b < 200 => Some(
            (0..1000)
                .map(|i| Event::Perf(PerfEvent::new(MARK, &format!("k{}", b * 1000 + i), 1u64.into(), "x")))
                .collect(),
        ),
        "progress" if b < 1000 => {
            let mut event = ProgressEvent::new(MARK, &format!("j{b}"), 1, 2);
            event.message = Some(big());
            Some(vec![Event::Progress(event)])
        }
        "frames" if b < 240 => Some(vec![Event::Replay(ReplayEvent {
            episode_id: MARK.into(),
            host_id: "h".into(),
            t_s: b.into(),
            label: "benign".into(),
            values: padded(),
            extra: Map::new(),
        })]),
        "frames" if b < 720 => Some(vec![Event::Prediction(PredictionEvent {
            model: MARK.into(),
            variant: "realistic".into(),
            episode_id: "e".into(),
            t_s: b.into(),
            probs: Map::from_iter([("benign".to_string(), Value::from(1.0))]),
            predicted: "benign".into(),
            truth: "benign".into(),
            latency_us: 1u64.into(),
            runtime: "server".into(),
            extra: padded(),
        })]),
        _ => None,
    }
}

/// A hub in a child process, killed when dropped.
struct ServedHub {
    child: Child,
    addr: SocketAddr,
}

impl ServedHub {
    /// Starts `server serve` on a free loopback port with an empty page.
    fn start(server: &Path) -> Result<Self, BenchError> {
        let public = std::env::temp_dir().join(format!("cis490-bench-hub-memory-{}", std::process::id()));
        std::fs::create_dir_all(&public).and_then(|()| std::fs::write(public.join("index.html"), "")).map_err(tool)?;
        let mut child = Command::new(server)
            .args(["serve", "--bind", "127.0.0.1:0", "--public"])
            .arg(&public)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool(format!("{}: {e}", server.display())))?;
        let stderr = child.stderr.take().ok_or_else(|| tool("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        // `cis490 serve` says `dashboard: http://ADDR/  (Ctrl-C stops)`.
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("dashboard: http://")?.split('/').next()?.parse().ok());
        // Keep reading its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        match addr {
            Some(addr) => Ok(Self { child, addr }),
            None => {
                stop(&mut child);
                Err(tool(format!("{} serve did not say where it listens", server.display())))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Kills and reaps a child (best effort: it may have exited already).
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ServedHub {
    fn drop(&mut self) {
        stop(&mut self.child);
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

/// Publishes a small event every 10 ms until `done`; returns the slowest
/// in ms, or `None` when one failed (the publisher waits 10 s at most).
fn publish_while(publisher: &HttpPublisher, done: &AtomicBool) -> Option<f64> {
    let mut slowest = 0.0f64;
    let mut i = 0u64;
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        let event = Event::Perf(PerfEvent::new("probe", "p", i.into(), "x"));
        publisher.publish(&[event]).ok()?;
        slowest = slowest.max(started.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(slowest)
}

/// Runs one scenario against a fresh `server serve`.
pub fn run_scenario(scenario: &str, server: &Path) -> Result<MemoryLine, BenchError> {
    if !SCENARIOS.contains(&scenario) {
        return Err(tool(format!("unknown scenario {scenario:?} (known: {})", SCENARIOS.join(", "))));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(tool)?;
    let hub = ServedHub::start(server)?;
    let addr = hub.addr;
    let publisher = HttpPublisher::new(&format!("http://{addr}"), None).map_err(tool)?;
    let (rss_before, _) = resident_mib(hub.pid())?;
    let mut published = 0;
    for events in (0..).map_while(|b| batch(scenario, b)) {
        publisher.publish(&events).map_err(tool)?;
        published += events.len();
    }
    let (rss_after, _) = resident_mib(hub.pid())?;
    let (late_client_events, late_bytes) = runtime.block_on(late_client(addr))?;
    let done = AtomicBool::new(false);
    let (snapshot, publish_max_ms) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| publish_while(&publisher, &done));
        std::thread::sleep(Duration::from_millis(50));
        let snapshot = fetch_snapshot(addr);
        done.store(true, Ordering::Relaxed);
        (snapshot, prober.join().ok().flatten())
    });
    let (snapshot_bytes, snapshot_s) = snapshot?;
    let (_, peak) = resident_mib(hub.pid())?;
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

/// Runs `scenarios` (all when empty) against `server` (this binary when
/// `None`) and prints a table.
pub fn hub_memory(scenarios: &[String], server: Option<&Path>) -> Result<Vec<MemoryLine>, BenchError> {
    let this = std::env::current_exe().map_err(tool)?;
    let server = server.unwrap_or(&this);
    let all: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    let scenarios = if scenarios.is_empty() { &all } else { scenarios };
    println!(
        "{:<9} {:>9} {:>9} {:>10} {:>12} {:>9} {:>13} {:>11} {:>15}",
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
    let mut lines = Vec::new();
    for scenario in scenarios {
        let l = run_scenario(scenario, server)?;
        let stall = l.publish_max_ms.map_or_else(|| "> 10,000".to_string(), |ms| format!("{ms:.1}"));
        println!(
            "{:<9} {:>9} {:>9.1} {:>10.1} {:>12} {:>9.1} {:>13.1} {:>11.2} {:>15}",
            l.scenario,
            l.published,
            l.rss_growth_mib,
            l.peak_growth_mib,
            l.late_client_events,
            l.late_client_mib,
            l.snapshot_mib,
            l.snapshot_s,
            stall
        );
        lines.push(l);
    }
    Ok(lines)
}
