//! What the live-browser tests share: a dashboard server on a runtime of
//! its own with a hub holding given events, and the events that fill
//! every scene at full size (a whole evaluation report, 46-channel replay
//! frames).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cis490_server::serve::{self, ServeConfig};
use cis490_shared::events::Event;
use serde_json::{Value, json};

/// A server on a runtime of its own, stopped on [`Server::stop`].
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its hub, to publish into.
    pub hub: std::sync::Arc<cis490_server::hub::Hub>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A `metrics` event with only the required parts.
pub fn metrics_event(model: &str, point: f64) -> Value {
    json!({"type": "metrics", "model": model, "variant": "realistic", "split": "host",
           "macro_f1": {"point": point, "lo": point - 0.05, "hi": point + 0.04}})
}

/// What `cis490 eval` publishes for six architectures × two variants: each
/// entry with per-class, per-profile and per-host scores, a 7 × 7 confusion
/// matrix and its paired comparisons (36 in all), so the metrics scene
/// draws every table at full size.
pub fn full_report_events() -> Vec<Value> {
    const LABELS: [&str; 7] =
        ["benign", "cpu-saturate", "scan-and-dial", "io-walk", "bursty-c2", "low-and-slow", "shell-resident"];
    let models: Vec<(&str, &str)> = ["gbt", "mlp", "cnn", "gru", "lstm", "transformer"]
        .iter()
        .flat_map(|m| [(*m, "realistic"), (*m, "oracle")])
        .collect();
    let ci = |p: f64| json!({"point": p, "lo": p - 0.05, "hi": (p + 0.04).min(1.0)});
    let mut comparisons = Vec::new();
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            if a.1 == b.1 || a.0 == b.0 {
                let d = 0.01 * (i as f64) - 0.05;
                comparisons.push(json!({"split": "host", "a": {"model": a.0, "variant": a.1},
                    "b": {"model": b.0, "variant": b.1}, "delta": ci(d), "p_value": 0.01, "p_holm": 0.03 * i as f64,
                    "significant": i < 2}));
            }
        }
    }
    models
        .iter()
        .enumerate()
        .map(|(i, (model, variant))| {
            let p = 0.6 + 0.03 * i as f64;
            let groups = |names: &[&str]| -> Vec<Value> {
                names.iter().map(|n| json!({"name": n, "episodes": 12, "windows": 400, "macro_f1": ci(p),
                    "accuracy": ci(p), "recall": ci(p - 0.1), "attack_detected": 0.8, "false_alarm": 0.05})).collect()
            };
            let matrix: Vec<Vec<u64>> =
                (0..7).map(|t| (0..7).map(|q| if t == q { 300 } else { (t * 7 + q) as u64 % 11 }).collect()).collect();
            let mine: Vec<&Value> = comparisons
                .iter()
                .filter(|c| [&c["a"], &c["b"]].iter().any(|s| s["model"] == *model && s["variant"] == *variant))
                .collect();
            json!({"type": "metrics", "model": model, "variant": variant, "split": "host", "macro_f1": ci(p),
                   "accuracy": ci(p), "in_distribution": {"macro_f1": ci(0.95)}, "generalization_gap": ci(0.95 - p),
                   "per_class": LABELS.iter().map(|l| json!({"label": l, "support": 300, "f1": ci(p)})).collect::<Vec<_>>(),
                   "per_profile": groups(&LABELS), "per_host": groups(&["rpi-01"]),
                   "confusion": {"labels": LABELS, "matrix": matrix}, "untested_profiles": ["scan-and-dial"],
                   "comparisons": mine})
        })
        .collect()
}

/// Serves `public` at `addr` (port 0: any) with a fresh hub holding
/// `events`, configured further by `configure` (a run, a token, …).
pub fn start_serving(
    rt: &tokio::runtime::Runtime,
    public: &Path,
    addr: SocketAddr,
    events: &[Value],
    configure: impl FnOnce(&mut ServeConfig),
) -> Result<Server, String> {
    let mut config = ServeConfig::new(addr, public.to_path_buf());
    configure(&mut config);
    // The old listener may take a moment to release the port.
    let mut bound = None;
    for _ in 0..50 {
        match rt.block_on(serve::bind(config.clone())) {
            Ok(b) => {
                bound = Some(b);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let bound = bound.ok_or_else(|| format!("cannot bind {addr}"))?;
    for event in events {
        let event = Event::from_value(event.clone()).map_err(|e| e.to_string())?;
        bound.hub().publish(event).map_err(|e| e.to_string())?;
    }
    let addr = bound.local_addr();
    let hub = bound.hub();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = rt.spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    Ok(Server { addr, hub, stop, task })
}

/// [`start_serving`] with the defaults.
pub fn start(
    rt: &tokio::runtime::Runtime,
    public: &Path,
    addr: SocketAddr,
    events: &[Value],
) -> Result<Server, String> {
    start_serving(rt, public, addr, events, |_| {})
}

impl Server {
    /// Stops serving and waits (10 s at most) for the server to end.
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.send(());
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), self.task).await });
    }
}

/// A replay frame of 46 channels, `t` seconds into episode `ep-budget`.
pub fn wide_frame(t: f64) -> Value {
    let values: serde_json::Map<String, Value> =
        (0..46).map(|c| (format!("channel_{c:02}"), json!((t * 0.1 + f64::from(c)).sin() * 10.0 + 20.0))).collect();
    json!({"type": "replay", "episode_id": "ep-budget", "host_id": "lab-pc-01", "t_s": t,
           "label": if t < 300.0 { "benign" } else { "low-and-slow" }, "values": values})
}

/// The twelve trained models, `<model>-<variant>`, in the report's order.
pub fn model_ids() -> Vec<String> {
    ["gbt", "mlp", "cnn", "gru", "lstm", "transformer"]
        .iter()
        .flat_map(|m| [format!("{m}-realistic"), format!("{m}-oracle")])
        .collect()
}

/// The last `progress` event of a finished training run per model: eight
/// epochs with their whole history.
pub fn training_events() -> Vec<Value> {
    model_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let f1 = |e: u32| 0.4 + 0.05 * f64::from(e) + 0.01 * i as f64;
            let history: Vec<Value> = (1..=8u32)
                .map(|e| json!({"epoch": e, "train_loss": 1.2 / f64::from(e), "val_macro_f1": f1(e)}))
                .collect();
            json!({"type": "progress", "job": "train", "id": id, "done": 8, "total": 8, "unit": "epochs",
                   "message": "epoch 8", "epoch": 8, "train_loss": 0.15, "val_macro_f1": f1(8), "lr": 1e-4,
                   "history": history})
        })
        .collect()
}

/// Every scene's events at full size: a finished training run and its
/// evaluation (twelve models), ten minutes of a 46-channel replay with
/// every model's predictions every 5 s, the six attack profiles and perf
/// series. What a lab's hub holds at the end of a demo.
pub fn full_scene_events() -> Vec<Value> {
    let mut events = training_events();
    events.extend(full_report_events());
    let models = model_ids();
    for k in 0..1200u32 {
        let frame = wide_frame(f64::from(k) * 0.5);
        let (t, truth) = (frame["t_s"].clone(), frame["label"].clone());
        events.push(frame);
        if k % 10 == 9 {
            for (i, id) in models.iter().enumerate() {
                let (model, variant) = id.split_once('-').unwrap_or((id, ""));
                let predicted = if (k / 10 + i as u32) % 7 == 0 { json!("bursty-c2") } else { truth.clone() };
                events.push(json!({"type": "prediction", "model": model, "variant": variant,
                    "episode_id": "ep-budget", "t_s": t, "probs": {"benign": 0.6, "low-and-slow": 0.3, "bursty-c2": 0.1},
                    "predicted": predicted, "truth": truth, "latency_us": 90.0 + f64::from(k % 40), "runtime": "server"}));
            }
        }
    }
    for (i, name) in
        ["cpu-saturate", "scan-and-dial", "io-walk", "bursty-c2", "low-and-slow", "shell-resident"].iter().enumerate()
    {
        let curve: Vec<f64> = (0..80).map(|j| ((j + i * 10) % 80) as f64 / 80.0).collect();
        events.push(json!({"type": "attack_profile", "name": name, "shape": format!("shape {i}"),
            "curve": curve, "channel": "host_cpu_pct"}));
    }
    for k in 0..60u32 {
        let wobble = f64::from(k % 7);
        for (source, name, value, unit) in [
            ("hub", "delivered", 120.0 + wobble, "events/s"),
            ("hub", "clients", 2.0, "clients"),
            ("train", "rss", 17_375_232.0 + 1e5 * wobble, "bytes"),
            ("train", "cpu", 95.0 + wobble, "%"),
        ] {
            events.push(json!({"type": "perf", "source": source, "name": name, "value": value, "unit": unit,
                "p50": 1.5, "p95": 3.0, "p99": 4.5}));
        }
    }
    events
}
