//! Real-browser tests: start the dashboard server in-process on an
//! ephemeral port, load it in headless Chromium and check that the
//! WebAssembly ran and rendered the validation summary it fetched
//! (`--dump-dom`), that each scene renders the hub state it receives over
//! the WebSocket (WebDriver, real time), that the kiosk rotates scenes and
//! that the lecture mode is marked (`--dump-dom`, 10 s of virtual time).
//!
//! Needs `/usr/bin/chromium` (or `CIS490_CHROMIUM`) and a built bundle in
//! `CIS490_PUBLIC_DIR` (default: the workspace's `public/`, built by
//! `cargo xtask bundle`). Without them the test prints `skipped: …` and
//! passes, unless `CIS490_REQUIRE_BROWSER=1` (set by `cargo xtask test`),
//! where it fails. On failure the dumped DOM, Chromium's stderr and a
//! screenshot are saved under `$CARGO_TARGET_TMPDIR/browser_smoke/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cis490_server::serve::{self, ServeConfig};

/// A summary with distinctive numbers, so matches cannot be accidental.
const SUMMARY_JSON: &str = r#"{
  "accepted": 517, "degraded": 61, "rejected": 23, "errored": 7, "total": 608,
  "reasons": {"checksum_mismatch": 3, "clock_drift": 41, "truncated_tail": 20}
}"#;

/// Expected `data-testid` → text pairs.
const EXPECTED_COUNTS: [(&str, &str); 4] =
    [("count-accepted", "517"), ("count-degraded", "61"), ("count-rejected", "23"), ("count-errored", "7")];

/// Reasons, in the order the table must show them (by count, descending).
const EXPECTED_REASON_ORDER: [&str; 3] = ["clock_drift", "truncated_tail", "checksum_mismatch"];

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_validation_summary() -> TestResult {
    let public_dir = cis490_tests::browser::public_dir();
    let Some(chromium) = cis490_tests::browser::prerequisites(&public_dir) else {
        return Ok(());
    };

    let validation_dir = tempfile::tempdir()?;
    std::fs::write(validation_dir.path().join("validation_summary.json"), SUMMARY_JSON)?;
    let bound = serve::bind(ServeConfig {
        validation_dir: Some(validation_dir.path().to_path_buf()),
        ..ServeConfig::new("127.0.0.1:0".parse()?, public_dir.clone())
    })
    .await?;
    let url = format!("http://{}/", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let dump = {
        let (chromium, url) = (chromium.clone(), url.clone());
        tokio::task::spawn_blocking(move || dump_dom(&chromium, &url)).await??
    };
    let elapsed = started.elapsed();
    let problems = check_dom(&dump.dom);

    if !problems.is_empty() {
        let saved = {
            let (chromium, url) = (chromium.clone(), url.clone());
            tokio::task::spawn_blocking(move || save_artifacts(&chromium, &url, &dump)).await?
        };
        let _ = stop.send(());
        panic!(
            "the dashboard did not render as expected ({} problems):\n  - {}\nartifacts: {saved}",
            problems.len(),
            problems.join("\n  - ")
        );
    }

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server).await??;
    cis490_tests::browser::note(&format!(
        "browser_smoke: {url} rendered in headless Chromium in {:.1} s",
        elapsed.as_secs_f64()
    ));
    Ok(())
}

/// What one Chromium run produced.
struct Dump {
    dom: String,
    stderr: String,
}

/// Runs headless Chromium with the given action flags on `url`, in a fresh
/// profile, killing it after [`CHROMIUM_TIMEOUT`].
fn run_chromium(chromium: &Path, url: &str, action: &[String]) -> Result<Dump, String> {
    let profile = tempfile::tempdir().map_err(|e| format!("cannot create a profile dir: {e}"))?;
    let mut child = Command::new(chromium)
        .args(cis490_tests::browser::CHROMIUM_FLAGS)
        .arg("--virtual-time-budget=10000")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(action)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    // Drain both pipes on threads so a chatty Chromium never blocks.
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("Chromium did not finish within {} s", CHROMIUM_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(format!("cannot wait for Chromium: {e}")),
        }
    };
    let dom = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    match status {
        Ok(status) if status.success() => Ok(Dump { dom, stderr }),
        Ok(status) => Err(format!("Chromium exited with {status}; stderr:\n{}", tail(&stderr))),
        Err(message) => Err(format!("{message}; stderr:\n{}", tail(&stderr))),
    }
}

fn drain<R: std::io::Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn dump_dom(chromium: &Path, url: &str) -> Result<Dump, String> {
    run_chromium(chromium, url, &["--dump-dom".to_owned()])
}

/// Everything wrong with the dumped DOM; empty when it rendered as expected.
fn check_dom(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !dom.contains(r#"data-rendered="true""#) {
        problems.push("no `data-rendered=\"true\"` on <body>: the WebAssembly did not start".into());
    }
    if !(dom.contains(r#"<span class="brand">cis490</span>"#) && dom.contains("— episode telemetry lab</span>")) {
        problems.push("the header is missing".into());
    }
    match attribute_of(dom, "validation-panel", "data-state") {
        Some(state) if state == "loaded" => {}
        other => problems.push(format!("validation panel data-state is {other:?}, expected \"loaded\"")),
    }
    for (testid, expected) in EXPECTED_COUNTS {
        match text_of(dom, testid) {
            Some(text) if text == expected => {}
            other => problems.push(format!("{testid} shows {other:?}, expected {expected:?}")),
        }
    }
    let positions: Vec<Option<usize>> =
        EXPECTED_REASON_ORDER.iter().map(|reason| dom.find(&format!(">{reason}<"))).collect();
    if positions.iter().any(Option::is_none) || !positions.is_sorted() {
        problems.push(format!(
            "reasons table should list {EXPECTED_REASON_ORDER:?} in that order; found positions {positions:?}"
        ));
    }
    problems
}

/// The opening tag of the first element with `data-testid="{testid}"`.
fn opening_tag<'a>(dom: &'a str, testid: &str) -> Option<(usize, &'a str)> {
    let marker = format!(r#"data-testid="{testid}""#);
    let at = dom.find(&marker)?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    Some((end + 1, &dom[start..=end]))
}

/// The value of `attribute` on the element with the given test id.
fn attribute_of(dom: &str, testid: &str, attribute: &str) -> Option<String> {
    let (_, tag) = opening_tag(dom, testid)?;
    let marker = format!(r#" {attribute}=""#);
    let from = tag.find(&marker)? + marker.len();
    let len = tag[from..].find('"')?;
    Some(tag[from..from + len].to_owned())
}

/// The text directly inside the element with the given test id, with HTML
/// comments (framework markers) removed and whitespace trimmed.
fn text_of(dom: &str, testid: &str) -> Option<String> {
    let (content_start, _) = opening_tag(dom, testid)?;
    let mut rest = &dom[content_start..];
    let mut text = String::new();
    loop {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->")? + 3..];
            continue;
        }
        match rest.find('<') {
            Some(0) => break,
            Some(next) if rest[next..].starts_with("<!--") => {
                text.push_str(&rest[..next]);
                rest = &rest[next..];
            }
            Some(next) => {
                text.push_str(&rest[..next]);
                break;
            }
            None => return None,
        }
    }
    Some(text.trim().to_owned())
}

/// Saves the DOM, Chromium's stderr and a screenshot; returns where.
fn save_artifacts(chromium: &Path, url: &str, dump: &Dump) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_smoke");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return format!("(could not create {}: {e})", dir.display());
    }
    let _ = std::fs::write(dir.join("dom.html"), &dump.dom);
    let _ = std::fs::write(dir.join("chromium-stderr.txt"), &dump.stderr);
    let screenshot = dir.join("screenshot.png");
    let shot = run_chromium(
        chromium,
        url,
        &[format!("--screenshot={}", screenshot.display()), "--window-size=1280,900".to_owned()],
    );
    let shot_note = match shot {
        Ok(_) => String::new(),
        Err(e) => format!(" (screenshot failed: {e})"),
    };
    format!("{}{shot_note}", dir.display())
}

/// Events a hub holds after a training run and an evaluation: two
/// training curves (one still running) and two evaluation entries.
fn scene_events() -> Vec<serde_json::Value> {
    let history = |n: u32| -> Vec<serde_json::Value> {
        (1..=n)
            .map(|e| {
                serde_json::json!({"epoch": e, "train_loss": 1.0 / f64::from(e), "val_macro_f1": 0.5 + 0.1 * f64::from(e)})
            })
            .collect()
    };
    let epoch = |id: &str, n: u32, total: u32| {
        serde_json::json!({"type": "progress", "job": "train", "id": id, "done": n, "total": total, "unit": "epochs",
            "message": format!("epoch {n}"), "epoch": n, "train_loss": 1.0 / f64::from(n),
            "val_macro_f1": 0.5 + 0.1 * f64::from(n), "lr": 0.001, "history": history(n)})
    };
    let f1 = |p: f64| serde_json::json!({"point": p, "lo": p - 0.052, "hi": p + 0.04});
    let metrics = |model: &str, p: f64| {
        serde_json::json!({"type": "metrics", "model": model, "variant": "realistic", "split": "host",
            "macro_f1": f1(p), "in_distribution": {"macro_f1": f1(0.958)}, "generalization_gap": f1(0.053),
            "per_class": [{"label": "benign", "support": 900, "f1": f1(0.92)}, {"label": "bursty-c2", "support": 300, "f1": f1(0.79)}],
            "confusion": {"labels": ["benign", "bursty-c2"], "matrix": [[850, 50], [70, 230]]},
            "per_profile": [{"name": "bursty-c2", "episodes": 4, "windows": 300, "macro_f1": f1(p - 0.1),
                             "accuracy": f1(0.8), "recall": f1(p - 0.2), "attack_detected": 0.81, "false_alarm": 0.05}],
            "per_host": [{"name": "rpi-01", "episodes": 9, "windows": 1200, "macro_f1": f1(p),
                          "accuracy": f1(0.9), "attack_detected": 0.8, "false_alarm": 0.04}],
            "comparisons": [{"split": "host", "a": {"model": "gbt", "variant": "realistic"},
                             "b": {"model": "mlp", "variant": "realistic"},
                             "delta": {"point": 0.23, "lo": 0.11, "hi": 0.34},
                             "p_value": 0.001, "p_holm": 0.018, "significant": true}],
            "untested_profiles": ["scan-and-dial"]})
    };
    let mut events =
        vec![epoch("gru-oracle", 3, 8), epoch("mlp-oracle", 8, 8), metrics("gbt", 0.905), metrics("mlp", 0.675)];
    // 30 s of a replayed episode (8 channels at 2 Hz), benign then io-walk,
    // with two models' predictions every 5 s.
    for k in 0..60 {
        let t = f64::from(k) * 0.5;
        let values: serde_json::Map<String, serde_json::Value> =
            (0..8).map(|c| (format!("chan_{c}"), serde_json::json!(f64::from(c) + (t * 0.3).sin()))).collect();
        let label = if t < 15.0 { "benign" } else { "io-walk" };
        events.push(serde_json::json!({"type": "replay", "episode_id": "ep-replay-1", "host_id": "lab-pc-02",
            "t_s": t, "label": label, "values": values}));
        if k % 10 == 9 {
            for (model, right) in [("gbt-oracle", true), ("mlp-realistic", false)] {
                let (name, variant) = model.split_once('-').unwrap_or((model, ""));
                let predicted = if right { label } else { "bursty-c2" };
                events.push(serde_json::json!({"type": "prediction", "model": name, "variant": variant,
                    "episode_id": "ep-replay-1", "t_s": t, "probs": {label: 0.7, "bursty-c2": 0.3},
                    "predicted": predicted, "truth": label, "latency_us": 100.0 + f64::from(k), "runtime": "server"}));
            }
        }
    }
    for (i, name) in
        ["cpu-saturate", "scan-and-dial", "io-walk", "bursty-c2", "low-and-slow", "shell-resident"].iter().enumerate()
    {
        let curve: Vec<f64> = (0..80).map(|j| ((j + i * 10) % 80) as f64 / 80.0).collect();
        events.push(serde_json::json!({"type": "attack_profile", "name": name, "shape": format!("shape {i}"),
            "curve": curve, "channel": "host_cpu_pct"}));
    }
    for v in [120.0, 130.0, 125.0] {
        events.push(serde_json::json!({"type": "perf", "source": "hub", "name": "delivered", "value": v,
            "unit": "events/s", "p50": 1.5, "p95": 3.0, "p99": 4.5}));
    }
    events
}

fn check_replay(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "replay", &mut problems);
    match text_of(dom, "replay-title") {
        Some(t) if t.contains("ep-replay-1") && t.contains("lab-pc-02") => {}
        other => problems.push(format!("replay title is {other:?}")),
    }
    // The clock (in the header) shows the newest frame's time and truth.
    match text_of(dom, "replay-clock") {
        Some(t) if t.contains("t = ") && t.contains("io-walk") => {}
        other => problems.push(format!("replay clock is {other:?}")),
    }
    let strips = dom.matches(r#"data-testid="strip-chan_"#).count();
    if strips != 6 {
        problems.push(format!("{strips} strip charts, expected the first 6 channels"));
    }
    for band in ["band-truth", "band-gbt-oracle", "band-mlp-realistic"] {
        if opening_tag(dom, band).is_none() {
            problems.push(format!("no {band}"));
        }
    }
    // The truth band has a benign run and an io-walk run.
    if !dom.contains("lab lab-benign") || !dom.contains("lab lab-io-walk") {
        problems.push("the truth band lacks its two label runs".into());
    }
    if dom.matches(r#"data-testid="probability-row""#).count() != 2 {
        problems.push("expected two probability rows".into());
    }
    // Chart furniture: y ticks on the strips, one time axis in seconds,
    // the class-colour legend.
    if !dom.contains(r#"class="strip-tick-label""#) {
        problems.push("the strips have no y ticks".into());
    }
    if opening_tag(dom, "time-axis").is_none() || !dom.contains(">10 s</span>") {
        problems.push("no time axis with a 10 s tick".into());
    }
    if dom.matches(r#"class="class-legend-entry""#).count() != 7 {
        problems.push("the class legend does not name the 7 classes".into());
    }
    problems
}

fn check_perf(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "perf", &mut problems);
    // The hub keeps the latest perf event per series (the server adds its own).
    // Values read in human units: a whole count without decimals.
    if !dom.contains(r#"<th scope="row">hub / delivered</th><td class="num">125 events/s</td>"#) {
        problems.push("no hub / delivered row with the latest value 125 events/s".into());
    }
    if dom.matches(r#"data-testid="latency-row""#).count() != 2 {
        problems.push("expected a latency row per model".into());
    }
    problems
}

fn check_profiles(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "profiles", &mut problems);
    let figures = dom.matches(r#"data-testid="profile-"#).count();
    if figures != 6 {
        problems.push(format!("{figures} profile curves, expected 6"));
    }
    if !dom.contains("io-walk: shape 2 (host_cpu_pct)") {
        problems.push("the io-walk caption is missing".into());
    }
    problems
}

/// A running test server: its base URL, the sender that stops it and its task.
type Running = (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>);

/// Serves `public/` with a hub already holding `events`.
async fn serve_with_events(
    public_dir: &Path,
    events: &[serde_json::Value],
) -> Result<Running, Box<dyn std::error::Error>> {
    let bound = serve::bind(ServeConfig::new("127.0.0.1:0".parse()?, public_dir.to_path_buf())).await?;
    let hub = bound.hub();
    for event in events {
        hub.publish(cis490_shared::events::Event::from_value(event.clone())?)?;
    }
    let url = format!("http://{}/", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    Ok((url, stop, server))
}

/// Loads `url` and returns the DOM, or panics with saved artifacts listing `check`'s problems.
async fn dom_after(
    chromium: &Path,
    url: &str,
    check: fn(&str) -> Vec<String>,
) -> Result<String, Box<dyn std::error::Error>> {
    let dump = {
        let (chromium, url) = (chromium.to_path_buf(), url.to_string());
        tokio::task::spawn_blocking(move || dump_dom(&chromium, &url)).await??
    };
    let problems = check(&dump.dom);
    if !problems.is_empty() {
        let saved = {
            let (chromium, url, dump) =
                (chromium.to_path_buf(), url.to_string(), Dump { dom: dump.dom.clone(), stderr: dump.stderr.clone() });
            tokio::task::spawn_blocking(move || save_artifacts(&chromium, &url, &dump)).await?
        };
        panic!("{url} did not render as expected:\n  - {}\nartifacts: {saved}", problems.join("\n  - "));
    }
    Ok(dump.dom)
}

fn expect_attribute(dom: &str, testid: &str, attribute: &str, expected: &str, problems: &mut Vec<String>) {
    match attribute_of(dom, testid, attribute) {
        Some(v) if v == expected => {}
        other => problems.push(format!("{testid} {attribute} is {other:?}, expected {expected:?}")),
    }
}

fn check_training(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "connection", "data-state", "open", &mut problems);
    expect_attribute(dom, "scene", "data-scene", "training", &mut problems);
    for id in ["gru-oracle", "mlp-oracle"] {
        if opening_tag(dom, &format!("curve-{id}")).is_none() {
            problems.push(format!("no curve for {id}"));
        }
    }
    if !dom.contains("gru-oracle: epoch 3, validation macro F1 0.800") {
        problems.push("the gru-oracle caption does not say epoch 3 and F1 0.800".into());
    }
    // The late-joining page drew the whole 8-epoch curve of the mlp from its history.
    let lines: Vec<&str> =
        dom.split(r#"class="line-f1" points=""#).skip(1).filter_map(|s| s.split('"').next()).collect();
    if !lines.iter().any(|points| points.split(' ').count() == 8) {
        problems.push(format!("no 8-point F1 curve among {lines:?}"));
    }
    // Both models on one F1 chart and one loss chart, with epoch ticks.
    for chart in ["training-f1", "training-loss"] {
        if opening_tag(dom, chart).is_none() {
            problems.push(format!("no {chart} chart"));
        }
    }
    if dom.matches(r#"class="line-f1""#).count() != 2 || !dom.contains(r#"text-anchor="middle">8</text>"#) {
        problems.push("the F1 chart does not overlay both models up to an epoch 8 tick".into());
    }
    problems
}

fn check_metrics(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "metrics", &mut problems);
    if dom.matches(r#"data-testid="metrics-row""#).count() != 2 {
        problems.push("expected two metrics rows".into());
    }
    match text_of(dom, "f1-gbt-realistic") {
        Some(t) if t == "0.905 [0.853, 0.945]" => {}
        other => problems.push(format!("gbt-realistic F1 shows {other:?}")),
    }
    if !text_of(dom, "untested").is_some_and(|t| t.contains("scan-and-dial")) {
        problems.push("the untested profile is not named".into());
    }
    for testid in ["per-class", "per-profile", "per-host", "significance", "confusion"] {
        if opening_tag(dom, testid).is_none() {
            problems.push(format!("no {testid} chart"));
        }
    }
    // Per-profile cells show the recall, per-host the macro F1, with every
    // number in the tooltip; the comparison sent once (by both entries)
    // fills both cells of the matrix, turned round below the diagonal.
    for expected in [
        r#"title="mlp-realistic, bursty-c2: 4 episodes, macro F1 0.575 [0.523, 0.615], recall 0.475 [0.423, 0.515], attack detected 81.0 %, false alarm 5.0 %""#,
        r#"title="gbt-realistic, rpi-01: 9 episodes, macro F1 0.905 [0.853, 0.945], attack detected 80.0 %, false alarm 4.0 %""#,
        r#"title="gbt-realistic − mlp-realistic: Δ macro F1 0.230 [0.110, 0.340], Holm p = 0.018""#,
        r#"title="mlp-realistic − gbt-realistic: Δ macro F1 -0.230 [-0.340, -0.110], Holm p = 0.018""#,
        ">bursty-c2 (4 ep.)<",
        ">rpi-01 (9 ep.)<",
    ] {
        if !dom.contains(expected) {
            problems.push(format!("missing {expected}"));
        }
    }
    for cell in [">+0.23 *<", ">-0.23 *<"] {
        if !dom.contains(cell) {
            problems.push(format!("no significance cell {cell}"));
        }
    }
    problems
}

fn check_overview(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "overview", &mut problems);
    // Only the unfinished job runs.
    if dom.matches(r#"data-testid="job-row""#).count() != 1 || !dom.contains("train gru-oracle") {
        problems.push("expected one running job, train gru-oracle".into());
    }
    problems
}

/// Everything wrong with a page's DOM.
type DomCheck = fn(&str) -> Vec<String>;

/// Each scene renders what the hub holds when the page connects (the
/// hub's state on connect over the WebSocket), addressed by `?scene=`.
/// Driven over WebDriver, in real time: WebSocket traffic does not hold
/// back `--dump-dom`'s virtual clock, so a loaded machine could dump the
/// page before the state arrived.
#[test]
fn scenes_render_the_hub_state_they_receive_on_connect() -> TestResult {
    let public_dir = cis490_tests::browser::public_dir();
    let Some((chromium, driver)) = cis490_tests::browser::live_prerequisites(&public_dir) else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (url, stop, server) = rt.block_on(serve_with_events(&public_dir, &scene_events()))?;
    let browser = cis490_tests::webdriver::Browser::start(&driver, &chromium)?;
    let count = |testid: &str| format!("document.querySelectorAll('[data-testid{testid}]').length");
    let replay_ready = format!(
        "{} === 2 && (document.querySelector('[data-testid=replay-clock]')?.textContent ?? '').includes('29.5 s')",
        count("=probability-row")
    );
    let scenes: [(&str, String, DomCheck); 6] = [
        ("training", format!("{} === 2", count("^=curve-")), check_training),
        // The heat tables come a frame or two after the rows: wait for the last.
        ("metrics", format!("{} === 2 && {} > 0", count("=metrics-row"), count("=confusion")), check_metrics),
        ("overview", format!("{} === 1", count("=job-row")), check_overview),
        // The history arrives over several frames: wait for its last one (t = 29.5 s).
        ("replay", replay_ready.clone(), check_replay),
        ("perf", format!("{} === 2", count("=latency-row")), check_perf),
        ("profiles", format!("{} === 6", count("^=profile-")), check_profiles),
    ];
    for (scene, ready, check) in scenes {
        let page = format!("{url}?scene={scene}");
        browser.goto(&page)?;
        let waited = browser.wait_for(&ready, Duration::from_secs(20)).err();
        let dom = browser.run("return document.documentElement.outerHTML;", serde_json::json!([]))?;
        let mut problems = check(dom.as_str().unwrap_or_default());
        problems.extend(waited);
        if !problems.is_empty() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_smoke");
            let saved = browser.save_artifacts(&dir, scene);
            panic!("{page} did not render as expected:\n  - {}\nartifacts: {saved}", problems.join("\n  - "));
        }
    }
    // The confusion matrix follows the model picked.
    browser.goto(&format!("{url}?scene=metrics"))?;
    browser.wait_for(
        &format!("{} === 2 && {} > 0", count("=metrics-row"), count("=confusion")),
        Duration::from_secs(20),
    )?;
    browser.run(
        "const picker = document.querySelector('[data-testid=confusion-model]');
         picker.value = 'mlp-realistic'; picker.dispatchEvent(new Event('change'));",
        serde_json::json!([]),
    )?;
    browser.wait_for(
        "document.querySelector('[data-testid=confusion] figcaption').textContent.includes('of mlp-realistic')",
        Duration::from_secs(10),
    )?;
    // The replay's crosshair reads every strip at the frame under the
    // pointer, the wheel zooms the live view, a double-click resets it.
    browser.goto(&format!("{url}?scene=replay"))?;
    browser.wait_for(&replay_ready, Duration::from_secs(20))?;
    browser.run(
        "const plot = document.querySelector('[data-testid^=strip-chan_] .strip-plot');
         const r = plot.getBoundingClientRect();
         const at = {clientX: r.left + r.width * 0.9, clientY: r.top + r.height / 2, bubbles: true, cancelable: true};
         const canvas = plot.querySelector('canvas');
         canvas.dispatchEvent(new PointerEvent('pointermove', at));
         canvas.dispatchEvent(new WheelEvent('wheel', {...at, deltaY: -100}));",
        serde_json::json!([]),
    )?;
    browser.wait_for(
        "[...document.querySelectorAll('[data-testid^=strip-chan_] .plot-readout')].every(e => /[0-9]/.test(e.textContent))
         && document.querySelector('.time-cursor').textContent.endsWith(' s')
         && document.querySelector('[data-testid=time-range-state]').textContent.includes('last 48 s')",
        Duration::from_secs(10),
    )?;
    browser.run(
        "document.querySelector('.replay-plots').dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));",
        serde_json::json!([]),
    )?;
    browser.wait_for(
        "document.querySelector('[data-testid=time-range-state]').textContent.startsWith('live;')",
        Duration::from_secs(10),
    )?;
    // A chart exports as a standalone SVG (styles inlined) and as a PNG.
    browser.goto(&format!("{url}?scene=training"))?;
    browser.wait_for(&format!("{} === 2", count("^=curve-")), Duration::from_secs(20))?;
    browser.run(
        "window.__exported = [];
         HTMLAnchorElement.prototype.click = function () { window.__exported.push({href: this.href, file: this.download}); };
         const buttons = document.querySelectorAll('[data-testid^=training-] .export-buttons button');
         buttons[0].click(); buttons[1].click();",
        serde_json::json!([]),
    )?;
    let exported = browser.wait_for("window.__exported.length === 2 && window.__exported", Duration::from_secs(20))?;
    let svg = exported[0]["href"].as_str().unwrap_or_default();
    let svg_text = browser
        .run("return decodeURIComponent(arguments[0].split(',').slice(1).join(','));", serde_json::json!([svg]))?;
    let svg_text = svg_text.as_str().unwrap_or_default();
    assert!(exported[0]["file"].as_str().is_some_and(|f| f.ends_with(".svg")), "{exported}");
    assert!(
        svg_text.starts_with("<svg")
            && svg_text.contains("xmlns=\"http://www.w3.org/2000/svg\"")
            && svg_text.contains("<style>")
            && svg_text.contains("polyline"),
        "not a standalone SVG: {svg_text:.300}"
    );
    assert!(!svg_text.contains("var(--"), "CSS variables left unresolved in the SVG");
    let png = exported[1]["href"].as_str().unwrap_or_default();
    assert!(png.starts_with("data:image/png;base64,") && png.len() > 2000, "not a PNG: {png:.80}");
    drop(browser);
    let _ = stop.send(());
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), server).await })??;
    Ok(())
}

fn check_kiosk(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    // Two turns from the overview: the replay's second page (it has
    // pages at this window size) or the training scene.
    let scene = attribute_of(dom, "scene", "data-scene");
    if !matches!(scene.as_deref(), Some("replay" | "training")) {
        problems.push(format!("after two turns the kiosk shows {scene:?}, expected the replay or training"));
    }
    if !dom.contains(r#"data-mode="kiosk""#) {
        problems.push("body is not in kiosk mode".into());
    }
    if opening_tag(dom, "tab-overview").is_some() {
        problems.push("the kiosk shows scene tabs".into());
    }
    problems
}

fn check_present(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect_attribute(dom, "scene", "data-scene", "training", &mut problems);
    if !dom.contains(r#"data-mode="present""#) {
        problems.push("body is not in present mode".into());
    }
    if !dom.contains(r#"data-theme="light""#) {
        problems.push("the lecture mode is not pinned to the light theme".into());
    }
    match text_of(dom, "query-problems") {
        Some(t) if t.contains("rotate") => {}
        other => problems.push(format!("a bad rotate= is not reported: {other:?}")),
    }
    problems
}

/// The kiosk rotates scenes on its own (two 4 s turns in Chromium's 10 s
/// of virtual time: overview → replay → training) without controls; the
/// lecture mode shows the light theme's marker and reports a bad query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_rotates_and_present_mode_is_marked() -> TestResult {
    let public_dir = cis490_tests::browser::public_dir();
    let Some(chromium) = cis490_tests::browser::prerequisites(&public_dir) else {
        return Ok(());
    };
    let (url, stop, server) = serve_with_events(&public_dir, &scene_events()).await?;
    dom_after(&chromium, &format!("{url}?kiosk&rotate=4&scene=overview"), check_kiosk).await?;
    dom_after(&chromium, &format!("{url}?present&scene=training&rotate=x"), check_present).await?;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server).await??;
    Ok(())
}

#[test]
fn dom_helpers_read_text_and_attributes() {
    let dom = r#"<body data-rendered="true"><section class="p" data-testid="validation-panel" data-state="loaded"><dd data-testid="count-accepted"><!---->517<!----></dd><dd data-testid="count-errored">7</dd></section></body>"#;
    assert_eq!(text_of(dom, "count-accepted").as_deref(), Some("517"));
    assert_eq!(text_of(dom, "count-errored").as_deref(), Some("7"));
    assert_eq!(attribute_of(dom, "validation-panel", "data-state").as_deref(), Some("loaded"));
    assert_eq!(text_of(dom, "missing"), None);
}
