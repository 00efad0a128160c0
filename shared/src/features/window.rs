//! The window grid: 10 s windows every 5 s from the first label, each
//! labelled by the class covering at least 80 % of it. Windows straddling a
//! transition without such a class are dropped (and counted).

use crate::label::Label;

use super::{STEP_NS, STRIDE_STEPS, WINDOW_STEPS};

/// Share of a window a label must cover to name it.
pub const LABEL_COVERAGE: f64 = 0.8;

/// One labelled window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// First grid step of the window.
    pub start_step: usize,
    /// Seconds from the first label to the window start.
    pub start_s: f64,
    /// The window's class.
    pub label: Label,
}

/// Windows of an episode and how many were dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows {
    /// Kept windows, in time order.
    pub windows: Vec<Window>,
    /// Windows dropped for straddling a transition.
    pub dropped: usize,
}

/// Windows over a label timeline: `segments` are (start wall ns, label) in
/// increasing time; `end_wall_ns` closes the last segment.
pub fn windows(segments: &[(i64, Label)], end_wall_ns: i64) -> Windows {
    let mut out = Windows::default();
    let Some(&(start, _)) = segments.first() else { return out };
    let window_ns = WINDOW_STEPS as i64 * STEP_NS;
    let mut step = 0usize;
    loop {
        let w_start = start + step as i64 * STEP_NS;
        let w_end = w_start + window_ns;
        if w_end > end_wall_ns {
            break;
        }
        let mut best: Option<(Label, i64)> = None;
        for (i, &(s_start, label)) in segments.iter().enumerate() {
            let s_end = segments.get(i + 1).map_or(end_wall_ns, |n| n.0);
            let overlap = (s_end.min(w_end) - s_start.max(w_start)).max(0);
            // Adjacent segments may repeat a label: add their overlaps up.
            let total = overlap + best.filter(|(l, _)| *l == label).map_or(0, |(_, o)| o);
            if best.is_none_or(|(_, o)| total > o) {
                best = Some((label, total));
            }
        }
        match best {
            Some((label, covered)) if covered as f64 >= LABEL_COVERAGE * window_ns as f64 => {
                out.windows.push(Window { start_step: step, start_s: step as f64 * STEP_NS as f64 / 1e9, label })
            }
            _ => out.dropped += 1,
        }
        step += STRIDE_STEPS;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::Profile;

    const S: i64 = 1_000_000_000;

    #[test]
    fn windows_take_the_label_covering_80_percent_and_drop_straddlers() {
        let attack = Label::Attack(Profile::IoWalk);
        // benign 0-22 s, attack 22-60 s, end 60 s.
        let w = windows(&[(0, Label::Benign), (22 * S, attack)], 60 * S);
        let starts: Vec<(f64, Label)> = w.windows.iter().map(|w| (w.start_s, w.label)).collect();
        // Starts 0,5,10,15,20,...,50; 10-20 s is benign, 15-25 s straddles (70 % benign),
        // 20-30 s is 80 % attack.
        assert_eq!(starts[..3], [(0.0, Label::Benign), (5.0, Label::Benign), (10.0, Label::Benign)]);
        assert_eq!(starts[3], (20.0, attack));
        assert_eq!(w.dropped, 1);
        assert_eq!(w.windows.len() + w.dropped, 11);
        assert_eq!(w.windows[3].start_step, 40);
    }

    #[test]
    fn repeated_labels_add_up_and_short_episodes_have_no_windows() {
        let w = windows(&[(0, Label::Benign), (4 * S, Label::Benign)], 10 * S);
        assert_eq!(w.windows.len(), 1);
        assert_eq!(windows(&[(0, Label::Benign)], 9 * S), Windows::default());
        assert_eq!(windows(&[], 9 * S), Windows::default());
    }
}
