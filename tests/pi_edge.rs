//! The Raspberry Pi edge binary (`cargo xtask pi`: aarch64, no training
//! stack) run under Debian's `qemu-user`, as the README's Raspberry Pi
//! section runs it: `cis490 serve` as the kiosk's hub, and `cis490 replay
//! --models` on a generated episode publishing to it. The prediction events
//! a client of that hub receives equal what this machine computes from the
//! same run (all six architectures, both threat models), probabilities
//! within 1e-5.
//!
//! `cargo xtask test` builds the binary and sets `CIS490_PI_BINARY`; without
//! it the test says so and passes (a developer's plain `cargo test`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cis490_pipeline::producers::predictions::{load_run, prediction_events};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// How far the Pi's probabilities may be from this machine's.
const TOLERANCE: f64 = 1e-5;
const QEMU: &str = "qemu-aarch64";
/// Debian's aarch64 glibc, installed with the cross toolchain.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";

fn pi_binary() -> Option<PathBuf> {
    let binary = std::env::var_os("CIS490_PI_BINARY").map(PathBuf::from);
    if binary.is_none() {
        eprintln!(
            "pi_edge skipped: set CIS490_PI_BINARY to the binary `cargo xtask pi` builds (cargo xtask test does)"
        );
    }
    binary
}

/// One prediction event's identity: model, variant, window end (ms).
type Key = (String, String, i64);

fn key_of(event: &Value) -> Result<Key, String> {
    let text = |field: &str| event[field].as_str().map(str::to_owned).ok_or(format!("{field} missing in {event}"));
    let t_s = event["t_s"].as_f64().ok_or(format!("t_s missing in {event}"))?;
    Ok((text("model")?, text("variant")?, (t_s * 1000.0).round() as i64))
}

/// The Pi binary under qemu.
fn under_qemu(binary: &Path) -> Command {
    let mut command = Command::new(QEMU);
    command.arg("-L").arg(SYSROOT).arg(binary).stdin(Stdio::null());
    command
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the Pi binary's `serve` (the kiosk's hub) under qemu on a free
/// loopback port and returns it with the address it printed.
fn serve_under_qemu(binary: &Path, public: &Path, run: &Path) -> Result<(Running, String), Box<dyn std::error::Error>> {
    let mut command = under_qemu(binary);
    command.args(["serve", "--bind", "127.0.0.1:0"]).arg("--public").arg(public).arg("--run").arg(run);
    let mut child = Running(
        command
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {QEMU} (cargo xtask test installs qemu-user): {e}"))?,
    );
    let stderr = child.0.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("dashboard: http://") {
                let _ = tx.send(rest.split('/').next().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| "the Pi binary's serve never said where")?;
    Ok((child, addr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pi_binary_predicts_what_this_machine_does() -> TestResult {
    let Some(binary) = pi_binary() else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let models = ["gbt", "mlp", "cnn", "gru", "lstm", "transformer"];
    let (split, run) = {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || cis490_tests::small_trained_run(&dir, &models).map_err(|e| e.to_string()))
            .await??
    };
    let (row, episode) = cis490_tests::test_episode(dir.path(), &split)?;

    // This machine: the same library calls the x86 `cis490 replay` makes.
    let live = load_run(&run)?;
    assert_eq!(live.len(), 12, "six models under two threat models");
    let expected: BTreeMap<Key, Value> = prediction_events(&live, &episode, row.episode_id.as_str())
        .into_iter()
        .map(|(_, event)| {
            let value = serde_json::to_value(&event).map_err(|e| e.to_string())?;
            Ok((key_of(&value)?, value))
        })
        .collect::<Result<_, String>>()?;
    assert!(expected.len() >= 12 * 10, "only {} predictions to compare", expected.len());

    // The Pi binary: its hub, and its replay publishing to that hub.
    let public = std::env::var_os("CIS490_PUBLIC_DIR").map_or_else(|| dir.path().to_path_buf(), PathBuf::from);
    let (_hub, addr) = serve_under_qemu(&binary, &public, &run)?;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;
    let episode_arg = format!("{}/{}", row.host_id, row.episode_id);
    let mut replay = under_qemu(&binary);
    replay
        .args(["replay", "--episode", &episode_arg, "--speed", "1000", "--hub", &format!("http://{addr}")])
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("--models")
        .arg(&run);
    let mut child = replay.spawn()?;

    let mut got: BTreeMap<Key, Value> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while got.len() < expected.len() && Instant::now() < deadline {
        if let Some(status) = child.try_wait()?
            && !status.success()
        {
            return Err(format!("the Pi binary's replay failed under qemu: {status}").into());
        }
        let Ok(message) = tokio::time::timeout(Duration::from_secs(1), ws.next()).await else { continue };
        let Some(Message::Text(text)) = message.transpose()? else { continue };
        let event: Value = serde_json::from_str(&text)?;
        if event["type"] == "prediction" && event["episode_id"] == row.episode_id.as_str() {
            got.insert(key_of(&event)?, event);
        }
    }
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    assert!(status.success(), "the Pi binary's replay exited with {status}");

    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the Pi published other windows or models than this machine predicts"
    );
    let mut worst = 0.0_f64;
    for (key, want) in &expected {
        let have = &got[key];
        assert_eq!(have["predicted"], want["predicted"], "{key:?}: predicted class differs");
        assert_eq!(have["truth"], want["truth"], "{key:?}: truth differs");
        assert_eq!(have["runtime"], "server", "{key:?}");
        let (Some(want_probs), Some(have_probs)) = (want["probs"].as_object(), have["probs"].as_object()) else {
            return Err(format!("{key:?}: probs missing").into());
        };
        assert_eq!(want_probs.keys().collect::<Vec<_>>(), have_probs.keys().collect::<Vec<_>>(), "{key:?}");
        for (label, p) in want_probs {
            let (a, b) = (p.as_f64().ok_or("prob")?, have_probs[label].as_f64().ok_or("prob")?);
            worst = worst.max((a - b).abs());
            assert!((a - b).abs() <= TOLERANCE, "{key:?} {label}: this machine {a}, the Pi {b}");
        }
    }
    if std::env::var_os("CIS490_PUBLIC_DIR").is_some() {
        let page = cis490_tests::hub_client::get(addr.parse()?, "/", &[]).await?;
        assert_eq!(page.status, 200, "the Pi's hub does not serve the dashboard: {}", page.text());
    }
    eprintln!("pi_edge: {} prediction events equal, largest difference {worst:e}", expected.len());
    Ok(())
}
