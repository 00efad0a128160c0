//! Alignment of the four telemetry sources on one 2 Hz wall-clock grid.
//!
//! Every source is placed on the grid by `t_wall_ns` only: the guest's and
//! netflow's `t_mono_ns` come from other clocks, and aligning on them drops
//! every netflow row (the clock-base trap of the corpus format).
//!
//! Per channel kind: counters become per-second rates between consecutive
//! samples (a drop to a smaller value is a reset: that interval is
//! missing); interval totals become per-second values; gauges stay as they
//! are. Grid step `k` covers `[start + k·500 ms, start + (k+1)·500 ms)` and
//! takes the last valid sample no older than one nominal period before the
//! step's end. Steps without one are missing: their value repeats the last
//! present value (0 before any) and `present` is false.

use crate::registry::{CHANNELS, ChannelKind, Source};

use super::STEP_NS;

/// One source's rows, strictly ordered on `t_wall_ns`.
#[derive(Debug, Clone, Copy)]
pub struct SourceRows<'a> {
    /// The source.
    pub source: Source,
    /// Wall-clock time of each row.
    pub t_wall_ns: &'a [i64],
    /// One column per channel of the source, in registry order; `NaN` is missing.
    pub columns: &'a [Vec<f64>],
}

/// All 46 channels on a 2 Hz grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Wall-clock time of step 0.
    pub start_wall_ns: i64,
    /// Number of steps.
    pub steps: usize,
    /// Channel-major values: `values[c * steps + k]`.
    pub values: Vec<f32>,
    /// Whether `values[c * steps + k]` was observed (false: filled).
    pub present: Vec<bool>,
}

impl Grid {
    /// The values of channel `c` (registry index).
    pub fn channel(&self, c: usize) -> &[f32] {
        &self.values[c * self.steps..(c + 1) * self.steps]
    }

    /// The presence flags of channel `c`.
    pub fn channel_present(&self, c: usize) -> &[bool] {
        &self.present[c * self.steps..(c + 1) * self.steps]
    }
}

/// The per-sample series of one channel: rates for counters, per-second
/// values for interval totals, gauges unchanged; `NaN` where unknown.
pub fn sample_series(kind: ChannelKind, period_ns: i64, t_wall_ns: &[i64], raw: &[f64]) -> Vec<f64> {
    match kind {
        ChannelKind::Gauge => raw.to_vec(),
        ChannelKind::IntervalTotal => {
            let period_s = period_ns as f64 / 1e9;
            raw.iter().map(|v| v / period_s).collect()
        }
        ChannelKind::Counter => {
            let mut out = vec![f64::NAN; raw.len()];
            for i in 1..raw.len() {
                let dt = (t_wall_ns[i] - t_wall_ns[i - 1]) as f64 / 1e9;
                let dv = raw[i] - raw[i - 1];
                // NaN compares false: a missing neighbour leaves NaN.
                if dt > 0.0 && dv >= 0.0 {
                    out[i] = dv / dt;
                }
            }
            out
        }
    }
}

/// Aligns `sources` on the grid from `start_wall_ns` up to `end_wall_ns`.
/// Channels of absent sources are missing throughout.
pub fn align(sources: &[SourceRows<'_>], start_wall_ns: i64, end_wall_ns: i64) -> Grid {
    let steps = usize::try_from((end_wall_ns - start_wall_ns).max(0) / STEP_NS).unwrap_or(0);
    let mut grid = Grid {
        start_wall_ns,
        steps,
        values: vec![0.0; CHANNELS.len() * steps],
        present: vec![false; CHANNELS.len() * steps],
    };
    for rows in sources {
        let period = rows.source.nominal_period_ns();
        let channels = CHANNELS.iter().enumerate().filter(|(_, c)| c.source == rows.source);
        for ((index, channel), raw) in channels.zip(rows.columns) {
            let series = sample_series(channel.kind, period, rows.t_wall_ns, raw);
            place(&mut grid, index, rows.t_wall_ns, &series, period);
        }
    }
    grid
}

/// Puts one channel's samples on the grid (sample-and-hold, bounded staleness).
fn place(grid: &mut Grid, channel: usize, t_wall_ns: &[i64], series: &[f64], period_ns: i64) {
    let steps = grid.steps;
    let values = &mut grid.values[channel * steps..(channel + 1) * steps];
    let present = &mut grid.present[channel * steps..(channel + 1) * steps];
    let mut next = 0usize;
    let mut latest: Option<(i64, f64)> = None;
    let mut carried = 0.0f32;
    for k in 0..steps {
        let step_end = grid.start_wall_ns + (k as i64 + 1) * STEP_NS;
        while next < t_wall_ns.len() && t_wall_ns[next] < step_end {
            if series[next].is_finite() {
                latest = Some((t_wall_ns[next], series[next]));
            }
            next += 1;
        }
        match latest {
            Some((t, v)) if step_end - t <= period_ns + STEP_NS => {
                carried = v as f32;
                values[k] = carried;
                present[k] = true;
            }
            _ => values[k] = carried,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(name: &str) -> usize {
        CHANNELS.iter().position(|c| c.name() == name).unwrap_or(usize::MAX)
    }

    #[test]
    fn counters_become_rates_and_resets_are_missing() {
        let t = [0, 500_000_000, 1_000_000_000, 1_500_000_000];
        let rates = sample_series(ChannelKind::Counter, STEP_NS, &t, &[100.0, 150.0, 10.0, 60.0]);
        assert!(rates[0].is_nan());
        assert_eq!(rates[1], 100.0);
        assert!(rates[2].is_nan(), "a reset is missing, not a negative rate");
        assert_eq!(rates[3], 100.0);
        let totals = sample_series(ChannelKind::IntervalTotal, 1_000_000_000, &t, &[3.0]);
        assert_eq!(totals, vec![3.0]);
    }

    #[test]
    fn sources_meet_on_wall_clock_time_and_gaps_are_flagged() {
        let start = 1_000_000_000_000;
        let proc_t: Vec<i64> = (0..20).map(|i| start + i * STEP_NS + 10_000_000).collect();
        let mut proc_cols = vec![vec![f64::NAN; 20]; 13];
        proc_cols[2] = (0..20).map(|i| if (8..14).contains(&i) { f64::NAN } else { i as f64 }).collect();
        let net_t: Vec<i64> = (0..10).map(|i| start + i * 1_000_000_000 + 20_000_000).collect();
        let mut net_cols = vec![vec![0.0; 10]; 8];
        net_cols[4] = vec![7.0; 10];
        let grid = align(
            &[
                SourceRows { source: Source::Proc, t_wall_ns: &proc_t, columns: &proc_cols },
                SourceRows { source: Source::Netflow, t_wall_ns: &net_t, columns: &net_cols },
            ],
            start,
            start + 10_000_000_000,
        );
        assert_eq!(grid.steps, 20);
        let rss = index_of("proc.rss_bytes");
        assert_eq!(grid.channel(rss)[3], 3.0);
        // Missing samples: held for one period, then flagged and filled with the last value.
        assert!(grid.channel_present(rss)[8]);
        assert!(!grid.channel_present(rss)[10]);
        assert_eq!(grid.channel(rss)[10], 7.0);
        assert!(grid.channel_present(rss)[15]);
        let syn = index_of("netflow.syn_count");
        assert!(grid.channel_present(syn).iter().all(|p| *p), "netflow fills every step");
        assert_eq!(grid.channel(syn)[5], 7.0);
        let guest = index_of("guest.load1");
        assert!(grid.channel_present(guest).iter().all(|p| !*p), "an absent source is missing");
    }
}
