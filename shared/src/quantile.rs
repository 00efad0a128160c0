//! The one quantile convention of cis490's figures read from samples
//! (bootstrap intervals, latency percentiles on the dashboard): linear
//! interpolation between order statistics, NumPy's default, so a peer in
//! NumPy gets the same numbers.

/// The finite values of `values`, sorted ascending (NaN and infinities left out).
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The `q` quantile (clamped to 0..=1) of ascending `sorted`; `None` when empty.
pub fn of_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q.clamp(0.0, 1.0) * last as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    Some(sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let sorted = sorted_finite(&[4.0, f64::NAN, 1.0, 3.0, 2.0]);
        assert_eq!(sorted, vec![1.0, 2.0, 3.0, 4.0]);
        for (q, expected) in [(0.025, 1.075), (0.5, 2.5), (0.975, 3.925)] {
            assert!((of_sorted(&sorted, q).unwrap_or(f64::NAN) - expected).abs() < 1e-12);
        }
        assert_eq!(of_sorted(&[7.0], 0.99), Some(7.0));
        assert_eq!(of_sorted(&[], 0.5), None);
    }
}
