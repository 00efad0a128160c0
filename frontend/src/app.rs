//! The Leptos views and the WebAssembly entry point: a header and the
//! Validation panel, which loads `GET api/validation/summary` once and shows
//! the four outcome counts, a proportional stacked bar and the reasons table.
//!
//! Once mounted, `document.body.dataset.rendered` is set to `"true"` so tests
//! can tell that the WebAssembly ran; the panel's `data-state` says whether
//! the summary is loading, loaded, empty or failed.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::fetch;
use crate::summary::{LoadState, ValidationSummary, label, segments, sorted_reasons};

/// The summary endpoint, relative so the dashboard also works behind a prefix.
const SUMMARY_URL: &str = "api/validation/summary";

/// Mounts the dashboard into `<body>`; wasm-bindgen runs it on load.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(App);
    if let Some(body) = document().body()
        && body.dataset().set("rendered", "true").is_err()
    {
        leptos::logging::warn!("cis490: could not set the rendered marker");
    }
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    view! {
        <header class="site-header" data-testid="site-header">
            <h1>"cis490 — episode telemetry lab"</h1>
        </header>
        <main class="panels">
            <ValidationPanel/>
        </main>
    }
}

/// The Validation panel: fetches the summary once, then renders it.
#[component]
fn ValidationPanel() -> impl IntoView {
    let (state, set_state) = signal(LoadState::Loading);
    spawn_local(async move {
        let next = match fetch::get_text(SUMMARY_URL).await {
            Ok((status, body)) => LoadState::from_response(status, &body),
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
