//! Geometry of a scrolling strip chart, pure so it is unit-tested
//! natively. The replay scene draws each channel into a `<canvas>` whose
//! bitmap holds the last `span_s` seconds, newest at the right edge. A new
//! frame shifts the bitmap left by whole pixels and strokes only the new
//! segment, so a frame of 46 strips costs 46 small copies and 46 short
//! lines instead of 46 redrawn 10-minute histories. The whole strip is
//! redrawn (min/max per pixel column) only when the scale must change, the
//! canvas was resized or the episode changed; [`Strip::needs_redraw`] says
//! when.

use crate::chart::{self, data_range};

/// Share of the data's span added above and below on a redraw, so values
/// wandering a little past the old extremes do not force another redraw.
pub const PAD_SHARE: f64 = 0.1;
/// A redraw also tightens the scale once the data spans less than this
/// share of it (old extremes have scrolled out).
pub const TIGHTEN_BELOW: f64 = 0.5;

/// Seconds the strips show, the longest kept history (10 minutes at 2 Hz).
pub const MAX_SPAN_S: f64 = 600.0;
/// Time axis lengths in use: a short episode fills its strips instead of
/// sitting in the right tenth of a 10-minute axis; each step up is one
/// full redraw of every strip.
const SPANS_S: [f64; 6] = [60.0, 120.0, 180.0, 300.0, 450.0, MAX_SPAN_S];

/// Seconds of axis for `kept_s` seconds of kept history: the first step
/// that holds it (the largest for more).
pub fn span_for(kept_s: f64) -> f64 {
    SPANS_S.into_iter().find(|span| kept_s <= *span).unwrap_or(MAX_SPAN_S)
}

/// The bounds of the finite `values`, padded by [`PAD_SHARE`] of their span
/// each side; a flat series gets ±1 around its value (or its magnitude's
/// tenth), no values 0..1. Values that are all non-negative (bytes,
/// counts, percentages) never get a negative lower bound: the padding
/// stops at 0.
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let Some((lo, hi)) = data_range(values) else { return (0.0, 1.0) };
    let span = hi - lo;
    let (low, high) = if span > 0.0 {
        (lo - span * PAD_SHARE, hi + span * PAD_SHARE)
    } else {
        let half = (lo.abs() * 0.1).max(1.0);
        (lo - half, hi + half)
    };
    (if lo >= 0.0 { low.max(0.0) } else { low }, high)
}

/// What a strip's bitmap shows: `span_s` seconds ending at `right_t`
/// across `width` pixels, `y_range` over `height` pixels (y down, `inset`
/// pixels kept free at the top and bottom for the line's width).
#[derive(Debug, Clone, PartialEq)]
pub struct Strip {
    /// Time at the right edge.
    pub right_t: f64,
    /// Seconds across the width.
    pub span_s: f64,
    /// Bitmap width in pixels.
    pub width: f64,
    /// Bitmap height in pixels.
    pub height: f64,
    /// Values at the bottom and top.
    pub y_range: (f64, f64),
    /// Pixels left free at the top and bottom.
    pub inset: f64,
}

impl Strip {
    /// Horizontal pixel of time `t`.
    pub fn x(&self, t: f64) -> f64 {
        self.width - (self.right_t - t) / self.span_s * self.width
    }

    /// Vertical pixel of value `v` (clamped into the strip).
    pub fn y(&self, v: f64) -> f64 {
        let (lo, hi) = self.y_range;
        let share = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
        self.inset + (1.0 - share) * (self.height - 2.0 * self.inset)
    }

    /// Moves the right edge forward by whole pixels until `t` is on the
    /// bitmap; returns how many pixels its content must shift left (0 when
    /// `t` is already on it).
    pub fn scroll_to(&mut self, t: f64) -> u32 {
        let px_per_s = self.width / self.span_s;
        if t.partial_cmp(&self.right_t) != Some(std::cmp::Ordering::Greater) || !px_per_s.is_finite() || px_per_s <= 0.0
        {
            return 0;
        }
        let shift = ((t - self.right_t) * px_per_s).ceil();
        self.right_t += shift / px_per_s;
        shift.min(f64::from(u32::MAX)) as u32
    }

    /// Whether new data forces a full redraw: a time before the last drawn
    /// (`last_t`) or past the whole span, a value off the scale, or data
    /// (`data` = its finite range over the span) now using less than
    /// [`TIGHTEN_BELOW`] of the scale.
    pub fn needs_redraw(&self, last_t: f64, newest_t: f64, new_values: &[f64], data: Option<(f64, f64)>) -> bool {
        let (lo, hi) = self.y_range;
        let off_scale = new_values.iter().any(|v| v.is_finite() && (*v < lo || *v > hi));
        let loose = data.is_some_and(|(d_lo, d_hi)| d_hi > d_lo && (d_hi - d_lo) < TIGHTEN_BELOW * (hi - lo));
        newest_t < last_t || newest_t - last_t >= self.span_s || off_scale || loose
    }

    /// The polylines of a full drawing of `points` (time, value; sorted by
    /// time): split where a value is missing, only what is on the bitmap
    /// (a strip showing a stretch of the past leaves later points out),
    /// min/max per pixel column.
    pub fn polylines(&self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let left_t = self.right_t - self.span_s;
        let columns = self.width.max(1.0) as usize;
        points
            .split(|(t, v)| !v.is_finite() || !t.is_finite())
            .filter_map(|run| {
                // Keep one point past each edge so the line enters and leaves through it.
                let first = run.iter().rposition(|(t, _)| *t < left_t).unwrap_or(0);
                let end = run.iter().position(|(t, _)| *t > self.right_t).map_or(run.len(), |i| i + 1);
                if first >= end {
                    return None;
                }
                let pixels: Vec<(f64, f64)> = run[first..end].iter().map(|(t, v)| (self.x(*t), self.y(*v))).collect();
                (!pixels.is_empty()).then(|| chart::downsample_min_max(&pixels, columns))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip() -> Strip {
        Strip { right_t: 600.0, span_s: 600.0, width: 1200.0, height: 100.0, y_range: (0.0, 10.0), inset: 0.0 }
    }

    #[test]
    fn times_map_right_to_left_and_values_bottom_to_top() {
        let s = strip();
        assert_eq!((s.x(600.0), s.x(0.0), s.x(300.0)), (1200.0, 0.0, 600.0));
        assert_eq!((s.y(0.0), s.y(10.0), s.y(5.0), s.y(99.0), s.y(-1.0)), (100.0, 0.0, 50.0, 0.0, 100.0));
        let inset = Strip { inset: 2.0, ..strip() };
        assert_eq!((inset.y(0.0), inset.y(10.0)), (98.0, 2.0));
    }

    #[test]
    fn scrolling_moves_by_whole_pixels_and_keeps_times_in_place() {
        // 2 px per second: a 2 Hz frame is one pixel.
        let mut s = strip();
        assert_eq!(s.scroll_to(600.5), 1);
        assert_eq!(s.x(600.5), 1200.0);
        assert_eq!(s.scroll_to(600.5), 0, "already on the bitmap");
        assert_eq!(s.scroll_to(599.0), 0, "time going back does not scroll");
        // A fractional step scrolls past it: the point lands left of the edge.
        let mut s = Strip { width: 500.0, ..strip() };
        let before = s.x(300.0);
        let shift = s.scroll_to(601.0);
        assert_eq!(shift, 1);
        assert!(s.x(601.0) <= 500.0 && s.x(601.0) > 499.0);
        assert!((before - s.x(300.0) - f64::from(shift)).abs() < 1e-9, "content moved by exactly the shift");
    }

    #[test]
    fn redraws_only_when_the_scale_or_the_time_line_breaks() {
        let s = strip();
        let data = Some((1.0, 9.0));
        assert!(!s.needs_redraw(600.0, 600.5, &[5.0], data));
        assert!(!s.needs_redraw(600.0, 600.5, &[f64::NAN], data), "a missing value fits");
        assert!(s.needs_redraw(600.0, 600.5, &[10.5], data), "off the scale");
        assert!(s.needs_redraw(600.0, 599.5, &[5.0], data), "time went back (a new episode)");
        assert!(s.needs_redraw(600.0, 1300.0, &[5.0], data), "a gap longer than the strip");
        assert!(s.needs_redraw(600.0, 600.5, &[5.0], Some((4.0, 6.0))), "data uses a fifth of the scale");
        assert!(!s.needs_redraw(600.0, 600.5, &[5.0], Some((5.0, 5.0))), "a flat line is not tightened forever");
    }

    #[test]
    fn the_axis_grows_in_steps_to_ten_minutes() {
        let spans: Vec<f64> = [0.0, 59.5, 60.5, 299.0, 451.0, 599.5, 5000.0].map(span_for).to_vec();
        assert_eq!(spans, [60.0, 60.0, 120.0, 300.0, 600.0, 600.0, 600.0]);
    }

    #[test]
    fn padded_ranges() {
        assert_eq!(padded_range([-1.0, 9.0, f64::NAN]), (-2.0, 10.0));
        assert_eq!(padded_range([0.0, 10.0]), (0.0, 11.0), "non-negative data: no negative bound");
        assert_eq!(padded_range([0.5, 10.5]), (0.0, 11.5));
        assert_eq!(padded_range([0.0, 0.0]), (0.0, 1.0));
        assert_eq!(padded_range([5.0, 5.0]), (4.0, 6.0));
        assert_eq!(padded_range([200.0]), (180.0, 220.0));
        assert_eq!(padded_range([]), (0.0, 1.0));
        assert_eq!(data_range([f64::NAN]), None);
    }

    #[test]
    fn polylines_break_at_gaps_and_start_at_the_left_edge() {
        let s = strip();
        let mut points: Vec<(f64, f64)> = (0..=1400).map(|i| (f64::from(i) * 0.5 - 100.0, 5.0)).collect();
        points[1000].1 = f64::NAN; // t = 400
        let lines = s.polylines(&points);
        assert_eq!(lines.len(), 2);
        // The first enters from one point left of the bitmap, then 1 px per point.
        assert_eq!(lines[0][0], (-1.0, 50.0));
        assert_eq!(lines[0].last().map(|p| p.0), Some(799.0));
        assert_eq!(lines[1][0].0, 801.0);
        assert_eq!(lines[1].last().map(|p| p.0), Some(1200.0));
        // A run wholly left of the bitmap keeps only its last point.
        let old = [(-50.0, 1.0), (-40.0, 2.0), (f64::NAN, 0.0), (10.0, 3.0)];
        assert_eq!(s.polylines(&old).iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
        // A strip of the past (250..350 s) stops one point after its right edge.
        let past = Strip { right_t: 350.0, span_s: 100.0, ..strip() };
        let lines = past.polylines(&points[..1000]);
        assert_eq!(lines.len(), 1);
        let (first, last) = (lines[0][0].0, lines[0][lines[0].len() - 1].0);
        assert!((first + 6.0).abs() < 1e-9 && (last - 1206.0).abs() < 1e-9, "{first} .. {last}");
    }
}
