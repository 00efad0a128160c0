//! The `cis490-hub` binary as `cargo xtask demo` runs it: `cis490-hub demo
//! ARGS` serves the dashboard at once, shows the demo's folders as
//! `cis490 demo ARGS --publish-only` fills them, and takes its events over
//! HTTP; bad arguments name the flag.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cis490_publish::{HttpPublisher, Publish};
use cis490_shared::events::{Event, PerfEvent};
use cis490_shared::validation::{SUMMARY_FILE, ValidationSummary};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running `cis490-hub`, stopped when dropped.
struct Hub {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cis490-hub args` in `dir` and reads the address it says it
/// serves at.
fn start(dir: &Path, args: &[&str]) -> Result<Hub, Box<dyn std::error::Error>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cis490-hub"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().ok_or("cis490-hub stopped before serving")??;
        if let Some(rest) = line.strip_prefix("dashboard: http://") {
            break rest.split('/').next().ok_or("no address")?.parse()?;
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Hub { child, addr })
}

/// `GET path`: the status and the body.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split(' ').nth(1).ok_or("no status")?.parse()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn write_model(run: &Path, name: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(run.join(name))?;
    std::fs::write(run.join(name).join("checkpoint.bin"), b"c")?;
    std::fs::write(run.join(name).join("model.onnx"), b"onnx")
}

#[test]
fn the_demo_hub_serves_the_page_at_once_and_the_demos_outputs_as_they_appear() -> TestResult {
    let dir = tempfile::tempdir()?;
    let public = dir.path().join("public");
    std::fs::create_dir_all(&public)?;
    std::fs::write(public.join("index.html"), "<title>cis490</title>")?;
    // Relative, as `cargo xtask demo` runs it (`demo-out` under the clone).
    let work = dir.path().join("work");
    let hub = start(dir.path(), &["demo", "--workdir", "work", "--public", "public", "--bind", "127.0.0.1:0"])?;

    // Before the demo has written anything: the page, and honest blanks.
    assert_eq!(get(hub.addr, "/")?, (200, "<title>cis490</title>".to_owned()));
    let (status, body) = get(hub.addr, "/api/validation/summary")?;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("does not exist yet"), "{body}");
    assert_eq!(get(hub.addr, "/api/models")?, (200, r#"{"models":[]}"#.to_owned()));

    // What `cis490 demo` writes under --workdir shows up.
    std::fs::create_dir_all(work.join("validation"))?;
    let summary = ValidationSummary { accepted: 7, ..ValidationSummary::default() };
    std::fs::write(work.join("validation").join(SUMMARY_FILE), serde_json::to_vec(&summary)?)?;
    let (status, body) = get(hub.addr, "/api/validation/summary")?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<ValidationSummary>(&body)?.accepted, 7);
    write_model(&work.join("run"), "gbt-realistic")?;
    write_model(&work.join("run"), "not-a-model")?;
    let (_, body) = get(hub.addr, "/api/models")?;
    assert!(body.contains("gbt-realistic") && !body.contains("not-a-model"), "{body}");
    assert_eq!(get(hub.addr, "/models/gbt-realistic/model.onnx")?, (200, "onnx".to_owned()));

    // Events published over HTTP (as `--publish-only` does) reach readers.
    let publisher = HttpPublisher::new(&format!("http://{}", hub.addr), None)?;
    publisher.publish(&[Event::Perf(PerfEvent::new("demo-test", "rss", 1u64.into(), "bytes"))])?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(hub.addr, "/api/snapshot")?.1.contains("demo-test") {
        assert!(Instant::now() < deadline, "the published event never reached the snapshot");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn a_demo_without_serving_needs_no_hub_and_bad_arguments_are_named() -> TestResult {
    let hub = env!("CARGO_BIN_EXE_cis490-hub");
    let out = Command::new(hub).args(["demo", "--no-serve"]).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to serve"));
    let out = Command::new(hub).args(["serve", "--bind", "not-an-address"]).output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bind"), "{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}
