//! The three held-out recipes. Each puts whole episodes on one side; the
//! validation side is carved from the training side by episode.

use std::collections::{BTreeMap, BTreeSet};

use crate::synth::rng::Rng;

use super::SplitError;
use crate::extract::shards::episodes::EpisodeInfo;

/// How to hold data out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// Whole hosts in test: generalization to an unseen device.
    Host,
    /// One sample per profile in test: generalization to an unseen program.
    Sample,
    /// The latest episodes in test: generalization forward in time.
    Time,
}

impl Recipe {
    /// All three, in the order the CLI lists them.
    pub const ALL: [Recipe; 3] = [Recipe::Host, Recipe::Sample, Recipe::Time];

    /// The name on the command line and in split files.
    pub fn as_str(self) -> &'static str {
        match self {
            Recipe::Host => "host",
            Recipe::Sample => "sample",
            Recipe::Time => "time",
        }
    }
}

impl std::fmt::Display for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Recipe {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Recipe::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            format!("unknown recipe {s:?} (expected one of: {})", Recipe::ALL.map(Recipe::as_str).join(", "))
        })
    }
}

/// Episode ids per side before validation is carved out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held {
    /// Training (and validation) episodes.
    pub train: Vec<String>,
    /// Test episodes.
    pub test: Vec<String>,
    /// What was held out, for the record (hosts, samples or the cut-off time).
    pub held_out: Vec<String>,
}

/// Share of episodes the time recipe puts in test.
pub const TIME_TEST_SHARE: f64 = 0.2;
/// Share of benign episodes the sample recipe puts in test.
pub const BENIGN_TEST_SHARE: f64 = 0.2;

fn partition(episodes: &BTreeMap<String, EpisodeInfo>, mut in_test: impl FnMut(&str, &EpisodeInfo) -> bool) -> Held {
    let mut held = Held::default();
    for (id, info) in episodes {
        if in_test(id, info) { held.test.push(id.clone()) } else { held.train.push(id.clone()) }
    }
    held
}

/// Whole hosts in test: `test_hosts`, or one chosen by `seed` among those
/// whose removal leaves every one of their profiles in training.
pub fn by_host(episodes: &BTreeMap<String, EpisodeInfo>, test_hosts: &[String], seed: u64) -> Result<Held, SplitError> {
    let hosts: BTreeSet<&str> = episodes.values().map(|e| e.host_id.as_str()).collect();
    for h in test_hosts {
        if !hosts.contains(h.as_str()) {
            return Err(SplitError::Impossible(format!(
                "--test-hosts names {h:?}, which has no episodes (hosts: {})",
                hosts.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let chosen: Vec<String> = if test_hosts.is_empty() {
        let mut candidates: Vec<&str> = hosts.iter().copied().collect();
        Rng::new(seed).shuffle(&mut candidates);
        let covered = |h: &str| {
            let train: BTreeSet<&str> =
                episodes.values().filter(|e| e.host_id != h).map(|e| e.profile.as_str()).collect();
            episodes.values().filter(|e| e.host_id == h).all(|e| train.contains(e.profile.as_str()))
        };
        let pick = candidates.into_iter().find(|h| covered(h)).ok_or_else(|| {
            SplitError::Impossible("no host can be held out without taking a profile out of training".into())
        })?;
        vec![pick.to_string()]
    } else {
        test_hosts.to_vec()
    };
    let mut held = partition(episodes, |_, e| chosen.contains(&e.host_id));
    held.held_out = chosen;
    Ok(held)
}

/// One sample per profile in test (chosen by `seed`; profiles with a single
/// sample stay in training), plus a share of benign episodes.
pub fn by_sample(episodes: &BTreeMap<String, EpisodeInfo>, seed: u64) -> Result<Held, SplitError> {
    let mut samples: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in episodes.values() {
        if let Some(s) = &e.sample_id {
            samples.entry(e.profile.as_str()).or_default().insert(s.as_str());
        }
    }
    let mut rng = Rng::new(seed);
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    for of_profile in samples.values() {
        if of_profile.len() >= 2 {
            let list: Vec<&str> = of_profile.iter().copied().collect();
            chosen.insert((*rng.pick(&list)).to_string());
        }
    }
    if chosen.is_empty() {
        return Err(SplitError::Impossible("no profile has two or more samples to hold one out".into()));
    }
    let mut benign_rng = Rng::new(seed ^ 0xbe9);
    let mut held = partition(episodes, |_, e| match &e.sample_id {
        Some(s) => chosen.contains(s),
        None => benign_rng.chance(BENIGN_TEST_SHARE),
    });
    held.held_out = chosen.into_iter().collect();
    Ok(held)
}

/// The latest [`TIME_TEST_SHARE`] of episodes (by start time) in test.
pub fn by_time(episodes: &BTreeMap<String, EpisodeInfo>) -> Result<Held, SplitError> {
    let mut times: Vec<i64> = episodes.values().map(|e| e.started_wall_ns).collect();
    times.sort_unstable();
    let cut_index = ((times.len() as f64) * (1.0 - TIME_TEST_SHARE)).floor() as usize;
    let Some(&cutoff) = times.get(cut_index) else {
        return Err(SplitError::Impossible("too few episodes for a time split".into()));
    };
    let mut held = partition(episodes, |_, e| e.started_wall_ns >= cutoff);
    held.held_out = vec![format!("started_wall_ns >= {cutoff}")];
    Ok(held)
}

/// Salt of the validation carve-out's random choices.
pub const VALIDATION_SALT: u64 = 0x7a1;
/// Salt of the in-distribution test carve-out's random choices.
pub const IN_DISTRIBUTION_SALT: u64 = 0x1d7e;

/// Carves `share` of the training episodes at random, per profile (at least
/// one when a profile has two or more, never a profile's last), into a side
/// of their own; returns (rest, carved). `salt` keeps different carve-outs
/// of one seed independent.
pub fn carve_by_profile(
    train: &[String],
    episodes: &BTreeMap<String, EpisodeInfo>,
    share: f64,
    seed: u64,
    salt: u64,
) -> (Vec<String>, Vec<String>) {
    let mut by_profile: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for id in train {
        if let Some(e) = episodes.get(id) {
            by_profile.entry(e.profile.as_str()).or_default().push(id);
        }
    }
    let mut rng = Rng::new(seed ^ salt);
    let mut val = BTreeSet::new();
    for ids in by_profile.values_mut() {
        rng.shuffle(ids);
        let n = if share <= 0.0 {
            0
        } else {
            ((ids.len() as f64 * share).round() as usize)
                .max(usize::from(ids.len() >= 2))
                .min(ids.len().saturating_sub(1))
        };
        val.extend(ids.iter().take(n).map(|s| (*s).clone()));
    }
    let rest = train.iter().filter(|id| !val.contains(*id)).cloned().collect();
    (rest, val.into_iter().collect())
}
