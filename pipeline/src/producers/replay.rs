//! `replay` events: an episode's aligned frames (all 46 channels every
//! 500 ms, `null` where missing) with the ground-truth label, at real time
//! × speed. Features come from the archive on demand: no shards needed.
//!
//! [`stream`] paces the frames against the wall clock and attaches each
//! window's predictions to the frame at its end. A replay is live: when the
//! hub was away (a [`crate::publish::retry::Retrying`] publisher waits for it)
//! the frames that fell more than [`MAX_LATE`] behind are skipped, so the
//! replay resumes at the frame due now instead of replaying the outage in
//! a burst.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cis490_shared::events::{Event, Number, ReplayEvent};
use cis490_shared::features::STEP_NS;
use cis490_shared::registry::CHANNELS;
use serde_json::{Map, Value};

use crate::extract::episode::{EpisodeError, EpisodeWindows, extract_episode, extract_from};
use crate::producers::predictions::{LiveModel, prediction_events};
use crate::publish::{Publish, PublishError};
use crate::source::Source;
use crate::store::archive::ReadLimits;

/// Frames further behind their time than this are skipped.
pub const MAX_LATE: Duration = Duration::from_secs(1);

/// A replay could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The episode cannot be read.
    #[error("cannot read the episode")]
    Episode(#[from] EpisodeError),
    /// The hub refused the events (unreachable hubs are retried by the publisher).
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// What one pass over an episode sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Frames published.
    pub sent: usize,
    /// Frames skipped because they were late (the hub was away).
    pub skipped: usize,
}

/// Publishes an episode's frames at real time × `speed`, each window's
/// predictions (one per model in `models`) with the frame at its end,
/// until the end of the episode or `stop`. Frames more than [`MAX_LATE`]
/// behind (the hub was away) are skipped, counted and logged.
pub fn stream(
    store: &Source,
    episode_id: &str,
    host_id: &str,
    speed: f64,
    models: &[LiveModel],
    publisher: &dyn Publish,
    stop: &AtomicBool,
) -> Result<Streamed, ReplayError> {
    let rel_path = format!("{host_id}/{episode_id}{}", crate::store::layout::ARCHIVE_SUFFIX);
    let episode = extract_from(store, &rel_path, &ReadLimits::default())?;
    let frames = frames_of(&episode, episode_id, host_id);
    let mut predictions = prediction_events(models, &episode, episode_id).into_iter().peekable();
    let interval = frame_interval(speed);
    let started = Instant::now();
    let mut done = Streamed::default();
    for (k, frame) in frames.into_iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Pace against the start so publishing time does not add up.
        let due = interval * k as u32;
        let now = started.elapsed();
        if let Some(wait) = due.checked_sub(now) {
            std::thread::sleep(wait);
        } else if now - due > MAX_LATE {
            done.skipped += 1;
            continue;
        }
        let mut batch = vec![Event::Replay(frame)];
        while let Some((_, event)) = predictions.next_if(|(step, _)| *step <= k + 1) {
            batch.push(Event::Prediction(event));
        }
        publisher.publish(&batch)?;
        done.sent += 1;
    }
    if done.skipped > 0 {
        tracing::info!("{episode_id}: {} frames skipped while the hub was away", done.skipped);
    }
    Ok(done)
}

/// The frames of one episode, in time order.
pub fn frames(path: &Path, episode_id: &str, host_id: &str) -> Result<Vec<ReplayEvent>, EpisodeError> {
    let ep = extract_episode(path, &ReadLimits::default())?;
    Ok(frames_of(&ep, episode_id, host_id))
}

/// The frames of an already extracted episode.
pub fn frames_of(ep: &EpisodeWindows, episode_id: &str, host_id: &str) -> Vec<ReplayEvent> {
    let names: Vec<String> = CHANNELS.iter().map(|c| c.name()).collect();
    (0..ep.grid.steps)
        .filter_map(|k| {
            let mut values = Map::new();
            for (c, name) in names.iter().enumerate() {
                let v = if ep.grid.channel_present(c)[k] { Value::from(ep.grid.channel(c)[k]) } else { Value::Null };
                values.insert(name.clone(), v);
            }
            let t_ns = k as i64 * STEP_NS;
            Some(ReplayEvent {
                episode_id: episode_id.into(),
                host_id: host_id.into(),
                // Any step count in seconds is a finite number.
                t_s: Number::from_f64(t_ns as f64 / 1e9)?,
                label: ep.label_at(ep.start_wall_ns + t_ns).map_or("unlabelled".to_string(), |l| l.to_string()),
                values,
                extra: Map::new(),
            })
        })
        .collect()
}

/// The wait between frames at `speed` × real time.
pub fn frame_interval(speed: f64) -> Duration {
    Duration::from_secs_f64(STEP_NS as f64 / 1e9 / speed.max(0.01))
}
