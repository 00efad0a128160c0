//! Held-out splits of a feature folder: by host, by sample or by time.
//!
//! - the episodes and their windows per label come from the shards'
//!   owner, [`crate::extract::shards::episodes`];
//! - [`recipes`]: the three recipes and the carve-outs of the training side
//!   (in-distribution test, validation);
//! - [`norm`]: normalization statistics fitted on the training side only.
//!
//! All windows of an episode stay on one side; every profile in test must
//! be in training (else the recipe is impossible, with an error saying
//! why); profiles absent from test are listed so results are never
//! silently averaged over them.

pub mod norm;
pub mod recipes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cis490_shared::Cause;
use cis490_shared::label::Profile;
use cis490_shared::registry::schema_hash;
use sha2::{Digest, Sha256};

use crate::atomic_file::{self, WriteError};
use crate::extract::shards::episodes::{EpisodeInfo, read_episodes};
use recipes::Recipe;

/// What a split needs.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// The feature folder written by `cis490 extract`.
    pub features: PathBuf,
    /// The recipe.
    pub recipe: Recipe,
    /// Hosts to hold out (host recipe; empty: chosen by seed).
    pub test_hosts: Vec<String>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Share of training episodes carved into validation.
    pub val_share: f64,
    /// Share of training episodes carved into the in-distribution test side
    /// (before validation is carved; 0: none).
    pub in_distribution_share: f64,
    /// Where to write `split.json` (normalization goes beside it).
    pub out: PathBuf,
}

/// Share of training episodes carved into validation by default.
pub const DEFAULT_VAL_SHARE: f64 = 0.15;
/// Share of training episodes carved into the in-distribution test side by default.
pub const DEFAULT_IN_DISTRIBUTION_SHARE: f64 = 0.1;

/// The split could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The feature folder (or the split file) is missing or unreadable.
    #[error("cannot read {path}")]
    Features {
        /// The file or folder.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The recipe cannot be satisfied by this data.
    #[error("impossible split: {0}")]
    Impossible(String),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Episode and window counts of one profile on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SideCount {
    /// Episodes whose profile this is.
    pub episodes: u64,
    /// Windows labelled with this class.
    pub windows: u64,
}

/// The split file (`split.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitFile {
    /// The recipe.
    pub recipe: Recipe,
    /// Seed used.
    pub seed: u64,
    /// What was held out: hosts, samples, or the time cut-off.
    pub held_out: Vec<String>,
    /// Training episode ids.
    pub train: Vec<String>,
    /// Validation episode ids (carved from training).
    pub val: Vec<String>,
    /// Test episode ids.
    pub test: Vec<String>,
    /// In-distribution test episode ids: carved at random (per profile)
    /// from the training side, so they share its hosts, samples and times,
    /// but never trained on nor used for early stopping. Evaluation scores
    /// them beside the held-out test to show the generalization gap.
    #[serde(default)]
    pub in_distribution: Vec<String>,
    /// The feature folder the split was made from.
    #[serde(default)]
    pub features: String,
    /// Fingerprint of that folder's extraction
    /// (`crate::extract::features_digest`): training and
    /// evaluation refuse features extracted again since.
    #[serde(default)]
    pub features_digest: String,
    /// Profiles with no test episode.
    pub untested_profiles: Vec<String>,
    /// Per side (`train`, `val`, `test`, `in_distribution`), per profile/label: counts.
    pub counts: BTreeMap<String, BTreeMap<String, SideCount>>,
    /// Feature schema hash of the shards.
    pub schema_hash: String,
    /// File name of the normalization statistics, beside this file.
    pub normalization: String,
}

impl SplitFile {
    /// A fingerprint of which episode is on which side (SHA-256, hex):
    /// checkpoints record it so evaluation can refuse to score a model on
    /// a test side it may have trained on.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (side, ids) in [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
            ("in_distribution", &self.in_distribution),
        ] {
            hasher.update(side.as_bytes());
            for id in ids {
                hasher.update([0]);
                hasher.update(id.as_bytes());
            }
            hasher.update([1]);
        }
        hex::encode(hasher.finalize())
    }
}

fn counts(ids: &[String], episodes: &BTreeMap<String, EpisodeInfo>) -> BTreeMap<String, SideCount> {
    let mut out: BTreeMap<String, SideCount> = BTreeMap::new();
    for e in ids.iter().filter_map(|id| episodes.get(id)) {
        out.entry(e.profile.clone()).or_default().episodes += 1;
        for (label, n) in &e.windows {
            out.entry(label.clone()).or_default().windows += n;
        }
    }
    out
}

/// Reads a split file (`split.json`), refusing one made for another
/// feature schema. Errors name the file.
pub fn read_split_file(path: &Path) -> Result<SplitFile, SplitError> {
    let err = |source: Cause| SplitError::Features { path: path.display().to_string(), source };
    let bytes = crate::store::regular_file::read_regular(path, 256 << 20).map_err(|e| err(e.into()))?;
    let split: SplitFile = serde_json::from_slice(&bytes).map_err(|e| err(e.into()))?;
    if split.schema_hash != schema_hash() {
        return Err(err(format!(
            "made for feature schema {}, this build computes {}",
            split.schema_hash,
            schema_hash()
        )
        .into()));
    }
    Ok(split)
}

/// Reads the normalization statistics beside the split file `split`
/// ([`normalization_path`]). Errors name the file.
pub fn read_normalization(split: &Path) -> Result<norm::Normalization, SplitError> {
    let path = normalization_path(split);
    let err = |source: Cause| SplitError::Features { path: path.display().to_string(), source };
    let bytes = crate::store::regular_file::read_regular(&path, 256 << 20).map_err(|e| err(e.into()))?;
    serde_json::from_slice(&bytes).map_err(|e| err(e.into()))
}

/// The path of the normalization file beside `split` (`split.norm.json`).
pub fn normalization_path(split: &Path) -> PathBuf {
    let stem = split.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "split".into());
    split.with_file_name(format!("{stem}.norm.json"))
}

/// Makes the split and writes `split.json` and its normalization file.
pub fn run(opts: &SplitOptions) -> Result<SplitFile, SplitError> {
    if !(0.0..0.9).contains(&opts.val_share) {
        return Err(SplitError::Impossible(format!("--val-share must be in [0, 0.9), got {}", opts.val_share)));
    }
    if !(0.0..0.5).contains(&opts.in_distribution_share) {
        return Err(SplitError::Impossible(format!(
            "--in-distribution-share must be in [0, 0.5), got {}",
            opts.in_distribution_share
        )));
    }
    let features_digest = crate::extract::features_digest(&opts.features).map_err(|message| SplitError::Features {
        path: opts.features.display().to_string(),
        source: message.into(),
    })?;
    let episodes = read_episodes(&opts.features)?;
    let held = match opts.recipe {
        Recipe::Host => recipes::by_host(&episodes, &opts.test_hosts, opts.seed)?,
        Recipe::Sample => recipes::by_sample(&episodes, opts.seed)?,
        Recipe::Time => recipes::by_time(&episodes)?,
    };
    if held.test.is_empty() || held.train.is_empty() {
        return Err(SplitError::Impossible(format!(
            "{:?} recipe left {} training and {} test episodes",
            opts.recipe,
            held.train.len(),
            held.test.len()
        )));
    }
    let profile_of = |id: &String| episodes.get(id).map(|e| e.profile.clone());
    let train_profiles: BTreeSet<String> = held.train.iter().filter_map(profile_of).collect();
    let test_profiles: BTreeSet<String> = held.test.iter().filter_map(profile_of).collect();
    if let Some(missing) = test_profiles.difference(&train_profiles).next() {
        return Err(SplitError::Impossible(format!(
            "profile {missing} has test episodes but none in training (held out: {})",
            held.held_out.join(", ")
        )));
    }
    let (fitting, in_distribution) = recipes::carve_by_profile(
        &held.train,
        &episodes,
        opts.in_distribution_share,
        opts.seed,
        recipes::IN_DISTRIBUTION_SALT,
    );
    let (train, val) =
        recipes::carve_by_profile(&fitting, &episodes, opts.val_share, opts.seed, recipes::VALIDATION_SALT);
    let untested_profiles =
        Profile::ALL.iter().map(|p| p.as_str().to_string()).filter(|p| !test_profiles.contains(p)).collect();
    let normalization = norm::fit(&opts.features, &train.iter().cloned().collect())?;
    let norm_path = normalization_path(&opts.out);
    let split = SplitFile {
        recipe: opts.recipe,
        seed: opts.seed,
        held_out: held.held_out,
        counts: BTreeMap::from([
            ("train".to_string(), counts(&train, &episodes)),
            ("val".to_string(), counts(&val, &episodes)),
            ("test".to_string(), counts(&held.test, &episodes)),
            ("in_distribution".to_string(), counts(&in_distribution, &episodes)),
        ]),
        train,
        val,
        test: held.test,
        in_distribution,
        features: opts.features.display().to_string(),
        features_digest,
        untested_profiles,
        schema_hash: schema_hash(),
        normalization: norm_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if let Some(parent) = opts.out.parent() {
        atomic_file::remove_stale_temps(if parent.as_os_str().is_empty() { Path::new(".") } else { parent });
    }
    // A value that does not serialize is an error, never an empty file.
    let write = |path: &Path, json: serde_json::Result<Vec<u8>>| {
        let bytes = json.map_err(|e| WriteError { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
        atomic_file::write_bytes_atomically(path, &bytes)
    };
    write(&norm_path, serde_json::to_vec_pretty(&normalization))?;
    write(&opts.out, serde_json::to_vec_pretty(&split))?;
    Ok(split)
}
