//! The perf scene: every `perf` series with its latest value, percentiles
//! and a sparkline of its history; each model's prediction latency as
//! percentiles and a log-scale histogram (`latency_histogram`).

use leptos::prelude::*;

use crate::chart;
use crate::latency_histogram::latency_histogram;
use crate::state::{DashboardState, PerfSeries};
use crate::units::with_unit;

const SPARK_W: f64 = 160.0;
const SPARK_H: f64 = 28.0;

fn sparkline(history: &[f64]) -> String {
    let data: Vec<(f64, f64)> = history.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect();
    let (lo, hi) = chart::data_range(history.iter().copied()).unwrap_or((0.0, 1.0));
    let x_end = (history.len().max(2) - 1) as f64;
    chart::svg_points(&chart::to_box(&data, (0.0, x_end), (lo, hi), SPARK_W, SPARK_H))
}

fn optional(v: Option<f64>, unit: &str) -> String {
    v.map_or("–".into(), |v| with_unit(v, unit))
}

/// Perf series and prediction latency.
#[component]
pub fn PerfScene(state: RwSignal<DashboardState>) -> impl IntoView {
    let series = Memo::new(move |_| {
        state.with(|s| {
            s.perf
                .iter()
                .map(|((src, name), p)| (format!("{src} / {name}"), p.clone()))
                .collect::<Vec<(String, PerfSeries)>>()
        })
    });
    let latency = Memo::new(move |_| {
        state.with(|s| {
            s.predictions
                .iter()
                .filter(|(_, p)| !p.latency_us.is_empty())
                .map(|(k, p)| (k.clone(), p.runtime.clone(), p.latency_us.iter().copied().collect::<Vec<f64>>()))
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section class="panel wide perf" data-testid="scene-perf">
            <h2>"Performance"</h2>
            {move || {
                let rows = series.get();
                if rows.is_empty() {
                    return view! { <p class="muted" data-testid="perf-empty">"No perf events received yet."</p> }.into_any();
                }
                let body = rows
                    .into_iter()
                    .map(|(name, p)| {
                        let history: Vec<f64> = p.history.iter().copied().collect();
                        view! {
                            <tr data-testid="perf-row">
                                <th scope="row">{name}</th>
                                <td class="num">{with_unit(p.value, &p.unit)}</td>
                                <td class="num">{optional(p.p50, &p.unit)}</td>
                                <td class="num">{optional(p.p95, &p.unit)}</td>
                                <td class="num">{optional(p.p99, &p.unit)}</td>
                                <td>
                                    <svg class="spark" viewBox=format!("0 0 {SPARK_W} {SPARK_H}") role="img" aria-label="history">
                                        <polyline points=sparkline(&history)></polyline>
                                    </svg>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <figure class="chart">
                        <table class="perf-table">
                            <thead><tr><th>"series"</th><th>"latest"</th><th>"p50"</th><th>"p95"</th><th>"p99"</th><th>"over time"</th></tr></thead>
                            <tbody>{body}</tbody>
                        </table>
                        <figcaption>"Latest value, percentiles where the producer sends them, and history of every perf series"</figcaption>
                    </figure>
                }
                    .into_any()
            }}
            {move || {
                let models = latency.get();
                (!models.is_empty()).then(|| {
                    let rows = models
                        .into_iter()
                        .map(|(name, runtime, us)| {
                            let q = |p: f64| chart::quantile(&us, p).map_or("–".into(), |v| format!("{v:.0}"));
                            view! {
                                <tr data-testid="latency-row">
                                    <th scope="row">
                                        {if name.ends_with(')') { name.clone() } else { format!("{name} ({runtime})") }}
                                    </th>
                                    <td class="num">{q(0.5)}</td>
                                    <td class="num">{q(0.95)}</td>
                                    <td class="num">{q(0.99)}</td>
                                    <td>{latency_histogram(&us)}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <figure class="chart" data-testid="latency">
                            <table class="perf-table">
                                <thead><tr><th>"model"</th><th>"p50 µs"</th><th>"p95 µs"</th><th>"p99 µs"</th><th>"histogram"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                            <figcaption>"Prediction latency per window on the replayed episode (log-scale histogram)"</figcaption>
                        </figure>
                    }
                })
            }}
        </section>
    }
}
