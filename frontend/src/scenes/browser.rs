//! The browser scene: loads a model's `model.onnx` from the backend and runs
//! it with tract, compiled to WebAssembly, in a Web Worker
//! (`runner-worker.js` with the separate `runner/` bundle, fetched only
//! here), on the replayed episode's windows that the server also predicted.
//! Shows the per-window latency in the browser and how far its
//! probabilities are from the server's.
//!
//! Each window is rebuilt from the replay frames (`Replay::window`), so
//! the comparison is exact when the page has the episode from its first
//! frame. When a run ends its windows are published to the hub as
//! `prediction` events with `runtime: "browser"` (every dashboard then shows
//! a `<model> (browser)` band and latency).

use std::cell::RefCell;

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

/// One window to run: its end, the model input source and the server's
/// probabilities for it.
struct WindowJob {
    t_s: f64,
    values: Vec<f32>,
    observed: Vec<u8>,
    server: Vec<f64>,
    truth: String,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
enum RunState {
    Idle,
    Loading(String),
    Running { done: usize, total: usize },
    Done,
    Failed(String),
}

impl RunState {
    fn key(&self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Loading(_) => "loading",
            RunState::Running { .. } => "running",
            RunState::Done => "done",
            RunState::Failed(_) => "failed",
        }
    }

    fn text(&self) -> String {
        match self {
            RunState::Idle => "waits for the server's predictions on a replayed episode.".into(),
            RunState::Loading(model) => format!("Loading {model} and the tract runner…"),
            RunState::Running { done, total } => format!("Running: {done} of {total} windows"),
            RunState::Done => "Done.".into(),
            RunState::Failed(message) => format!("Failed: {message}"),
        }
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

/// Which windows a run covered: the model, the episode, how many windows
/// and the last one's end.
#[derive(Debug, Clone, PartialEq)]
struct RunKey {
    model: String,
    episode: String,
    windows: usize,
    last_t_bits: u64,
}

/// A finished run, kept so the scene shows it again when it reopens
/// instead of re-running (and re-publishing) the same windows.
#[derive(Debug, Clone)]
struct FinishedRun {
    key: RunKey,
    results: Vec<WindowResult>,
    outcome: Option<String>,
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

/// The windows a run of `model` would cover now: those the server
/// predicted that the replay history can rebuild.
fn run_key(s: &DashboardState, model: &str) -> Option<RunKey> {
    let predictions = s.predictions.get(model)?;
    let mut covered = predictions.windows.iter().filter(|w| s.replay.has_window(w.t_s));
    let first = covered.next()?;
    let (count, last) = covered.fold((1, first.t_s), |(n, _), w| (n + 1, w.t_s));
    Some(RunKey {
        model: model.to_string(),
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

/// Starts a run of `model` on every window the server predicted and the
/// replay history can rebuild.
fn start_run(
    model: String,
    state: RwSignal<DashboardState>,
    status: RwSignal<RunState>,
    results: RwSignal<Vec<WindowResult>>,
    publishing: Publishing,
) {
    stop_active_run();
    results.set(Vec::new());
    let key = state.with_untracked(|s| run_key(s, &model));
    let windows: Vec<WindowJob> = state.with_untracked(|s| {
        s.predictions
            .get(&model)
            .map(|p| {
                p.windows
                    .iter()
                    .filter_map(|w| {
                        let (values, observed) = s.replay.window(w.t_s)?;
                        Some(WindowJob {
                            t_s: w.t_s,
                            values,
                            observed,
                            server: w.probs.clone(),
                            truth: w.truth.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    if windows.is_empty() {
        status.set(RunState::Failed(format!(
            "no server predictions of {model} on the replayed episode yet (replay an episode with --models)"
        )));
        return;
    }
    status.set(RunState::Loading(model.clone()));
    publishing.outcome.set(None);
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = match Worker::new_with_options("runner-worker.js", &options) {
        Ok(worker) => worker,
        Err(e) => {
            status.set(RunState::Failed(describe("cannot start the worker", &e)));
            return;
        }
    };
    let total = windows.len();
    let server: Vec<Vec<f64>> = windows.iter().map(|w| w.server.clone()).collect();
    let truths: Vec<String> = windows.iter().map(|w| w.truth.clone()).collect();
    let episode = state.with_untracked(|s| s.replay.episode_id.clone());
    let mut events: Vec<Event> = Vec::with_capacity(total);
    let event_model = model.clone();
    let posted = worker.clone();
    let mut windows = Some(windows);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        match get(&data, "type").as_string().as_deref() {
            Some("loaded") => {
                status.set(RunState::Running { done: 0, total });
                // Posted once; the inputs are the worker's now.
                for (id, job) in windows.take().unwrap_or_default().iter().enumerate() {
                    let run = message(&[
                        ("type", JsValue::from_str("run")),
                        ("id", JsValue::from_f64(id as f64)),
                        ("t_s", JsValue::from_f64(job.t_s)),
                        ("values", js_sys::Float32Array::from(&job.values[..]).into()),
                        ("observed", js_sys::Uint8Array::from(&job.observed[..]).into()),
                    ]);
                    let _ = posted.post_message(&run);
                }
            }
            Some("result") => {
                let id = get(&data, "id").as_f64().unwrap_or(-1.0) as usize;
                let probs: Vec<f64> =
                    js_sys::Array::from(&get(&data, "probs")).iter().filter_map(|v| v.as_f64()).collect();
                let Some(reference) = server.get(id) else { return };
                let max_diff = probs.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                let result = WindowResult {
                    t_s: get(&data, "t_s").as_f64().unwrap_or(f64::NAN),
                    latency_us: get(&data, "latency_us").as_f64().unwrap_or(f64::NAN),
                    max_diff: if probs.len() == reference.len() { max_diff } else { f64::INFINITY },
                    same_label: argmax(&probs) == argmax(reference),
                };
                match browser_prediction(&event_model, &episode, &result, &probs, &truths[id]) {
                    Some(event) => events.push(event),
                    None => leptos::logging::warn!("cis490: window {id} of the browser run has no usable numbers"),
                }
                results.update(|r| r.push(result));
                let done = results.with_untracked(Vec::len);
                status.set(if done >= total { RunState::Done } else { RunState::Running { done, total } });
                if done >= total {
                    if let Some(key) = key.clone() {
                        let finished = FinishedRun { key, results: results.get_untracked(), outcome: None };
                        FINISHED.with(|f| *f.borrow_mut() = Some(finished));
                    }
                    publish(std::mem::take(&mut events), publishing);
                }
            }
            Some("error") => {
                let said = get(&data, "message").as_string();
                status.set(RunState::Failed(plain_error("the model runner failed", said.as_deref())));
            }
            _ => {}
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ACTIVE.with(|a| *a.borrow_mut() = Some(ActiveRun { worker: worker.clone(), _on_message: on_message }));
    spawn_local(async move {
        match fetch::get_bytes(&format!("models/{model}/model.onnx")).await {
            Ok(bytes) => {
                let load = message(&[("type", JsValue::from_str("load")), ("bytes", bytes.clone().into())]);
                let transfer = js_sys::Array::of1(&bytes);
                if let Err(e) = worker.post_message_with_transfer(&load, &transfer) {
                    status.set(RunState::Failed(describe("cannot send the model to the worker", &e)));
                }
            }
            Err(message) => status.set(RunState::Failed(message)),
        }
    });
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

/// What became of the last publication of a run (shown on the page).
#[derive(Clone, Copy)]
struct Publishing {
    outcome: RwSignal<Option<String>>,
}

/// Publishes the run's predictions to the hub, so every dashboard sees the
/// browser's run, with the page's token (`?token=`); the outcome is shown
/// (a hub started with a token refuses a page opened without one; the run
/// stays on this page).
fn publish(events: Vec<Event>, publishing: Publishing) {
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
            if let Some(finished) = f.borrow_mut().as_mut() {
                finished.outcome = Some(outcome.clone());
            }
        });
        publishing.outcome.set(Some(outcome));
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

/// The browser scene.
#[component]
pub fn BrowserScene(state: RwSignal<DashboardState>, controls: bool, model: Option<String>) -> impl IntoView {
    let publishing = Publishing { outcome: RwSignal::new(None) };
    let models = RwSignal::new(Vec::<String>::new());
    let selected = RwSignal::new(model);
    let status = RwSignal::new(RunState::Idle);
    let results = RwSignal::new(Vec::<WindowResult>::new());
    spawn_local(async move {
        match fetch::get_text("api/models").await {
            Ok((200, body)) => {
                let names = model_names(&body);
                if selected.get_untracked().is_none() {
                    // A quick one first: the trees are slow in tract.
                    let first = names.iter().find(|n| n.starts_with("mlp")).or(names.first()).cloned();
                    selected.set(first);
                }
                models.set(names);
            }
            Ok((code, body)) => status.set(RunState::Failed(match access::refusal(code, fetch::has_token()) {
                Some(why) => why.to_string(),
                None => format!("api/models: HTTP {code}: {body}"),
            })),
            Err(message) => status.set(RunState::Failed(message)),
        }
    });
    // Start by itself (a kiosk has no button) once the server's
    // predictions of the chosen model have arrived, unless this page has
    // already run that model on the same windows: then show that run.
    Effect::new(move |_| {
        let Some(model) = selected.get() else { return };
        // Once a run started (or failed) nothing starts by itself: checked
        // before the state is read, so replay frames stop re-running this.
        if status.with_untracked(|st| *st != RunState::Idle) {
            return;
        }
        let Some(key) = state.with(|s| run_key(s, &model)) else { return };
        let earlier = FINISHED.with(|f| f.borrow().as_ref().filter(|run| run.key == key).cloned());
        match earlier {
            Some(run) => {
                results.set(run.results);
                publishing.outcome.set(run.outcome);
                status.set(RunState::Done);
            }
            None => start_run(model, state, status, results, publishing),
        }
    });
    // Leaving the scene stops a run in progress and frees its worker.
    on_cleanup(stop_active_run);
    let run = move |_| {
        if let Some(model) = selected.get_untracked() {
            start_run(model, state, status, results, publishing);
        }
    };
    let outcome = publishing.outcome;
    view! {
        <section class="panel wide browser" data-testid="scene-browser">
            <h2>"In-browser inference"</h2>
            {controls
                .then(|| {
                    view! {
                        <div class="browser-controls">
                            <select
                                aria-label="Model"
                                on:change=move |ev| selected.set(Some(event_target_value(&ev)))
                                prop:value=move || selected.get().unwrap_or_default()
                            >
                                {move || {
                                    models
                                        .get()
                                        .into_iter()
                                        .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                        .collect_view()
                                }}
                            </select>
                            <button class="tab" data-testid="browser-run" on:click=run>
                                "Run in this browser"
                            </button>
                        </div>
                    }
                })}
            <p class="muted" data-testid="browser-status" data-state=move || status.with(RunState::key)>
                {move || format!("{} {}", selected.get().unwrap_or_default(), status.with(RunState::text))}
            </p>
            {move || {
                outcome
                    .get()
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
                let all = results.get();
                if all.is_empty() {
                    return ().into_any();
                }
                let latencies: Vec<f64> = all.iter().map(|r| r.latency_us).collect();
                let max_diff = all.iter().map(|r| r.max_diff).fold(0.0, f64::max);
                let agreement = all.iter().filter(|r| r.same_label).count() as f64 / all.len() as f64;
                let q = |p: f64| chart::quantile(&latencies, p).map_or("–".into(), |v| format!("{v:.0}"));
                let last_t = all.iter().map(|r| r.t_s).fold(f64::NAN, f64::max);
                view! {
                    <figure class="chart">
                        <table class="perf-table">
                            <thead>
                                <tr>
                                    <th>"windows"</th>
                                    <th>"p50 µs"</th>
                                    <th>"p95 µs"</th>
                                    <th>"max |Δp| vs server"</th>
                                    <th>"same label"</th>
                                    <th>"latency histogram"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <tr>
                                    <td class="num" data-testid="browser-windows">{all.len()}</td>
                                    <td class="num" data-testid="browser-latency-p50">{q(0.5)}</td>
                                    <td class="num">{q(0.95)}</td>
                                    <td class="num" data-testid="browser-max-diff" data-value=format!("{max_diff:e}")>
                                        {format!("{max_diff:.1e}")}
                                    </td>
                                    <td class="num" data-testid="browser-agreement">{format!("{:.0} %", agreement * 100.0)}</td>
                                    <td>{latency_histogram(&latencies)}</td>
                                </tr>
                            </tbody>
                        </table>
                        <figcaption>
                            {format!(
                                "tract in a Web Worker on this page, windows up to t = {last_t:.1} s: latency per window, and the largest difference from the server's probabilities"
                            )}
                        </figcaption>
                    </figure>
                }
                    .into_any()
            }}
        </section>
    }
}
