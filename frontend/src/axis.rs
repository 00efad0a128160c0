//! Axis ticks, pure so they are unit-tested natively: "nice" value ticks
//! (1, 2 or 5 × 10^k), value ticks labelled in a unit people read (bytes
//! in B/KiB/MiB/GiB on binary steps, nanoseconds as ns/µs/ms/s, `%`,
//! anything else with k/M/G), time ticks in seconds on steps a clock
//! uses (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10 min ...), and integer ticks
//! for epochs. The charts place the ticks; nothing here draws.

/// A tick: where it is (in data units) and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position in data units.
    pub value: f64,
    /// Label text.
    pub label: String,
}

/// The multiples of `step` in `lo..=hi` (tiny rounding noise snapped to
/// the multiple, `-0` to `0`).
pub fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && step.is_finite() && step > 0.0) || hi < lo {
        return Vec::new();
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect()
}

/// The smallest step, 1, 2 or 5 × 10^k and at least `min_step`, that puts
/// at most `max_ticks` ticks on `lo..=hi`.
pub fn nice_step(lo: f64, hi: f64, max_ticks: usize, min_step: f64) -> f64 {
    let max_ticks = max_ticks.max(2);
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return min_step.max(1.0);
    }
    let mut magnitude = 10f64.powf((span / max_ticks as f64).log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0] {
            let step = m * magnitude;
            if step >= min_step && multiples(lo, hi, step).len() <= max_ticks {
                return step;
            }
        }
        magnitude *= 10.0;
    }
}

/// Nice ticks over `lo..=hi`, at most `max_ticks` of them, as many as fit.
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    multiples(lo, hi, nice_step(lo, hi, max_ticks, 0.0))
}

/// Decimals that show a step of `step` exactly (0 for whole steps).
fn decimals_for(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 || !step.is_finite() { 0 } else { (-step.log10().floor()).clamp(0.0, 6.0) as usize }
}

/// How a unit's values are scaled on an axis: the divisor, the label
/// suffix, and whether a space goes between number and suffix.
fn axis_scale(unit: &str, magnitude: f64) -> (f64, String, bool) {
    let stepped = |base: f64, names: &[&str]| {
        let mut divisor = 1.0;
        let mut i = 0;
        while magnitude >= divisor * base && i + 1 < names.len() {
            divisor *= base;
            i += 1;
        }
        (divisor, names[i].to_string())
    };
    const BYTES: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    match unit {
        "bytes" | "byte" | "B" => {
            let (d, s) = stepped(1024.0, &BYTES);
            (d, s, true)
        }
        "bytes/s" | "B/s" => {
            let (d, s) = stepped(1024.0, &BYTES);
            (d, format!("{s}/s"), true)
        }
        "ns" => {
            let (d, s) = stepped(1000.0, &["ns", "µs", "ms", "s"]);
            (d, s, true)
        }
        "%" | "percent" => (1.0, "%".into(), true),
        _ => {
            let (d, s) = stepped(1000.0, &["", "k", "M", "G", "T"]);
            (d, s, false)
        }
    }
}

/// Ticks over `lo..=hi` for values in `unit`, at most `max_ticks`, on
/// nice steps of the scaled unit (bytes: 0, 5, 10 MiB, not 4.77 MiB
/// steps), labelled `5 MiB`, `20 %`, `1.5 s`, `20k` (a count's unit is
/// left to the chart's caption).
pub fn value_ticks(lo: f64, hi: f64, unit: &str, max_ticks: usize) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite()) || hi < lo {
        return Vec::new();
    }
    let (divisor, suffix, spaced) = axis_scale(unit, lo.abs().max(hi.abs()));
    let (lo_s, hi_s) = (lo / divisor, hi / divisor);
    // Things counted one by one (bytes, packets, threads) have no half.
    let counted = divisor == 1.0 && !matches!(unit, "" | "%" | "percent");
    let step = nice_step(lo_s, hi_s, max_ticks, if counted { 1.0 } else { 0.0 });
    let decimals = decimals_for(step);
    let values = if hi_s > lo_s { multiples(lo_s, hi_s, step) } else { vec![lo_s] };
    values
        .into_iter()
        .map(|v| {
            let number = format!("{v:.decimals$}");
            let label = match (suffix.is_empty(), spaced) {
                (true, _) => number,
                (false, true) => format!("{number} {suffix}"),
                (false, false) => format!("{number}{suffix}"),
            };
            Tick { value: v * divisor, label }
        })
        .collect()
}

/// Steps a time axis uses, in seconds.
const TIME_STEPS_S: [f64; 16] =
    [0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0];

/// Time ticks (seconds) over `t0..=t1`, at most `max_ticks`, on the first
/// of [`TIME_STEPS_S`] that fits, labelled `90 s` (`2.5 s` below a second's
/// step). Times are since an episode's start: none before 0.
pub fn time_ticks(t0: f64, t1: f64, max_ticks: usize) -> Vec<Tick> {
    if !(t1 - t0).is_finite() || t1 <= t0 {
        return Vec::new();
    }
    // The step suits the whole axis (a short history's ticks are as far
    // apart as a long one's), the ticks start at 0.
    let fits = |step: &f64| multiples(t0, t1, *step).len() <= max_ticks.max(2);
    let step = TIME_STEPS_S.into_iter().find(fits).unwrap_or_else(|| nice_step(t0, t1, max_ticks, 1.0));
    let decimals = decimals_for(step);
    multiples(t0.max(0.0), t1, step)
        .into_iter()
        .map(|t| Tick { value: t, label: format!("{t:.decimals$} s") })
        .collect()
}

/// Whole-number ticks (epochs) over `lo..=hi`, at most `max_ticks`, never
/// a fraction.
pub fn integer_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<Tick> {
    let step = nice_step(lo, hi, max_ticks, 1.0);
    multiples(lo, hi, step).into_iter().map(|v| Tick { value: v, label: format!("{v:.0}") }).collect()
}

/// Where `value` lies between `lo` (0) and `hi` (1); 0.5 for an empty range.
pub fn share(value: f64, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo { (value - lo) / (hi - lo) } else { 0.5 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn nice_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.0, 10.0, 6, 0.0), 2.0);
        assert_eq!(nice_step(0.0, 10.0, 3, 0.0), 5.0);
        assert_eq!(nice_step(0.1, 1.0, 4, 0.0), 0.5);
        assert_eq!(nice_step(0.0, 1000.0, 11, 0.0), 100.0);
        assert_eq!(nice_step(3.0, 3.0, 5, 0.0), 1.0);
        assert_eq!(nice_step(0.0, 1.0, 3, 1.0), 1.0, "never below the smallest step");
        assert_eq!(nice_ticks(-1.2, 11.3, 6), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.1, 0.3, 3), vec![0.1, 0.2, 0.30000000000000004]);
        for (lo, hi, max) in [(0.0, 1.0, 3), (3.3, 97.0, 4), (-5.0, 1e9, 5), (0.001, 0.0013, 3)] {
            let ticks = nice_ticks(lo, hi, max);
            assert!(!ticks.is_empty() && ticks.len() <= max, "{lo}..{hi}: {ticks:?}");
            assert!(ticks.iter().all(|t| *t >= lo && *t <= hi), "{lo}..{hi}: {ticks:?}");
        }
        assert!(multiples(1.0, 0.0, 1.0).is_empty());
        assert_eq!(multiples(-0.5, 0.5, 1.0), vec![0.0]);
    }

    #[test]
    fn byte_ticks_step_in_binary_units() {
        const MIB: f64 = 1024.0 * 1024.0;
        let ticks = value_ticks(0.0, 17.0 * MIB, "bytes", 4);
        assert_eq!(labels(&ticks), ["0 MiB", "5 MiB", "10 MiB", "15 MiB"]);
        assert_eq!(ticks[1].value, 5.0 * MIB);
        assert_eq!(labels(&value_ticks(0.0, 700.0, "bytes", 3)), ["0 B", "500 B"]);
        assert_eq!(labels(&value_ticks(1.5 * 1024.0 * MIB, 1.9 * 1024.0 * MIB, "bytes", 3)), ["1.6 GiB", "1.8 GiB"]);
        assert_eq!(labels(&value_ticks(0.0, 3000.0, "bytes/s", 3)), ["0 KiB/s", "1 KiB/s", "2 KiB/s"]);
        assert_eq!(labels(&value_ticks(0.0, 1.0, "bytes", 3)), ["0 B", "1 B"], "no half bytes");
        assert_eq!(labels(&value_ticks(0.0, 1.5, "threads", 3)), ["0", "1"]);
    }

    #[test]
    fn percent_time_and_count_ticks() {
        assert_eq!(labels(&value_ticks(0.0, 100.0, "%", 3)), ["0 %", "50 %", "100 %"]);
        assert_eq!(labels(&value_ticks(0.0, 2.5e9, "ns", 3)), ["0 s", "1 s", "2 s"]);
        assert_eq!(labels(&value_ticks(12_000.0, 31_000.0, "ticks", 3)), ["20k", "30k"]);
        assert_eq!(labels(&value_ticks(0.2, 0.9, "", 3)), ["0.5"]);
        assert_eq!(labels(&value_ticks(4.0, 4.0, "threads", 3)), ["4"]);
        assert!(value_ticks(f64::NAN, 1.0, "", 3).is_empty());
    }

    #[test]
    fn time_ticks_use_clock_steps() {
        assert_eq!(labels(&time_ticks(569.5, 629.5, 7)), ["570 s", "580 s", "590 s", "600 s", "610 s", "620 s"]);
        assert_eq!(labels(&time_ticks(-31.5, 148.5, 7)), ["0 s", "30 s", "60 s", "90 s", "120 s"], "none before 0");
        assert_eq!(labels(&time_ticks(-51.0, 9.0, 7)), ["0 s"], "spaced for the whole axis");
        assert_eq!(labels(&time_ticks(29.5, 629.5, 8)), ["120 s", "240 s", "360 s", "480 s", "600 s"]);
        assert_eq!(
            labels(&time_ticks(10.0, 13.0, 8)),
            ["10.0 s", "10.5 s", "11.0 s", "11.5 s", "12.0 s", "12.5 s", "13.0 s"]
        );
        assert!(time_ticks(5.0, 5.0, 8).is_empty());
    }

    #[test]
    fn epoch_ticks_are_whole_numbers() {
        assert_eq!(labels(&integer_ticks(1.0, 3.0, 8)), ["1", "2", "3"]);
        assert_eq!(labels(&integer_ticks(1.0, 40.0, 5)), ["10", "20", "30", "40"]);
        assert_eq!(share(5.0, (0.0, 10.0)), 0.5);
        assert_eq!(share(5.0, (1.0, 1.0)), 0.5);
    }
}
