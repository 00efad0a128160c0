//! The overview scene: the Validation panel (loads
//! `GET api/validation/summary` once: counts per outcome, a stacked bar,
//! the reasons table; its `data-state` says whether the summary is
//! loading, loaded, empty or failed) beside the running jobs with their
//! progress bars.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::access;
use crate::fetch;
use crate::state::DashboardState;
use crate::summary::{LoadState, ValidationSummary, label, segments, sorted_reasons};

/// The summary endpoint, relative so the dashboard also works behind a prefix.
const SUMMARY_URL: &str = "api/validation/summary";

/// The validation summary and the running jobs.
#[component]
pub fn OverviewScene(state: RwSignal<DashboardState>) -> impl IntoView {
    view! {
        <ValidationPanel/>
        <JobsPanel state=state/>
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

/// Running jobs with progress bars.
#[component]
fn JobsPanel(state: RwSignal<DashboardState>) -> impl IntoView {
    view! {
        <section class="panel jobs" data-testid="jobs-panel">
            <h2>"Running jobs"</h2>
            {move || {
                let jobs: Vec<_> = state.with(|s| s.running_jobs().into_iter().cloned().collect());
                if jobs.is_empty() {
                    return view! { <p class="muted" data-testid="jobs-empty">"Nothing running."</p> }.into_any();
                }
                jobs.into_iter()
                    .map(|job| {
                        let percent = job.fraction() * 100.0;
                        let title = format!("{} {}", job.job, job.id);
                        view! {
                            <div class="job" data-testid="job-row">
                                <div class="job-title">
                                    <span>{title}</span>
                                    <span class="muted">
                                        {format!("{} / {} {}", job.done, job.total, job.unit)}
                                    </span>
                                </div>
                                <div
                                    class="progress"
                                    role="progressbar"
                                    aria-valuenow=format!("{percent:.0}")
                                    aria-valuemin="0"
                                    aria-valuemax="100"
                                >
                                    <div class="progress-fill" style=format!("width: {percent:.2}%")></div>
                                </div>
                                <p class="muted job-message">{job.message}</p>
                            </div>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </section>
    }
}
