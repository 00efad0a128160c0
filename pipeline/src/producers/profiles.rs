//! `attack_profile` events: for each profile, one representative accepted
//! episode, one characteristic channel, its attack segment resampled to an
//! 80-point curve normalized to [0, 1].

use std::path::Path;

use cis490_shared::events::{AttackProfileEvent, Event, Number};
use cis490_shared::label::{Label, Profile};
use cis490_shared::registry::CHANNELS;
use cis490_shared::validation::Status;
use serde_json::Map;

use crate::extract::episode::{EpisodeError, EpisodeWindows, extract_episode, extract_from};
use crate::publish::{Publish, PublishError};
use crate::source::Source;
use crate::store::archive::ReadLimits;
use crate::validate::index::IndexRow;

/// Points per curve.
pub const CURVE_POINTS: usize = 80;

/// The channel that shows each profile best, and how its shape reads.
pub fn characteristic(profile: Profile) -> (&'static str, &'static str) {
    match profile {
        Profile::CpuSaturate => ("proc.cpu_user", "sustained vCPU peg (miner)"),
        Profile::ScanAndDial => ("netflow.syn_count", "SYN bursts to many ports"),
        Profile::IoWalk => ("qmp.block_rd_bytes", "sustained disk reads (file-system walk)"),
        Profile::BurstyC2 => ("netflow.bytes_out", "idle with periodic beacons"),
        Profile::LowAndSlow => ("netflow.bytes_out", "a trickle under the noise"),
        Profile::ShellResident => ("guest.procs_total", "extra processes of an interactive shell"),
    }
}

/// Averages `values` into `points` bins and scales them to [0, 1]
/// (all zeros when the series is flat or empty).
pub fn curve(values: &[f32], points: usize) -> Vec<f64> {
    if values.is_empty() || points == 0 {
        return vec![0.0; points];
    }
    let binned: Vec<f64> = (0..points)
        .map(|b| {
            let lo = b * values.len() / points;
            let hi = ((b + 1) * values.len() / points).max(lo + 1).min(values.len());
            values[lo..hi].iter().map(|v| f64::from(*v)).sum::<f64>() / (hi - lo) as f64
        })
        .collect();
    let (min, max) = binned.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    if max > min { binned.iter().map(|v| (v - min) / (max - min)).collect() } else { vec![0.0; points] }
}

/// Why a profile's event could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The episode's features could not be computed.
    #[error(transparent)]
    Episode(#[from] EpisodeError),
    /// The profile's characteristic channel is not in the registry.
    #[error("channel {0:?} is not in the registry")]
    UnknownChannel(&'static str),
}

/// The `attack_profile` event of one profile from one episode archive.
pub fn profile_event(profile: Profile, path: &Path, episode_id: &str) -> Result<Event, ProfileError> {
    profile_event_of(profile, extract_episode(path, &ReadLimits::default())?, episode_id)
}

/// The `attack_profile` event of one profile from an extracted episode.
fn profile_event_of(profile: Profile, ep: EpisodeWindows, episode_id: &str) -> Result<Event, ProfileError> {
    let (channel, shape) = characteristic(profile);
    let index = CHANNELS.iter().position(|c| c.name() == channel).ok_or(ProfileError::UnknownChannel(channel))?;
    let steps: Vec<usize> = ep
        .windows
        .iter()
        .filter(|w| w.label == Label::Attack(profile))
        .flat_map(|w| w.start_step..w.start_step + cis490_shared::features::STRIDE_STEPS)
        .collect();
    let series: Vec<f32> = steps.iter().filter_map(|k| ep.grid.channel(index).get(*k).copied()).collect();
    Ok(Event::AttackProfile(AttackProfileEvent {
        name: profile.as_str().into(),
        shape: shape.into(),
        // Averages of finite values, scaled to [0, 1]: always numbers.
        curve: curve(&series, CURVE_POINTS).into_iter().filter_map(Number::from_f64).collect(),
        channel: Some(channel.into()),
        extra: Map::from_iter([("episode_id".to_string(), episode_id.into())]),
    }))
}

/// A profile's representative episode could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{profile}: episode {episode_id}")]
pub struct ProfileSkipped {
    /// The profile left without a curve.
    pub profile: Profile,
    /// The episode tried.
    pub episode_id: String,
    /// Why it could not be read.
    #[source]
    pub source: ProfileError,
}

/// Publishing the profiles failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    /// The hub refused them (an unreachable hub is the publisher's to retry).
    #[error("publishing the attack profiles")]
    Publish(#[from] PublishError),
}

/// One event per profile that has an accepted episode in `index`
/// (the first one in store order); errors are returned per profile.
pub fn profile_events(store: &Source, index: &[IndexRow]) -> Vec<Result<Event, ProfileSkipped>> {
    Profile::ALL
        .iter()
        .filter_map(|p| {
            let row =
                index.iter().find(|r| r.status == Status::Accepted && r.profile.as_deref() == Some(p.as_str()))?;
            let event = extract_from(store, &row.path, &ReadLimits::default())
                .map_err(ProfileError::from)
                .and_then(|ep| profile_event_of(*p, ep, row.episode_id.as_str()));
            Some(event.map_err(|source| ProfileSkipped { profile: *p, episode_id: row.episode_id.to_string(), source }))
        })
        .collect()
}

/// Publishes [`profile_events`]; a profile whose episode cannot be read is
/// logged and skipped. Returns how many were published.
pub fn publish(store: &Source, index: &[IndexRow], publisher: &dyn Publish) -> Result<usize, ProfilesError> {
    let mut events = Vec::new();
    for result in profile_events(store, index) {
        match result {
            Ok(event) => events.push(event),
            Err(skipped) => tracing::warn!("attack profile skipped: {}", crate::error_chain(&skipped)),
        }
    }
    publisher.publish(&events)?;
    Ok(events.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_characteristic_channel_is_in_the_registry() {
        for profile in Profile::ALL {
            let (channel, _) = characteristic(profile);
            assert!(CHANNELS.iter().any(|c| c.name() == channel), "{channel}");
        }
    }

    #[test]
    fn curves_have_80_points_in_the_unit_interval() {
        let values: Vec<f32> = (0..300).map(|i| (i % 50) as f32).collect();
        let c = curve(&values, CURVE_POINTS);
        assert_eq!(c.len(), 80);
        assert!(c.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(c.contains(&0.0) && c.contains(&1.0));
        assert_eq!(curve(&[3.0; 10], 80), vec![0.0; 80]);
        assert_eq!(curve(&[], 80).len(), 80);
        assert_eq!(curve(&[1.0, 2.0], 80).len(), 80, "fewer values than points");
    }
}
