//! What the dashboard knows, built from hub events (`docs/hub.md`): running
//! jobs, training curves, evaluation results, the replayed episode and the
//! models' predictions on it, attack-profile curves, perf series, and
//! counts of what arrived.
//! Every buffer is bounded so a dashboard left open for days on a kiosk
//! keeps a flat memory footprint. Pure: unit-tested natively.
//!
//! State events (`progress`, `metrics`, `attack_profile`, `perf`) replace
//! the entry with the same key, so the state the hub sends on every
//! (re)connect can be applied again without duplicating anything.

use std::collections::{BTreeMap, VecDeque};

use cis490_shared::evaluation::report_order;
use cis490_shared::events::{
    AttackProfileEvent, EpochScores, Event, Number, PerfEvent, PredictionEvent, ProgressEvent, ReplayEvent,
};
use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::label::Label;
use cis490_shared::registry::CHANNELS;
use serde_json::Value;

pub use crate::evaluation::{Interval, MetricsEntry};
use crate::freshness::Freshness;

/// Replay points kept per channel: 10 minutes at 2 Hz.
pub const MAX_REPLAY_POINTS: usize = 1200;
/// Prediction windows kept per model (10 minutes at a 5 s stride is 120).
pub const MAX_PREDICTIONS: usize = 240;
/// Points kept per perf series.
pub const MAX_PERF_POINTS: usize = 600;
/// Most points kept per training curve.
pub const MAX_CURVE_POINTS: usize = 1000;
/// Most jobs kept (oldest-updated dropped first).
pub const MAX_JOBS: usize = 64;

/// A long job's latest progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `validate`, `extract`, `train`, `eval`, ...
    pub job: String,
    /// Which run of the job (e.g. `gru-oracle`).
    pub id: String,
    /// Units done.
    pub done: f64,
    /// Units in all.
    pub total: f64,
    /// Unit name.
    pub unit: String,
    /// Latest message.
    pub message: String,
    /// Order of the last update (for eviction).
    updated: u64,
}

impl Job {
    /// Share done, 0–1.
    pub fn fraction(&self) -> f64 {
        if self.total > 0.0 { (self.done / self.total).clamp(0.0, 1.0) } else { 0.0 }
    }
}

/// One epoch (or boosting round) of a training curve; a score the trainer
/// did not measure is NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPoint {
    /// Epoch (or round) number, 1-based.
    pub epoch: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation macro F1.
    pub val_macro_f1: f64,
    /// Validation loss (the trees' log-loss per round).
    pub val_loss: f64,
}

impl From<EpochScores> for EpochPoint {
    fn from(s: EpochScores) -> EpochPoint {
        EpochPoint {
            epoch: s.epoch.as_f64(),
            train_loss: s.train_loss,
            val_macro_f1: s.val_macro_f1,
            val_loss: s.val_loss.unwrap_or(f64::NAN),
        }
    }
}

/// The episode being replayed: channel histories and the truth band.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// Episode.
    pub episode_id: String,
    /// Host.
    pub host_id: String,
    /// Channels in the order first seen.
    pub channels: Vec<String>,
    /// Frame times (seconds since the episode start), oldest first.
    pub t_s: VecDeque<f64>,
    /// One value per frame per channel (NaN where absent), aligned with `t_s`.
    pub values: BTreeMap<String, VecDeque<f64>>,
    /// Ground-truth label per frame, aligned with `t_s`.
    pub labels: VecDeque<String>,
}

/// Seconds per replay frame (the 2 Hz grid).
pub const STEP_S: f64 = 0.5;

impl Replay {
    /// Where the window ending at `end_t_s` starts in the kept frames, if
    /// all its frames are kept.
    fn window_start(&self, end_t_s: f64) -> Option<usize> {
        let first_t = end_t_s - WINDOW_STEPS as f64 * STEP_S;
        let start = self.t_s.iter().position(|t| (t - first_t).abs() < 1e-6)?;
        (start + WINDOW_STEPS <= self.t_s.len()).then_some(start)
    }

    /// Whether [`Replay::window`] can rebuild the window ending at `end_t_s`.
    pub fn has_window(&self, end_t_s: f64) -> bool {
        self.window_start(end_t_s).is_some()
    }

    /// The window of 20 frames ending at `end_t_s` (a prediction's `t_s`)
    /// as a model input source: 46 × 20 values, channel-major in registry
    /// order, and which were observed. A missing value carries the last
    /// observed one (0 before any), as on the server's grid — exact when
    /// the history reaches back to the episode's first frame. `None` when
    /// the window's frames are not all kept.
    pub fn window(&self, end_t_s: f64) -> Option<(Vec<f32>, Vec<u8>)> {
        let start = self.window_start(end_t_s)?;
        let mut values = Vec::with_capacity(CHANNELS.len() * WINDOW_STEPS);
        let mut observed = Vec::with_capacity(CHANNELS.len() * WINDOW_STEPS);
        for channel in CHANNELS.iter() {
            let series = self.values.get(&channel.name());
            let mut last = 0.0f32;
            for k in 0..start + WINDOW_STEPS {
                let v = series.and_then(|s| s.get(k)).copied().unwrap_or(f64::NAN);
                let present = v.is_finite();
                if present {
                    last = v as f32;
                }
                if k >= start {
                    values.push(last);
                    observed.push(u8::from(present));
                }
            }
        }
        Some((values, observed))
    }
}

/// One predicted window.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictedWindow {
    /// Window end (s since the episode start).
    pub t_s: f64,
    /// Predicted label.
    pub predicted: String,
    /// True label.
    pub truth: String,
    /// Class probabilities in [`Label::ALL`] order (missing labels 0).
    pub probs: Vec<f64>,
}

/// One model's predictions on the replayed episode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPredictions {
    /// Predicted windows, oldest first.
    pub windows: VecDeque<PredictedWindow>,
    /// The latest class probabilities, in label order.
    pub probs: Vec<(String, f64)>,
    /// Latency of each prediction (µs), oldest first.
    pub latency_us: VecDeque<f64>,
    /// `server` or `browser`.
    pub runtime: String,
}

impl ModelPredictions {
    /// Share of kept windows predicted right.
    pub fn agreement(&self) -> Option<f64> {
        let n = self.windows.len();
        (n > 0).then(|| self.windows.iter().filter(|w| w.predicted == w.truth).count() as f64 / n as f64)
    }
}

/// An attack-profile curve.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileCurve {
    /// Profile name.
    pub name: String,
    /// Its shape in words.
    pub shape: String,
    /// Normalized curve (0..=1).
    pub curve: Vec<f64>,
    /// The channel it was drawn from.
    pub channel: String,
}

/// A perf series: the latest figure and its history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerfSeries {
    /// Unit.
    pub unit: String,
    /// Latest value.
    pub value: f64,
    /// Latest percentiles, when the producer sends them.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Values received, oldest first.
    pub history: VecDeque<f64>,
}

fn push_bounded<T>(buffer: &mut VecDeque<T>, item: T, max: usize) {
    buffer.push_back(item);
    while buffer.len() > max {
        buffer.pop_front();
    }
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardState {
    /// Jobs by (job, id).
    pub jobs: BTreeMap<(String, String), Job>,
    /// Training curves by job id (`<model>-<variant>`).
    pub curves: BTreeMap<String, Vec<EpochPoint>>,
    /// Evaluation results by (model, variant, split).
    pub metrics: BTreeMap<(String, String, String), MetricsEntry>,
    /// The episode being replayed.
    pub replay: Replay,
    /// Predictions per `model-variant` on the replayed episode.
    pub predictions: BTreeMap<String, ModelPredictions>,
    /// Attack-profile curves by name.
    pub profiles: BTreeMap<String, ProfileCurve>,
    /// Perf series by (source, name).
    pub perf: BTreeMap<(String, String), PerfSeries>,
    /// Events applied, per type.
    pub received: BTreeMap<String, u64>,
    /// Messages that were not events (not JSON, or not a valid event).
    pub unreadable: u64,
    /// When each stream last moved and whether the hub is connected: what
    /// is stale ([`Freshness`]).
    pub freshness: Freshness,
    updates: u64,
}

impl DashboardState {
    /// Applies one WebSocket message (a JSON event, or an array of them).
    pub fn apply_text(&mut self, text: &str) {
        self.apply_text_maybe_at(text, None);
    }

    /// [`DashboardState::apply_text`] for a message that arrived at
    /// `now_ms` (the page's clock), recorded for [`Freshness`].
    pub fn apply_text_at(&mut self, text: &str, now_ms: f64) {
        self.apply_text_maybe_at(text, Some(now_ms));
    }

    fn apply_text_maybe_at(&mut self, text: &str, now_ms: Option<f64>) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(events)) => events.into_iter().for_each(|e| self.apply_json_at(e, now_ms)),
            Ok(event) => self.apply_json_at(event, now_ms),
            Err(_) => self.unreadable += 1,
        }
    }

    #[cfg(test)]
    fn apply_json(&mut self, value: Value) {
        self.apply_json_at(value, None);
    }

    fn apply_json_at(&mut self, value: Value, now_ms: Option<f64>) {
        match Event::from_value(value) {
            Ok(event) => {
                if let Some(now) = now_ms {
                    self.freshness.arrived(event.kind(), now);
                }
                self.apply(event)
            }
            Err(_) => self.unreadable += 1,
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: Event) {
        *self.received.entry(event.kind().as_str().to_string()).or_default() += 1;
        self.updates += 1;
        match event {
            Event::Progress(e) => self.apply_progress(e),
            Event::Replay(e) => self.apply_replay(e),
            Event::Prediction(e) => self.apply_prediction(e),
            Event::AttackProfile(e) => self.apply_profile(e),
            Event::Perf(e) => self.apply_perf(e),
            Event::Metrics(e) => {
                let entry = MetricsEntry::from_event(&e);
                self.metrics.insert((e.model, e.variant, e.split), entry);
            }
        }
    }

    fn apply_profile(&mut self, e: AttackProfileEvent) {
        let curve = e.curve.iter().map(Number::as_f64).collect();
        let profile =
            ProfileCurve { name: e.name.clone(), shape: e.shape, curve, channel: e.channel.unwrap_or_default() };
        self.profiles.insert(e.name, profile);
    }

    fn apply_replay(&mut self, e: ReplayEvent) {
        let t = e.t_s.as_f64();
        let replay = &mut self.replay;
        // A new episode, or the same one restarting (looping replay): start over.
        if replay.episode_id != e.episode_id || replay.t_s.back().is_some_and(|last| t < *last) {
            *replay = Replay { episode_id: e.episode_id.clone(), host_id: e.host_id.clone(), ..Replay::default() };
            self.predictions.values_mut().for_each(|p| {
                p.windows.clear();
                p.probs.clear();
            });
        }
        for name in e.values.keys() {
            if !replay.values.contains_key(name) {
                replay.channels.push(name.clone());
                // Earlier frames had no value for a channel seen only now.
                replay.values.insert(name.clone(), replay.t_s.iter().map(|_| f64::NAN).collect());
            }
        }
        for (name, series) in replay.values.iter_mut() {
            push_bounded(series, e.value(name).unwrap_or(f64::NAN), MAX_REPLAY_POINTS);
        }
        push_bounded(&mut replay.t_s, t, MAX_REPLAY_POINTS);
        push_bounded(&mut replay.labels, e.label, MAX_REPLAY_POINTS);
    }

    fn apply_prediction(&mut self, e: PredictionEvent) {
        // Browser runs of a model are kept apart from the server's.
        let key = if e.runtime == "browser" {
            format!("{}-{} (browser)", e.model, e.variant)
        } else {
            format!("{}-{}", e.model, e.variant)
        };
        let entry = self.predictions.entry(key).or_default();
        let in_label_order = Label::ALL.iter().map(|l| e.probability(l.as_str()).unwrap_or(0.0)).collect();
        let probs = e.probabilities().map(|(label, p)| (label.to_string(), p)).collect();
        let window =
            PredictedWindow { t_s: e.t_s.as_f64(), predicted: e.predicted, truth: e.truth, probs: in_label_order };
        push_bounded(&mut entry.windows, window, MAX_PREDICTIONS);
        entry.probs = probs;
        push_bounded(&mut entry.latency_us, e.latency_us.as_f64(), MAX_PREDICTIONS);
        entry.runtime = e.runtime;
    }

    fn apply_perf(&mut self, e: PerfEvent) {
        let value = e.value.as_f64();
        let series = self.perf.entry((e.source, e.name)).or_default();
        series.unit = e.unit;
        series.value = value;
        (series.p50, series.p95, series.p99) =
            (e.p50.map(|n| n.as_f64()), e.p95.map(|n| n.as_f64()), e.p99.map(|n| n.as_f64()));
        push_bounded(&mut series.history, value, MAX_PERF_POINTS);
    }

    fn apply_progress(&mut self, e: ProgressEvent) {
        let job = Job {
            job: e.job.clone(),
            id: e.id.clone(),
            done: e.done.as_f64(),
            total: e.total.as_f64(),
            unit: e.unit.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            updated: self.updates,
        };
        if job.job == "train" && e.history.is_some() {
            // The producer sent the curve so far: it replaces what we had
            // (a dashboard that connected late gets the whole curve), and
            // it is the whole truth (a final event's own scores may be the
            // best epoch's, not the last's).
            let mut curve: Vec<EpochPoint> = e.history_scores().into_iter().map(EpochPoint::from).collect();
            curve.sort_by(|a, b| a.epoch.total_cmp(&b.epoch));
            curve.drain(..curve.len().saturating_sub(MAX_CURVE_POINTS));
            self.curves.insert(job.id.clone(), curve);
        } else if job.job == "train"
            && let Some(point) = e.epoch_scores().map(EpochPoint::from)
        {
            let epoch = point.epoch;
            let curve = self.curves.entry(job.id.clone()).or_default();
            match curve.iter_mut().find(|p| p.epoch == epoch) {
                // The same epoch again (a reconnect's state): replace it.
                Some(existing) => *existing = point,
                None => {
                    curve.push(point);
                    curve.sort_by(|a, b| a.epoch.total_cmp(&b.epoch));
                    if curve.len() > MAX_CURVE_POINTS {
                        curve.remove(0);
                    }
                }
            }
        }
        self.jobs.insert((job.job.clone(), job.id.clone()), job);
        if self.jobs.len() > MAX_JOBS
            && let Some(oldest) = self.jobs.iter().min_by_key(|(_, j)| j.updated).map(|(k, _)| k.clone())
        {
            self.jobs.remove(&oldest);
        }
    }

    /// Jobs not finished yet, most recently updated first.
    pub fn running_jobs(&self) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self.jobs.values().filter(|j| j.done < j.total).collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(j.updated));
        jobs
    }

    /// Whether a training or other job is still running (its stream
    /// should keep moving; see [`Freshness::stale_since`]).
    pub fn has_running_jobs(&self) -> bool {
        self.jobs.values().any(|j| j.done < j.total)
    }

    /// Evaluation entries in report order
    /// ([`cis490_shared::evaluation::report_order`], then by split).
    pub fn metrics_in_order(&self) -> Vec<&MetricsEntry> {
        let mut entries: Vec<&MetricsEntry> = self.metrics.values().collect();
        entries.sort_by_key(|e| (report_order(&e.model, &e.variant), e.split.clone()));
        entries
    }
}

/// Milliseconds to wait before reconnect attempt `attempt` (0-based):
/// 0.5 s doubling to at most 10 s, so a restarted hub is found quickly and a
/// dead one is not hammered.
pub fn reconnect_delay_ms(attempt: u32) -> u32 {
    500u32.saturating_mul(1u32 << attempt.min(5)).min(10_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn epoch(id: &str, e: u32, f1: f64) -> Value {
        json!({"type": "progress", "job": "train", "id": id, "done": e, "total": 8, "unit": "epochs",
               "epoch": e, "train_loss": 1.0 / f64::from(e), "val_macro_f1": f1, "lr": 0.001})
    }

    #[test]
    fn training_progress_becomes_curves_and_jobs() {
        let mut s = DashboardState::default();
        s.apply_json(epoch("gru-oracle", 1, 0.5));
        s.apply_json(epoch("gru-oracle", 2, 0.7));
        s.apply_json(epoch("mlp-oracle", 1, 0.6));
        // A reconnect sends the latest state again: nothing is duplicated.
        s.apply_text(&epoch("gru-oracle", 2, 0.7).to_string());
        assert_eq!(s.curves["gru-oracle"].len(), 2);
        assert_eq!(s.curves["gru-oracle"][1].val_macro_f1, 0.7);
        assert_eq!(s.jobs.len(), 2);
        assert_eq!(s.running_jobs()[0].id, "gru-oracle");
        assert!((s.jobs[&("train".into(), "gru-oracle".into())].fraction() - 0.25).abs() < 1e-12);
        assert_eq!(s.received["progress"], 4);
    }

    #[test]
    fn a_late_dashboard_gets_the_whole_curve_from_the_history_field() {
        let mut s = DashboardState::default();
        let mut latest = epoch("cnn-realistic", 3, 0.8);
        latest["history"] = json!([
            {"epoch": 1, "train_loss": 1.0, "val_macro_f1": 0.5},
            {"epoch": 2, "train_loss": 0.5, "val_macro_f1": 0.7},
            {"epoch": 3, "train_loss": 0.33, "val_macro_f1": 0.8},
        ]);
        s.apply_json(latest);
        let f1: Vec<f64> = s.curves["cnn-realistic"].iter().map(|p| p.val_macro_f1).collect();
        assert_eq!(f1, vec![0.5, 0.7, 0.8]);
    }

    #[test]
    fn the_trees_round_curve_and_a_final_event_read_from_history() {
        let mut s = DashboardState::default();
        s.apply_json(json!({"type": "progress", "job": "train", "id": "gbt-oracle", "done": 300, "total": 300,
                            "unit": "rounds", "message": "done", "epoch": 3, "val_macro_f1": 0.9,
                            "history": [{"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "val_loss": 0.5, "val_macro_f1": 0.9},
                                        {"epoch": 3, "val_loss": 0.6}]}));
        let curve = &s.curves["gbt-oracle"];
        assert_eq!(curve.iter().map(|p| p.val_loss).collect::<Vec<_>>(), vec![0.9, 0.5, 0.6]);
        assert_eq!(curve.iter().filter(|p| p.val_macro_f1.is_finite()).count(), 1);
        assert!(curve.iter().all(|p| p.train_loss.is_nan()));
        // A network's final event reports its best epoch's F1 beside the
        // last epoch's number: the history it carries stays as sent.
        let mut done = epoch("gru-oracle", 3, 0.9);
        done["history"] = json!([
            {"epoch": 1, "train_loss": 1.0, "val_macro_f1": 0.5},
            {"epoch": 2, "train_loss": 0.5, "val_macro_f1": 0.9},
            {"epoch": 3, "train_loss": 0.4, "val_macro_f1": 0.8},
        ]);
        s.apply_json(done);
        assert_eq!(s.curves["gru-oracle"].iter().map(|p| p.val_macro_f1).collect::<Vec<_>>(), vec![0.5, 0.9, 0.8]);
    }

    #[test]
    fn arrival_times_feed_freshness() {
        use crate::freshness::Stream;
        let mut s = DashboardState::default();
        s.apply_text_at(&json!([epoch("gru-oracle", 1, 0.5)]).to_string(), 1000.0);
        assert!(s.has_running_jobs());
        assert_eq!(s.freshness.stale_since(Stream::Progress, true, 200_000.0), Some(1000.0));
        s.apply_text_at(&epoch("gru-oracle", 8, 0.5).to_string(), 2000.0);
        assert!(!s.has_running_jobs(), "8 of 8 epochs");
        assert_eq!(s.freshness.stale_since(Stream::Progress, s.has_running_jobs(), 1e9), None);
    }

    #[test]
    fn buffers_stay_bounded() {
        let mut s = DashboardState::default();
        for e in 0..(MAX_CURVE_POINTS as u32 + 50) {
            s.apply_json(epoch("lstm-realistic", e + 1, 0.5));
        }
        assert_eq!(s.curves["lstm-realistic"].len(), MAX_CURVE_POINTS);
        assert_eq!(s.curves["lstm-realistic"][0].epoch, 51.0);
        for i in 0..(MAX_JOBS + 10) {
            s.apply_json(
                json!({"type": "progress", "job": "validate", "id": format!("store-{i}"), "done": 1, "total": 2}),
            );
        }
        assert_eq!(s.jobs.len(), MAX_JOBS);
        assert!(!s.jobs.contains_key(&("train".to_string(), "lstm-realistic".to_string())), "oldest kept");
    }

    #[test]
    fn metrics_events_are_read_leniently_and_replaced_by_key() {
        let f1 = |p: f64| json!({"point": p, "lo": p - 0.05, "hi": p + 0.05});
        let event = |model: &str, variant: &str, p: f64| {
            json!({"type": "metrics", "model": model, "variant": variant, "split": "host", "macro_f1": f1(p),
                   "per_class": [{"label": "benign", "support": 10, "f1": f1(0.9)}],
                   "confusion": {"labels": ["benign", "io-walk"], "matrix": [[9, 1], [0, 4]]},
                   "in_distribution": {"macro_f1": f1(0.95)}, "generalization_gap": f1(0.1),
                   "untested_profiles": ["scan-and-dial"]})
        };
        let mut s = DashboardState::default();
        s.apply_text(&json!([event("mlp", "oracle", 0.7), event("gbt", "oracle", 0.8)]).to_string());
        s.apply_json(event("gbt", "realistic", 0.85));
        s.apply_json(event("gbt", "oracle", 0.9));
        let order: Vec<String> = s.metrics_in_order().iter().map(|e| e.name()).collect();
        assert_eq!(order, vec!["gbt-realistic", "gbt-oracle", "mlp-oracle"]);
        let gbt = s.metrics_in_order()[1];
        assert_eq!(gbt.macro_f1.point, 0.9);
        assert_eq!(gbt.macro_f1.text(), "0.900 [0.850, 0.950]");
        assert_eq!(gbt.confusion.matrix, vec![vec![9, 1], vec![0, 4]]);
        assert_eq!(gbt.untested_profiles, vec!["scan-and-dial"]);
        assert_eq!(gbt.in_distribution.map(|i| i.point), Some(0.95));
        // A metrics event without macro_f1, a non-event and garbage are counted, not fatal.
        s.apply_json(json!({"type": "metrics", "model": "x"}));
        s.apply_json(json!({"no": "type"}));
        s.apply_text("not json");
        assert_eq!(s.metrics.len(), 3);
        assert_eq!(s.unreadable, 3);
    }

    #[test]
    fn replay_frames_and_predictions_are_kept_per_episode_and_bounded() {
        let mut s = DashboardState::default();
        let frame = |ep: &str, t: f64, label: &str| {
            json!({"type": "replay", "episode_id": ep, "host_id": "rpi-01", "t_s": t, "label": label,
                   "values": {"host_cpu": t, "guest_rss": if t > 1.0 { json!(2.0) } else { Value::Null }}})
        };
        for k in 0..(MAX_REPLAY_POINTS + 30) {
            s.apply_json(frame("ep-1", k as f64 * 0.5, if k > 100 { "io-walk" } else { "benign" }));
        }
        assert_eq!(s.replay.t_s.len(), MAX_REPLAY_POINTS);
        assert_eq!(s.replay.values["host_cpu"].len(), MAX_REPLAY_POINTS);
        assert_eq!(s.replay.labels.back().map(String::as_str), Some("io-walk"));
        assert_eq!(s.replay.channels, vec!["guest_rss", "host_cpu"]);
        s.apply_json(
            json!({"type": "prediction", "model": "gbt", "variant": "oracle", "episode_id": "ep-1", "t_s": 10.0,
            "probs": {"benign": 0.2, "io-walk": 0.8}, "predicted": "io-walk", "truth": "io-walk",
            "latency_us": 120.0, "runtime": "server"}),
        );
        assert_eq!(s.predictions["gbt-oracle"].agreement(), Some(1.0));
        s.apply_json(
            json!({"type": "prediction", "model": "gbt", "variant": "oracle", "episode_id": "ep-1", "t_s": 10.0,
            "probs": {"benign": 0.2, "io-walk": 0.8}, "predicted": "benign", "truth": "io-walk",
            "latency_us": 900.0, "runtime": "browser"}),
        );
        assert_eq!(s.predictions["gbt-oracle (browser)"].agreement(), Some(0.0));
        assert_eq!(s.predictions["gbt-oracle"].windows.len(), 1, "browser runs are kept apart");
        assert_eq!(s.predictions["gbt-oracle"].probs.len(), 2);
        // The next episode starts over; a null value is NaN, not 0.
        s.apply_json(frame("ep-2", 0.0, "benign"));
        assert_eq!(s.replay.episode_id, "ep-2");
        assert_eq!(s.replay.t_s.len(), 1);
        assert!(s.replay.values["guest_rss"][0].is_nan());
        assert!(s.predictions["gbt-oracle"].windows.is_empty());
        assert!(s.replay.window(10.0).is_none(), "only one frame of ep-2 is kept");
        assert!(!s.replay.has_window(10.0));
    }

    #[test]
    fn profiles_and_perf_series() {
        let mut s = DashboardState::default();
        s.apply_json(json!({"type": "attack_profile", "name": "io-walk", "shape": "disk sweep", "curve": [0.0, 0.5, 1.0], "channel": "host_io"}));
        for v in 0..(MAX_PERF_POINTS + 5) {
            s.apply_json(
                json!({"type": "perf", "source": "hub", "name": "fanout", "value": v, "unit": "events/s", "p99": 2.0}),
            );
        }
        assert_eq!(s.profiles["io-walk"].curve, vec![0.0, 0.5, 1.0]);
        let fanout = &s.perf[&("hub".to_string(), "fanout".to_string())];
        assert_eq!(fanout.history.len(), MAX_PERF_POINTS);
        assert_eq!((fanout.value, fanout.p99, fanout.p50), ((MAX_PERF_POINTS + 4) as f64, Some(2.0), None));
    }

    #[test]
    fn reconnect_backs_off_to_ten_seconds() {
        let delays: Vec<u32> = (0..8).map(reconnect_delay_ms).collect();
        assert_eq!(delays, vec![500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(reconnect_delay_ms(u32::MAX), 10_000);
    }
}
