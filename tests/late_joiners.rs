//! Late joiners and restarts, in a real browser (chromedriver + headless
//! Chromium): a hub with a state folder is sent a finished training run
//! (three models, the trees' boosting rounds included) and an evaluation,
//! then stopped; a new hub started on the same folder gives a page opened
//! only then every model's whole curve and the evaluation. When that hub
//! goes away too, the page marks its scenes stale and the badge counts
//! down to the next attempt on one line.
//!
//! Skipped (with a line saying why) without Chromium, chromedriver or a
//! built bundle, unless `CIS490_REQUIRE_BROWSER=1`. On failure a
//! screenshot and the DOM are saved under `$CARGO_TARGET_TMPDIR/late_joiners/`.

use std::path::Path;
use std::time::Duration;

use cis490_server::hub::persist::STATE_FILE;
use cis490_server::serve::{self, ServeConfig};
use cis490_shared::events::{Event, Number, ProgressEvent};
use cis490_tests::live::checked;
use cis490_tests::webdriver::Browser;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The events a trainer sends for one network: one per epoch, each with
/// the curve so far, then the final one.
fn network_events(model: &str, epochs: u64) -> Vec<Event> {
    let id = format!("{model}-realistic");
    let score = |e: u64| (1.0 / e as f64, 0.5 + 0.04 * e as f64);
    let history = |upto: u64| -> Vec<Value> {
        (1..=upto).map(|e| json!({"epoch": e, "train_loss": score(e).0, "val_macro_f1": score(e).1})).collect()
    };
    (1..=epochs)
        .map(|e| {
            let mut event = ProgressEvent::new("train", &id, e, epochs);
            event.unit = Some("epochs".into());
            event.message = Some(if e == epochs { "done".into() } else { format!("epoch {e}") });
            event.epoch = Some(e.into());
            event.train_loss = Number::from_f64(score(e).0);
            event.val_macro_f1 = Number::from_f64(score(e).1);
            event.history = Some(history(e));
            Event::Progress(event)
        })
        .collect()
}

/// What the trainer sends for the trees: progress per round (no scores),
/// then the final event with every round's validation log-loss.
fn tree_events(rounds: u64) -> Vec<Event> {
    let mut events: Vec<Event> = (1..rounds)
        .step_by(10)
        .map(|r| {
            let mut event = ProgressEvent::new("train", "gbt-realistic", r, 300);
            event.unit = Some("rounds".into());
            Event::Progress(event)
        })
        .collect();
    let mut done = ProgressEvent::new("train", "gbt-realistic", 300, 300);
    done.unit = Some("rounds".into());
    done.message = Some("done".into());
    done.epoch = Some(rounds.into());
    done.val_macro_f1 = Number::from_f64(0.916);
    done.history = Some(
        (1..=rounds)
            .map(|r| {
                let mut entry = json!({"epoch": r, "val_loss": 1.0 / (1.0 + r as f64)});
                if r == rounds {
                    entry["val_macro_f1"] = json!(0.916);
                }
                entry
            })
            .collect(),
    );
    events.push(Event::Progress(done));
    events
}

fn metrics_event() -> Result<Event, String> {
    Event::from_value(json!({"type": "metrics", "model": "gbt", "variant": "realistic", "split": "host",
                             "macro_f1": {"point": 0.905, "lo": 0.855, "hi": 0.945}}))
    .map_err(|e| e.to_string())
}

/// Where a failing test's screenshot and DOM go.
fn artifacts() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("late_joiners")
}

/// A bound server's task and the way to stop it.
struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn run(rt: &tokio::runtime::Runtime, config: ServeConfig, events: Vec<Event>) -> Result<Running, String> {
    let bound = rt.block_on(serve::bind(config)).map_err(|e| e.to_string())?;
    bound.hub().publish_all(events).map_err(|e| e.to_string())?;
    let addr = bound.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = rt.spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    Ok(Running { addr, stop, task })
}

impl Running {
    fn stop(self, rt: &tokio::runtime::Runtime) -> Result<(), String> {
        let _ = self.stop.send(());
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), self.task).await })
            .map_err(|_| "the server did not stop within 10 s".to_string())?
            .map_err(|e| e.to_string())
    }
}

const CONNECTION: &str = "document.querySelector('[data-testid=connection]')";

#[test]
fn a_page_opened_after_a_hub_restart_shows_whole_curves_and_the_last_evaluation() -> TestResult {
    let public = cis490_tests::browser::public_dir();
    let Some((chromium, driver)) = cis490_tests::browser::live_prerequisites(&public) else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let state = tempfile::tempdir()?;
    let config = ServeConfig {
        state_dir: Some(state.path().to_path_buf()),
        ..ServeConfig::new("127.0.0.1:0".parse()?, public.clone())
    };

    // A finished run and its evaluation, published to the first hub, which
    // then stops (saving its state on the way out).
    let mut events = network_events("mlp", 8);
    events.extend(tree_events(40));
    events.extend(network_events("gru", 5));
    events.push(metrics_event()?);
    run(&rt, config.clone(), events)?.stop(&rt)?;
    let saved = std::fs::read_to_string(state.path().join(STATE_FILE))?;
    assert!(saved.contains("gbt-realistic") && saved.contains("\"metrics\""), "{saved:.300}");

    // A new hub on the same folder, nothing published to it; a fresh page.
    let second = run(&rt, config, Vec::new())?;
    let addr = second.addr;
    let browser = Browser::start(&driver, &chromium)?;
    let long = Duration::from_secs(20);
    checked(&browser, &artifacts(), "training-after-restart", || {
        browser.goto(&format!("http://{addr}/?scene=training"))?;
        browser.wait_for(
            &format!("{CONNECTION}?.dataset.state === 'open' && document.querySelectorAll('[data-testid^=curve-]').length === 3"),
            long,
        )?;
        for (id, points) in [("mlp-realistic", 8), ("gru-realistic", 5), ("gbt-realistic", 40)] {
            let drawn = browser.run(
                // The networks' curves are overlaid on the F1 chart (their
                // legend entry carries the count); the trees' curve in
                // rounds is a chart of its own.
                &format!(
                    "const f = document.querySelector('[data-testid=curve-{id}]');
                     const line = {};
                     return [Number(f.dataset.points), line.getAttribute('points').trim().split(' ').length];",
                    if id.starts_with("gbt") {
                        "f.querySelector('polyline.line-loss')".to_string()
                    } else {
                        format!(
                            "document.querySelector('[data-testid=training-f1] [data-series={id}] polyline.line-f1')"
                        )
                    }
                ),
                json!([]),
            )?;
            if drawn != json!([points, points]) {
                return Err(format!("{id}: [points, drawn] = {drawn}, expected {points} each"));
            }
        }
        let caption = browser.run(
            "return document.querySelector('[data-testid=curve-gbt-realistic] figcaption').textContent;",
            json!([]),
        )?;
        match caption.as_str() {
            Some(text) if text.contains("validation macro F1 0.916") && text.contains("validation log-loss") => Ok(()),
            _ => Err(format!("gbt caption: {caption}")),
        }
    })?;
    checked(&browser, &artifacts(), "metrics-after-restart", || {
        browser.goto(&format!("http://{addr}/?scene=metrics"))?;
        browser.wait_for(&format!("{CONNECTION}?.dataset.state === 'open'"), long)?;
        let text =
            browser.wait_for("document.querySelector('[data-testid=\"f1-gbt-realistic\"]')?.textContent", long)?;
        (text == json!("0.905 [0.855, 0.945]")).then_some(()).ok_or(format!("gbt row shows {text}"))
    })?;

    // The hub goes away: the page keeps what it shows, marked stale, and
    // the badge counts down on one line.
    second.stop(&rt)?;
    checked(&browser, &artifacts(), "stale-after-the-hub-went", || {
        let note = browser.wait_for(
            "document.querySelector('[data-testid=stale]')?.textContent.match(/^stale since \\d\\d:\\d\\d:\\d\\d$/) ? document.querySelector('[data-testid=stale]').textContent : null",
            long,
        )?;
        browser.wait_for(&format!("/^reconnecting in \\d+ s$/.test({CONNECTION}.textContent)"), long)?;
        let rows = browser.run("return document.querySelectorAll('[data-testid=metrics-row]').length;", json!([]))?;
        let wraps = browser.run(&format!("return getComputedStyle({CONNECTION}).whiteSpace;"), json!([]))?;
        if rows != json!(1) || wraps != json!("nowrap") {
            return Err(format!("{note}: {rows} metrics rows kept, badge white-space {wraps}"));
        }
        Ok(())
    })?;
    drop(browser);
    Ok(())
}
