//! One replay strip drawn into a `<canvas>`, following the geometry of
//! [`crate::scroll_strip`]: on each new frame the bitmap is shifted left by
//! whole pixels (one `drawImage` of the canvas onto itself in `copy` mode)
//! and only the new segment is stroked; the whole strip is redrawn when
//! the scale must change, the time axis grew a step ([`span_of`]), the
//! canvas was resized, or another episode started. The bitmap has the canvas' on-screen size in device pixels, so
//! lines are crisp and min/max downsampling is to real pixel columns.

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::scroll_strip::{Strip, data_range, padded_range, span_for};
use crate::state::Replay;

/// Seconds of axis the replay's strips and bands show now: steps of
/// [`span_for`] over the kept history.
pub fn span_of(replay: &Replay) -> f64 {
    let kept = replay.t_s.back().zip(replay.t_s.front()).map_or(0.0, |(last, first)| last - first);
    span_for(kept)
}

/// What has been drawn into one strip's canvas.
struct StripCanvas {
    context: CanvasRenderingContext2d,
    strip: Strip,
    episode: String,
    /// The last point drawn (time, value; the value may be missing).
    last: (f64, f64),
    /// Bitmap size the strip was drawn for.
    size: (u32, u32),
}

/// One strip's drawing, and its canvas' size as measured after the latest
/// resize (measuring forces a layout, so it is done once per resize).
#[derive(Default)]
pub struct StripSlot {
    drawn: Option<StripCanvas>,
    /// (resize generation, bitmap size).
    measured: Option<(u32, (u32, u32))>,
}

impl StripSlot {
    /// Brings the drawing of `channel` up to date with `replay` on
    /// `canvas`; `resize_generation` changes when the window was resized.
    /// Returns the scale (values at the bottom and top) when the strip was
    /// redrawn, `None` when it only scrolled or nothing changed.
    pub fn update(
        &mut self,
        canvas: &HtmlCanvasElement,
        resize_generation: u32,
        replay: &Replay,
        channel: &str,
    ) -> Option<(f64, f64)> {
        let size = match self.measured {
            Some((seen, size)) if seen == resize_generation => size,
            _ => {
                let size = bitmap_size(canvas);
                self.measured = Some((resize_generation, size));
                size
            }
        };
        update(&mut self.drawn, canvas, size, replay, channel)
    }
}

/// The canvas' size on screen in device pixels (forces a layout: call it
/// only when the size may have changed).
fn bitmap_size(canvas: &HtmlCanvasElement) -> (u32, u32) {
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let px = |css: i32| ((f64::from(css.max(1)) * ratio).round() as u32).max(1);
    (px(canvas.client_width()), px(canvas.client_height()))
}

fn line_colour(canvas: &HtmlCanvasElement) -> String {
    web_sys::window()
        .and_then(|w| w.get_computed_style(canvas).ok().flatten())
        .and_then(|s| s.get_property_value("--accent").ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "#4f9cff".into())
}

/// The channel's kept history as (time, value) pairs.
fn history(replay: &Replay, channel: &str) -> Vec<(f64, f64)> {
    let values = replay.values.get(channel);
    replay.t_s.iter().zip(values.into_iter().flatten()).map(|(t, v)| (*t, *v)).collect()
}

/// [`StripSlot::update`] for a canvas of `size` (device pixels).
fn update(
    slot: &mut Option<StripCanvas>,
    canvas: &HtmlCanvasElement,
    size: (u32, u32),
    replay: &Replay,
    channel: &str,
) -> Option<(f64, f64)> {
    let Some(&newest_t) = replay.t_s.back() else {
        if let Some(drawn) = slot.take() {
            drawn.context.clear_rect(0.0, 0.0, f64::from(size.0), f64::from(size.1));
        }
        return None;
    };
    let span_s = span_of(replay);
    if let Some(drawn) = slot.as_mut()
        && drawn.episode == replay.episode_id
        && drawn.size == size
        && drawn.strip.span_s == span_s
    {
        let values = replay.values.get(channel);
        let new_from = replay.t_s.iter().rposition(|t| *t <= drawn.last.0).map_or(0, |i| i + 1);
        if new_from >= replay.t_s.len() && newest_t >= drawn.last.0 {
            return None;
        }
        let fresh: Vec<(f64, f64)> =
            replay.t_s.iter().zip(values.into_iter().flatten()).skip(new_from).map(|(t, v)| (*t, *v)).collect();
        let fresh_values: Vec<f64> = fresh.iter().map(|p| p.1).collect();
        let in_span = replay
            .t_s
            .iter()
            .zip(values.into_iter().flatten())
            .filter(|(t, _)| **t > newest_t - span_s)
            .map(|(_, v)| *v);
        if !drawn.strip.needs_redraw(drawn.last.0, newest_t, &fresh_values, data_range(in_span)) {
            drawn.scroll_and_extend(canvas, &fresh, newest_t);
            return None;
        }
    }
    redraw(slot, canvas, size, replay, channel, (newest_t, span_s))
}

fn redraw(
    slot: &mut Option<StripCanvas>,
    canvas: &HtmlCanvasElement,
    size: (u32, u32),
    replay: &Replay,
    channel: &str,
    (newest_t, span_s): (f64, f64),
) -> Option<(f64, f64)> {
    if (canvas.width(), canvas.height()) != size {
        canvas.set_width(size.0);
        canvas.set_height(size.1);
    }
    let context = canvas.get_context("2d").ok().flatten()?.dyn_into::<CanvasRenderingContext2d>().ok()?;
    let ratio = f64::from(size.1) / f64::from(canvas.client_height().max(1));
    let line_width = 1.5 * ratio.max(1.0);
    let points = history(replay, channel);
    let in_span = points.iter().filter(|(t, _)| *t > newest_t - span_s).map(|p| p.1);
    let strip = Strip {
        right_t: newest_t,
        span_s,
        width: f64::from(size.0),
        height: f64::from(size.1),
        y_range: padded_range(in_span),
        inset: line_width,
    };
    context.set_global_composite_operation("source-over").ok()?;
    context.clear_rect(0.0, 0.0, strip.width, strip.height);
    context.set_stroke_style_str(&line_colour(canvas));
    context.set_line_width(line_width);
    context.set_line_join("round");
    context.begin_path();
    for line in strip.polylines(&points) {
        for (i, (x, y)) in line.iter().enumerate() {
            if i == 0 {
                context.move_to(*x, *y);
            } else {
                context.line_to(*x, *y);
            }
        }
    }
    context.stroke();
    let scale = strip.y_range;
    let last = points.last().copied().unwrap_or((newest_t, f64::NAN));
    *slot = Some(StripCanvas { context, strip, episode: replay.episode_id.clone(), last, size });
    Some(scale)
}

impl StripCanvas {
    /// Shifts the bitmap to make room up to `newest_t` and strokes the
    /// segments from the last point drawn through `fresh`.
    fn scroll_and_extend(&mut self, canvas: &HtmlCanvasElement, fresh: &[(f64, f64)], newest_t: f64) {
        let shift = self.strip.scroll_to(newest_t);
        if shift > 0 {
            // `copy` replaces the bitmap, so the columns uncovered at the
            // right are cleared by the same call.
            let _ = self.context.set_global_composite_operation("copy");
            let _ = self.context.draw_image_with_html_canvas_element(canvas, -f64::from(shift), 0.0);
            let _ = self.context.set_global_composite_operation("source-over");
        }
        self.context.begin_path();
        let mut previous = self.last;
        for &(t, v) in fresh {
            if v.is_finite() {
                if previous.1.is_finite() {
                    self.context.move_to(self.strip.x(previous.0), self.strip.y(previous.1));
                    self.context.line_to(self.strip.x(t), self.strip.y(v));
                } else {
                    // A lone point after a gap: a dot until the next joins it.
                    let (x, y) = (self.strip.x(t), self.strip.y(v));
                    self.context.move_to(x, y);
                    self.context.line_to(x + 0.5, y);
                }
            }
            previous = (t, v);
        }
        self.context.stroke();
        self.last = previous;
    }
}
