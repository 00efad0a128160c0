//! Whether what a scene shows is still live (pure; unit-tested natively).
//! A page must not say *live* over frozen data: a scene's data is
//! **stale** while the hub connection is down (since the moment it
//! closed), and, while connected, when a stream that should keep moving
//! has stopped — replay frames, predictions and perf figures after
//! [`Stream::expected_every_ms`] without one, training and other jobs when
//! a job still running has had no update for that long. Finished data
//! (evaluations, profiles, finished jobs and curves) does not go stale
//! while the hub is connected: it is the hub's state. Times are the
//! page's clock (milliseconds since the Unix epoch) when an event arrived,
//! so a hub or producer with a wrong clock does not matter.

use std::collections::BTreeMap;

use cis490_shared::events::EventKind;

use crate::route::Scene;

/// A kind of data a scene shows, with its own cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    /// `replay` frames (every 500 ms of episode time while a replay runs).
    Replay,
    /// `prediction` events (one per window while a replay runs).
    Predictions,
    /// `progress` events (jobs and training curves).
    Progress,
    /// `metrics` events.
    Metrics,
    /// `perf` events (the server's own every 5 s).
    Perf,
    /// `attack_profile` events.
    Profiles,
}

impl Stream {
    /// The stream an event kind belongs to.
    pub fn of(kind: EventKind) -> Stream {
        match kind {
            EventKind::Replay => Stream::Replay,
            EventKind::Prediction => Stream::Predictions,
            EventKind::Progress => Stream::Progress,
            EventKind::Metrics => Stream::Metrics,
            EventKind::Perf => Stream::Perf,
            EventKind::AttackProfile => Stream::Profiles,
        }
    }

    /// Longest silence before the stream counts as stopped, while it
    /// should be moving (for `progress`: while a job runs); `None` for data
    /// that is final once sent.
    pub fn expected_every_ms(self) -> Option<f64> {
        match self {
            Stream::Replay => Some(10_000.0),
            Stream::Predictions | Stream::Perf => Some(30_000.0),
            Stream::Progress => Some(120_000.0),
            Stream::Metrics | Stream::Profiles => None,
        }
    }

    /// The streams a scene draws.
    pub fn of_scene(scene: Scene) -> &'static [Stream] {
        match scene {
            Scene::Overview | Scene::Training => &[Stream::Progress],
            Scene::Replay => &[Stream::Replay, Stream::Predictions],
            Scene::Metrics => &[Stream::Metrics],
            Scene::Perf => &[Stream::Perf, Stream::Predictions],
            Scene::Profiles => &[Stream::Profiles],
            Scene::Browser => &[Stream::Replay],
        }
    }
}

/// When each stream last moved, and when the connection went down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Freshness {
    /// Page time of the last event of each stream.
    last: BTreeMap<Stream, f64>,
    /// Page time the connection closed, while it is down.
    down_since: Option<f64>,
}

impl Freshness {
    /// An event of `kind` arrived at `now_ms`.
    pub fn arrived(&mut self, kind: EventKind, now_ms: f64) {
        self.last.insert(Stream::of(kind), now_ms);
    }

    /// The connection closed at `now_ms` (a later close keeps the first).
    pub fn connection_lost(&mut self, now_ms: f64) {
        self.down_since.get_or_insert(now_ms);
    }

    /// The connection is open again (the hub's state follows).
    pub fn connection_open(&mut self) {
        self.down_since = None;
    }

    /// Since when `stream` has been stale at `now_ms`, if it is: the
    /// connection's loss, or the last event of a stream that should be
    /// moving (`running`: a job of the stream is unfinished; only
    /// `progress` asks). A stream that never sent anything is not stale:
    /// the scene says it is empty instead.
    pub fn stale_since(&self, stream: Stream, running: bool, now_ms: f64) -> Option<f64> {
        let last = *self.last.get(&stream)?;
        if let Some(down) = self.down_since {
            return Some(down.max(last));
        }
        let limit = stream.expected_every_ms()?;
        let moving = stream != Stream::Progress || running;
        (moving && now_ms - last > limit).then_some(last)
    }

    /// The earliest [`Freshness::stale_since`] of a scene's streams.
    pub fn scene_stale_since(&self, scene: Scene, running_jobs: bool, now_ms: f64) -> Option<f64> {
        Stream::of_scene(scene).iter().filter_map(|s| self.stale_since(*s, running_jobs, now_ms)).min_by(f64::total_cmp)
    }
}

/// `HH:MM:SS` of a Unix time in milliseconds, shifted by `utc_offset_min`
/// minutes (local time: JavaScript's `-getTimezoneOffset()`).
pub fn clock_time(unix_ms: f64, utc_offset_min: f64) -> String {
    let seconds = ((unix_ms / 1000.0).floor() + utc_offset_min * 60.0).rem_euclid(86_400.0) as u64;
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// Whole seconds left until `at_ms` from `now_ms`, rounded up, never below 0.
pub fn seconds_until(at_ms: f64, now_ms: f64) -> u64 {
    ((at_ms - now_ms) / 1000.0).ceil().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_received_is_not_stale_and_a_lost_connection_makes_everything_stale() {
        let mut f = Freshness::default();
        assert_eq!(f.stale_since(Stream::Metrics, false, 1e12), None);
        f.arrived(EventKind::Metrics, 1000.0);
        f.arrived(EventKind::Replay, 2000.0);
        assert_eq!(f.stale_since(Stream::Metrics, false, 1e12), None, "final data, hub connected");
        f.connection_lost(5000.0);
        f.connection_lost(9000.0);
        assert_eq!(f.stale_since(Stream::Metrics, false, 9500.0), Some(5000.0), "since the first close");
        assert_eq!(f.scene_stale_since(Scene::Replay, false, 9500.0), Some(5000.0));
        assert_eq!(f.scene_stale_since(Scene::Profiles, false, 9500.0), None, "no profile ever came");
        f.connection_open();
        f.arrived(EventKind::Metrics, 10_000.0);
        assert_eq!(f.stale_since(Stream::Metrics, false, 10_001.0), None, "the hub's state came again");
    }

    #[test]
    fn a_stream_that_stops_moving_is_stale_since_its_last_event() {
        let mut f = Freshness::default();
        f.arrived(EventKind::Replay, 1000.0);
        assert_eq!(f.stale_since(Stream::Replay, false, 11_000.0), None, "10 s is still live");
        assert_eq!(f.stale_since(Stream::Replay, false, 11_001.0), Some(1000.0));
        f.arrived(EventKind::Progress, 1000.0);
        assert_eq!(f.stale_since(Stream::Progress, false, 1e9), None, "every job finished: the curves are final");
        assert_eq!(f.stale_since(Stream::Progress, true, 121_001.0), Some(1000.0), "a running job went quiet");
        assert_eq!(f.scene_stale_since(Scene::Training, true, 121_001.0), Some(1000.0));
        assert_eq!(f.scene_stale_since(Scene::Training, true, 60_000.0), None);
    }

    #[test]
    fn times_read_as_a_clock_and_countdowns_in_whole_seconds() {
        assert_eq!(clock_time(0.0, 0.0), "00:00:00");
        assert_eq!(clock_time(((13 * 60 + 5) * 60 + 9) as f64 * 1000.0 + 999.0, 0.0), "13:05:09");
        assert_eq!(clock_time(3_600_000.0, -120.0), "23:00:00", "a day wraps");
        assert_eq!(clock_time(0.0, 60.0), "01:00:00");
        assert_eq!(seconds_until(4_000.0, 0.0), 4);
        assert_eq!(seconds_until(4_000.0, 100.0), 4, "3.9 s reads 4 s");
        assert_eq!(seconds_until(4_000.0, 5_000.0), 0);
    }
}
