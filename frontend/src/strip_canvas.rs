//! One replay strip drawn into a `<canvas>`, following the geometry of
//! [`crate::scroll_strip`]: on each new frame the bitmap is shifted left by
//! whole pixels (one `drawImage` of the canvas onto itself in `copy` mode)
//! and only the new segment is stroked; the whole strip is redrawn when
//! the scale must change, the time axis grew a step or was zoomed
//! ([`TimeView`]), the canvas was resized, or another episode started. A
//! view of a still stretch of the past is drawn once and left alone while
//! frames arrive. The bitmap has the
//! canvas' on-screen size in device pixels (reported by a `ResizeObserver`,
//! so no frame reads layout): lines are crisp and min/max downsampling is
//! to real pixel columns.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{
    CanvasRenderingContext2d, HtmlCanvasElement, ResizeObserver, ResizeObserverEntry, ResizeObserverSize, js_sys,
};

use crate::chart::data_range;
use crate::palette;
use crate::scroll_strip::{Strip, padded_range};
use crate::state::Replay;
use crate::time_view::TimeView;

/// The time range `view` shows of the replay's kept history (newest at
/// the right; a history not yet started ends at 0).
pub fn shown_range(replay: &Replay, view: TimeView) -> (f64, f64) {
    let newest = replay.t_s.back().copied().unwrap_or(0.0);
    view.range(replay.t_s.front().copied().unwrap_or(newest), newest)
}

/// What has been drawn into one strip's canvas.
struct StripCanvas {
    context: CanvasRenderingContext2d,
    strip: Strip,
    episode: String,
    /// Whether it shows a still stretch of the past (not scrolled).
    fixed: bool,
    /// The last point drawn (time, value; the value may be missing).
    last: (f64, f64),
    /// Bitmap size the strip was drawn for.
    size: (u32, u32),
}

/// Watches an element's size on screen with a `ResizeObserver` (sizes arrive
/// after layout, without forcing one, also when the page itself changes
/// the width) and calls `on_size` with it in device pixels. Stops when
/// dropped.
pub struct SizeWatch {
    observer: ResizeObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl Drop for SizeWatch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Starts a [`SizeWatch`] on `element` (a strip's canvas, the time axis);
/// `None` where the browser has no `ResizeObserver`.
pub fn watch_size(element: &web_sys::Element, mut on_size: impl FnMut((u32, u32)) + 'static) -> Option<SizeWatch> {
    let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
        if let Ok(entry) = entries.get(0).dyn_into::<ResizeObserverEntry>() {
            on_size(device_pixels(&entry));
        }
    });
    let observer = ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    observer.observe(element);
    Some(SizeWatch { observer, _callback: callback })
}

/// The observed box in device pixels: exact where the browser reports
/// `devicePixelContentBoxSize`, else the CSS box × the pixel ratio.
fn device_pixels(entry: &ResizeObserverEntry) -> (u32, u32) {
    let exact = js_sys::Reflect::get(entry, &"devicePixelContentBoxSize".into())
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Array>().ok())
        .and_then(|sizes| sizes.get(0).dyn_into::<ResizeObserverSize>().ok());
    let (width, height) = match exact {
        Some(size) => (size.inline_size(), size.block_size()),
        None => {
            let rect = entry.content_rect();
            (rect.width() * pixel_ratio(), rect.height() * pixel_ratio())
        }
    };
    let px = |v: f64| if v.is_finite() { (v.round() as u32).max(1) } else { 1 };
    (px(width), px(height))
}

/// Device pixels per CSS pixel (at least 1).
pub fn pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0)
}

/// What a strip's drawing needs from the page, read when its size changes.
struct Bitmap {
    /// Canvas size on screen in device pixels.
    size: (u32, u32),
    /// Line width in device pixels (1.5 CSS pixels).
    line_width: f64,
    /// The theme's `--accent`.
    colour: String,
}

/// One strip's drawing and what it was drawn for.
#[derive(Default)]
pub struct StripSlot {
    drawn: Option<StripCanvas>,
    bitmap: Option<Bitmap>,
}

impl StripSlot {
    /// Brings the drawing of `channel` up to date with `replay` as `view`
    /// shows it on `canvas`, which is `size` device pixels on screen
    /// ([`watch_size`]). Returns the scale (values at the bottom and top)
    /// when the strip was redrawn, `None` when it only scrolled or nothing
    /// changed.
    pub fn update(
        &mut self,
        canvas: &HtmlCanvasElement,
        size: (u32, u32),
        replay: &Replay,
        channel: &str,
        view: TimeView,
    ) -> Option<(f64, f64)> {
        if self.bitmap.as_ref().is_none_or(|b| b.size != size) {
            self.bitmap = Some(Bitmap { size, line_width: 1.5 * pixel_ratio(), colour: line_colour(canvas) });
        }
        let bitmap = self.bitmap.as_ref()?;
        update(&mut self.drawn, canvas, bitmap, (replay, channel), view)
    }

    /// Forgets the drawing and what it was drawn with (the theme's colour
    /// changed): the next [`update`](StripSlot::update) redraws.
    pub fn forget(&mut self) {
        forget_line_colour();
        *self = StripSlot::default();
    }
}

thread_local! {
    /// The theme's line colour, read once for every strip: each read is a
    /// `getComputedStyle`, which recalculates the page's style when
    /// anything changed since (on a scene switch, once per strip).
    static LINE_COLOUR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The theme's `--accent` as `canvas` inherits it (cached until
/// [`forget_line_colour`]).
fn line_colour(canvas: &HtmlCanvasElement) -> String {
    if let Some(colour) = LINE_COLOUR.with_borrow(Clone::clone) {
        return colour;
    }
    let colour = web_sys::window()
        .and_then(|w| w.get_computed_style(canvas).ok().flatten())
        .and_then(|s| s.get_property_value("--accent").ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| palette::DARK.accent.hex());
    LINE_COLOUR.set(Some(colour.clone()));
    colour
}

/// Forgets the cached line colour (the theme changed).
fn forget_line_colour() {
    LINE_COLOUR.set(None);
}

/// The channel's kept history as (time, value) pairs, oldest first.
fn points<'a>(replay: &'a Replay, channel: &str) -> impl Iterator<Item = (f64, f64)> + 'a {
    let values = replay.values.get(channel);
    replay.t_s.iter().zip(values.into_iter().flatten()).map(|(t, v)| (*t, *v))
}

/// [`StripSlot::update`] for a canvas as `bitmap` measured it.
fn update(
    slot: &mut Option<StripCanvas>,
    canvas: &HtmlCanvasElement,
    bitmap: &Bitmap,
    (replay, channel): (&Replay, &str),
    view: TimeView,
) -> Option<(f64, f64)> {
    let size = bitmap.size;
    let Some(&newest_t) = replay.t_s.back() else {
        if let Some(drawn) = slot.take() {
            drawn.context.clear_rect(0.0, 0.0, f64::from(size.0), f64::from(size.1));
        }
        return None;
    };
    let (left_t, right_t) = shown_range(replay, view);
    let span_s = right_t - left_t;
    let same_picture =
        |drawn: &StripCanvas| drawn.episode == replay.episode_id && drawn.size == size && drawn.strip.span_s == span_s;
    if !view.is_live() {
        // A still stretch: drawn once, kept while frames arrive.
        if slot.as_ref().is_some_and(|d| d.fixed && same_picture(d) && d.strip.right_t == right_t) {
            return None;
        }
        return redraw(slot, canvas, bitmap, (replay, channel), (right_t, span_s, true));
    }
    if let Some(drawn) = slot.as_mut()
        && !drawn.fixed
        && same_picture(drawn)
    {
        let new_from = replay.t_s.iter().rposition(|t| *t <= drawn.last.0).map_or(0, |i| i + 1);
        if new_from >= replay.t_s.len() && newest_t >= drawn.last.0 {
            return None;
        }
        let fresh: Vec<(f64, f64)> = points(replay, channel).skip(new_from).collect();
        let fresh_values: Vec<f64> = fresh.iter().map(|p| p.1).collect();
        let in_span = points(replay, channel).filter(|(t, _)| *t > newest_t - span_s).map(|(_, v)| v);
        if !drawn.strip.needs_redraw(drawn.last.0, newest_t, &fresh_values, data_range(in_span)) {
            drawn.scroll_and_extend(canvas, &fresh, newest_t);
            return None;
        }
    }
    redraw(slot, canvas, bitmap, (replay, channel), (newest_t, span_s, false))
}

/// Draws the whole strip ending at `right_t` over `span_s` seconds;
/// `fixed` when that is a still stretch of the past.
fn redraw(
    slot: &mut Option<StripCanvas>,
    canvas: &HtmlCanvasElement,
    bitmap: &Bitmap,
    (replay, channel): (&Replay, &str),
    (right_t, span_s, fixed): (f64, f64, bool),
) -> Option<(f64, f64)> {
    let size = bitmap.size;
    if (canvas.width(), canvas.height()) != size {
        canvas.set_width(size.0);
        canvas.set_height(size.1);
    }
    let context = canvas.get_context("2d").ok().flatten()?.dyn_into::<CanvasRenderingContext2d>().ok()?;
    let line_width = bitmap.line_width;
    let points: Vec<(f64, f64)> = points(replay, channel).collect();
    let in_span = points.iter().filter(|(t, _)| *t > right_t - span_s && *t <= right_t).map(|p| p.1);
    let strip = Strip {
        right_t,
        span_s,
        width: f64::from(size.0),
        height: f64::from(size.1),
        y_range: padded_range(in_span),
        inset: line_width,
    };
    context.set_global_composite_operation("source-over").ok()?;
    context.clear_rect(0.0, 0.0, strip.width, strip.height);
    context.set_stroke_style_str(&bitmap.colour);
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
        if let [(x, y)] = line.as_slice() {
            // A lone value between gaps: a dot, as the scrolling path draws it.
            context.line_to(x + 0.5, *y);
        }
    }
    context.stroke();
    let scale = strip.y_range;
    let last = points.last().copied().unwrap_or((right_t, f64::NAN));
    *slot = Some(StripCanvas { context, strip, episode: replay.episode_id.clone(), fixed, last, size });
    Some(scale)
}

impl StripCanvas {
    /// Shifts the bitmap to make room up to `newest_t` and strokes the
    /// segments from the last point drawn through `fresh`.
    fn scroll_and_extend(&mut self, canvas: &HtmlCanvasElement, fresh: &[(f64, f64)], newest_t: f64) {
        let shift = self.strip.scroll_to(newest_t);
        if shift > 0 {
            // `copy` replaces the bitmap, so the columns uncovered at the
            // right are cleared by the same call (in Chromium and Firefox).
            let _ = self.context.set_global_composite_operation("copy");
            let _ = self.context.draw_image_with_html_canvas_element(canvas, -f64::from(shift), 0.0);
            let _ = self.context.set_global_composite_operation("source-over");
            // Browsers that do not clear outside the copied image in `copy`
            // mode (older WebKit) would leave the old right edge.
            let uncovered = f64::from(shift).min(self.strip.width);
            self.context.clear_rect(self.strip.width - uncovered, 0.0, uncovered, self.strip.height);
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
