//! Values with their units as people read them: bytes in KiB/MiB/GiB,
//! percentages with one decimal, whole counts without decimals ("2
//! clients", not "2.00 clients"), other quantities to about three
//! significant digits, nanoseconds as ns/µs/ms/s. [`channel_unit`] says
//! what a replay channel's values count. Pure: unit-tested natively.

use cis490_shared::registry::CHANNELS;

/// The unit of replay channel `name` (`proc.rss_bytes` → `bytes`) from the
/// registry; `""` for a channel it does not name.
pub fn channel_unit(name: &str) -> &'static str {
    let Some((source, field)) = name.split_once('.') else { return "" };
    CHANNELS.iter().find(|c| c.source.as_str() == source && c.field == field).map_or("", |c| c.unit())
}

/// `value` in `unit`, e.g. `17375232, "bytes"` → `16.6 MiB`.
pub fn with_unit(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    if unit.strip_suffix("/s").is_some_and(is_bytes) {
        return format!("{}/s", bytes(value));
    }
    if is_bytes(unit) {
        return bytes(value);
    }
    if unit == "ns" {
        return nanoseconds(value);
    }
    match unit {
        "%" | "percent" => format!("{value:.1} %"),
        "" => significant(value),
        _ if value.fract() == 0.0 && value.abs() < 1e15 => format!("{value:.0} {unit}"),
        _ => format!("{} {unit}", significant(value)),
    }
}

fn is_bytes(unit: &str) -> bool {
    matches!(unit, "bytes" | "byte" | "B")
}

fn bytes(value: f64) -> String {
    const STEPS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value;
    let mut step = 0;
    while scaled.abs() >= 1024.0 && step + 1 < STEPS.len() {
        scaled /= 1024.0;
        step += 1;
    }
    if step == 0 { format!("{scaled:.0} B") } else { format!("{scaled:.1} {}", STEPS[step]) }
}

fn nanoseconds(value: f64) -> String {
    let (scaled, unit) = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")]
        .into_iter()
        .find(|(from, _)| value.abs() >= *from)
        .map_or((value, "ns"), |(from, unit)| (value / from, unit));
    if unit == "ns" { format!("{scaled:.0} ns") } else { format!("{} {unit}", significant(scaled)) }
}

/// About three significant digits, without a trailing exponent.
fn significant(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_counts_and_percentages_read_as_people_write_them() {
        assert_eq!(with_unit(17_375_232.0, "bytes"), "16.6 MiB");
        assert_eq!(with_unit(512.0, "bytes"), "512 B");
        assert_eq!(with_unit(3.5 * 1024.0 * 1024.0 * 1024.0, "B"), "3.5 GiB");
        assert_eq!(with_unit(-2048.0, "bytes"), "-2.0 KiB");
        assert_eq!(with_unit(1536.0, "bytes/s"), "1.5 KiB/s");
        assert_eq!(with_unit(2.0, "clients"), "2 clients");
        assert_eq!(with_unit(12.345, "%"), "12.3 %");
        assert_eq!(with_unit(1234.5, "events/s"), "1234 events/s");
        assert_eq!(with_unit(4.567, "ms"), "4.57 ms");
        assert_eq!(with_unit(f64::NAN, "ms"), "–");
        assert_eq!(with_unit(1_234_567_890.0, "ns"), "1.23 s");
        assert_eq!(with_unit(2_500.0, "ns"), "2.50 µs");
        assert_eq!(with_unit(12.0, "ns"), "12 ns");
    }

    #[test]
    fn channels_take_their_unit_from_the_registry() {
        assert_eq!(channel_unit("proc.rss_bytes"), "bytes");
        assert_eq!(channel_unit("guest.cpu_user"), "%");
        assert_eq!(channel_unit("proc.cpu_user"), "ticks");
        assert_eq!(channel_unit("channel_07"), "");
        assert_eq!(channel_unit("proc."), "");
    }
}
