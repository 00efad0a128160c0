//! The browser scene: loads the run's `model.onnx` files from the backend
//! and runs them, compiled to WebAssembly, in a Web Worker
//! (`runner-worker.js` with the separate `runner/` bundle, fetched only
//! here), on the replayed episode's windows that the server also
//! predicted: every model of the run one after the other on the same
//! windows (or the one `?model=` names, or the picker's choice). Shows
//! each model side by side: latency per window, the time to its first
//! result, and how far its probabilities are from the server's.
//!
//! Each window is rebuilt from the replay frames (`Replay::window`), so
//! the comparison is exact when the page has the episode from its first
//! frame. When a model's run ends its windows are published to the hub as
//! `prediction` events with `runtime: "browser"` (every dashboard then shows
//! a `<model> (browser)` band and latency).
//!
//! `cargo xtask demo` serves the dashboard before it has built the runner
//! bundle, so the scene first looks for `runner/cis490_runner.js` and,
//! while it is missing, says "runner still building" and looks again every
//! few seconds; nothing runs until it is there.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType, js_sys};

use crate::access;
use crate::chart;
use crate::error_text::plain_error;
use crate::fetch::{self, describe};
use crate::latency_histogram::latency_histogram;
use crate::state::DashboardState;
use crate::ws::now_ms;
use cis490_shared::argmax::argmax;
use cis490_shared::events::{Event, Number, PredictionEvent};
use cis490_shared::label::Label;

/// One window run in the browser.
#[derive(Debug, Clone, PartialEq)]
struct WindowResult {
    t_s: f64,
    latency_us: f64,
    max_diff: f64,
    same_label: bool,
}

/// One window every model of a run is given: its end and the model input
/// source (46 channels × 20 steps and which cells were observed).
struct WindowJob {
    t_s: f64,
    values: Vec<f32>,
    observed: Vec<u8>,
}

/// Where one model of a run stands.
#[derive(Debug, Clone, PartialEq)]
enum RowState {
    Waiting,
    Loading,
    Running { done: usize, total: usize },
    Done,
    Failed(String),
}

impl RowState {
    fn key(&self) -> &'static str {
        match self {
            RowState::Waiting => "waiting",
            RowState::Loading => "loading",
            RowState::Running { .. } => "running",
            RowState::Done => "done",
            RowState::Failed(_) => "failed",
        }
    }

    fn text(&self) -> String {
        match self {
            RowState::Waiting => "waiting".into(),
            RowState::Loading => "loading".into(),
            RowState::Running { done, total } => format!("{done} of {total}"),
            RowState::Done => "done".into(),
            RowState::Failed(message) => format!("failed: {message}"),
        }
    }

    fn finished(&self) -> bool {
        matches!(self, RowState::Done | RowState::Failed(_))
    }
}

/// One model's run in the browser: its windows' results, how long its
/// first result took (from asking for its `model.onnx` to the first
/// window's probabilities: download, compile and one window) and what
/// became of publishing it.
#[derive(Debug, Clone, PartialEq)]
struct ModelRow {
    model: String,
    state: RowState,
    results: Vec<WindowResult>,
    first_result_ms: Option<f64>,
    published: Option<String>,
}

impl ModelRow {
    fn waiting(model: &str) -> Self {
        Self {
            model: model.into(),
            state: RowState::Waiting,
            results: Vec::new(),
            first_result_ms: None,
            published: None,
        }
    }
}

/// Where a run of one or all models stands.
#[derive(Debug, Clone, PartialEq)]
enum RunState {
    Idle,
    Running,
    Done,
    Failed(String),
}

impl RunState {
    fn key(&self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed(_) => "failed",
        }
    }
}

/// Whether the runner bundle (`runner/`) can be fetched yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunnerBundle {
    /// Not looked for yet.
    Unknown,
    /// Missing: `cargo xtask demo` builds it after serving the dashboard.
    Building,
    /// There: runs may start.
    Ready,
}

impl RunnerBundle {
    fn key(self) -> &'static str {
        match self {
            RunnerBundle::Unknown => "unknown",
            RunnerBundle::Building => "building",
            RunnerBundle::Ready => "ready",
        }
    }
}

/// The runner's script, which `runner-worker.js` imports.
const RUNNER_SCRIPT: &str = "runner/cis490_runner.js";

/// How long the scene waits before it looks for a missing runner again.
const RUNNER_RECHECK: Duration = Duration::from_secs(3);

/// Whether a HEAD answer is the runner's script. The server answers a path
/// it does not have with the dashboard's `index.html` (a single-page app),
/// so only the content type tells a built runner from a missing one.
fn is_script(status: u16, content_type: Option<&str>) -> bool {
    (200..300).contains(&status) && content_type.is_some_and(|t| t.contains("javascript"))
}

/// Looks for the runner's script, and again every [`RUNNER_RECHECK`] while
/// it is missing, until it is there or the scene closes (its signal is
/// then disposed).
fn watch_runner(runner: RwSignal<RunnerBundle>) {
    spawn_local(async move {
        let found =
            matches!(fetch::head(RUNNER_SCRIPT).await, Ok((status, kind)) if is_script(status, kind.as_deref()));
        let next = if found { RunnerBundle::Ready } else { RunnerBundle::Building };
        let open = runner.try_update(|r| *r = next).is_some();
        if open && next == RunnerBundle::Building {
            set_timeout(move || watch_runner(runner), RUNNER_RECHECK);
        }
    });
}

/// The status line while the runner bundle is not there yet.
const RUNNER_BUILDING: &str = "runner still building: `cargo xtask demo` serves the dashboard first and builds the \
     in-browser model runner (runner/) after it; this scene starts by itself once it is there.";

/// The status line: what the run is doing, from its rows.
/// `covered`: the windows a run would have now (while idle).
fn status_text(state: &RunState, rows: &[ModelRow], covered: usize, runner: RunnerBundle) -> String {
    match state {
        RunState::Idle if runner == RunnerBundle::Building => RUNNER_BUILDING.into(),
        RunState::Idle if covered == 0 => "waits for the server's predictions on a replayed episode.".into(),
        RunState::Idle => format!(
            "waits for {AUTO_START_WINDOWS} windows of the replayed episode with the server's predictions \
             ({covered} so far) before it starts."
        ),
        RunState::Failed(message) => format!("Failed: {message}"),
        RunState::Running => {
            let finished = rows.iter().filter(|r| r.state.finished()).count();
            match rows.iter().find(|r| !r.state.finished()) {
                Some(row) => {
                    format!("Running {} ({}); {finished} of {} models done", row.model, row.state.text(), rows.len())
                }
                None => format!("{finished} of {} models done", rows.len()),
            }
        }
        RunState::Done => {
            let failed = rows.iter().filter(|r| matches!(r.state, RowState::Failed(_))).count();
            if failed == 0 { "Done.".into() } else { format!("Done; {failed} of {} models failed.", rows.len()) }
        }
    }
}

/// What became of publishing the run, over its models: `None` until one
/// was published or refused.
fn published_text(rows: &[ModelRow]) -> Option<String> {
    let said: Vec<&str> = rows.iter().filter_map(|r| r.published.as_deref()).collect();
    let refused = said.iter().find(|t| t.starts_with("not published"));
    if let Some(refused) = refused {
        return Some((*refused).to_string());
    }
    let windows: usize = rows.iter().filter(|r| r.published.is_some()).map(|r| r.results.len()).sum();
    match said.len() {
        0 => None,
        1 => Some(said[0].to_string()),
        models => Some(format!(
            "published {windows} windows of {models} models to the hub (prediction events, runtime browser)"
        )),
    }
}

/// The run in progress: its worker and the worker's message listener.
/// Dropped (the worker terminated, the listener detached and freed) when
/// a new run starts or the scene closes, so a kiosk that shows the scene
/// every rotation does not pile up workers, listeners and their windows.
struct ActiveRun {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.terminate();
    }
}

/// Which windows a run covered: the models, the episode, how many windows
/// and the last one's end.
#[derive(Debug, Clone, PartialEq)]
struct RunKey {
    models: Vec<String>,
    episode: String,
    windows: usize,
    last_t_bits: u64,
}

/// A finished run, kept so the scene shows it again when it reopens
/// instead of re-running (and re-publishing) the same windows.
#[derive(Debug, Clone)]
struct FinishedRun {
    key: RunKey,
    rows: Vec<ModelRow>,
}

thread_local! {
    static ACTIVE: RefCell<Option<ActiveRun>> = const { RefCell::new(None) };
    static FINISHED: RefCell<Option<FinishedRun>> = const { RefCell::new(None) };
}

/// Stops the run in progress, if any.
fn stop_active_run() {
    // Taken out first: the drop talks to the worker outside the borrow.
    let active = ACTIVE.with(|a| a.borrow_mut().take());
    drop(active);
}

/// The windows a run of `models` would cover now: those the server
/// predicted for the first that the replay history can rebuild (every
/// model of a run is given the same windows).
fn run_key(s: &DashboardState, models: &[String]) -> Option<RunKey> {
    let predictions = s.predictions.get(models.first()?)?;
    let mut covered = predictions.windows.iter().filter(|w| s.replay.has_window(w.t_s));
    let first = covered.next()?;
    let (count, last) = covered.fold((1, first.t_s), |(n, _), w| (n + 1, w.t_s));
    Some(RunKey {
        models: models.to_vec(),
        episode: s.replay.episode_id.clone(),
        windows: count,
        last_t_bits: last.to_bits(),
    })
}

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn message(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in fields {
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

/// The signals a run reports to.
#[derive(Clone, Copy)]
struct RunSignals {
    state: RwSignal<DashboardState>,
    status: RwSignal<RunState>,
    rows: RwSignal<Vec<ModelRow>>,
}

impl RunSignals {
    fn row(self, index: usize, change: impl FnOnce(&mut ModelRow)) {
        self.rows.update(|rows| {
            if let Some(row) = rows.get_mut(index) {
                change(row);
            }
        });
    }
}

/// The model being run: the server's probabilities and the truth of each
/// window (`None` where the server has no prediction of it there), its
/// events so far and when its file was asked for.
struct CurrentModel {
    index: usize,
    server: Vec<Option<(Vec<f64>, String)>>,
    events: Vec<Event>,
    asked_ms: f64,
    done: usize,
    total: usize,
}

/// A run of several models, one after the other, in one worker, on the
/// same windows.
struct Sequence {
    models: Vec<String>,
    windows: Vec<WindowJob>,
    episode: String,
    key: Option<RunKey>,
    current: Option<CurrentModel>,
}

/// Starts a run of `models`, one after the other, on the windows the
/// server predicted for the first that the replay history can rebuild.
fn start_run(models: Vec<String>, run: RunSignals) {
    stop_active_run();
    if models.is_empty() {
        run.status.set(RunState::Failed("no models in the run".into()));
        return;
    }
    let (key, windows, episode) = run.state.with_untracked(|s| {
        let windows: Vec<WindowJob> = s
            .predictions
            .get(&models[0])
            .map(|p| {
                p.windows
                    .iter()
                    .filter_map(|w| {
                        let (values, observed) = s.replay.window(w.t_s)?;
                        Some(WindowJob { t_s: w.t_s, values, observed })
                    })
                    .collect()
            })
            .unwrap_or_default();
        (run_key(s, &models), windows, s.replay.episode_id.clone())
    });
    run.rows.set(models.iter().map(|m| ModelRow::waiting(m)).collect());
    if windows.is_empty() {
        run.status.set(RunState::Failed(format!(
            "no server predictions of {} on the replayed episode yet (replay an episode with --models)",
            models[0]
        )));
        return;
    }
    run.status.set(RunState::Running);
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = match Worker::new_with_options("runner-worker.js", &options) {
        Ok(worker) => worker,
        Err(e) => {
            run.status.set(RunState::Failed(describe("cannot start the worker", &e)));
            return;
        }
    };
    let sequence = Rc::new(RefCell::new(Sequence { models, windows, episode, key, current: None }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let (sequence, worker) = (sequence.clone(), worker.clone());
        move |event: MessageEvent| on_worker_message(&event.data(), &sequence, &worker, run)
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ACTIVE.with(|a| *a.borrow_mut() = Some(ActiveRun { worker: worker.clone(), _on_message: on_message }));
    begin_model(0, &sequence, &worker, run);
}

/// Fetches model `index` of the sequence and sends it to the worker; past
/// the last model, the run is done.
fn begin_model(index: usize, sequence: &Rc<RefCell<Sequence>>, worker: &Worker, run: RunSignals) {
    let model = {
        let mut seq = sequence.borrow_mut();
        let Some(model) = seq.models.get(index).cloned() else {
            seq.current = None;
            seq.windows = Vec::new();
            if let Some(key) = seq.key.clone() {
                let finished = FinishedRun { key, rows: run.rows.get_untracked() };
                FINISHED.with(|f| *f.borrow_mut() = Some(finished));
            }
            drop(seq);
            run.status.set(RunState::Done);
            return;
        };
        let server = run.state.with_untracked(|s| {
            let predictions = s.predictions.get(&model);
            seq.windows
                .iter()
                .map(|job| {
                    let window = predictions?.windows.iter().find(|w| w.t_s.to_bits() == job.t_s.to_bits())?;
                    Some((window.probs.clone(), window.truth.clone()))
                })
                .collect::<Vec<_>>()
        });
        let total = server.iter().flatten().count();
        seq.current =
            Some(CurrentModel { index, server, events: Vec::with_capacity(total), asked_ms: now_ms(), done: 0, total });
        if total == 0 { None } else { Some(model) }
    };
    let Some(model) = model else {
        run.row(index, |row| {
            row.state = RowState::Failed("the server has no predictions of it on these windows".into())
        });
        return begin_model(index + 1, sequence, worker, run);
    };
    run.row(index, |row| row.state = RowState::Loading);
    let (sequence, worker) = (sequence.clone(), worker.clone());
    spawn_local(async move {
        match fetch::get_bytes(&format!("models/{model}/model.onnx")).await {
            Ok(bytes) => {
                let load = message(&[
                    ("type", JsValue::from_str("load")),
                    ("model_index", JsValue::from_f64(index as f64)),
                    ("bytes", bytes.clone().into()),
                ]);
                let transfer = js_sys::Array::of1(&bytes);
                if let Err(e) = worker.post_message_with_transfer(&load, &transfer) {
                    run.row(index, |row| {
                        row.state = RowState::Failed(describe("cannot send the model to the worker", &e))
                    });
                    begin_model(index + 1, &sequence, &worker, run);
                }
            }
            Err(message) => {
                run.row(index, |row| row.state = RowState::Failed(message));
                begin_model(index + 1, &sequence, &worker, run);
            }
        }
    });
}

/// What the worker says about the current model: loaded (send it the
/// windows), a window's result, or an error (the model fails, the run
/// goes on with the next).
fn on_worker_message(data: &JsValue, sequence: &Rc<RefCell<Sequence>>, worker: &Worker, run: RunSignals) {
    let Some(index) = sequence.borrow().current.as_ref().map(|c| c.index) else { return };
    // Answers about an earlier model (windows still queued when it failed).
    if get(data, "model_index").as_f64() != Some(index as f64) {
        return;
    }
    match get(data, "type").as_string().as_deref() {
        Some("loaded") => {
            let seq = sequence.borrow();
            let Some(current) = seq.current.as_ref() else { return };
            let total = current.total;
            run.row(index, |row| row.state = RowState::Running { done: 0, total });
            for (id, (job, server)) in seq.windows.iter().zip(&current.server).enumerate() {
                if server.is_none() {
                    continue;
                }
                let message = message(&[
                    ("type", JsValue::from_str("run")),
                    ("model_index", JsValue::from_f64(index as f64)),
                    ("id", JsValue::from_f64(id as f64)),
                    ("t_s", JsValue::from_f64(job.t_s)),
                    ("values", js_sys::Float32Array::from(&job.values[..]).into()),
                    ("observed", js_sys::Uint8Array::from(&job.observed[..]).into()),
                ]);
                let _ = worker.post_message(&message);
            }
        }
        Some("result") => {
            let id = get(data, "id").as_f64().unwrap_or(-1.0) as usize;
            let probs: Vec<f64> = js_sys::Array::from(&get(data, "probs")).iter().filter_map(|v| v.as_f64()).collect();
            let mut seq = sequence.borrow_mut();
            let Sequence { models, episode, current, .. } = &mut *seq;
            let Some(current) = current.as_mut() else { return };
            let Some(Some((reference, truth))) = current.server.get(id) else { return };
            let max_diff = probs.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let result = WindowResult {
                t_s: get(data, "t_s").as_f64().unwrap_or(f64::NAN),
                latency_us: get(data, "latency_us").as_f64().unwrap_or(f64::NAN),
                max_diff: if probs.len() == reference.len() { max_diff } else { f64::INFINITY },
                same_label: argmax(&probs) == argmax(reference),
            };
            let model = &models[index];
            match browser_prediction(model, episode, &result, &probs, truth) {
                Some(event) => current.events.push(event),
                None => leptos::logging::warn!("cis490: window {id} of {model}'s browser run has no usable numbers"),
            }
            current.done += 1;
            let (done, total) = (current.done, current.total);
            let first_ms = (done == 1).then(|| now_ms() - current.asked_ms);
            run.row(index, |row| {
                row.results.push(result);
                if let Some(ms) = first_ms {
                    row.first_result_ms = Some(ms);
                }
                row.state = if done >= total { RowState::Done } else { RowState::Running { done, total } };
            });
            if done >= total {
                let events = std::mem::take(&mut current.events);
                drop(seq);
                publish(events, index, run);
                begin_model(index + 1, sequence, worker, run);
            }
        }
        Some("error") => {
            let said = get(data, "message").as_string();
            // The model's first error ends it; the rest of its answers are ignored.
            sequence.borrow_mut().current = None;
            run.row(index, |row| row.state = RowState::Failed(plain_error("the model runner failed", said.as_deref())));
            begin_model(index + 1, sequence, worker, run);
        }
        _ => {}
    }
}

/// The `prediction` event of one browser-run window (`runtime: "browser"`);
/// `None` when its time, latency or every probability is not a number.
fn browser_prediction(model: &str, episode: &str, result: &WindowResult, probs: &[f64], truth: &str) -> Option<Event> {
    let (architecture, variant) = model.rsplit_once('-').unwrap_or((model, ""));
    let by_label = Label::ALL.iter().zip(probs).map(|(l, p)| (l.to_string(), serde_json::Value::from(*p))).collect();
    Some(Event::Prediction(PredictionEvent {
        model: architecture.into(),
        variant: variant.into(),
        episode_id: episode.into(),
        t_s: Number::from_f64(result.t_s)?,
        probs: by_label,
        predicted: Label::ALL.get(argmax(probs)?)?.to_string(),
        truth: truth.into(),
        latency_us: Number::from_f64(result.latency_us)?,
        runtime: "browser".into(),
        extra: serde_json::Map::new(),
    }))
}

/// Publishes a model's browser run to the hub, so every dashboard sees
/// it, with the page's token (`?token=`); what became of it is shown on
/// its row (a hub started with a token refuses a page opened without one;
/// the run stays on this page).
fn publish(events: Vec<Event>, index: usize, run: RunSignals) {
    if events.is_empty() {
        return;
    }
    let count = events.len();
    spawn_local(async move {
        let outcome = match serde_json::to_string(&events) {
            Ok(body) => post_events(&body, count).await,
            Err(e) => format!("not published: cannot serialize the events: {e}"),
        };
        if outcome.starts_with("not published") {
            leptos::logging::warn!("cis490: browser predictions {outcome}");
        }
        FINISHED.with(|f| {
            if let Some(row) = f.borrow_mut().as_mut().and_then(|finished| finished.rows.get_mut(index)) {
                row.published = Some(outcome.clone());
            }
        });
        let _ = run.rows.try_update(|rows| {
            if let Some(row) = rows.get_mut(index) {
                row.published = Some(outcome);
            }
        });
    });
}

/// Posts the run's events; what became of them, in words.
async fn post_events(body: &str, count: usize) -> String {
    match fetch::post_json("publish", body).await {
        Ok((status, _)) if status < 300 => {
            format!("published {count} windows to the hub (prediction events, runtime browser)")
        }
        Ok((status, body)) => match access::refusal(status, fetch::has_token()) {
            Some(why) => format!("not published: {why}"),
            None => format!("not published: HTTP {status}: {body}"),
        },
        Err(message) => format!("not published: {message}"),
    }
}

fn model_names(body: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("models").and_then(|m| m.as_array()).cloned())
        .map(|models| models.iter().filter_map(|m| m.get("name")?.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// The value of the model picker's "every model" choice.
const ALL_MODELS: &str = "";

/// Windows the page waits for before a run starts by itself: the server
/// predicts each window as the replay reaches its end, so a page open at
/// an episode's start (or joining in its middle) would otherwise run on
/// its first one or two. Twelve windows are a minute of episode; every
/// synthetic episode (80–180 s) has 15 or more. "Run now" runs on what
/// there is.
const AUTO_START_WINDOWS: usize = 12;

/// One model's row of the results table.
fn result_row(row: &ModelRow) -> impl IntoView + use<> {
    let latencies: Vec<f64> = row.results.iter().map(|r| r.latency_us).collect();
    let q = |p: f64| chart::quantile(&latencies, p).map_or("–".into(), |v| format!("{v:.0}"));
    let max_diff = row.results.iter().map(|r| r.max_diff).fold(0.0, f64::max);
    let agreement = (!row.results.is_empty())
        .then(|| row.results.iter().filter(|r| r.same_label).count() as f64 / row.results.len() as f64);
    let first = row.first_result_ms.map_or("–".into(), |ms| format!("{ms:.0}"));
    let diff = if row.results.is_empty() { "–".to_string() } else { format!("{max_diff:.1e}") };
    view! {
        <tr data-testid="browser-row" data-model=row.model.clone() data-state=row.state.key()>
            <th scope="row">{row.model.clone()}</th>
            <td class="num" data-testid="browser-windows">{row.results.len()}</td>
            <td class="num" data-testid="browser-latency-p50">{q(0.5)}</td>
            <td class="num">{q(0.95)}</td>
            <td class="num" data-testid="browser-first-result">{first}</td>
            <td class="num" data-testid="browser-max-diff" data-value=format!("{max_diff:e}")>{diff}</td>
            <td class="num" data-testid="browser-agreement">
                {agreement.map_or("–".into(), |a| format!("{:.0} %", a * 100.0))}
            </td>
            <td class="muted">{row.state.text()}</td>
            <td>{(!latencies.is_empty()).then(|| latency_histogram(&latencies))}</td>
        </tr>
    }
}

/// The browser scene.
#[component]
pub fn BrowserScene(state: RwSignal<DashboardState>, controls: bool, model: Option<String>) -> impl IntoView {
    let models = RwSignal::new(Vec::<String>::new());
    // `?model=` runs that model; without it every model of the run.
    let selected = RwSignal::new(model.unwrap_or_else(|| ALL_MODELS.to_string()));
    let status = RwSignal::new(RunState::Idle);
    let rows = RwSignal::new(Vec::<ModelRow>::new());
    // While idle: the windows a run would cover now.
    let covered = RwSignal::new(0usize);
    let run = RunSignals { state, status, rows };
    let runner = RwSignal::new(RunnerBundle::Unknown);
    watch_runner(runner);
    let chosen = move || {
        let picked = selected.get_untracked();
        if picked == ALL_MODELS { models.get_untracked() } else { vec![picked] }
    };
    spawn_local(async move {
        match fetch::get_text("api/models").await {
            Ok((200, body)) => models.set(model_names(&body)),
            Ok((code, body)) => status.set(RunState::Failed(match access::refusal(code, fetch::has_token()) {
                Some(why) => why.to_string(),
                None => format!("api/models: HTTP {code}: {body}"),
            })),
            Err(message) => status.set(RunState::Failed(message)),
        }
    });
    // Start by itself (a kiosk has no button) once the models are known and
    // the server's predictions of the first cover AUTO_START_WINDOWS windows
    // the page can rebuild, unless this page has already run them on the
    // same windows: then show that run.
    Effect::new(move |_| {
        selected.track();
        if runner.get() != RunnerBundle::Ready || models.with(Vec::is_empty) {
            return;
        }
        // Once a run started (or failed) nothing starts by itself: checked
        // before the state is read, so replay frames stop re-running this.
        if status.with_untracked(|st| *st != RunState::Idle) {
            return;
        }
        let wanted = chosen();
        let Some(key) = state.with(|s| run_key(s, &wanted)) else {
            if covered.get_untracked() != 0 {
                covered.set(0);
            }
            return;
        };
        if covered.get_untracked() != key.windows {
            covered.set(key.windows);
        }
        if key.windows < AUTO_START_WINDOWS {
            return;
        }
        let earlier = FINISHED.with(|f| f.borrow().as_ref().filter(|run| run.key == key).cloned());
        match earlier {
            Some(finished) => {
                rows.set(finished.rows);
                status.set(RunState::Done);
            }
            None => start_run(wanted, run),
        }
    });
    // Leaving the scene stops a run in progress and frees its worker.
    on_cleanup(stop_active_run);
    // Without the runner bundle a run could only fail: the status line says why.
    let run_now = move |_| {
        if runner.get_untracked() != RunnerBundle::Building {
            start_run(chosen(), run);
        }
    };
    view! {
        <section class="panel wide browser" data-testid="scene-browser">
            <h2>"In-browser inference"</h2>
            {controls
                .then(|| {
                    view! {
                        <div class="browser-controls">
                            <select
                                aria-label="Model"
                                on:change=move |ev| selected.set(event_target_value(&ev))
                                prop:value=move || selected.get()
                            >
                                <option value=ALL_MODELS>"every model"</option>
                                {move || {
                                    models
                                        .get()
                                        .into_iter()
                                        .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                        .collect_view()
                                }}
                            </select>
                            <button class="tab" data-testid="browser-run" on:click=run_now>
                                "Run in this browser"
                            </button>
                        </div>
                    }
                })}
            <p
                class="muted"
                data-testid="browser-status"
                data-state=move || status.with(RunState::key)
                data-runner=move || runner.get().key()
            >
                {move || rows.with(|r| status.with(|st| status_text(st, r, covered.get(), runner.get())))}
            </p>
            {move || {
                rows.with(|r| published_text(r))
                    .map(|text| {
                        let refused = text.starts_with("not published");
                        view! {
                            <p class:warning=refused class:muted=!refused data-testid="browser-published">
                                {text}
                            </p>
                        }
                    })
            }}
            {move || {
                let all = rows.get();
                if all.is_empty() {
                    return ().into_any();
                }
                let last_t = all.iter().flat_map(|r| r.results.iter().map(|w| w.t_s)).fold(f64::NAN, f64::max);
                let body = all.iter().map(result_row).collect_view();
                view! {
                    <figure class="chart">
                        <table class="perf-table browser-table">
                            <thead>
                                <tr>
                                    <th>"model"</th>
                                    <th>"windows"</th>
                                    <th>"p50 µs"</th>
                                    <th>"p95 µs"</th>
                                    <th title="from asking for the model file to its first window's probabilities">"first result ms"</th>
                                    <th>"max |Δp| vs server"</th>
                                    <th>"same label"</th>
                                    <th>"state"</th>
                                    <th>"latency histogram"</th>
                                </tr>
                            </thead>
                            <tbody>{body}</tbody>
                        </table>
                        <figcaption>
                            {format!(
                                "Each model in a Web Worker on this page, one after the other, on the same windows up to t = {last_t:.1} s: latency per window, time to the first result, and the largest difference from the server's probabilities"
                            )}
                        </figcaption>
                    </figure>
                }
                    .into_any()
            }}
        </section>
    }
}
