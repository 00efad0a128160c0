//! The cluster bootstrap: resample whole episodes (the windows of one
//! episode are correlated, so the episode is the unit of independence),
//! percentile intervals, paired comparisons on shared resamples, and Holm's
//! correction for many comparisons.
//!
//! Every model of an evaluation is scored on the same [`Draws`], so the
//! difference of two models on one resample is a paired difference.

use cis490_shared::quantile;
use cis490_shared::rng::Rng;

/// A point estimate and its percentile interval (the report's type).
pub use cis490_shared::evaluation::Interval;

/// How many times each episode is drawn, per resample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draws {
    episodes: usize,
    counts: Vec<u32>,
}

impl Draws {
    /// `resamples` resamples of `episodes` episodes, each drawing
    /// `episodes` times with replacement, from `seed`.
    pub fn new(episodes: usize, resamples: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut counts = vec![0u32; episodes * resamples];
        for resample in counts.chunks_mut(episodes.max(1)) {
            for _ in 0..episodes {
                resample[rng.below(episodes as u64) as usize] += 1;
            }
        }
        Self { episodes, counts }
    }

    /// Number of resamples.
    pub fn resamples(&self) -> usize {
        self.counts.len().checked_div(self.episodes).unwrap_or(0)
    }

    /// Number of episodes.
    pub fn episodes(&self) -> usize {
        self.episodes
    }

    /// How many times each episode is drawn in resample `r`.
    pub fn resample(&self, r: usize) -> &[u32] {
        &self.counts[r * self.episodes..(r + 1) * self.episodes]
    }
}

/// The percentile interval of `resampled` (linear interpolation, as
/// NumPy; undefined resamples, NaN, are left out) at `confidence` (e.g. 0.95) around `point`. With no defined
/// resample the bounds are NaN (null in JSON).
pub fn percentile_interval(point: f64, resampled: &[f64], confidence: f64) -> Interval {
    let sorted = quantile::sorted_finite(resampled);
    let tail = (1.0 - confidence) / 2.0;
    let at = |q: f64| quantile::of_sorted(&sorted, q).unwrap_or(f64::NAN);
    Interval { point, lo: at(tail), hi: at(1.0 - tail) }
}

/// A paired comparison of two models on the same resamples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Difference a − b with its percentile interval.
    pub delta: Interval,
    /// Two-sided p-value of "no difference".
    pub p_value: f64,
}

/// Compares a and b, scored on the same resamples. The p-value is the
/// two-sided centred bootstrap test: the share of resampled differences
/// at least as far from the observed difference as the observed difference
/// is from 0, `(1 + k) / (1 + B)` so it is never 0. Identical models give
/// p = 1; resamples where either score is undefined are left out.
pub fn paired(a_point: f64, b_point: f64, a: &[f64], b: &[f64], confidence: f64) -> Paired {
    let observed = a_point - b_point;
    let deltas: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).filter(|d| d.is_finite()).collect();
    // A tolerance keeps float noise from splitting ties (identical models).
    let tolerance = 1e-12;
    let extreme = deltas.iter().filter(|d| (*d - observed).abs() + tolerance >= observed.abs()).count();
    Paired {
        delta: percentile_interval(observed, &deltas, confidence),
        p_value: (1 + extreme) as f64 / (1 + deltas.len()) as f64,
    }
}

/// Holm's step-down adjustment of `p` (same order as given): controls the
/// family-wise error rate over all comparisons of a report.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::confusion::Confusion;

    /// Macro F1 of every resample, from per-episode confusion matrices.
    fn resampled(episodes: &[Confusion], draws: &Draws) -> Vec<f64> {
        let mut sum = Confusion::new(episodes[0].classes());
        (0..draws.resamples())
            .map(|r| {
                sum.clear();
                for (e, times) in draws.resample(r).iter().enumerate() {
                    sum.add_scaled(&episodes[e], u64::from(*times));
                }
                sum.macro_f1().unwrap_or(f64::NAN)
            })
            .collect()
    }

    fn pooled(episodes: &[Confusion]) -> Confusion {
        let mut sum = Confusion::new(episodes[0].classes());
        episodes.iter().for_each(|e| sum.add_scaled(e, 1));
        sum
    }

    /// A two-class episode of `windows` windows of class `truth` where each
    /// is right with probability `skill`.
    fn episode(rng: &mut Rng, truth: usize, windows: usize, skill: f64) -> Confusion {
        let mut c = Confusion::new(2);
        for _ in 0..windows {
            c.add(truth, if rng.chance(skill) { truth } else { 1 - truth });
        }
        c
    }

    /// Episodes of a population where skill varies from episode to episode
    /// (the windows of one episode share it: they are correlated).
    fn population(rng: &mut Rng, n: usize) -> Vec<Confusion> {
        (0..n)
            .map(|i| {
                let skill = if rng.chance(0.3) { rng.range(0.1, 0.5) } else { rng.range(0.8, 1.0) };
                episode(rng, i % 2, 30, skill)
            })
            .collect()
    }

    #[test]
    fn draws_are_seeded_and_draw_every_episode_count_times() {
        let a = Draws::new(7, 50, 3);
        assert_eq!(a, Draws::new(7, 50, 3));
        assert_ne!(a, Draws::new(7, 50, 4));
        assert_eq!(a.resamples(), 50);
        assert!((0..50).all(|r| a.resample(r).iter().sum::<u32>() == 7));
        assert_eq!(Draws::new(0, 10, 1).resamples(), 0);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // numpy.percentile([1,2,3,4], [2.5, 97.5]) = [1.075, 3.925]
        let i = percentile_interval(2.5, &v, 0.95);
        assert!((i.lo - 1.075).abs() < 1e-12 && (i.hi - 3.925).abs() < 1e-12, "{i:?}");
        let none = percentile_interval(0.5, &[f64::NAN], 0.95);
        assert!(none.lo.is_nan() && none.hi.is_nan());
    }

    #[test]
    fn holm_by_hand() {
        // sorted 0.01, 0.02, 0.04 -> ×3, ×2, ×1 = 0.03, 0.04, 0.04 (monotone).
        let adjusted = holm(&[0.04, 0.01, 0.02]);
        let expected = [0.04, 0.03, 0.04];
        assert!(adjusted.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-12), "{adjusted:?}");
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    /// 95 % intervals from 40 episodes cover the population's macro F1 in
    /// roughly 95 % of 200 independent samples.
    #[test]
    fn intervals_cover_the_truth_about_95_percent_of_the_time() {
        let mut rng = Rng::new(11);
        let truth = pooled(&population(&mut rng, 40_000)).macro_f1().unwrap_or_default();
        let trials = 200;
        let mut covered = 0;
        for trial in 0..trials {
            let sample = population(&mut rng, 40);
            let draws = Draws::new(sample.len(), 400, trial);
            let point = pooled(&sample).macro_f1().unwrap_or_default();
            let interval = percentile_interval(point, &resampled(&sample, &draws), 0.95);
            covered += usize::from(interval.lo <= truth && truth <= interval.hi);
        }
        let coverage = covered as f64 / trials as f64;
        assert!((0.88..=0.99).contains(&coverage), "coverage {coverage} (truth {truth})");
    }

    /// Each of 20 episodes of 50 windows is either all right or all wrong.
    /// Resampling episodes sees 20 independent outcomes and gives a wide
    /// interval; resampling the 1,000 windows as if independent would give
    /// one about √50 ≈ 7 times narrower (≈ ±0.03), which this test rejects.
    #[test]
    fn the_episode_not_the_window_is_the_resampling_unit() {
        let single = |truth: usize, predicted: usize, windows: usize| {
            let mut c = Confusion::new(2);
            (0..windows).for_each(|_| c.add(truth, predicted));
            c
        };
        // Episode i: truth i % 2, right when i % 5 < 3.
        let outcomes: Vec<(usize, usize)> =
            (0..20).map(|i| (i % 2, if i % 5 < 3 { i % 2 } else { 1 - i % 2 })).collect();
        let episodes: Vec<Confusion> = outcomes.iter().map(|(t, p)| single(*t, *p, 50)).collect();
        let draws = Draws::new(20, 2000, 5);
        let point = pooled(&episodes).macro_f1().unwrap_or_default();
        let interval = percentile_interval(point, &resampled(&episodes, &draws), 0.95);
        assert!((point - 0.6).abs() < 1e-9, "{point}");
        assert!(interval.hi - interval.lo > 0.3, "interval {interval:?} is as narrow as window resampling");
        assert!(interval.lo < point && point < interval.hi);
        // The same 1,000 windows resampled one by one: the too-narrow interval.
        let windows: Vec<Confusion> =
            outcomes.iter().flat_map(|(t, p)| std::iter::repeat_n(single(*t, *p, 1), 50)).collect();
        let naive = percentile_interval(point, &resampled(&windows, &Draws::new(windows.len(), 500, 5)), 0.95);
        assert!(naive.hi - naive.lo < 0.1, "{naive:?}");
    }

    #[test]
    fn identical_models_give_p_one_and_a_clearly_better_one_a_small_p() {
        let mut rng = Rng::new(21);
        let weak: Vec<Confusion> = (0..60).map(|i| episode(&mut rng, i % 2, 20, 0.6)).collect();
        let strong: Vec<Confusion> = (0..60).map(|i| episode(&mut rng, i % 2, 20, 0.9)).collect();
        let close: Vec<Confusion> = (0..60).map(|i| episode(&mut rng, i % 2, 20, 0.61)).collect();
        let draws = Draws::new(60, 2000, 9);
        let score = |e: &[Confusion]| (pooled(e).macro_f1().unwrap_or_default(), resampled(e, &draws));
        let (weak_point, weak_resampled) = score(&weak);
        let (strong_point, strong_resampled) = score(&strong);
        let (close_point, close_resampled) = score(&close);
        let same = paired(weak_point, weak_point, &weak_resampled, &weak_resampled, 0.95);
        assert_eq!(same.p_value, 1.0);
        assert_eq!((same.delta.lo, same.delta.hi), (0.0, 0.0));
        let better = paired(strong_point, weak_point, &strong_resampled, &weak_resampled, 0.95);
        assert!(better.p_value < 0.01, "{better:?}");
        assert!(better.delta.lo > 0.0, "{better:?}");
        let similar = paired(close_point, weak_point, &close_resampled, &weak_resampled, 0.95);
        assert!(similar.p_value > 0.05, "{similar:?}");
    }
}
