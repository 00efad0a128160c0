//! The training scene: validation macro F1 and training loss per model, per
//! epoch, as small multiples that grow as `progress` events stream in.
//! Charts are inline SVG inside `<figure>`s with a `<figcaption>` saying
//! what they show, so they scale with the window, read on a projector and
//! can be checked in tests.

use leptos::prelude::*;

use crate::chart;
use crate::export::ExportButtons;
use crate::state::{DashboardState, EpochPoint};

/// One model's curves: validation macro F1 and a loss scaled to its own
/// maximum — the training loss, or for the trees (which measure no
/// training loss) the validation log-loss per boosting round — per epoch.
/// Scores a trainer did not measure (NaN) are left out of their line.
fn curve_figure(id: &str, points: &[EpochPoint]) -> impl IntoView + use<> {
    const W: f64 = 300.0;
    const H: f64 = 120.0;
    let trains = points.iter().any(|p| p.train_loss.is_finite());
    let (loss_of, loss_name): (fn(&EpochPoint) -> f64, &str) =
        if trains { (|p| p.train_loss, "training loss") } else { (|p| p.val_loss, "validation log-loss") };
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
    let latest_f1 = points.iter().rev().find(|p| p.val_macro_f1.is_finite());
    let caption = match (points.last(), latest_f1) {
        (Some(last), Some(f1)) => {
            let loss = loss_of(last);
            let loss = if loss.is_finite() { format!(", {loss_name} {loss:.4}") } else { String::new() };
            format!("{id}: epoch {}, validation macro F1 {:.3}{loss}", last.epoch, f1.val_macro_f1)
        }
        (Some(last), None) => format!("{id}: epoch {}", last.epoch),
        (None, _) => format!("{id}: no epoch yet"),
    };
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

/// Loss and validation-F1 curves per model as epochs stream in.
#[component]
pub fn TrainingScene(state: RwSignal<DashboardState>) -> impl IntoView {
    view! {
        <section class="panel wide training" data-testid="scene-training">
            <h2>"Training"</h2>
            <p class="legend muted">
                <span class="key-f1">"━ validation macro F1"</span>
                " "
                <span class="key-loss">"━ training loss (scaled)"</span>
            </p>
            {move || {
                let curves: Vec<(String, Vec<EpochPoint>)> =
                    state.with(|s| s.curves.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                if curves.is_empty() {
                    return view! {
                        <p class="muted" data-testid="training-empty">"No training epochs received yet."</p>
                    }
                        .into_any();
                }
                view! {
                    <div class="small-multiples">
                        {curves.iter().map(|(id, points)| curve_figure(id, points)).collect_view()}
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}
