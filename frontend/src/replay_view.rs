//! The replay scene: strip charts of the chosen channels over the last 10
//! minutes of the episode being replayed, the ground-truth label band, one
//! prediction band per model, and each model's latest class probabilities.
//! A channel picker (desk and lecture modes) chooses the strips; the kiosk
//! shows the first `strips=` channels (6 unless the query says otherwise).

use leptos::prelude::*;

use crate::chart;
use crate::export::ExportButtons;
use crate::state::{DashboardState, ModelPredictions, Replay};

/// Strip chart size in SVG units (scaled by CSS to the panel width).
const W: f64 = 600.0;
const STRIP_H: f64 = 56.0;
/// Pixel columns a strip is downsampled to (min and max kept per column):
/// 10 minutes at 2 Hz (1,200 points) become at most 600.
const STRIP_COLUMNS: usize = 300;
/// Strip coordinates are written as integers in tenths of a column.
const STRIP_SCALE: f64 = 10.0;
const BAND_H: f64 = 14.0;
/// Seconds a prediction window covers before its end.
const WINDOW_S: f64 = 10.0;

/// The visible time range of the replay.
fn time_range(replay: &Replay) -> (f64, f64) {
    let first = replay.t_s.front().copied().unwrap_or(0.0);
    let last = replay.t_s.back().copied().unwrap_or(first + 1.0);
    (first, last.max(first + 1.0))
}

/// A strip's polyline points, its range caption and its latest value (or
/// "no value") for the current history.
fn strip_drawing(replay: &Replay, channel: &str) -> (String, String, String) {
    let values = replay.values.get(channel);
    let data: Vec<(f64, f64)> = replay.t_s.iter().zip(values.into_iter().flatten()).map(|(t, v)| (*t, *v)).collect();
    let finite = data.iter().map(|p| p.1).filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pixels = chart::to_box(&data, time_range(replay), (lo, hi), STRIP_COLUMNS as f64, STRIP_H);
    let points = chart::svg_points_scaled(&chart::downsample_min_max(&pixels, STRIP_COLUMNS), STRIP_SCALE);
    let latest = data.iter().rev().map(|p| p.1).find(|v| v.is_finite());
    let range = format!("{channel} (range {lo:.3} to {hi:.3})");
    let now = latest.map_or_else(|| "no value".to_string(), |v| format!("{v:.3}"));
    (points, range, now)
}

/// One strip chart; only its points, its accessible label and tooltip
/// (with the latest value) and, when it changes, its range caption change
/// as frames arrive (the elements stay), so a frame costs attribute
/// updates, not a rebuild. The latest value is not in the caption's text:
/// re-laying out 46 captions every frame cost ~7 ms of the 16 ms budget.
fn strip(state: RwSignal<DashboardState>, channel: String) -> impl IntoView {
    let drawing = Memo::new({
        let channel = channel.clone();
        move |_| state.with(|s| strip_drawing(&s.replay, &channel))
    });
    let range = Memo::new(move |_| drawing.with(|d| d.1.clone()));
    let latest = Memo::new(move |_| drawing.with(|d| d.2.clone()));
    view! {
        <figure class="chart strip" data-testid=format!("strip-{channel}")>
            <svg
                viewBox=format!("0 0 {} {}", STRIP_COLUMNS as f64 * STRIP_SCALE, STRIP_H * STRIP_SCALE)
                preserveAspectRatio="none"
                role="img"
                aria-label=move || format!("{}, latest {}", range.get(), latest.get())
                title=move || format!("latest {}", latest.get())
            >
                <polyline points=move || drawing.with(|d| d.0.clone())></polyline>
            </svg>
            <figcaption>
                {move || range.get()}
                " "
                <ExportButtons name=format!("strip-{channel}")/>
            </figcaption>
        </figure>
    }
}

fn band(runs: Vec<(f64, f64, String)>, range: (f64, f64), testid: String, label: String) -> impl IntoView + use<> {
    let span = (range.1 - range.0).max(1e-9);
    let rects = runs
        .into_iter()
        .map(|(start, end, class)| {
            let x = ((start.max(range.0) - range.0) / span * W).clamp(0.0, W);
            let x_end = ((end.min(range.1) - range.0) / span * W).clamp(0.0, W);
            let title = format!("{class}: {start:.0}–{end:.0} s");
            view! {
                <rect class=format!("lab lab-{class}") x=format!("{x:.1}") y="0"
                    width=format!("{:.1}", (x_end - x).max(0.5)) height=BAND_H>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <div class="band-row" data-testid=testid>
            <span class="band-label">{label}</span>
            <svg class="band" viewBox=format!("0 0 {W} {BAND_H}") preserveAspectRatio="none">{rects}</svg>
        </div>
    }
}

fn prediction_runs(predictions: &ModelPredictions) -> Vec<(f64, f64, String)> {
    predictions.windows.iter().map(|w| (w.t_s - WINDOW_S, w.t_s, w.predicted.clone())).collect()
}

fn probabilities(models: &[(String, ModelPredictions)]) -> impl IntoView + use<> {
    let labels: Vec<String> =
        models.iter().flat_map(|(_, p)| p.probs.iter().map(|(l, _)| l.clone())).fold(Vec::new(), |mut acc, l| {
            if !acc.contains(&l) {
                acc.push(l);
            }
            acc
        });
    let header = labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view();
    let rows = models
        .iter()
        .map(|(name, p)| {
            let cells = labels
                .iter()
                .map(|l| {
                    let v = p.probs.iter().find(|(k, _)| k == l).map_or(0.0, |(_, v)| *v);
                    view! {
                        <td class="num" style=format!("background: rgba(79, 156, 255, {:.3})", v.clamp(0.0, 1.0) * 0.85)>
                            {format!("{v:.2}")}
                        </td>
                    }
                })
                .collect_view();
            let agreement = p.agreement().map_or("–".to_string(), |a| format!("{:.0} %", a * 100.0));
            view! {
                <tr data-testid="probability-row">
                    <th scope="row">{name.clone()}</th>
                    {cells}
                    <td class="num">{agreement}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="chart probabilities" data-testid="probabilities">
            <table class="heatmap">
                <thead>
                    <tr>
                        <th>"model"</th>
                        {header}
                        <th>"right"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <figcaption>"Latest class probabilities per model, and the share of this episode's windows it got right"</figcaption>
        </figure>
    }
}

/// The replay scene.
#[component]
pub fn ReplayScene(state: RwSignal<DashboardState>, controls: bool, strips: usize) -> impl IntoView {
    let picked: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    let channels = Memo::new(move |_| state.with(|s| s.replay.channels.clone()));
    let shown = move || {
        let picked = picked.get();
        if picked.is_empty() { channels.get().into_iter().take(strips).collect() } else { picked }
    };
    let toggle = move |name: String| {
        picked.update(|p| {
            if p.is_empty() {
                *p = channels.get_untracked().into_iter().take(strips).collect();
            }
            match p.iter().position(|c| *c == name) {
                Some(i) => {
                    p.remove(i);
                }
                None => p.push(name),
            }
        })
    };
    view! {
        <section class="panel wide replay" data-testid="scene-replay">
            {move || {
                state.with(|s| {
                    let r = &s.replay;
                    if r.t_s.is_empty() {
                        return view! { <h2>"Replay"</h2><p class="muted" data-testid="replay-empty">"No replay running."</p> }.into_any();
                    }
                    let t = r.t_s.back().copied().unwrap_or(0.0);
                    let truth = r.labels.back().cloned().unwrap_or_default();
                    view! {
                        <h2 data-testid="replay-title">
                            {format!("Replay — {} on {}, t = {t:.1} s, truth: {truth}", r.episode_id, r.host_id)}
                        </h2>
                    }
                        .into_any()
                })
            }}
            {controls
                .then(|| {
                    view! {
                        <details class="channel-picker">
                            <summary>"Channels"</summary>
                            <div class="chips">
                                {move || {
                                    let chosen = shown();
                                    channels
                                        .get()
                                        .into_iter()
                                        .map(|c| {
                                            let on = chosen.contains(&c);
                                            let name = c.clone();
                                            view! {
                                                <label class="chip">
                                                    <input type="checkbox" prop:checked=on on:change=move |_| toggle(name.clone())/>
                                                    {c}
                                                </label>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </div>
                        </details>
                    }
                })}
            <div class="strips">
                <For each=shown key=|channel| channel.clone() let:channel>
                    {strip(state, channel)}
                </For>
            </div>
            {move || {
                state.with(|s| {
                    let r = &s.replay;
                    if r.t_s.is_empty() {
                        return ().into_any();
                    }
                    let range = time_range(r);
                    let times: Vec<f64> = r.t_s.iter().copied().collect();
                    let labels: Vec<&str> = r.labels.iter().map(String::as_str).collect();
                    let truth_runs =
                        chart::label_runs(&times, &labels, range.1).into_iter().map(|(a, b, l)| (a, b, l.to_string())).collect();
                    let models: Vec<(String, ModelPredictions)> =
                        s.predictions.iter().filter(|(_, p)| !p.windows.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
                    view! {
                        <div class="bands">
                            {band(truth_runs, range, "band-truth".into(), "truth".into())}
                            {models
                                .iter()
                                .map(|(name, p)| band(prediction_runs(p), range, format!("band-{name}"), name.clone()))
                                .collect_view()}
                        </div>
                        {(!models.is_empty()).then(|| probabilities(&models))}
                    }
                        .into_any()
                })
            }}
        </section>
    }
}
