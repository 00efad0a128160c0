//! The training scene: validation macro F1 and training loss per epoch
//! of every model, overlaid on shared axes (one chart each, epoch ticks on
//! x, value ticks on y, a legend naming each model with its latest epoch),
//! growing as `progress` events stream in. The pointer over either chart
//! shows the epoch under it on both, with every model's value there. With
//! controls, per-model small multiples (F1 and loss scaled to its own
//! maximum) can be picked instead. Charts are inline SVG inside
//! `<figure>`s with a `<figcaption>` saying what they show, so they scale
//! with the window, read on a projector and can be checked in tests.
//! The trees' curves are in boosting rounds (validation log-loss per
//! round, macro F1 at the best round) and get a chart each below.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::axis::{Tick, integer_ticks, share, value_ticks};
use crate::chart;
use crate::export::ExportButtons;
use crate::state::{DashboardState, EpochPoint};

/// The overlay charts' viewBox and the plot area's margins in it.
const W: f64 = 480.0;
const H: f64 = 240.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 34.0;
const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;

/// One model's curve on the shared charts.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    id: String,
    /// Colour slot (`series-N`).
    colour: usize,
    /// Dashed (the realistic variant).
    dashed: bool,
    points: Vec<EpochPoint>,
}

impl Series {
    fn class(&self) -> String {
        format!("series series-{}{}", self.colour, if self.dashed { " series-dashed" } else { "" })
    }

    fn at(&self, epoch: f64) -> Option<&EpochPoint> {
        self.points.iter().find(|p| p.epoch == epoch)
    }
}

/// The loss a model's curve carries and its name: the training loss, or
/// for the trees (which measure no training loss) the validation log-loss
/// per boosting round.
fn loss_of(points: &[EpochPoint]) -> (fn(&EpochPoint) -> f64, &'static str) {
    if is_trained_in_epochs(points) {
        (|p| p.train_loss, "training loss")
    } else {
        (|p| p.val_loss, "validation log-loss")
    }
}

/// Whether a curve is in epochs with a training loss (the networks), not
/// in boosting rounds (the trees: their own chart, as their x axis runs to
/// hundreds of rounds).
fn is_trained_in_epochs(points: &[EpochPoint]) -> bool {
    points.iter().any(|p| p.train_loss.is_finite())
}

/// The latest epoch in words: what the legend (and tests) read. Scores a
/// trainer did not measure (NaN) are left out.
fn caption(id: &str, points: &[EpochPoint]) -> String {
    let (loss_of, loss_name) = loss_of(points);
    let latest_f1 = points.iter().rev().find(|p| p.val_macro_f1.is_finite());
    match (points.last(), latest_f1) {
        (Some(last), Some(f1)) => {
            let loss = loss_of(last);
            let loss = if loss.is_finite() { format!(", {loss_name} {loss:.4}") } else { String::new() };
            format!("{id}: epoch {}, validation macro F1 {:.3}{loss}", last.epoch, f1.val_macro_f1)
        }
        (Some(last), None) => format!("{id}: epoch {}", last.epoch),
        (None, _) => format!("{id}: no epoch yet"),
    }
}

/// One quantity (`value` of each epoch) of every model on shared axes.
struct Quantity {
    /// Figure's test id and export name.
    key: &'static str,
    /// What the chart shows.
    title: &'static str,
    /// Class of its lines (`line-f1`, `line-loss`).
    line_class: &'static str,
    value: fn(&EpochPoint) -> f64,
    /// Value decimals in the readout.
    decimals: usize,
}

const F1: Quantity = Quantity {
    key: "training-f1",
    title: "Validation macro F1 per epoch, all models",
    line_class: "line-f1",
    value: |p| p.val_macro_f1,
    decimals: 3,
};
const LOSS: Quantity = Quantity {
    key: "training-loss",
    title: "Training loss per epoch, all models",
    line_class: "line-loss",
    value: |p| p.train_loss,
    decimals: 4,
};

/// The y range of `quantity` over `series`: F1 is 0..1; loss 0 to its
/// largest value (plus a twentieth).
fn y_range(quantity: &Quantity, series: &[Series]) -> (f64, f64) {
    if quantity.key == F1.key {
        return (0.0, 1.0);
    }
    let max =
        series.iter().flat_map(|s| s.points.iter().map(quantity.value)).filter(|v| v.is_finite()).fold(0.0, f64::max);
    (0.0, if max > 0.0 { max * 1.05 } else { 1.0 })
}

/// The epoch under the pointer on an overlay chart's `<svg>`.
fn epoch_at(ev: &web_sys::PointerEvent, epochs: (f64, f64)) -> Option<f64> {
    let svg: web_sys::Element = ev.current_target()?.dyn_into().ok()?;
    let rect = svg.get_bounding_client_rect();
    if rect.width() <= 0.0 {
        return None;
    }
    let x = (f64::from(ev.client_x()) - rect.left()) / rect.width() * W;
    let at = ((x - LEFT) / PLOT_W).clamp(0.0, 1.0);
    Some((epochs.0 + at * (epochs.1 - epochs.0)).round().clamp(epochs.0, epochs.1))
}

fn tick_labels_y(ticks: &[Tick], y_range: (f64, f64)) -> impl IntoView + use<> {
    ticks
        .iter()
        .map(|tick| {
            let y = TOP + (1.0 - share(tick.value, y_range)) * PLOT_H;
            view! {
                <line class="gridline" x1=LEFT x2=W - RIGHT y1=y y2=y></line>
                <text class="tick-label" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{tick.label.clone()}</text>
            }
        })
        .collect_view()
}

fn tick_labels_x(ticks: &[Tick], epochs: (f64, f64)) -> impl IntoView + use<> {
    ticks
        .iter()
        .map(|tick| {
            let x = LEFT + share(tick.value, epochs) * PLOT_W;
            view! {
                <line class="axis" x1=x x2=x y1=TOP + PLOT_H y2=TOP + PLOT_H + 4.0></line>
                <text class="tick-label" x=x y=TOP + PLOT_H + 16.0 text-anchor="middle">{tick.label.clone()}</text>
            }
        })
        .collect_view()
}

/// One overlay chart: `quantity` of every model over the shared `epochs`,
/// the hovered epoch (shared with the other chart) marked on an overlay
/// group and read out beside it.
fn overlay_chart(
    quantity: Quantity,
    series: Vec<Series>,
    epochs: (f64, f64),
    hover: RwSignal<Option<f64>>,
) -> impl IntoView {
    let y_range = y_range(&quantity, &series);
    let y_ticks = value_ticks(y_range.0, y_range.1, "", 6);
    let x_ticks = integer_ticks(epochs.0, epochs.1, 8);
    let value = quantity.value;
    let lines = series
        .iter()
        .map(|s| {
            let data: Vec<(f64, f64)> =
                s.points.iter().map(|p| (p.epoch, value(p))).filter(|(_, v)| v.is_finite()).collect();
            let pixels =
                chart::downsample_min_max(&chart::to_box(&data, epochs, y_range, PLOT_W, PLOT_H), PLOT_W as usize);
            let last = pixels.last().map(|(x, y)| (format!("{x:.1}"), format!("{y:.1}")));
            view! {
                <g class=s.class() data-series=s.id.clone()>
                    <polyline class=quantity.line_class points=chart::svg_points(&pixels)></polyline>
                    {last.map(|(x, y)| view! { <circle class="series-dot" cx=x cy=y r="2.5"></circle> })}
                </g>
            }
        })
        .collect_view();
    let marks = {
        let series = series.clone();
        move || {
            let epoch = hover.get()?;
            let x = share(epoch, epochs) * PLOT_W;
            let dots = series
                .iter()
                .filter_map(|s| {
                    let v = value(s.at(epoch)?);
                    v.is_finite().then(|| {
                        let y = (1.0 - share(v, y_range).clamp(0.0, 1.0)) * PLOT_H;
                        view! { <circle class=s.class() cx=format!("{x:.1}") cy=format!("{y:.1}") r="4"></circle> }
                    })
                })
                .collect_view();
            Some(view! {
                <g class="chart-hover">
                    <line class="chart-crosshair" x1=x x2=x y1="0" y2=PLOT_H></line>
                    {dots}
                </g>
            })
        }
    };
    let readout = {
        let series = series.clone();
        let decimals = quantity.decimals;
        move || {
            let epoch = hover.get()?;
            let at = share(epoch, epochs);
            let left = (LEFT + at * PLOT_W) / W * 100.0;
            let rows = series
                .iter()
                .filter_map(|s| {
                    let v = value(s.at(epoch)?);
                    Some(view! {
                        <li class=s.class()>
                            <svg class="series-swatch" viewBox="0 0 20 6" aria-hidden="true"><polyline points="0,3 20,3"></polyline></svg>
                            {format!("{} {v:.decimals$}", s.id)}
                        </li>
                    })
                })
                .collect_view();
            Some(view! {
                <div class="chart-readout" class:flip={at > 0.6} style=format!("left: {left:.2}%")>
                    <strong>{format!("epoch {epoch:.0}")}</strong>
                    <ul>{rows}</ul>
                </div>
            })
        }
    };
    let aria = format!("{}: {} models, epochs {:.0} to {:.0}", quantity.title, series.len(), epochs.0, epochs.1);
    view! {
        <figure class="chart training-chart" data-testid=quantity.key>
            <div class="chart-plot">
                <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=aria
                    on:pointermove=move |ev| hover.set(epoch_at(&ev, epochs))
                    on:pointerleave=move |_| hover.set(None)>
                    {tick_labels_y(&y_ticks, y_range)}
                    <line class="axis" x1=LEFT x2=W - RIGHT y1=TOP + PLOT_H y2=TOP + PLOT_H></line>
                    {tick_labels_x(&x_ticks, epochs)}
                    <text class="axis-title" x=LEFT + PLOT_W / 2.0 y=H - 4.0 text-anchor="middle">"epoch"</text>
                    <g transform=format!("translate({LEFT} {TOP})")>
                        {lines}
                        {marks}
                    </g>
                </svg>
                {readout}
            </div>
            <figcaption>{quantity.title} " " <ExportButtons name=quantity.key.to_string()/></figcaption>
        </figure>
    }
}

/// Which models are drawn how, and the legend naming them.
fn legend(series: &[Series]) -> impl IntoView + use<> {
    let entries = series
        .iter()
        .map(|s| {
            view! {
                <li class=s.class() data-testid=format!("curve-{}", s.id) data-points=s.points.len()>
                    <svg class="series-swatch" viewBox="0 0 20 6" aria-hidden="true"><polyline points="0,3 20,3"></polyline></svg>
                    {caption(&s.id, &s.points)}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="series-legend" data-testid="training-legend">{entries}</ul> }
}

/// One model's curves: validation macro F1 and its loss (`loss_of`)
/// scaled to its own maximum, per epoch or boosting round (the per-model
/// view, and the trees' chart beside the overlays). Scores a trainer did
/// not measure (NaN) are left out of their line.
fn curve_figure(id: &str, points: &[EpochPoint]) -> impl IntoView + use<> {
    const W: f64 = 300.0;
    const H: f64 = 120.0;
    let (loss_of, _) = loss_of(points);
    let max_loss = points.iter().map(loss_of).filter(|l| l.is_finite()).fold(0.0f64, f64::max).max(1e-9);
    let last_epoch = points.iter().map(|p| p.epoch).fold(1.0f64, f64::max);
    let line = |value: &dyn Fn(&EpochPoint) -> f64| {
        let data: Vec<(f64, f64)> = points.iter().map(|p| (p.epoch, value(p))).filter(|(_, v)| v.is_finite()).collect();
        let pixels = chart::to_box(&data, (1.0, last_epoch), (0.0, 1.0), W, H);
        chart::downsample_min_max(&pixels, W as usize)
    };
    let f1_pixels = line(&|p| p.val_macro_f1);
    let f1 = chart::svg_points(&f1_pixels);
    let loss = chart::svg_points(&line(&|p| loss_of(p) / max_loss));
    // The latest F1 point, marked so a one-point curve is visible too.
    let last_f1 = f1_pixels.last().map(|(x, y)| (format!("{x:.1}"), format!("{y:.1}")));
    let caption = caption(id, points);
    view! {
        <figure class="chart curve" data-testid=format!("curve-{id}") data-points=points.len()>
            <svg viewBox=format!("-4 -4 {} {}", W + 8.0, H + 8.0) role="img" aria-label=caption.clone()>
                <line class="axis" x1="0" y1=H x2=W y2=H></line>
                <polyline class="line-loss" points=loss></polyline>
                <polyline class="line-f1" points=f1></polyline>
                {last_f1.map(|(x, y)| view! { <circle class="dot-f1" cx=x cy=y r="3"></circle> })}
            </svg>
            <figcaption>{caption} " " <ExportButtons name=format!("training-{id}")/></figcaption>
        </figure>
    }
}

/// Loss and validation-F1 curves of every model as epochs stream in.
#[component]
pub fn TrainingScene(state: RwSignal<DashboardState>, controls: bool) -> impl IntoView {
    // Only training events change this (replay frames do not re-render it).
    let curves = Memo::new(move |_| state.with(|s| s.curves.clone()));
    let per_model = RwSignal::new(false);
    let hover = RwSignal::new(None::<f64>);
    view! {
        <section class="panel wide training" data-testid="scene-training">
            <h2>"Training"</h2>
            {controls
                .then(|| {
                    view! {
                        <div class="chart-layout-picker" role="group" aria-label="Layout">
                            <button class="range-button" class:active=move || !per_model.get()
                                on:click=move |_| per_model.set(false)>"overlaid"</button>
                            <button class="range-button" class:active=move || per_model.get()
                                on:click=move |_| per_model.set(true)>"per model"</button>
                        </div>
                    }
                })}
            {move || {
                let curves = curves.get();
                if curves.is_empty() {
                    return view! {
                        <p class="muted" data-testid="training-empty">"No training epochs received yet."</p>
                    }
                        .into_any();
                }
                if per_model.get() {
                    return view! {
                        <p class="legend muted">
                            <span class="key-f1">"━ validation macro F1"</span>
                            " "
                            <span class="key-loss">"━ training loss (scaled)"</span>
                        </p>
                        <div class="small-multiples">
                            {curves.iter().map(|(id, points)| curve_figure(id, points)).collect_view()}
                        </div>
                    }
                        .into_any();
                }
                let (networks, trees): (Vec<_>, Vec<_>) =
                    curves.iter().partition(|(_, points)| is_trained_in_epochs(points));
                let ids: Vec<&str> = networks.iter().map(|(id, _)| id.as_str()).collect();
                let series: Vec<Series> = chart::series_styles(&ids)
                    .into_iter()
                    .zip(&networks)
                    .map(|((colour, dashed), (id, points))| Series {
                        id: (*id).clone(),
                        colour,
                        dashed,
                        points: (*points).clone(),
                    })
                    .collect();
                let tree_charts = (!trees.is_empty()).then(|| {
                    view! {
                        <h3>"Trees, per boosting round (validation log-loss scaled, macro F1 at the best round)"</h3>
                        <div class="small-multiples">
                            {trees.iter().map(|(id, points)| curve_figure(id, points)).collect_view()}
                        </div>
                    }
                });
                let first = series.iter().flat_map(|s| s.points.first()).map(|p| p.epoch).fold(f64::INFINITY, f64::min);
                let last = series.iter().flat_map(|s| s.points.last()).map(|p| p.epoch).fold(1.0, f64::max);
                let first = if first.is_finite() { first.min(1.0) } else { 1.0 };
                let epochs = (first, last.max(first + 1.0));
                let overlays = (!series.is_empty()).then(|| {
                    view! {
                        <div class="training-charts">
                            {overlay_chart(F1, series.clone(), epochs, hover)}
                            {overlay_chart(LOSS, series.clone(), epochs, hover)}
                        </div>
                        {legend(&series)}
                    }
                });
                view! {
                    {overlays}
                    {tree_charts}
                }
                    .into_any()
            }}
        </section>
    }
}
