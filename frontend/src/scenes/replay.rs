//! The replay scene: strip charts (canvas, scrolling: `strip_canvas`) of
//! the chosen channels over the last 10 minutes of the episode being
//! replayed, the ground-truth label band, one
//! prediction band per model (each run of a class coloured by `palette` and
//! named on the band, so it reads without colour), and each model's latest
//! class probabilities.
//! A channel picker (desk and lecture modes) chooses the strips; before a
//! pick (and always on the kiosk) the first `strips=` channels are shown,
//! or, without `strips=`, as many as fit the first page above the bands
//! in the paged layout (6 where the page scrolls).

use std::cell::RefCell;

use leptos::prelude::*;

use crate::chart;
use crate::export::ExportButtons;
use crate::pager;
use crate::palette;
use crate::route::DEFAULT_STRIPS;
use crate::state::{DashboardState, ModelPredictions, Replay};
use crate::strip_canvas::{SizeWatch, StripSlot, span_of, watch_size};
use crate::theme::ThemeChanges;

const BAND_H: f64 = 14.0;
/// Seconds a prediction window covers before its end.
const WINDOW_S: f64 = 10.0;

/// The visible time range of the replay: the strips' span, ending at the
/// newest frame (the bands use the same, so they line up with the strips).
fn time_range(replay: &Replay) -> (f64, f64) {
    let last = replay.t_s.back().copied().unwrap_or(0.0);
    (last - span_of(replay), last)
}

/// "no value" or the channel's latest value.
fn latest_text(replay: &Replay, channel: &str) -> String {
    let latest = replay.values.get(channel).and_then(|v| v.iter().rev().find(|v| v.is_finite()).copied());
    latest.map_or_else(|| "no value".to_string(), |v| format!("{v:.3}"))
}

/// One strip chart on a `<canvas>` (see `strip_canvas`): a frame scrolls
/// the bitmap and strokes the new segment. Nothing else of the strip
/// changes per frame: the caption and accessible label (channel and
/// scale) change when the scale does, and the tooltip reads the latest
/// value when the pointer enters (46 labels rewritten per frame cost ~2 ms).
fn strip(state: RwSignal<DashboardState>, channel: String) -> impl IntoView {
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    let scale = RwSignal::new(None::<(f64, f64)>);
    let tooltip = RwSignal::new(String::new());
    // The canvas' size in device pixels, from a ResizeObserver (a redraw
    // when it changes; no layout is read per frame).
    let size = RwSignal::new(None::<(u32, u32)>);
    let watch = StoredValue::new_local(None::<SizeWatch>);
    canvas_ref.on_load(move |canvas| watch.set_value(watch_size(&canvas, move |s| size.set(Some(s)))));
    on_cleanup(move || watch.update_value(|w| drop(w.take())));
    let slot = RefCell::new(StripSlot::default());
    // The line's colour is read from the theme: a new theme redraws.
    let theme_changes = use_context::<ThemeChanges>();
    let drawn_theme = std::cell::Cell::new(0);
    Effect::new({
        let channel = channel.clone();
        move |_| {
            let Some(size) = size.get() else { return };
            let Some(canvas) = canvas_ref.get() else { return };
            if let Some(changes) = theme_changes
                && changes.0.get() != drawn_theme.get()
            {
                drawn_theme.set(changes.0.get_untracked());
                slot.borrow_mut().forget();
            }
            let redrawn = state.with(|s| slot.borrow_mut().update(&canvas, size, &s.replay, &channel));
            if redrawn.is_some() && redrawn != scale.get_untracked() {
                scale.set(redrawn);
            }
        }
    });
    let described = {
        let channel = channel.clone();
        move || match scale.get() {
            Some((lo, hi)) => format!("{channel} ({lo:.3} to {hi:.3})"),
            None => channel.clone(),
        }
    };
    let scale_text = move || scale.get().map(|(lo, hi)| format!("{} to {}", chart::compact(lo), chart::compact(hi)));
    let on_enter = {
        let channel = channel.clone();
        move |_| {
            tooltip.set(format!("{channel}: latest {}", state.with_untracked(|s| latest_text(&s.replay, &channel))))
        }
    };
    view! {
        <figure class="chart strip" data-testid=format!("strip-{channel}")>
            <figcaption>
                <span class="strip-name">{channel.clone()}</span>
                <span class="strip-scale muted">{scale_text}</span>
                " "
                <ExportButtons name=format!("strip-{channel}") canvas=true/>
            </figcaption>
            <canvas node_ref=canvas_ref role="img" aria-label=described title=tooltip on:pointerenter=on_enter></canvas>
        </figure>
    }
}

/// One label band (`truth` or a model's predictions) over the strips'
/// time axis: the SVG's viewBox is in seconds, so a frame moves the
/// viewBox and re-creates only the run that grew, not the band. Over it,
/// each run of a class (windows of one class joined) names its class; the
/// names are placed by the `--t0` and `--span` the bands share
/// ([`band_axis`]), so a frame changes two properties, not the names.
fn band(state: RwSignal<DashboardState>, key: String) -> impl IntoView {
    let runs = Memo::new({
        let key = key.clone();
        move |_| state.with(|s| band_runs(s, &key))
    });
    let named = Memo::new(move |_| runs.with(|r| chart::joined_runs(r)));
    let view_box = Memo::new(move |_| {
        state.with(|s| {
            let (t0, t1) = time_range(&s.replay);
            format!("{t0:.2} 0 {} {BAND_H}", t1 - t0)
        })
    });
    let label = if key == TRUTH { "truth".to_string() } else { key.clone() };
    view! {
        <div class="band-row" data-testid=format!("band-{key}")>
            <span class="band-label">{label}</span>
            <div class="band-track">
            <svg class="band" viewBox=view_box preserveAspectRatio="none">
                <For
                    each=move || runs.get()
                    key=|(start, end, class)| (start.to_bits(), end.to_bits(), class.clone())
                    let:run
                >
                    {
                        let (start, end, class) = run;
                        view! {
                            <rect class=format!("lab lab-{class}") x=format!("{start:.2}") y="0"
                                width=format!("{:.2}", (end - start).max(0.1)) height=BAND_H>
                                <title>{format!("{class}: {start:.0}–{end:.0} s")}</title>
                            </rect>
                        }
                    }
                </For>
            </svg>
            <div class="band-names" aria-hidden="true">
                <For
                    each=move || named.get()
                    key=|(start, end, class)| (start.to_bits(), end.to_bits(), class.clone())
                    let:run
                >
                    {
                        let (start, end, class) = run;
                        view! {
                            <span class=format!("band-text lab-{class}") style=format!("--from:{start:.2};--to:{end:.2}")>
                                {palette::short_name(&class).to_string()}
                            </span>
                        }
                    }
                </For>
            </div>
            </div>
        </div>
    }
}

/// The bands' shared time axis as the custom properties their class names
/// are placed by (`--t0`: seconds at the left edge, `--span`: seconds across).
fn band_axis(replay: &Replay) -> String {
    let (t0, t1) = time_range(replay);
    format!("--t0:{t0:.2};--span:{:.2}", (t1 - t0).max(1e-3))
}

/// Key of the ground-truth band.
const TRUTH: &str = "truth";

/// The runs of band `key`: the truth labels of the replay, or a model's
/// predicted windows.
fn band_runs(s: &DashboardState, key: &str) -> Vec<(f64, f64, String)> {
    let r = &s.replay;
    if key == TRUTH {
        let Some(&last) = r.t_s.back() else { return Vec::new() };
        let times: Vec<f64> = r.t_s.iter().copied().collect();
        let labels: Vec<&str> = r.labels.iter().map(String::as_str).collect();
        chart::label_runs(&times, &labels, last).into_iter().map(|(a, b, l)| (a, b, l.to_string())).collect()
    } else {
        s.predictions.get(key).map(prediction_runs).unwrap_or_default()
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
                        <td class=format!("num {}", palette::heat_class(v))>
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

/// The element's box on the screen.
fn rect_of(element: &web_sys::Element) -> web_sys::DomRect {
    element.get_bounding_client_rect()
}

/// In the paged layout, how many strips fit the first page with the bands
/// under them, from the strips as laid out now (`None` where the page
/// scrolls or nothing is laid out yet). Reads the layout once.
fn strips_that_fit(
    strips: &web_sys::HtmlElement,
    bands: &web_sys::HtmlElement,
    current: usize,
    channels: usize,
) -> Option<usize> {
    let window = web_sys::window()?;
    let (width, height) = (window.inner_width().ok()?.as_f64()?, window.inner_height().ok()?.as_f64()?);
    if !pager::is_paged(width, height) || current == 0 {
        return None;
    }
    let main = window.document()?.query_selector("main.panels").ok()??;
    let panel = strips.closest(".panel").ok()??;
    let first = strips.first_element_child()?;
    let style = |el: &web_sys::Element, property: &str| {
        window.get_computed_style(el).ok().flatten().and_then(|s| s.get_property_value(property).ok())
    };
    let gap = style(strips, "row-gap").map_or(0.0, |g| pager::css_px(&g));
    let below = style(&panel, "padding-bottom").map_or(0.0, |p| pager::css_px(&p))
        + style(bands, "margin-bottom").map_or(0.0, |m| pager::css_px(&m))
        + 2.0;
    let (first, bands_box, main_box) = (rect_of(&first), rect_of(bands), rect_of(&main));
    if first.height() <= 0.0 {
        return None;
    }
    // Pushed into a later column: the bands start right of the strips.
    let spilled = bands_box.left() > first.left() + first.width() / 2.0;
    let room = main_box.bottom() - below - bands_box.bottom();
    Some(pager::rows_that_fit(current, room, first.height() + gap, spilled, channels))
}

/// The replay scene.
#[component]
pub fn ReplayScene(state: RwSignal<DashboardState>, controls: bool, strips: Option<usize>) -> impl IntoView {
    let picked: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    let channels = Memo::new(move |_| state.with(|s| s.replay.channels.clone()));
    // Strips before the user picks: `strips=`, or as many as fit (measured
    // once a second in the paged layout), or the default.
    let count = RwSignal::new(strips.unwrap_or(DEFAULT_STRIPS));
    let strips_ref = NodeRef::<leptos::html::Div>::new();
    let bands_ref = NodeRef::<leptos::html::Div>::new();
    if strips.is_none() {
        let fit = move || {
            let (Some(strips_el), Some(bands_el)) = (strips_ref.get_untracked(), bands_ref.get_untracked()) else {
                return;
            };
            if !picked.with_untracked(Vec::is_empty) {
                return;
            }
            let available = channels.with_untracked(Vec::len);
            let current = count.get_untracked().min(available);
            if let Some(n) = strips_that_fit(&strips_el, &bands_el, current, available)
                && n != current
            {
                count.set(n);
            }
        };
        match set_interval_with_handle(fit, std::time::Duration::from_secs(1)) {
            Ok(handle) => on_cleanup(move || handle.clear()),
            Err(_) => leptos::logging::warn!("cis490: could not start fitting the replay strips"),
        }
    }
    let shown = move || {
        let picked = picked.get();
        if picked.is_empty() { channels.get().into_iter().take(count.get()).collect() } else { picked }
    };
    let toggle = move |name: String| {
        picked.update(|p| {
            if p.is_empty() {
                *p = channels.get_untracked().into_iter().take(count.get_untracked()).collect();
            }
            match p.iter().position(|c| *c == name) {
                Some(i) => {
                    p.remove(i);
                }
                None => p.push(name),
            }
        })
    };
    // Per frame only the title's text changes here (a re-created title
    // element re-laid out the 46 strips below it: ~5 ms a frame).
    let title = Memo::new(move |_| {
        state.with(|s| {
            let r = &s.replay;
            let t = r.t_s.back()?;
            let truth = r.labels.back().map_or("", String::as_str);
            Some(format!("Replay — {} on {}, t = {t:.1} s, truth: {truth}", r.episode_id, r.host_id))
        })
    });
    // Which models have predictions on the replay, and when they last
    // changed: the bands and the probability table follow this, not frames.
    let prediction_keys = Memo::new(move |_| {
        state.with(|s| {
            s.predictions
                .iter()
                .filter(|(_, p)| !p.windows.is_empty())
                .map(|(k, p)| (k.clone(), p.windows.len(), p.windows.back().map(|w| w.t_s.to_bits())))
                .collect::<Vec<_>>()
        })
    });
    let band_keys = Memo::new(move |_| {
        if title.with(Option::is_none) {
            return Vec::new();
        }
        let mut keys = vec![TRUTH.to_string()];
        prediction_keys.with(|p| keys.extend(p.iter().map(|(k, _, _)| k.clone())));
        keys
    });
    let bands_axis = Memo::new(move |_| state.with(|s| band_axis(&s.replay)));
    view! {
        <section class="panel wide replay" data-testid="scene-replay">
            <h2 data-testid="replay-title">{move || title.get().unwrap_or_else(|| "Replay".into())}</h2>
            <Show when=move || title.with(Option::is_none)>
                <p class="muted" data-testid="replay-empty">"No replay running."</p>
            </Show>
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
            <div class="strips" node_ref=strips_ref>
                <For each=shown key=|channel| channel.clone() let:channel>
                    {strip(state, channel)}
                </For>
            </div>
            <div class="bands" node_ref=bands_ref style=move || bands_axis.get()>
                <For each=move || band_keys.get() key=|key| key.clone() let:key>
                    {band(state, key)}
                </For>
            </div>
            {move || {
                prediction_keys.track();
                let models: Vec<(String, ModelPredictions)> = state.with_untracked(|s| {
                    s.predictions.iter().filter(|(_, p)| !p.windows.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect()
                });
                (!models.is_empty()).then(|| probabilities(&models))
            }}
        </section>
    }
}
