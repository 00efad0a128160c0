//! What the live-browser tests share: a dashboard server on a runtime of
//! its own with a hub holding given events, and the events that fill
//! every scene at full size (a whole evaluation report, 46-channel replay
//! frames), and timings read in the page (key press to a scene painted).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cis490_server::serve::{self, ServeConfig};
use cis490_shared::events::Event;
use serde_json::{Value, json};

use crate::webdriver::Browser;

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

/// Runs `steps` of browser test `name`; on failure saves a screenshot and
/// the DOM under `artifacts` (the test file's folder in
/// `$CARGO_TARGET_TMPDIR`) and fails saying where they are.
pub fn checked(
    browser: &Browser,
    artifacts: &Path,
    name: &str,
    steps: impl FnOnce() -> Result<(), String>,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Err(problem) = steps() {
        let saved = browser.save_artifacts(artifacts, name);
        return Err(format!("{name}: {problem} (screenshot and DOM in {saved})").into());
    }
    Ok(())
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
                let predicted = if (k / 10 + i as u32).is_multiple_of(7) { json!("bursty-c2") } else { truth.clone() };
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

/// Presses `key` and returns the milliseconds until `<main>` shows
/// `scene` after the next frame is painted.
pub fn switch_ms(browser: &Browser, key: &str, scene: &str) -> Result<f64, String> {
    browser.run(
        "window.__t0 = undefined; addEventListener('keydown', () => { window.__t0 = performance.now(); }, {once: true, capture: true});",
        json!([]),
    )?;
    browser.press(key)?;
    painted_ms(browser, scene)
}

/// Clicks `scene`'s tab (desk and lecture modes) and returns the
/// milliseconds until `<main>` shows it after the next frame is painted:
/// [`switch_ms`] without the pages a key turns first.
pub fn tab_switch_ms(browser: &Browser, scene: &str) -> Result<f64, String> {
    browser.run(
        "window.__t0 = performance.now(); document.querySelector(`[data-testid=tab-${arguments[0]}]`).click();",
        json!([scene]),
    )?;
    painted_ms(browser, scene)
}

/// Milliseconds from `window.__t0` until `<main>` shows `scene` and the
/// next frame is painted.
fn painted_ms(browser: &Browser, scene: &str) -> Result<f64, String> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const check = () => {{
           if (document.querySelector('main')?.dataset.scene === '{scene}') {{
             requestAnimationFrame(() => done(performance.now() - window.__t0));
           }} else {{ requestAnimationFrame(check); }}
         }};
         check();"
    );
    browser.run_async(&script)?.as_f64().ok_or_else(|| format!("no timing for {scene}"))
}

/// After [`switch_ms`]: milliseconds from that key press until `selector`
/// exists, after the next frame is painted (a scene that paints its
/// heavy parts a frame later).
pub fn complete_ms(browser: &Browser, selector: &str) -> Result<f64, String> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const check = () => {{
           if (document.querySelector({selector:?})) {{
             requestAnimationFrame(() => done(performance.now() - window.__t0));
           }} else {{ requestAnimationFrame(check); }}
         }};
         check();"
    );
    browser.run_async(&script)?.as_f64().ok_or_else(|| format!("no timing for {selector}"))
}

/// Opens the replay scene (`query` added, e.g. `strips=46`) on the hub at
/// `addr`, fills ten minutes of 46-channel history ([`wide_frame`], 1,200
/// frames at 2 Hz, in bursts the client's queue can take), waits for
/// `strips` strips (any when `None`, then two seconds for the paged
/// layout to fit them), publishes 60 more frames at 20 a second and
/// returns the page's apply-and-render time of every render since, in ms,
/// sorted. The last frame shown is t = 629.5 s.
pub fn timed_replay_renders(
    browser: &Browser,
    addr: SocketAddr,
    hub: &cis490_server::hub::Hub,
    query: &str,
    strips: Option<usize>,
) -> Result<Vec<f64>, String> {
    let publish = |k: u32| -> Result<u64, String> {
        let frame = Event::from_value(wide_frame(f64::from(k) * 0.5)).map_err(|e| e.to_string())?;
        hub.publish(frame).map_err(|e| e.to_string())
    };
    browser.goto(&format!("http://{addr}/?scene=replay&timing&{query}"))?;
    browser.wait_for(
        "document.querySelector('[data-testid=connection]')?.dataset.state === 'open'",
        Duration::from_secs(20),
    )?;
    for k in 0..1200u32 {
        publish(k)?;
        if k % 40 == 39 {
            std::thread::sleep(Duration::from_millis(60));
        }
    }
    const SHOWN: &str = "document.querySelectorAll('[data-testid^=strip-channel_]').length";
    match strips {
        Some(n) => browser.wait_for(&format!("{SHOWN} === {n}"), Duration::from_secs(30))?,
        None => {
            let shown = browser.wait_for(&format!("{SHOWN} > 0"), Duration::from_secs(30))?;
            std::thread::sleep(Duration::from_secs(2));
            shown
        }
    };
    browser.run("window.__cis490_frame_ms = [];", json!([]))?;
    for k in 1200..1260u32 {
        publish(k)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    // Renders are batched per animation frame: wait for the last frame to
    // show, then read the time of every render since.
    browser.wait_for(
        "document.querySelector('[data-testid=replay-clock]')?.textContent.includes('t = 629.5 s')",
        Duration::from_secs(60),
    )?;
    let times = browser.run("return window.__cis490_frame_ms || [];", json!([]))?;
    let mut ms: Vec<f64> = times.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    if ms.is_empty() {
        return Err("no render was timed".into());
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}

/// The `q` quantile of sorted `ms` (nearest rank).
pub fn quantile(ms: &[f64], q: f64) -> f64 {
    ms.get(((ms.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}
