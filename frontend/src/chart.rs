//! Chart geometry, pure so it is unit-tested natively: data to SVG
//! coordinates, and min/max downsampling to the pixel width (a strip chart
//! of 10 minutes at 2 Hz has more points than a Pi's screen has columns;
//! keeping each column's minimum and maximum draws the same envelope with
//! at most two points per column, so spikes never disappear).

/// Smallest and largest finite value, if any.
pub fn data_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| Some(acc.map_or((v, v), |(lo, hi): (f64, f64)| (lo.min(v), hi.max(v)))))
}

/// Maps `(x, y)` data points into a `width` × `height` box (y up), with
/// `x_range` and `y_range` the data bounds; non-finite points are dropped,
/// y is clamped into the box.
pub fn to_box(
    points: &[(f64, f64)],
    x_range: (f64, f64),
    y_range: (f64, f64),
    width: f64,
    height: f64,
) -> Vec<(f64, f64)> {
    let span = |(lo, hi): (f64, f64)| if hi > lo { hi - lo } else { 1.0 };
    points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| {
            let px = (x - x_range.0) / span(x_range) * width;
            let py = (1.0 - ((y - y_range.0) / span(y_range)).clamp(0.0, 1.0)) * height;
            (px, py)
        })
        .collect()
}

/// SVG `points` attribute text.
pub fn svg_points(points: &[(f64, f64)]) -> String {
    points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
}

/// A number in three significant digits, with k / M / G / T for large
/// magnitudes (`28.7k`, `2.77G`, `0.107`): short enough for an axis label
/// beside a strip.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    // (from, unit, suffix): thousands keep their digits up to 9,999.
    let (scaled, suffix) = [(1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")]
        .into_iter()
        .find(|(from, _, _)| v.abs() >= *from)
        .map_or((v, ""), |(_, unit, suffix)| (v / unit, suffix));
    if scaled == 0.0 {
        return "0".into();
    }
    let decimals = (2 - scaled.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{scaled:.decimals$}{suffix}")
}

/// Keeps, per pixel column of a `columns`-wide chart, the minimum and
/// maximum point (in x order); points must be sorted by x and already in
/// pixel coordinates (0..columns). Fewer points than columns pass as they are.
pub fn downsample_min_max(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
    if points.len() <= columns.saturating_mul(2) {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(columns * 2);
    let mut start = 0;
    while start < points.len() {
        let column = points[start].0.floor();
        let mut end = start;
        while end < points.len() && points[end].0.floor() == column {
            end += 1;
        }
        let slice = &points[start..end];
        let min = slice.iter().enumerate().min_by(|a, b| a.1.1.total_cmp(&b.1.1)).map_or(0, |(i, _)| i);
        let max = slice.iter().enumerate().max_by(|a, b| a.1.1.total_cmp(&b.1.1)).map_or(0, |(i, _)| i);
        let (first, second) = if min <= max { (min, max) } else { (max, min) };
        out.push(slice[first]);
        if second != first {
            out.push(slice[second]);
        }
        start = end;
    }
    out
}

/// The `q` quantile (0..=1) of unsorted `values` (NaN left out), by the
/// project's convention (`cis490_shared::quantile`); `None` without values.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    cis490_shared::quantile::of_sorted(&cis490_shared::quantile::sorted_finite(values), q)
}

/// A histogram of positive `values` in `bins` logarithmic bins between the
/// smallest and largest value: `(lower edge, upper edge, count)` per bin.
pub fn log_histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let positive: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    let (Some(lo), Some(hi)) = (positive.iter().copied().reduce(f64::min), positive.iter().copied().reduce(f64::max))
    else {
        return Vec::new();
    };
    let bins = bins.max(1);
    let (log_lo, log_hi) = (lo.ln(), hi.ln().max(lo.ln() + 1e-9));
    let width = (log_hi - log_lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in &positive {
        let i = (((v.ln() - log_lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| ((log_lo + width * i as f64).exp(), (log_lo + width * (i + 1) as f64).exp(), n))
        .collect()
}

/// Seconds an open-ended run reaches past its start: far past any kept
/// history, so a band's last run covers every frame to come.
pub const OPEN_END_S: f64 = 1e6;

/// A run of one class on a label band, in episode seconds: `open` when it
/// lasts to the newest frame and beyond.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRun {
    /// Where it begins.
    pub start: f64,
    /// Where it ends (`start + OPEN_END_S` when open).
    pub end: f64,
    /// The class.
    pub class: String,
    /// Whether it lasts to the newest frame and beyond.
    pub open: bool,
}

impl BandRun {
    /// A closed run.
    pub fn closed((start, end, class): (f64, f64, String)) -> Self {
        Self { start, end, class, open: false }
    }

    /// What identifies the run's elements on a band: a frame that changes
    /// no run changes no key.
    pub fn key(&self) -> (u64, u64, String) {
        (self.start.to_bits(), self.end.to_bits(), self.class.clone())
    }
}

/// Runs of equal labels over time (`frames`: time and label, oldest
/// first): a run ends where the next begins; the last is open-ended, so it
/// stays the same run while frames of its label arrive. One pass, a
/// `String` per run.
pub fn label_runs<'a>(frames: impl IntoIterator<Item = (f64, &'a str)>) -> Vec<BandRun> {
    let mut runs: Vec<BandRun> = Vec::new();
    for (t, label) in frames {
        match runs.last_mut() {
            Some(run) if run.class == label => {}
            Some(run) => {
                run.end = t;
                runs.push(BandRun::closed((t, t, label.to_string())));
            }
            None => runs.push(BandRun::closed((t, t, label.to_string()))),
        }
    }
    if let Some(run) = runs.last_mut() {
        run.end = run.start + OPEN_END_S;
        run.open = true;
    }
    runs
}

/// `runs` (chronological `(start, end, label)`, e.g. a model's prediction
/// windows) with touching or overlapping runs of one label joined: where
/// a label band writes its class once.
pub fn joined_runs(runs: &[(f64, f64, String)]) -> Vec<(f64, f64, String)> {
    let mut out: Vec<(f64, f64, String)> = Vec::new();
    for (start, end, label) in runs {
        match out.last_mut() {
            Some(last) if last.2 == *label && *start <= last.1 + 1e-6 => last.1 = last.1.max(*end),
            _ => out.push((*start, *end, label.clone())),
        }
    }
    out
}

/// Colours a multi-series chart cycles through (`--series-0` ..).
pub const SERIES_COLOURS: usize = 8;

/// How each training run `<model>-<variant>` of `ids` is drawn on a
/// shared chart: a colour slot per model (in order of first appearance,
/// cycling after [`SERIES_COLOURS`]) and a dashed line for the realistic
/// variant, so `gru-oracle` and `gru-realistic` read as one model twice.
pub fn series_styles(ids: &[&str]) -> Vec<(usize, bool)> {
    let mut models: Vec<&str> = Vec::new();
    ids.iter()
        .map(|id| {
            let (model, dashed) = match id.strip_suffix("-realistic") {
                Some(model) => (model, true),
                None => (id.strip_suffix("-oracle").unwrap_or(id), false),
            };
            let slot = models.iter().position(|m| *m == model).unwrap_or_else(|| {
                models.push(model);
                models.len() - 1
            });
            (slot % SERIES_COLOURS, dashed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_runs_of_one_label_are_joined() {
        let run = |a: f64, b: f64, l: &str| (a, b, l.to_string());
        let windows = [
            run(0.0, 10.0, "benign"),
            run(5.0, 15.0, "benign"),
            run(15.0, 25.0, "io-walk"),
            run(30.0, 40.0, "io-walk"),
        ];
        assert_eq!(
            joined_runs(&windows),
            vec![run(0.0, 15.0, "benign"), run(15.0, 25.0, "io-walk"), run(30.0, 40.0, "io-walk")]
        );
        assert!(joined_runs(&[]).is_empty());
    }

    #[test]
    fn series_share_a_colour_per_model_and_dash_the_realistic_variant() {
        let styles = series_styles(&["gru-oracle", "gru-realistic", "mlp-oracle", "tcn", "mlp-realistic"]);
        assert_eq!(styles, [(0, false), (0, true), (1, false), (2, false), (1, true)]);
        let many: Vec<String> = (0..9).map(|i| format!("m{i}-oracle")).collect();
        let ids: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(series_styles(&ids)[8], (0, false), "colours cycle");
    }

    #[test]
    fn quantiles_histograms_and_label_runs() {
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        let h = log_histogram(&[1.0, 10.0, 100.0, 100.0, 0.0], 2);
        assert_eq!(h.iter().map(|b| b.2).collect::<Vec<_>>(), vec![1, 3]);
        assert!((h[0].0 - 1.0).abs() < 1e-9 && (h[1].1 - 100.0).abs() < 1e-6);
        assert!(log_histogram(&[], 5).is_empty());
        let frames = [(0.0, "benign"), (0.5, "benign"), (1.0, "io-walk"), (1.5, "io-walk")];
        let runs = label_runs(frames);
        let spans: Vec<_> = runs.iter().map(|r| (r.start, r.end, r.class.as_str(), r.open)).collect();
        assert_eq!(spans, vec![(0.0, 1.0, "benign", false), (1.0, 1.0 + OPEN_END_S, "io-walk", true)]);
        // A frame of the same label changes no run (nor its key).
        let longer = label_runs(frames.into_iter().chain([(2.0, "io-walk")]));
        assert_eq!(
            runs.iter().map(BandRun::key).collect::<Vec<_>>(),
            longer.iter().map(BandRun::key).collect::<Vec<_>>()
        );
        assert!(label_runs([]).is_empty());
    }

    #[test]
    fn data_maps_into_the_box_with_y_up() {
        let pts = to_box(&[(1.0, 0.0), (3.0, 1.0), (2.0, f64::NAN), (2.0, 2.0)], (1.0, 3.0), (0.0, 1.0), 100.0, 50.0);
        assert_eq!(pts, vec![(0.0, 50.0), (100.0, 0.0), (50.0, 0.0)]);
        // A single x value does not divide by zero.
        assert_eq!(to_box(&[(1.0, 0.5)], (1.0, 1.0), (0.0, 1.0), 10.0, 10.0), vec![(0.0, 5.0)]);
        assert_eq!(svg_points(&[(0.0, 1.26), (2.0, 3.0)]), "0.0,1.3 2.0,3.0");
    }

    #[test]
    fn compact_numbers_keep_three_significant_digits() {
        let shown: Vec<String> =
            [0.107, 1.343, 97.08, -43.6, 28675.2, 2.7715e9, 0.0, 12.0, 0.000123, f64::NAN].map(compact).to_vec();
        assert_eq!(shown, ["0.107", "1.34", "97.1", "-43.6", "28.7k", "2.77G", "0", "12.0", "0.000123", "–"]);
    }

    #[test]
    fn downsampling_keeps_each_columns_extremes() {
        // 1,200 points (10 min at 2 Hz) into 100 columns, with one spike.
        let mut points: Vec<(f64, f64)> = (0..1200).map(|i| (i as f64 / 12.0, (i % 7) as f64)).collect();
        points[601].1 = 100.0;
        let kept = downsample_min_max(&points, 100);
        assert!(kept.len() <= 200, "{}", kept.len());
        assert!(kept.iter().any(|p| p.1 == 100.0), "the spike was lost");
        assert!(kept.windows(2).all(|w| w[0].0 <= w[1].0), "x order kept");
        let few = vec![(0.0, 1.0), (5.0, 2.0)];
        assert_eq!(downsample_min_max(&few, 100), few);
    }
}
