//! The replay scene: strip charts (canvas, scrolling: `strip_canvas`) of
//! the chosen channels over the kept history of the episode being
//! replayed (up to 10 minutes), the ground-truth label band, one
//! prediction band per model, a time axis in seconds under the bands, a
//! legend of the class colours, and each model's latest class
//! probabilities. Each strip has y ticks in its channel's unit; the
//! pointer shows a crosshair with every strip's value at that frame. A
//! channel picker and a time-range picker (last minute, 5 minutes, all;
//! the wheel zooms, a drag pans, a double-click follows live again) are
//! shown in desk and lecture modes; the kiosk shows the first `strips=`
//! channels, live: `strips=N`, or as many as fit the first page above the
//! bands in the paged layout (6 where the page scrolls). Each run of a
//! class on a band is coloured by `palette` and named on the band, so it
//! reads without colour.
//!
//! Everything the pointer moves (crosshair, readouts) sits in overlay
//! elements above the canvases and follows one CSS variable set on the
//! plots' container: no strip is redrawn for it.

use std::cell::RefCell;

use cis490_shared::label::Label;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::axis::{self, time_ticks, value_ticks};
use crate::chart::{self, BandRun};
use crate::export::ExportButtons;
use crate::pager;
use crate::palette;
use crate::route::DEFAULT_STRIPS;
use crate::state::{DashboardState, ModelPredictions, Replay};
use crate::strip_canvas::{SizeWatch, StripSlot, pixel_ratio, shown_range, watch_size};
use crate::theme::ThemeChanges;
use crate::time_view::{PRESETS, TimeView, nearest_frame, track_shift};
use crate::units::{channel_unit, with_unit};

const BAND_H: f64 = 14.0;
/// Seconds a prediction window covers before its end.
const WINDOW_S: f64 = 10.0;
/// Most y ticks on a strip (it is about 50 px tall).
const STRIP_TICKS: usize = 2;
/// CSS pixels per time-axis label.
const TIME_TICK_PX: f64 = 80.0;

/// "no value" or the channel's latest value, in its unit.
fn latest_text(replay: &Replay, channel: &str) -> String {
    let latest = replay.values.get(channel).and_then(|v| v.iter().rev().find(|v| v.is_finite()).copied());
    latest.map_or_else(|| "no value".to_string(), |v| with_unit(v, channel_unit(channel)))
}

/// The channel's value at frame time `t`, in its unit.
fn value_text(replay: &Replay, channel: &str, t: f64) -> String {
    let index = nearest_frame(&replay.t_s, t, 1e-6);
    let value = index.and_then(|i| replay.values.get(channel).and_then(|v| v.get(i)).copied());
    match value {
        Some(v) if v.is_finite() => with_unit(v, channel_unit(channel)),
        _ => "no value".into(),
    }
}

/// The frame under the pointer, shared by every strip and band: the
/// time of the kept frame nearest the pointer, `None` off the plots.
#[derive(Clone, Copy)]
struct Cursor {
    frame_t: Memo<Option<f64>>,
}

/// The crosshair line of one plot (positioned by CSS from `--cursor-x`).
fn crosshair() -> impl IntoView {
    view! { <div class="plot-crosshair" aria-hidden="true"></div> }
}

/// The y ticks of a strip with scale `lo..hi` in `unit`: labels over the
/// canvas, each just above its value (below it near the top), placed as
/// the strip's geometry places values (1.5 px inset at top and bottom).
fn strip_ticks(scale: Option<(f64, f64)>, unit: &'static str) -> impl IntoView + use<> {
    let ticks = scale.map(|(lo, hi)| value_ticks(lo, hi, unit, STRIP_TICKS)).unwrap_or_default();
    ticks
        .into_iter()
        .map(|tick| {
            let share = scale.map_or(0.5, |range| axis::share(tick.value, range));
            let style = format!("top: calc(1.5px + {:.4} * (100% - 3px))", 1.0 - share);
            view! {
                <div class="strip-tick" class:label-below={share > 0.8} style=style>
                    <span class="strip-tick-label">{tick.label}</span>
                </div>
            }
        })
        .collect_view()
}

/// One strip chart on a `<canvas>` (see `strip_canvas`): a frame scrolls
/// the bitmap and strokes the new segment. Nothing else of the strip
/// changes per frame: the y ticks, caption and accessible label (channel
/// and scale) change when the scale does, the tooltip reads the latest
/// value when the pointer enters (46 labels rewritten per frame cost ~2
/// ms), and the readout only while the pointer is over the plots.
fn strip(state: RwSignal<DashboardState>, channel: String, view: RwSignal<TimeView>, cursor: Cursor) -> impl IntoView {
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    let scale = RwSignal::new(None::<(f64, f64)>);
    let tooltip = RwSignal::new(String::new());
    let unit = channel_unit(&channel);
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
            let view = view.get();
            let redrawn = state.with(|s| slot.borrow_mut().update(&canvas, size, &s.replay, &channel, view));
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
    let on_enter = {
        let channel = channel.clone();
        move |_| {
            tooltip.set(format!("{channel}: latest {}", state.with_untracked(|s| latest_text(&s.replay, &channel))))
        }
    };
    let readout = {
        let channel = channel.clone();
        move || cursor.frame_t.get().map(|t| state.with_untracked(|s| value_text(&s.replay, &channel, t)))
    };
    view! {
        <figure class="chart strip" data-testid=format!("strip-{channel}")>
            <figcaption>
                <span class="strip-name">{channel.clone()}</span>
                <span class="strip-unit muted">{unit}</span>
                " "
                <ExportButtons name=format!("strip-{channel}") canvas=true/>
            </figcaption>
            <div class="strip-plot plot-area">
                <canvas node_ref=canvas_ref role="img" aria-label=described title=tooltip on:pointerenter=on_enter></canvas>
                <div class="strip-ticks" aria-hidden="true">{move || strip_ticks(scale.get(), unit)}</div>
                {crosshair()}
                <span class="plot-readout">{readout}</span>
            </div>
        </figure>
    }
}

/// One label band (`truth` or a model's predictions) over the strips'
/// time axis: the SVG's viewBox is in seconds, so a frame moves the band
/// (one transform, `time_view::track_shift`, in whole pixels) and
/// changes nothing inside it. A rect is
/// a run of one class (windows of one class joined, drawn in order, so
/// what a later window says covers the overlap as before), named on the
/// band by a label placed by the `--span` and `--t0c` the bands share
/// ([`band_axis`]). The runs change only when a class changes or a
/// model's window arrives: the truth's last run is open-ended (nothing is
/// drawn right of the newest frame), so a frame neither re-creates a rect
/// nor lays out the page (`<main>` is a fragmented multi-column box, where
/// any change inside lays out all of it).
fn band(
    state: RwSignal<DashboardState>,
    key: String,
    range: Memo<(f64, f64)>,
    shift: Memo<String>,
    prediction_keys: Memo<Vec<PredictionKey>>,
    cursor: Cursor,
) -> impl IntoView {
    let runs = Memo::new({
        let key = key.clone();
        move |_| {
            if key == TRUTH {
                state.with(|s| {
                    chart::label_runs(s.replay.t_s.iter().copied().zip(s.replay.labels.iter().map(String::as_str)))
                })
            } else {
                prediction_keys.track();
                state.with_untracked(|s| s.predictions.get(&key).map(prediction_runs).unwrap_or_default())
            }
        }
    });
    // In episode seconds from 0; a frame moves the band by the shared
    // `shift` (a transform), the viewBox changes only with the span.
    let view_box = Memo::new(move |_| {
        let span = range.with(|(t0, t1)| t1 - t0);
        format!("0 0 {span:.2} {BAND_H}")
    });
    let readout = {
        let key = key.clone();
        move || cursor.frame_t.get().map(|t| state.with_untracked(|s| band_label_at(s, &key, t)))
    };
    let label = if key == TRUTH { "truth".to_string() } else { key.clone() };
    view! {
        <div class="band-row" data-testid=format!("band-{key}")>
            <span class="band-label">{label}</span>
            <div class="band-plot plot-area">
                <svg class="band" viewBox=view_box preserveAspectRatio="none" style:transform=move || shift.get()>
                    <For each=move || runs.get() key=BandRun::key let:run>
                        {
                            let BandRun { start, end, class, open } = run;
                            let tip = if open {
                                format!("{class}: from {start:.0} s")
                            } else {
                                format!("{class}: {start:.0}–{end:.0} s")
                            };
                            view! {
                                <rect class=format!("lab lab-{class}") x=format!("{start:.2}") y="0"
                                    width=format!("{:.2}", (end - start).max(0.1)) height=BAND_H>
                                    <title>{tip}</title>
                                </rect>
                            }
                        }
                    </For>
                </svg>
                <div class="band-names" aria-hidden="true" style:transform=move || shift.get()>
                    <For each=move || runs.get() key=BandRun::key let:run>
                        {
                            let BandRun { start, end, class, .. } = run;
                            view! {
                                <span class=format!("band-text lab-{class}") style=format!("--from:{start:.2};--to:{end:.2}")>
                                    {palette::short_name(&class).to_string()}
                                </span>
                            }
                        }
                    </For>
                </div>
                {crosshair()}
                <span class="plot-readout">{readout}</span>
            </div>
        </div>
    }
}

/// The bands' shared time range as the custom properties their names are
/// placed by: `--span` (seconds across) and `--t0c` (the left edge `t0`
/// rounded up to a 25th of the span: the names of runs that began earlier
/// are put there, so they stay on screen, a little right of the edge).
/// Both change rarely (`--t0c` every 4 % of the span; each change lays the
/// names out again); a property set here is inherited by every band, so
/// the per-frame shift is not one of them.
fn band_axis((t0, t1): (f64, f64)) -> String {
    let span = (t1 - t0).max(1e-3);
    let step = span / 25.0;
    let t0c = (t0 / step).ceil() * step;
    format!("--span:{span:.2};--t0c:{t0c:.2}")
}

/// The time axis under the bands: ticks in seconds since the episode
/// start, as many as the axis' width holds, and the pointer's frame time.
/// The ticks sit on a track placed at time 0 (each at `t / span` of the
/// axis' width); a frame only moves the track (one `transform`, no
/// layout), ticks are added and dropped when they enter and leave.
fn time_axis(
    range: Memo<(f64, f64)>,
    shift: Memo<String>,
    plot_device_px: RwSignal<f64>,
    cursor: Cursor,
) -> impl IntoView {
    let axis_ref = NodeRef::<leptos::html::Div>::new();
    let width_px = Memo::new(move |_| plot_device_px.get() / pixel_ratio());
    let watch = StoredValue::new_local(None::<SizeWatch>);
    axis_ref.on_load(move |axis| {
        watch.set_value(watch_size(&axis, move |(w, _)| plot_device_px.set(f64::from(w))));
    });
    on_cleanup(move || watch.update_value(|w| drop(w.take())));
    let max_ticks = Memo::new(move |_| ((width_px.get() / TIME_TICK_PX) as usize).clamp(2, 12));
    let ticks = Memo::new(move |_| {
        let (t0, t1) = range.get();
        time_ticks(t0, t1, max_ticks.get())
    });
    let span = Memo::new(move |_| range.with(|(t0, t1)| t1 - t0));
    view! {
        <div class="band-row time-axis-row" data-testid="time-axis">
            <span class="band-label muted">"time"</span>
            <div class="time-axis plot-area" node_ref=axis_ref>
                <div class="time-track" style:transform=move || shift.get()>
                    <For each=move || ticks.get() key=|tick| tick.value.to_bits() let:tick>
                        {
                            let t = tick.value;
                            view! {
                                <span class="time-tick" style:left=move || format!("{:.3}%", t / span.get() * 100.0)>
                                    {tick.label}
                                </span>
                            }
                        }
                    </For>
                </div>
                {crosshair()}
                <span class="time-cursor">{move || cursor.frame_t.get().map(|t| format!("{t:.1} s"))}</span>
            </div>
        </div>
    }
}

/// The class colours of the bands, named.
fn class_legend() -> impl IntoView {
    let entries = Label::ALL
        .iter()
        .map(|label| {
            let name = label.as_str();
            view! {
                <span class="class-legend-entry">
                    <svg class="class-swatch" viewBox="0 0 10 10" aria-hidden="true">
                        <rect class=format!("lab-{name}") width="10" height="10" rx="2"></rect>
                    </svg>
                    {name}
                </span>
            }
        })
        .collect_view();
    view! {
        <p class="class-legend" data-testid="class-legend">
            {entries}
        </p>
    }
}

/// The time-range picker: the presets, and what the view is now.
fn range_picker(view: RwSignal<TimeView>) -> impl IntoView {
    let buttons = PRESETS
        .iter()
        .map(|&(label, preset)| {
            view! {
                <button class="range-button" class:active=move || view.get() == preset
                    aria-pressed=move || (view.get() == preset).to_string() on:click=move |_| view.set(preset)>
                    {label}
                </button>
            }
        })
        .collect_view();
    let state_text = move || match view.get() {
        TimeView::Fixed { t0, t1 } => format!("paused on {t0:.0}–{t1:.0} s; double-click the charts to follow live"),
        TimeView::Live { span_s: Some(span) } => format!("live, last {span:.0} s; wheel zooms, drag pans"),
        TimeView::Live { span_s: None } => "live; wheel zooms, drag pans, double-click resets".into(),
    };
    view! {
        <div class="time-range-picker" role="group" aria-label="Time range" data-testid="time-range">
            "Time range " {buttons}
            <span class="muted time-range-state" data-testid="time-range-state">{state_text}</span>
        </div>
    }
}

/// A drag that pans the view: where it started and what was shown then.
#[derive(Clone, Copy)]
struct Drag {
    /// Plot column's left edge and width (CSS px).
    left: f64,
    width: f64,
    /// Pointer x at the start.
    start_x: f64,
    /// Range and view at the start.
    range: (f64, f64),
    view: TimeView,
    /// Whether the pointer moved far enough to pan.
    moved: bool,
}

/// The plot under a pointer event: its left edge and width (CSS px).
fn plot_box(ev: &web_sys::MouseEvent) -> Option<(f64, f64)> {
    let target: web_sys::Element = ev.target()?.dyn_into().ok()?;
    let plot = target.closest(".plot-area").ok()??;
    let rect = plot.get_bounding_client_rect();
    (rect.width() > 0.0).then(|| (rect.left(), rect.width()))
}

/// The oldest and newest kept frame times.
fn history(state: RwSignal<DashboardState>) -> (f64, f64) {
    state.with_untracked(|s| {
        let newest = s.replay.t_s.back().copied().unwrap_or(0.0);
        (s.replay.t_s.front().copied().unwrap_or(newest), newest)
    })
}

/// Key of the ground-truth band.
const TRUTH: &str = "truth";

/// A model's band: its windows, those of one class in a row joined.
fn prediction_runs(predictions: &ModelPredictions) -> Vec<BandRun> {
    let windows: Vec<(f64, f64, String)> =
        predictions.windows.iter().map(|w| (w.t_s - WINDOW_S, w.t_s, w.predicted.clone())).collect();
    chart::joined_runs(&windows).into_iter().map(BandRun::closed).collect()
}

/// What band `key` says at frame time `t`: the truth label, or the class
/// of the model's latest window covering `t`.
fn band_label_at(s: &DashboardState, key: &str, t: f64) -> String {
    let r = &s.replay;
    let label = if key == TRUTH {
        nearest_frame(&r.t_s, t, 1e-6).and_then(|i| r.labels.get(i)).cloned()
    } else {
        s.predictions.get(key).and_then(|p| {
            p.windows.iter().rev().find(|w| w.t_s - WINDOW_S < t && t <= w.t_s).map(|w| w.predicted.clone())
        })
    };
    label.unwrap_or_else(|| "–".into())
}

/// A row of the probability table: a model's latest class probabilities
/// and the share of the episode's windows it got right.
struct ProbabilityRow {
    model: String,
    probs: Vec<(String, f64)>,
    right: Option<f64>,
}

fn probabilities(models: &[ProbabilityRow]) -> impl IntoView + use<> {
    let labels: Vec<String> =
        models.iter().flat_map(|row| row.probs.iter().map(|(l, _)| l.clone())).fold(Vec::new(), |mut acc, l| {
            if !acc.contains(&l) {
                acc.push(l);
            }
            acc
        });
    let header = labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view();
    let rows = models
        .iter()
        .map(|row| {
            let cells = labels
                .iter()
                .map(|l| {
                    let v = row.probs.iter().find(|(k, _)| k == l).map_or(0.0, |(_, v)| *v);
                    view! {
                        <td class=format!("num {}", palette::heat_class(v))>
                            {format!("{v:.2}")}
                        </td>
                    }
                })
                .collect_view();
            let agreement = row.right.map_or("–".to_string(), |a| format!("{:.0} %", a * 100.0));
            view! {
                <tr data-testid="probability-row">
                    <th scope="row">{row.model.clone()}</th>
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

/// Whether the `<details>` a `toggle` event came from is open now.
fn details_open(ev: &web_sys::Event) -> bool {
    ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok()).is_some_and(|d| d.open())
}

/// The element's box on the screen.
fn rect_of(element: &web_sys::Element) -> web_sys::DomRect {
    element.get_bounding_client_rect()
}

/// In the paged layout, how many strips fit the first page with the bands
/// (and the time axis) under them, from the strips as laid out now
/// (`None` where the page scrolls or nothing is laid out yet). Reads the
/// layout once.
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

/// A model with predictions on the replay: its key, how many windows it
/// has and the end of the last (bits), which change when a window arrives.
type PredictionKey = (String, usize, Option<u64>);

/// The replay's clock for the header: the newest frame's time (seconds
/// since the episode began) and its true label (`None` when no replay
/// runs).
pub fn clock(replay: &Replay) -> Option<String> {
    let t = replay.t_s.back()?;
    let truth = replay.labels.back().map_or("–", String::as_str);
    Some(format!("t = {t:.1} s · {truth}"))
}

/// The replay scene.
#[component]
pub fn ReplayScene(state: RwSignal<DashboardState>, controls: bool, strips: Option<usize>) -> impl IntoView {
    let picked: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    let picker_open = RwSignal::new(false);
    // Set once the scene has been painted: the probability table (on a
    // later page) is built then, off the switch's path.
    let settled = RwSignal::new(false);
    super::after_paint(move || settled.set(true));
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
    // The heading changes per episode; the clock (time and truth, which
    // change every frame) is in the header (`clock`), outside `<main>`,
    // where a change lays out one fixed-size box, not the pages.
    let title = Memo::new(move |_| {
        state.with(|s| {
            let r = &s.replay;
            r.t_s.back()?;
            Some(format!("Replay — {} on {}", r.episode_id, r.host_id))
        })
    });
    // Which models have predictions on the replay, and when they last
    // changed: the bands and the probability table follow this, not frames.
    let prediction_keys: Memo<Vec<PredictionKey>> = Memo::new(move |_| {
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
    // The time range shown (live, or zoomed and panned with controls); a
    // new episode starts live again.
    let view = RwSignal::new(TimeView::AUTO);
    let range = Memo::new(move |_| state.with(|s| shown_range(&s.replay, view.get())));
    let bands_axis = Memo::new(move |_| band_axis(range.get()));
    // The plots' width in device pixels (all share the grid's column),
    // from the time axis' ResizeObserver; every band and the axis move by
    // the same whole-pixel shift.
    let plot_device_px = RwSignal::new(0.0f64);
    let shift = Memo::new(move |_| track_shift(range.get(), plot_device_px.get(), pixel_ratio()));
    let episode = Memo::new(move |_| state.with(|s| s.replay.episode_id.clone()));
    Effect::new(move |previous: Option<String>| {
        let now = episode.get();
        if previous.is_some_and(|p| p != now) {
            view.set(TimeView::AUTO);
        }
        now
    });
    // The pointer: nothing here is read per frame while it is off the plots.
    let share = RwSignal::new(None::<f64>);
    let frame_t = Memo::new(move |_| {
        let x = share.get()?;
        let (t0, t1) = range.get();
        let t = t0 + x * (t1 - t0);
        let max_gap = ((t1 - t0) / 200.0).max(1.0);
        state.with(|s| nearest_frame(&s.replay.t_s, t, max_gap).map(|i| s.replay.t_s[i]))
    });
    let cursor = Cursor { frame_t };
    let drag = StoredValue::new(None::<Drag>);
    let on_move = move |ev: web_sys::PointerEvent| {
        if let Some(mut d) = drag.get_value() {
            let dx = f64::from(ev.client_x()) - d.start_x;
            d.moved |= dx.abs() > 3.0;
            if d.moved {
                view.set(d.view.panned(d.range, dx / d.width, history(state)));
            }
            drag.set_value(Some(d));
            share.set(Some(((f64::from(ev.client_x()) - d.left) / d.width).clamp(0.0, 1.0)));
            return;
        }
        share.set(plot_box(&ev).map(|(left, width)| ((f64::from(ev.client_x()) - left) / width).clamp(0.0, 1.0)));
    };
    let on_down = move |ev: web_sys::PointerEvent| {
        if !controls || ev.button() != 0 {
            return;
        }
        let Some((left, width)) = plot_box(&ev) else { return };
        let start_x = f64::from(ev.client_x());
        drag.set_value(Some(Drag {
            left,
            width,
            start_x,
            range: range.get_untracked(),
            view: view.get_untracked(),
            moved: false,
        }));
        if let Some(plots) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let _ = plots.set_pointer_capture(ev.pointer_id());
        }
    };
    let on_up = move |_: web_sys::PointerEvent| drag.set_value(None);
    let on_leave = move |_: web_sys::PointerEvent| {
        if drag.with_value(Option::is_none) {
            share.set(None);
        }
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        if !controls || ev.delta_y() == 0.0 {
            return;
        }
        let Some((left, width)) = plot_box(&ev) else { return };
        ev.prevent_default();
        let at = (f64::from(ev.client_x()) - left) / width;
        let factor = if ev.delta_y() > 0.0 { 1.25 } else { 0.8 };
        view.set(view.get_untracked().zoomed(range.get_untracked(), at, factor, history(state)));
    };
    // Anywhere on the plots (a drag's pointer capture makes the container
    // the target of the clicks that follow it).
    let on_double_click = move |_: web_sys::MouseEvent| {
        if controls {
            view.set(TimeView::AUTO);
        }
    };
    view! {
        <section class="panel wide replay" data-testid="scene-replay">
            <h2 data-testid="replay-title">{move || title.get().unwrap_or_else(|| "Replay".into())}</h2>
            <Show when=move || title.with(Option::is_none)>
                <p class="muted" data-testid="replay-empty">"No replay running."</p>
            </Show>
            {controls
                .then(|| {
                    view! {
                        <details class="channel-picker" on:toggle=move |ev| picker_open.set(details_open(&ev))>
                            <summary>"Channels"</summary>
                            <div class="chips">
                                {move || {
                                    // Built when opened: 46 chips are a tenth of a Pi's scene switch.
                                    if !picker_open.get() {
                                        return Vec::new();
                                    }
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
                                        .collect::<Vec<_>>()
                                }}
                            </div>
                        </details>
                        {range_picker(view)}
                    }
                })}
            <div
                class="replay-plots"
                class:zoomable=controls
                class:hovering=move || share.get().is_some()
                class:cursor-right=move || share.get().is_some_and(|x| x > 0.6)
                style=move || share.get().map(|x| format!("--cursor-x: {x:.4}")).unwrap_or_default()
                on:pointermove=on_move
                on:pointerdown=on_down
                on:pointerup=on_up
                on:pointercancel=on_up
                on:pointerleave=on_leave
                on:wheel=on_wheel
                on:dblclick=on_double_click
            >
                <div class="strips" node_ref=strips_ref>
                    <For each=shown key=|channel| channel.clone() let:channel>
                        {strip(state, channel, view, cursor)}
                    </For>
                </div>
                <div class="bands" node_ref=bands_ref style=move || bands_axis.get()>
                    <For each=move || band_keys.get() key=|key| key.clone() let:key>
                        {band(state, key, range, shift, prediction_keys, cursor)}
                    </For>
                    <Show when=move || title.with(Option::is_some)>
                        {time_axis(range, shift, plot_device_px, cursor)}
                    </Show>
                </div>
            </div>
            <Show when=move || title.with(Option::is_some)>
                {class_legend()}
            </Show>
            {move || {
                // After the scene's first paint: the table is on a later page.
                if !settled.get() {
                    return None;
                }
                prediction_keys.track();
                let models: Vec<ProbabilityRow> = state.with_untracked(|s| {
                    s.predictions
                        .iter()
                        .filter(|(_, p)| !p.windows.is_empty())
                        .map(|(k, p)| ProbabilityRow { model: k.clone(), probs: p.probs.clone(), right: p.agreement() })
                        .collect()
                });
                (!models.is_empty()).then(|| probabilities(&models))
            }}
        </section>
    }
}
