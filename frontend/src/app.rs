//! The Leptos shell and the WebAssembly entry point: a header with the
//! scene tabs and the hub connection badge, the current scene, and the
//! modes of `route` (desk, kiosk rotation, lecture keys and theme). The
//! Validation panel loads `GET api/validation/summary` once.
//!
//! Once mounted, `document.body.dataset.rendered` is set to `"true"` so tests
//! can tell that the WebAssembly ran; the panel's `data-state` says whether
//! the summary is loading, loaded, empty or failed; `<main>` carries the
//! scene in `data-scene`, `<body>` the mode in `data-mode`.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::access;
use crate::browser_view::BrowserScene;
use crate::fetch;
use crate::metrics_view::MetricsScene;
use crate::perf_view::{PerfScene, ProfilesScene};
use crate::replay_view::ReplayScene;
use crate::route::{self, Mode, Scene};
use crate::scenes::{JobsPanel, TrainingScene};
use crate::state::DashboardState;
use crate::summary::{LoadState, ValidationSummary, label, segments, sorted_reasons};
use crate::ws::{self, Connection};

/// The summary endpoint, relative so the dashboard also works behind a prefix.
const SUMMARY_URL: &str = "api/validation/summary";

/// Mounts the dashboard into `<body>`; wasm-bindgen runs it on load.
#[wasm_bindgen(start)]
pub fn start() {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let route = route::parse(&query);
    fetch::set_token(route.hub_token.clone());
    if let Some(body) = document().body() {
        let mode = match route.mode {
            Mode::Desk => "desk",
            Mode::Kiosk { .. } => "kiosk",
            Mode::Present => "present",
        };
        if body.dataset().set("mode", mode).is_err() {
            leptos::logging::warn!("cis490: could not set the mode marker");
        }
    }
    leptos::mount::mount_to_body(move || view! { <App route=route.clone()/> });
    if let Some(body) = document().body()
        && body.dataset().set("rendered", "true").is_err()
    {
        leptos::logging::warn!("cis490: could not set the rendered marker");
    }
}

/// Puts `scene` in the address bar (keeping the other parameters except the
/// hub token, which stays in memory only), so the page can be reloaded
/// or shared where it is.
fn remember_scene(scene: Scene) {
    let Some(window) = web_sys::window() else { return };
    let query = window.location().search().unwrap_or_default();
    let mut pairs: Vec<String> = crate::route::without_token(&query)
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("scene="))
        .map(String::from)
        .collect();
    pairs.insert(0, format!("scene={}", scene.as_str()));
    if let Ok(history) = window.history() {
        let _ =
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("?{}", pairs.join("&"))));
    }
}

fn toggle_fullscreen() {
    let doc = document();
    if doc.fullscreen_element().is_some() {
        doc.exit_fullscreen();
    } else if let Some(root) = doc.document_element() {
        let _ = root.request_fullscreen();
    }
}

/// The whole page.
#[component]
fn App(route: route::Route) -> impl IntoView {
    let state = RwSignal::new(DashboardState::default());
    let connection = RwSignal::new(Connection::Connecting(0));
    let scene = RwSignal::new(route.scene);
    ws::connect(state, connection, route.timing);
    Effect::new(move |_| remember_scene(scene.get()));
    if let Mode::Kiosk { rotate_s } = route.mode {
        set_interval(move || scene.update(|s| *s = s.next()), Duration::from_secs_f64(rotate_s));
    }
    let keys = window_event_listener(ev::keydown, move |event| match event.key().as_str() {
        "ArrowRight" => scene.update(|s| *s = s.next()),
        "ArrowLeft" => scene.update(|s| *s = s.previous()),
        "f" | "F" => toggle_fullscreen(),
        _ => {}
    });
    on_cleanup(move || keys.remove());
    let controls = matches!(route.mode, Mode::Desk | Mode::Present);
    let problems = route.problems.clone();

    view! {
        <header class="site-header" data-testid="site-header">
            <h1>"cis490 — episode telemetry lab"</h1>
            {controls
                .then(|| {
                    view! {
                        <nav class="scene-tabs" aria-label="Scenes">
                            {Scene::ALL
                                .into_iter()
                                .map(|s| {
                                    view! {
                                        <button
                                            class="tab"
                                            class:active=move || scene.get() == s
                                            data-testid=format!("tab-{}", s.as_str())
                                            on:click=move |_| scene.set(s)
                                        >
                                            {s.title()}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </nav>
                    }
                })}
            <span
                class=move || format!("connection {}", connection.get().key())
                data-testid="connection"
                data-state=move || connection.get().key()
                role="status"
            >
                {move || connection.get().label()}
            </span>
        </header>
        {(!problems.is_empty())
            .then(|| {
                view! { <p class="warning query-problems" data-testid="query-problems">{problems.join("; ")}</p> }
            })}
        <main class="panels" data-testid="scene" data-scene=move || scene.get().as_str()>
            {move || match scene.get() {
                Scene::Overview => {
                    view! {
                        <ValidationPanel/>
                        <JobsPanel state=state/>
                    }
                        .into_any()
                }
                Scene::Replay => view! { <ReplayScene state=state controls=controls strips=route.strips/> }.into_any(),
                Scene::Training => view! { <TrainingScene state=state/> }.into_any(),
                Scene::Metrics => view! { <MetricsScene state=state controls=controls/> }.into_any(),
                Scene::Perf => view! { <PerfScene state=state/> }.into_any(),
                Scene::Profiles => view! { <ProfilesScene state=state/> }.into_any(),
                Scene::Browser => {
                    view! { <BrowserScene state=state controls=controls model=route.model.clone()/> }.into_any()
                }
            }}
        </main>
    }
}

/// The Validation panel: fetches the summary once, then renders it.
#[component]
fn ValidationPanel() -> impl IntoView {
    let (state, set_state) = signal(LoadState::Loading);
    spawn_local(async move {
        let next = match fetch::get_text(SUMMARY_URL).await {
            Ok((status, body)) => match access::refusal(status, fetch::has_token()) {
                Some(why) => LoadState::Failed(why.to_string()),
                None => LoadState::from_response(status, &body),
            },
            Err(message) => LoadState::Failed(message),
        };
        set_state.set(next);
    });

    view! {
        <section
            class="panel validation"
            data-testid="validation-panel"
            data-state=move || state.with(LoadState::key)
        >
            <h2>"Validation"</h2>
            {move || match state.get() {
                LoadState::Loading => {
                    view! { <p class="muted" data-testid="validation-loading">"Loading…"</p> }
                        .into_any()
                }
                LoadState::Empty => {
                    view! {
                        <p class="muted" data-testid="validation-empty">
                            "No validation results yet"
                        </p>
                    }
                        .into_any()
                }
                LoadState::Failed(message) => {
                    view! {
                        <p class="error" data-testid="validation-error">
                            "Could not load the validation summary: " {message}
                        </p>
                    }
                        .into_any()
                }
                LoadState::Loaded(summary) => summary_view(&summary).into_any(),
            }}
        </section>
    }
}

/// Counts, stacked bar and reasons table for one summary.
fn summary_view(summary: &ValidationSummary) -> impl IntoView + use<> {
    let segments = segments(summary);
    let counts = segments
        .iter()
        .map(|segment| {
            let key = segment.outcome.as_str();
            view! {
                <div class=format!("count-card {key}")>
                    <dt>{label(segment.outcome)}</dt>
                    <dd data-testid=format!("count-{key}")>{segment.count}</dd>
                </div>
            }
        })
        .collect_view();
    let bar = segments
        .iter()
        .filter(|segment| segment.count > 0)
        .map(|segment| {
            let key = segment.outcome.as_str();
            let title = format!("{}: {} ({:.1} %)", label(segment.outcome), segment.count, segment.percent);
            view! {
                <div
                    class=format!("bar-segment {key}")
                    data-testid=format!("bar-{key}")
                    style=format!("width: {:.3}%", segment.percent)
                    title=title
                ></div>
            }
        })
        .collect_view();
    let reasons = sorted_reasons(summary);
    let reasons_view = if reasons.is_empty() {
        view! { <p class="muted" data-testid="reasons-empty">"No rejection or degradation reasons."</p> }.into_any()
    } else {
        let rows = reasons
            .into_iter()
            .map(|(name, count)| {
                let name = name.to_owned();
                view! {
                    <tr data-testid="reason-row">
                        <td class="reason-name">{name}</td>
                        <td class="num">{count}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="reasons" data-testid="reasons-table">
                <thead>
                    <tr>
                        <th>"Reason"</th>
                        <th class="num">"Episodes"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let total = summary.total;

    view! {
        <div data-testid="validation-summary">
            <dl class="counts">{counts}</dl>
            <div class="stacked-bar" data-testid="validation-bar" role="img" aria-label="Share of episodes per outcome">
                {bar}
            </div>
            <p class="muted total" data-testid="count-total">{format!("{total} episodes")}</p>
            <h3>"Reasons"</h3>
            {reasons_view}
        </div>
    }
}
