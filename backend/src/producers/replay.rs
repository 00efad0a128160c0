//! `replay` events: an episode's aligned frames (all 46 channels every
//! 500 ms, `null` where missing) with the ground-truth label, at real time
//! × speed. Features come from the archive on demand: no shards needed.

use std::path::Path;
use std::time::Duration;

use cis490_shared::features::STEP_NS;
use cis490_shared::registry::CHANNELS;
use serde_json::{Map, Value, json};

use crate::extract::episode::{EpisodeError, EpisodeWindows, extract_episode};
use crate::store::archive::ReadLimits;

/// The frames of one episode, in time order.
pub fn frames(path: &Path, episode_id: &str, host_id: &str) -> Result<Vec<Value>, EpisodeError> {
    let ep = extract_episode(path, &ReadLimits::default())?;
    Ok(frames_of(&ep, episode_id, host_id))
}

/// The frames of an already extracted episode.
pub fn frames_of(ep: &EpisodeWindows, episode_id: &str, host_id: &str) -> Vec<Value> {
    let names: Vec<String> = CHANNELS.iter().map(|c| c.name()).collect();
    (0..ep.grid.steps)
        .map(|k| {
            let mut values = Map::new();
            for (c, name) in names.iter().enumerate() {
                let v = if ep.grid.channel_present(c)[k] { json!(ep.grid.channel(c)[k]) } else { Value::Null };
                values.insert(name.clone(), v);
            }
            let t_ns = k as i64 * STEP_NS;
            json!({
                "type": "replay",
                "episode_id": episode_id,
                "host_id": host_id,
                "t_s": t_ns as f64 / 1e9,
                "label": ep.label_at(ep.start_wall_ns + t_ns).map_or("unlabelled".to_string(), |l| l.to_string()),
                "values": values,
            })
        })
        .collect()
}

/// The wait between frames at `speed` × real time.
pub fn frame_interval(speed: f64) -> Duration {
    Duration::from_secs_f64(STEP_NS as f64 / 1e9 / speed.max(0.01))
}
