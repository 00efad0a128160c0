//! The hub with real WebSocket clients (tokio-tungstenite) and raw HTTP
//! publishers: state on connect, `seq` order, fan-out, a stalled client not
//! delaying others, reconnects, every bad input's status code, the earlier
//! Python producers' JSON passing through unchanged, clean shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cis490_tests::hub_client::{Error, Started, connect, get, next_event, post, start_with};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type TestResult = Result<(), Error>;

/// Starts a hub on a free loopback port; returns its address and a stopper.
async fn start(token: Option<&str>) -> Result<Started, Error> {
    start_with(|config| config.token = token.map(str::to_string)).await
}

async fn publish(addr: SocketAddr, event: &Value) -> Result<(), Error> {
    let answer = post(addr, event.to_string().as_bytes(), &[]).await?;
    assert_eq!(answer.status, 200, "{}", answer.text());
    Ok(())
}

fn python_profile() -> Value {
    // Exactly what the earlier Python producer (profiles.py) posts.
    let curve: Vec<f64> = (0..80).map(|i| (f64::from(i) / 79.0 * 1000.0).round() / 1000.0).collect();
    json!({"type": "attack_profile", "name": "cpu-saturate", "shape": "sustained 1-vCPU peg (XMRig)", "curve": curve})
}

fn replay(i: usize, pad: usize) -> Value {
    json!({"type": "replay", "episode_id": "ep-1", "host_id": "lab-pc-01", "t_s": i, "label": "benign",
           "values": {"proc.cpu_user": i, "pad": "x".repeat(pad)}})
}

#[tokio::test]
async fn state_first_then_live_with_fields_intact_and_seq_increasing() -> TestResult {
    let (addr, _stop) = start(None).await?;
    let profile = python_profile();
    publish(addr, &profile).await?;
    let mut ws = connect(addr).await?;
    let first = next_event(&mut ws).await?;
    let mut expected = profile.clone();
    expected["seq"] = first["seq"].clone();
    expected["ts"] = first["ts"].clone();
    assert_eq!(first, expected, "the producer's fields reach the client unchanged");
    assert!(first["ts"].is_u64() && first["seq"].is_u64());
    let mut last_seq = first["seq"].as_u64().unwrap_or(0);
    for i in 0..20 {
        publish(addr, &replay(i, 0)).await?;
    }
    for i in 0..20 {
        let e = next_event(&mut ws).await?;
        assert_eq!(e["t_s"], i);
        let seq = e["seq"].as_u64().ok_or("seq")?;
        assert!(seq > last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
    }
    // A reconnecting dashboard gets the state again without a re-publish.
    drop(ws);
    let mut again = connect(addr).await?;
    assert_eq!(next_event(&mut again).await?["name"], "cpu-saturate");
    Ok(())
}

#[tokio::test]
async fn every_client_gets_every_event() -> TestResult {
    let (addr, _stop) = start(None).await?;
    let mut clients = Vec::new();
    for _ in 0..25 {
        clients.push(connect(addr).await?);
    }
    let batch: Vec<Value> = (0..50).map(|i| replay(i, 0)).collect();
    let answer = post(addr, Value::Array(batch).to_string().as_bytes(), &[]).await?;
    assert_eq!(answer.status, 200, "{}", answer.text());
    for ws in &mut clients {
        for i in 0..50 {
            assert_eq!(next_event(ws).await?["t_s"], i);
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_stalled_client_does_not_delay_the_others() -> TestResult {
    let (addr, _stop) = start(None).await?;
    let _stalled = connect(addr).await?; // never read
    let mut live = connect(addr).await?;
    let total = 3000;
    // The live dashboard reads while the producer publishes.
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total {
            match next_event(&mut live).await {
                Ok(e) => seen.push(e["t_s"].as_u64().unwrap_or(u64::MAX)),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(seen)
    });
    let started = Instant::now();
    for chunk in 0..(total / 100) {
        let batch: Vec<Value> = (0..100).map(|i| replay(chunk * 100 + i, 4000)).collect();
        assert_eq!(post(addr, Value::Array(batch).to_string().as_bytes(), &[]).await?.status, 200);
    }
    let publishing = started.elapsed();
    let seen = tokio::time::timeout(Duration::from_secs(30), reader).await???;
    let expected: Vec<u64> = (0..total as u64).collect();
    assert!(seen == expected, "the live client missed or reordered events");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "the live client took {elapsed:?} (publishing {publishing:?})");
    // The stalled client's drops become visible as a hub perf event.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = get(addr, "/api/snapshot", &[]).await?;
        assert_eq!(answer.status, 200);
        let events: Value = serde_json::from_slice(&answer.body)?;
        let dropped = events
            .as_array()
            .and_then(|a| a.iter().find(|e| e["source"] == "hub" && e["name"] == "dropped_events"))
            .and_then(|e| e["value"].as_f64())
            .unwrap_or(0.0);
        if dropped > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no dropped_events perf report");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_its_status_code_and_names_the_problem() -> TestResult {
    let (addr, _stop) = start(None).await?;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "malformed JSON"),
        (br#"{"type": "telemetry"}"#.to_vec(), 400, "unknown event type"),
        (br#"{"name": "x"}"#.to_vec(), 400, "type"),
        (br#"{"type": "perf", "source": "x", "name": "y", "unit": "s"}"#.to_vec(), 400, "value"),
        (br#"{"type": "attack_profile", "name": "x", "shape": "y", "curve": ["a"]}"#.to_vec(), 400, "curve"),
        (br#"[]"#.to_vec(), 400, "empty"),
        (format!("[{}, {{\"type\": \"replay\"}}]", replay(0, 0)).into_bytes(), 400, "event 1"),
        (format!("{{\"type\": \"replay\", \"pad\": \"{}\"}}", "x".repeat(1 << 20)).into_bytes(), 413, ""),
    ];
    for (body, status, says) in cases {
        let answer = post(addr, &body, &[]).await?;
        let text = answer.text();
        assert_eq!(answer.status, status, "{}: {text}", String::from_utf8_lossy(&body[..body.len().min(60)]));
        assert!(text.contains(says), "expected {says:?} in {text}");
    }
    Ok(())
}

#[tokio::test]
async fn a_configured_token_is_required() -> TestResult {
    let (addr, _stop) = start(Some("s3cret")).await?;
    let body = python_profile().to_string();
    assert_eq!(post(addr, body.as_bytes(), &[]).await?.status, 401);
    assert_eq!(post(addr, body.as_bytes(), &[("Authorization", "Bearer wrong")]).await?.status, 401);
    assert_eq!(post(addr, body.as_bytes(), &[("Authorization", "Bearer s3cret")]).await?.status, 200);
    assert_eq!(post(addr, body.as_bytes(), &[("X-Cis490-Token", "s3cret")]).await?.status, 200);
    // Reading needs no token unless the hub is private.
    assert_eq!(get(addr, "/api/snapshot", &[]).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn shutdown_closes_sockets_cleanly() -> TestResult {
    let (addr, stop) = start(None).await?;
    let mut ws = connect(addr).await?;
    let _ = stop.send(());
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(_)) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        true
    })
    .await?;
    assert!(closed);
    Ok(())
}

#[test]
fn the_producers_emit_events_that_pass_the_schema_check() -> TestResult {
    use cis490_pipeline::producers::{profiles, replay};
    use cis490_shared::events::Event;
    use cis490_shared::label::Profile;
    // What the hub would make of an event's text: the same event.
    let as_the_hub_reads =
        |event: &Event| -> Result<Event, Error> { Ok(serde_json::from_str(&serde_json::to_string(event)?)?) };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ep.tar.zst");
    std::fs::write(&path, cis490_tests::EpisodeFixture::clean().build())?;
    let frames = replay::frames(&path, "ep-fixture-1", "lab-pc-07")?;
    assert_eq!(frames.len(), 120, "a frame every 500 ms over 60 s");
    for f in &frames {
        let event = Event::Replay(f.clone());
        assert_eq!(as_the_hub_reads(&event)?, event);
    }
    assert_eq!(frames[0].label, "benign");
    assert_eq!(frames[50].label, "cpu-saturate");
    assert_eq!(frames[10].values.len(), 46);
    let profile = profiles::profile_event(Profile::CpuSaturate, &path, "ep-fixture-1")?;
    assert_eq!(as_the_hub_reads(&profile)?, profile);
    let Event::AttackProfile(profile) = profile else { return Err("not an attack profile".into()) };
    assert_eq!(profile.curve.len(), 80);
    assert!(profile.curve.iter().map(|v| v.as_f64()).all(|v| (0.0..=1.0).contains(&v)));
    Ok(())
}

#[tokio::test]
async fn the_runs_onnx_models_are_listed_and_served_and_nothing_else() -> TestResult {
    let run = tempfile::tempdir()?;
    std::fs::create_dir_all(run.path().join("gbt-realistic"))?;
    std::fs::write(run.path().join("gbt-realistic/model.onnx"), b"\x08\x07onnx-bytes")?;
    std::fs::write(run.path().join("gbt-realistic/checkpoint.bin"), b"secret")?;
    std::fs::create_dir_all(run.path().join("empty"))?;
    let (addr, _stop) = start_with(|config| config.run_dir = Some(run.path().to_path_buf())).await?;
    let answer = get(addr, "/api/models", &[]).await?;
    assert_eq!(answer.status, 200);
    let listed: Value = serde_json::from_slice(&answer.body)?;
    assert_eq!(listed["models"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["models"][0]["name"], "gbt-realistic");
    let answer = get(addr, "/models/gbt-realistic/model.onnx", &[]).await?;
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"\x08\x07onnx-bytes".as_slice()));
    assert_eq!(get(addr, "/models/empty/model.onnx", &[]).await?.status, 404);
    assert_eq!(get(addr, "/models/..%2F..%2Fetc/model.onnx", &[]).await?.status, 404);
    Ok(())
}
