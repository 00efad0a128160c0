//! Producers outlive their hub: a replay keeps going through a hub restart
//! and resumes on the new hub, and a job whose hub is gone still writes
//! all of its outputs without waiting for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cis490_pipeline::publish::HttpPublisher;
use cis490_pipeline::publish::background::Background;
use cis490_pipeline::publish::retry::Retrying;
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::validate::{self, ValidateOptions};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Serves a hub on `addr` until the returned sender fires.
async fn start_hub(
    addr: SocketAddr,
) -> Result<(SocketAddr, tokio::sync::oneshot::Sender<()>), Box<dyn std::error::Error>> {
    cis490_tests::hub_client::start_with(|config| config.bind = addr).await
}

/// Waits for the first `replay` event on a new WebSocket to `addr`.
async fn first_replay(addr: SocketAddr, within: Duration) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await?;
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(message)) = tokio::time::timeout(left, ws.next()).await else { break };
        if let Message::Text(text) = message? {
            let event: serde_json::Value = serde_json::from_str(&text)?;
            if event["type"] == "replay" {
                return Ok(event);
            }
        }
    }
    Err(format!("no replay event from {addr} within {within:?}").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_resumes_on_a_restarted_hub() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    cis490_tests::small_store(&store, 6, 3, 0.0);
    let rows = cis490_tests::validate_store(&store, &dir.path().join("validation"))?.rows;
    let row = rows
        .into_iter()
        .find(|r| r.status == cis490_shared::validation::Status::Accepted)
        .ok_or("no accepted episode")?;

    let (addr, stop_first) = start_hub("127.0.0.1:0".parse()?).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let replaying = {
        let (stop, source, url, row) = (
            stop.clone(),
            cis490_pipeline::source::Source::Local(store.clone()),
            format!("http://{addr}"),
            row.clone(),
        );
        tokio::task::spawn_blocking(move || -> Result<usize, String> {
            let publisher = Retrying::forever(HttpPublisher::new(&url, None).map_err(|e| e.to_string())?);
            let mut passes = 0;
            while !stop.load(Ordering::Relaxed) {
                cis490_pipeline::producers::replay::stream(
                    &source,
                    row.episode_id.as_str(),
                    row.host_id.as_str(),
                    40.0,
                    &[],
                    &publisher,
                    &stop,
                )
                .map_err(|e| e.to_string())?;
                passes += 1;
            }
            Ok(passes)
        })
    };
    first_replay(addr, Duration::from_secs(20)).await?;
    // The hub goes away for a while, then comes back on the same port.
    let _ = stop_first.send(());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the first hub is down");
    let (again, stop_second) = start_hub(addr).await?;
    let frame = first_replay(again, Duration::from_secs(20)).await?;
    assert_eq!(frame["episode_id"], row.episode_id.as_str(), "the same replay resumed on the new hub");
    stop.store(true, Ordering::Relaxed);
    let outcome = replaying.await?;
    assert!(outcome.is_ok(), "the replay ended with {outcome:?}");
    let _ = stop_second.send(());
    Ok(())
}

#[test]
fn a_job_whose_hub_is_gone_writes_its_outputs_without_waiting() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    cis490_tests::small_store(&store, 8, 4, 0.0);
    // A "hub" that accepts connections and never answers: every attempt
    // would wait for the client's read timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let publisher: Arc<dyn cis490_pipeline::publish::Publish> =
        Arc::new(Background::start(Box::new(HttpPublisher::new(&format!("http://{}", silent.local_addr()?), None)?)));
    let progress =
        cis490_pipeline::publish::progress_events::ProgressEvents::new(Some(publisher), "validate", "test", "episodes");
    let out = dir.path().join("validation");
    let opts = ValidateOptions {
        store,
        out: out.clone(),
        jobs: 2,
        limits: ReadLimits::default(),
        progress: false,
        force: false,
        full: false,
        shard: None,
    };
    let sweep = validate::run(&opts, &|_, done, total| progress.report(done, total, "validating", Default::default()))?;
    assert_eq!(sweep.summary.total, 8);
    assert!(out.join(validate::index::INDEX_FILE).is_file() && out.join(validate::SUMMARY_FILE).is_file());
    Ok(())
}
