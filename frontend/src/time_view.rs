//! Which stretch of the replay's kept history the strips and bands show,
//! pure so zooming and panning are unit-tested natively. Live views follow
//! the newest frame (the automatic span that grows with the history, or a
//! span picked: last minute, last 5 minutes, or one zoomed to); a fixed
//! view holds a stretch of the past still while frames arrive. The wheel
//! zooms (a live view keeps its right edge on the newest frame, a fixed
//! one zooms about the pointer), a drag pans, and a view panned or zoomed
//! back to the newest frame follows it again.

use std::collections::VecDeque;

use crate::scroll_strip::{MAX_SPAN_S, span_for};

/// The shortest span a zoom reaches, in seconds (10 frames at 2 Hz).
pub const MIN_SPAN_S: f64 = 5.0;

/// What the replay's time axis shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeView {
    /// Follows the newest frame over `span_s` seconds, or over the
    /// automatic span of the kept history ([`span_for`]) when `None`.
    Live {
        /// Seconds shown, `None` for the automatic span.
        span_s: Option<f64>,
    },
    /// A still stretch `t0..t1` of the history.
    Fixed {
        /// Time at the left edge.
        t0: f64,
        /// Time at the right edge.
        t1: f64,
    },
}

impl Default for TimeView {
    fn default() -> Self {
        TimeView::AUTO
    }
}

/// The spans the range picker offers: label and view.
pub const PRESETS: [(&str, TimeView); 3] = [
    ("1 min", TimeView::Live { span_s: Some(60.0) }),
    ("5 min", TimeView::Live { span_s: Some(300.0) }),
    ("all", TimeView::AUTO),
];

impl TimeView {
    /// The automatic live view: the whole kept history, growing in steps.
    pub const AUTO: TimeView = TimeView::Live { span_s: None };

    /// Whether the view follows the newest frame.
    pub fn is_live(self) -> bool {
        matches!(self, TimeView::Live { .. })
    }

    /// The shown range for kept frames `first_t..=newest_t`.
    pub fn range(self, first_t: f64, newest_t: f64) -> (f64, f64) {
        match self {
            TimeView::Live { span_s } => (newest_t - span_s.unwrap_or_else(|| span_for(newest_t - first_t)), newest_t),
            TimeView::Fixed { t0, t1 } => (t0, t1),
        }
    }

    /// The view after zooming by `factor` (< 1 in, > 1 out) about the
    /// point `at_share` (0 left .. 1 right) of the shown `range`, with the
    /// history `first_t..=newest_t`. Live views stay live.
    pub fn zoomed(self, range: (f64, f64), at_share: f64, factor: f64, (first_t, newest_t): (f64, f64)) -> TimeView {
        let span = ((range.1 - range.0) * factor).clamp(MIN_SPAN_S, MAX_SPAN_S);
        if self.is_live() {
            return TimeView::Live { span_s: Some(span) };
        }
        let at = at_share.clamp(0.0, 1.0);
        let t_at = range.0 + at * (range.1 - range.0);
        settle(t_at - at * span, span, (first_t, newest_t))
    }

    /// The view after dragging the shown `range` by `by_share` of its
    /// width (positive: the content moves right, earlier times come in).
    pub fn panned(self, range: (f64, f64), by_share: f64, (first_t, newest_t): (f64, f64)) -> TimeView {
        let span = range.1 - range.0;
        settle(range.0 - by_share * span, span, (first_t.min(range.0), newest_t))
    }
}

/// A `span`-long view starting at `t0`, kept inside the history: one that
/// reaches the newest frame follows it.
fn settle(t0: f64, span: f64, (first_t, newest_t): (f64, f64)) -> TimeView {
    let t0 = t0.max(first_t.min(newest_t - span));
    if t0 + span >= newest_t {
        return TimeView::Live { span_s: Some(span) };
    }
    TimeView::Fixed { t0, t1: t0 + span }
}

/// The index of the frame time in `times` (sorted) nearest `t`, if
/// there is a frame within `max_gap_s` of it (a pointer over the empty left
/// part of a short history reads no frame).
pub fn nearest_frame(times: &VecDeque<f64>, t: f64, max_gap_s: f64) -> Option<usize> {
    let after = times.partition_point(|x| *x < t);
    let candidates = [after.checked_sub(1), (after < times.len()).then_some(after)];
    candidates
        .into_iter()
        .flatten()
        .min_by(|a, b| (times[*a] - t).abs().total_cmp(&(times[*b] - t).abs()))
        .filter(|i| (times[*i] - t).abs() <= max_gap_s)
}

/// The transform that brings `t0` of the shown range `(t0, t1)` to the
/// left edge of a track laid out in episode time from 0 (`t1 - t0`
/// seconds across the plot), in whole device pixels of a plot
/// `plot_device_px` wide at `pixel_ratio` (the strips scroll by whole
/// pixels too): a frame that moves the view by less than a pixel gives the
/// same transform, and restyles nothing. Until the width is known
/// (`plot_device_px` 0), a share of the track's width.
pub fn track_shift((t0, t1): (f64, f64), plot_device_px: f64, pixel_ratio: f64) -> String {
    let share = -t0 / (t1 - t0).max(1e-3);
    if plot_device_px > 0.0 && pixel_ratio > 0.0 {
        let px = (share * plot_device_px).round() / pixel_ratio;
        format!("translateX({:.3}px)", if px == 0.0 { 0.0 } else { px })
    } else {
        format!("translateX({:.4}%)", share * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_move_by_whole_device_pixels() {
        // 600 s across 500 px: a 0.5 s frame is 0.42 px.
        assert_eq!(track_shift((0.0, 600.0), 500.0, 1.0), "translateX(0.000px)");
        assert_eq!(track_shift((0.5, 600.5), 500.0, 1.0), "translateX(0.000px)", "under half a pixel: no change");
        assert_eq!(track_shift((1.0, 601.0), 500.0, 1.0), "translateX(-1.000px)");
        assert_eq!(track_shift((60.0, 660.0), 500.0, 1.0), "translateX(-50.000px)");
        // A high-density screen rounds to its own pixels.
        assert_eq!(track_shift((1.0, 601.0), 1000.0, 2.0), "translateX(-1.000px)");
        assert_eq!(track_shift((0.4, 600.4), 1000.0, 2.0), "translateX(-0.500px)");
        // Not measured yet: a share of the track.
        assert_eq!(track_shift((60.0, 660.0), 0.0, 1.0), "translateX(-10.0000%)");
    }

    const HISTORY: (f64, f64) = (30.0, 630.0);

    #[test]
    fn the_pointer_reads_the_nearest_frame() {
        let times: VecDeque<f64> = [10.0, 10.5, 11.0, 11.5].into_iter().collect();
        assert_eq!(nearest_frame(&times, 10.6, 1.0), Some(1));
        assert_eq!(nearest_frame(&times, 10.8, 1.0), Some(2));
        assert_eq!(nearest_frame(&times, 0.0, 1.0), None, "left of the history");
        assert_eq!(nearest_frame(&times, 12.0, 1.0), Some(3));
        assert_eq!(nearest_frame(&VecDeque::new(), 1.0, 1.0), None);
    }

    #[test]
    fn live_views_end_at_the_newest_frame() {
        assert_eq!(TimeView::AUTO.range(30.0, 630.0), (30.0, 630.0));
        assert_eq!(TimeView::AUTO.range(0.0, 20.0), (-40.0, 20.0), "a short history fills a minute");
        assert_eq!(PRESETS[0].1.range(30.0, 630.0), (570.0, 630.0));
        assert_eq!(TimeView::Fixed { t0: 100.0, t1: 200.0 }.range(30.0, 630.0), (100.0, 200.0));
    }

    #[test]
    fn zooming_a_live_view_keeps_it_live() {
        let zoomed = TimeView::AUTO.zoomed((30.0, 630.0), 0.2, 0.5, HISTORY);
        assert_eq!(zoomed, TimeView::Live { span_s: Some(300.0) });
        let tiny = zoomed.zoomed((0.0, 6.0), 0.5, 0.1, HISTORY);
        assert_eq!(tiny, TimeView::Live { span_s: Some(MIN_SPAN_S) });
        let wide = zoomed.zoomed((0.0, 500.0), 0.5, 4.0, HISTORY);
        assert_eq!(wide, TimeView::Live { span_s: Some(MAX_SPAN_S) });
    }

    #[test]
    fn zooming_a_fixed_view_keeps_the_time_under_the_pointer() {
        let fixed = TimeView::Fixed { t0: 100.0, t1: 200.0 };
        assert_eq!(fixed.zoomed((100.0, 200.0), 0.25, 0.5, HISTORY), TimeView::Fixed { t0: 112.5, t1: 162.5 });
        // Zooming out past the oldest frame stops at it.
        assert_eq!(fixed.zoomed((100.0, 200.0), 0.5, 3.0, HISTORY), TimeView::Fixed { t0: 30.0, t1: 330.0 });
        // Zooming out past the newest frame follows it again.
        let late = TimeView::Fixed { t0: 500.0, t1: 600.0 };
        assert_eq!(late.zoomed((500.0, 600.0), 0.5, 2.0, HISTORY), TimeView::Live { span_s: Some(200.0) });
    }

    #[test]
    fn dragging_pans_and_a_drag_back_to_now_follows_again() {
        let live = TimeView::Live { span_s: Some(60.0) };
        let back = live.panned((570.0, 630.0), 0.5, HISTORY);
        assert_eq!(back, TimeView::Fixed { t0: 540.0, t1: 600.0 });
        assert_eq!(back.panned((540.0, 600.0), -0.25, HISTORY), TimeView::Fixed { t0: 555.0, t1: 615.0 });
        assert_eq!(back.panned((540.0, 600.0), -1.0, HISTORY), TimeView::Live { span_s: Some(60.0) });
        // Not past the oldest frame.
        assert_eq!(back.panned((540.0, 600.0), 20.0, HISTORY), TimeView::Fixed { t0: 30.0, t1: 90.0 });
        // A history shorter than the span has nowhere to pan to: it stays live.
        let short = TimeView::AUTO.panned((-40.0, 20.0), 0.5, (0.0, 20.0));
        assert_eq!(short, TimeView::Live { span_s: Some(60.0) });
    }
}
