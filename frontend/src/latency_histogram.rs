//! A log-scale histogram of prediction latencies (µs) as inline SVG, one
//! bar per bin with its range and count in a tooltip; drawn by the perf
//! scene per model and by the browser scene for the run in this browser.

use leptos::prelude::*;

use crate::chart;

/// A log-scale latency histogram (µs).
pub fn latency_histogram(latencies: &[f64]) -> impl IntoView + use<> {
    const W: f64 = 200.0;
    const H: f64 = 40.0;
    let bins = chart::log_histogram(latencies, 16);
    let most = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
    let bar_w = W / bins.len().max(1) as f64;
    let bars = bins
        .iter()
        .enumerate()
        .map(|(i, (lo, hi, n))| {
            let h = *n as f64 / most * H;
            view! {
                <rect x=format!("{:.1}", i as f64 * bar_w) y=format!("{:.1}", H - h) width=format!("{:.1}", bar_w - 1.0) height=format!("{h:.1}")>
                    <title>{format!("{lo:.0}–{hi:.0} µs: {n}")}</title>
                </rect>
            }
        })
        .collect_view();
    view! { <svg class="histogram" viewBox=format!("0 0 {W} {H}") role="img" aria-label="latency histogram, log scale">{bars}</svg> }
}
