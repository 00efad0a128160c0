//! Per-window features: summary statistics per channel and the channel ×
//! time tensor with its mask.

use crate::registry::CHANNELS;

use super::WINDOW_STEPS;
use super::align::Grid;

/// Names of the summary statistics, in column order.
pub const STAT_NAMES: [&str; 6] = ["mean", "std", "min", "max", "delta", "p95"];

/// Number of summary features per window (46 channels × 6 statistics).
pub const SUMMARY_LEN: usize = CHANNELS.len() * STAT_NAMES.len();
/// Number of tensor cells per window (46 channels × 20 steps).
pub const TENSOR_LEN: usize = CHANNELS.len() * WINDOW_STEPS;

/// Column names of the summary features, e.g. `netflow.syn_count.mean`.
pub fn summary_names() -> Vec<String> {
    CHANNELS.iter().flat_map(|c| STAT_NAMES.iter().map(move |s| format!("{}.{s}", c.name()))).collect()
}

/// Summary statistics of the present values: mean, population std, min,
/// max, last − first, and the 95th percentile (nearest rank). All `NaN`
/// when nothing is present.
pub fn summarize(values: &[f32], present: &[bool]) -> [f32; 6] {
    // Windows are short: keep the present values on the stack.
    let mut buffer = [0f64; 64];
    let mut heap = Vec::new();
    let kept: &mut [f64] = if values.len() <= buffer.len() {
        let mut n = 0;
        for (v, _) in values.iter().zip(present).filter(|(_, p)| **p) {
            buffer[n] = f64::from(*v);
            n += 1;
        }
        &mut buffer[..n]
    } else {
        heap.extend(values.iter().zip(present).filter(|(_, p)| **p).map(|(v, _)| f64::from(*v)));
        &mut heap
    };
    if kept.is_empty() {
        return [f32::NAN; 6];
    }
    let n = kept.len() as f64;
    let mean = kept.iter().sum::<f64>() / n;
    let var = kept.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let delta = kept[kept.len() - 1] - kept[0];
    let (min, max) = kept.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let rank = ((0.95 * n).ceil() as usize).clamp(1, kept.len());
    let (_, p95, _) = kept.select_nth_unstable_by(rank - 1, f64::total_cmp);
    [mean as f32, var.sqrt() as f32, min as f32, max as f32, delta as f32, *p95 as f32]
}

/// The features of the window starting at grid step `start_step`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFeatures {
    /// [`SUMMARY_LEN`] values, channel-major, statistics in [`STAT_NAMES`] order.
    pub summary: Vec<f32>,
    /// [`TENSOR_LEN`] values, channel-major (`tensor[c * 20 + t]`).
    pub tensor: Vec<f32>,
    /// 1 where the tensor cell was observed, 0 where it was filled.
    pub mask: Vec<u8>,
}

/// Computes one window's features from the grid.
pub fn window_features(grid: &Grid, start_step: usize) -> WindowFeatures {
    let mut out = WindowFeatures {
        summary: Vec::with_capacity(SUMMARY_LEN),
        tensor: Vec::with_capacity(TENSOR_LEN),
        mask: Vec::with_capacity(TENSOR_LEN),
    };
    let end = (start_step + WINDOW_STEPS).min(grid.steps);
    for c in 0..CHANNELS.len() {
        let values = &grid.channel(c)[start_step.min(end)..end];
        let present = &grid.channel_present(c)[start_step.min(end)..end];
        out.summary.extend_from_slice(&summarize(values, present));
        out.tensor.extend_from_slice(values);
        out.mask.extend(present.iter().map(|p| u8::from(*p)));
        // A window cut short by the grid end is padded as missing.
        for _ in values.len()..WINDOW_STEPS {
            out.tensor.push(0.0);
            out.mask.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_by_hand() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0], &[true; 4]);
        assert_eq!(s[0], 2.5);
        assert!((s[1] - 1.118_034).abs() < 1e-6);
        assert_eq!((s[2], s[3], s[4], s[5]), (1.0, 4.0, 3.0, 4.0));
        let s = summarize(&[9.0, 2.0, 100.0, 4.0], &[false, true, false, true]);
        assert_eq!((s[0], s[4]), (3.0, 2.0));
        assert!(summarize(&[1.0], &[false]).iter().all(|v| v.is_nan()));
        let ramp: Vec<f32> = (1..=20).map(|v| v as f32).collect();
        assert_eq!(summarize(&ramp, &[true; 20])[5], 19.0);
    }

    #[test]
    fn names_and_lengths_agree() {
        let names = summary_names();
        assert_eq!(names.len(), SUMMARY_LEN);
        assert_eq!(names[0], "proc.cpu_user.mean");
        assert!(names.contains(&"netflow.syn_count.p95".to_string()));
        let grid = Grid { start_wall_ns: 0, steps: 25, values: vec![1.0; 46 * 25], present: vec![true; 46 * 25] };
        let f = window_features(&grid, 10);
        assert_eq!((f.summary.len(), f.tensor.len(), f.mask.len()), (SUMMARY_LEN, TENSOR_LEN, TENSOR_LEN));
        assert_eq!(f.mask.iter().filter(|m| **m == 0).count(), 46 * 5, "cells past the grid end are masked");
    }

    #[test]
    fn long_inputs_use_the_heap_and_agree() {
        let values: Vec<f32> = (0..100).map(|v| (v % 17) as f32).collect();
        let present: Vec<bool> = (0..100).map(|i| i < 60 && i % 3 != 0).collect();
        let on_heap = summarize(&values, &present);
        let on_stack = summarize(&values[..60], &present[..60]);
        assert_eq!(on_heap, on_stack);
    }
}
