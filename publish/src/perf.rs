//! `perf` events about a process: resident memory and CPU use, read from
//! Linux's `/proc/<pid>/stat` (on other systems nothing is reported).

use std::time::{Duration, Instant};

use cis490_shared::events::{Event, Number, PerfEvent};

use crate::{Publish, PublishError};

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// User + system CPU time in seconds.
    pub cpu_s: f64,
    /// When it was read.
    pub at: Instant,
}

/// Reads `/proc/<pid>/stat` (`pid` = `self` for this process).
pub fn sample(pid: &str) -> Option<ProcessSample> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat (11, 12 here); rss (pages) is 24 (21 here).
    let ticks = 100.0; // USER_HZ on every Linux the lab runs
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some(ProcessSample { rss_bytes: rss_pages * 4096, cpu_s: (utime + stime) / ticks, at: Instant::now() })
}

/// Watching a process stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// `/proc/<pid>/stat` cannot be read (no such process, or not Linux).
    #[error("cannot read /proc/{pid}/stat (is process {pid} running?)")]
    Gone {
        /// The process watched.
        pid: String,
    },
    /// The hub refused the events.
    #[error("publishing perf events")]
    Publish(#[from] PublishError),
}

/// Publishes `perf` events about `pid` as `source` every `every` until
/// the process is gone or publishing fails.
pub fn watch(pid: &str, source: &str, every: Duration, publisher: &dyn Publish) -> Result<(), WatchError> {
    let gone = || WatchError::Gone { pid: pid.to_string() };
    let mut before = sample(pid).ok_or_else(gone)?;
    loop {
        std::thread::sleep(every);
        let now = sample(pid).ok_or_else(gone)?;
        publisher.publish(&events(source, &before, &now))?;
        before = now;
    }
}

/// `perf` events for `source` from two samples: RSS and CPU percent.
pub fn events(source: &str, before: &ProcessSample, now: &ProcessSample) -> Vec<Event> {
    let wall = now.at.duration_since(before.at).as_secs_f64();
    let cpu = if wall > 0.0 { 100.0 * (now.cpu_s - before.cpu_s) / wall } else { 0.0 };
    let mut events = vec![Event::Perf(PerfEvent::new(source, "rss_bytes", now.rss_bytes.into(), "bytes"))];
    // Finite for any two readings of /proc; a broken clock reports no CPU figure.
    if let Some(cpu) = Number::from_f64(cpu) {
        events.push(Event::Perf(PerfEvent::new(source, "cpu_percent", cpu, "%")));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::events::EventKind;

    #[test]
    fn this_process_can_be_measured() {
        let Some(a) = sample("self") else { return }; // not Linux
        let spin: u64 = (0..2_000_000u64).map(|i| i % 7).sum();
        assert!(spin > 0);
        let b = sample("self").unwrap_or(a);
        assert!(b.rss_bytes > 1 << 20);
        let events = events("test", &a, &b);
        assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), [EventKind::Perf; 2]);
    }
}
