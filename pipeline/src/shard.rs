//! Sharded sweeps: which episodes shard `I` of `N` owns, where its part is
//! written, and the `shard.json` a part carries so `cis490 merge` can
//! check that parts fit together.
//!
//! An episode belongs to shard `u64(sha256("<host_id>/<episode_id>")[..8]) mod
//! N` (the first eight bytes of the digest, big-endian). The hash is fixed
//! (never Rust's per-process `DefaultHasher`), so every process, machine and
//! cis490 version puts an episode in the same shard, and a new episode
//! never moves an old one. `validate --shard I/N` and `extract --shard I/N`
//! write their usual outputs for the owned episodes into
//! `<out>/shard-IIII-of-NNNN/`, plus `shard.json`; `--shard auto` reads the
//! index and count from a Slurm array task or a Kubernetes Indexed Job.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::atomic_file;

/// Most shards a sweep may be cut into.
pub const MAX_SHARDS: u32 = 65_536;

/// File name of the part description inside a shard's output folder.
pub const PART_FILE: &str = "shard.json";

/// The part file's format tag.
pub const PART_FORMAT: &str = "cis490-shard-part/1";

/// Environment variable giving the shard count to a Kubernetes Indexed Job
/// (`--shard-count` wins over it).
pub const COUNT_ENV: &str = "CIS490_SHARD_COUNT";

/// One shard of a sweep: `index` of `count`, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Which shard, `0..count`.
    pub index: u32,
    /// How many shards the sweep has.
    pub count: u32,
}

/// A `--shard` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `I/N` or `auto`.
    #[error("--shard {given:?}: expected I/N (0 <= I < N <= {MAX_SHARDS}) or auto")]
    Syntax {
        /// What was given.
        given: String,
    },
    /// `I/N` out of range.
    #[error("--shard {index}/{count}: the index must be below the count, and the count between 1 and {MAX_SHARDS}")]
    Range {
        /// The index.
        index: u64,
        /// The count.
        count: u64,
    },
    /// `--shard auto` outside an array job.
    #[error(
        "--shard auto: no scheduler index in the environment (SLURM_ARRAY_TASK_ID for a Slurm array, JOB_COMPLETION_INDEX for a Kubernetes Indexed Job); give --shard I/N instead"
    )]
    NoScheduler,
    /// `--shard auto` under Kubernetes without a count.
    #[error(
        "--shard auto: JOB_COMPLETION_INDEX={index} is set but not the count; give --shard-count N or set {COUNT_ENV} (the Job's completions)"
    )]
    NoCount {
        /// The index found.
        index: String,
    },
    /// A scheduler variable that is not a number or does not fit.
    #[error("--shard auto: {name}={value:?} {why}")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Self, ShardError> {
        if count == 0 || count > u64::from(MAX_SHARDS) || index >= count {
            return Err(ShardError::Range { index, count });
        }
        // Both fit: count <= MAX_SHARDS < u32::MAX and index < count.
        Ok(Self { index: index as u32, count: count as u32 })
    }

    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax { given: text.to_string() };
        let (i, n) = text.split_once('/').ok_or_else(syntax)?;
        let number = |s: &str| s.trim().parse::<u64>().map_err(|_| syntax());
        Self::new(number(i)?, number(n)?)
    }

    /// The shard of a scheduler's array task, from its environment
    /// (`var` looks a variable up; `count_flag` is `--shard-count`):
    /// a Slurm array (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`, step 1), else a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX` of `--shard-count` or [`COUNT_ENV`]).
    pub fn from_scheduler(var: impl Fn(&str) -> Option<String>, count_flag: Option<u64>) -> Result<Self, ShardError> {
        let number = |name: &'static str, value: String| {
            value.trim().parse::<u64>().map_err(|_| ShardError::BadVariable { name, value, why: "is not a number" })
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
            let id = number("SLURM_ARRAY_TASK_ID", id)?;
            let min = var("SLURM_ARRAY_TASK_MIN").map(|v| number("SLURM_ARRAY_TASK_MIN", v)).transpose()?.unwrap_or(0);
            if let Some(step) = var("SLURM_ARRAY_TASK_STEP") {
                let step_value = number("SLURM_ARRAY_TASK_STEP", step.clone())?;
                if step_value != 1 {
                    return Err(ShardError::BadVariable {
                        name: "SLURM_ARRAY_TASK_STEP",
                        value: step,
                        why: "is not 1: shards need a contiguous array such as --array=0-15",
                    });
                }
            }
            let count = match count_flag {
                Some(n) => n,
                None => {
                    let value = var("SLURM_ARRAY_TASK_COUNT").ok_or(ShardError::BadVariable {
                        name: "SLURM_ARRAY_TASK_COUNT",
                        value: String::new(),
                        why: "is not set",
                    })?;
                    number("SLURM_ARRAY_TASK_COUNT", value)?
                }
            };
            let index = id.checked_sub(min).ok_or(ShardError::BadVariable {
                name: "SLURM_ARRAY_TASK_ID",
                value: id.to_string(),
                why: "is below SLURM_ARRAY_TASK_MIN",
            })?;
            return Self::new(index, count);
        }
        if let Some(index_text) = var("JOB_COMPLETION_INDEX") {
            let index = number("JOB_COMPLETION_INDEX", index_text.clone())?;
            let count = match count_flag {
                Some(n) => n,
                None => match var(COUNT_ENV) {
                    Some(value) => number(COUNT_ENV, value)?,
                    None => return Err(ShardError::NoCount { index: index_text }),
                },
            };
            return Self::new(index, count);
        }
        Err(ShardError::NoScheduler)
    }

    /// Resolves a `--shard` value: `auto` from this process's environment,
    /// else `I/N`.
    pub fn from_arg(text: &str, count_flag: Option<u64>) -> Result<Self, ShardError> {
        if text.trim() == "auto" {
            Self::from_scheduler(|name| std::env::var(name).ok(), count_flag)
        } else {
            Self::parse(text)
        }
    }

    /// Whether this shard owns the episode.
    pub fn owns(&self, host_id: &str, episode_id: &str) -> bool {
        shard_index(host_id, episode_id, self.count) == self.index
    }

    /// The part folder's name, `shard-IIII-of-NNNN` (sorts in index order).
    pub fn part_name(&self) -> String {
        format!("shard-{:04}-of-{:04}", self.index, self.count)
    }

    /// The part folder inside a sweep's `--out`.
    pub fn part_dir(&self, out: &Path) -> PathBuf {
        out.join(self.part_name())
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of `<host_id>/<episode_id>` among `count` (`count` ≥ 1).
pub fn shard_index(host_id: &str, episode_id: &str, count: u32) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(host_id.as_bytes());
    hasher.update(b"/");
    hasher.update(episode_id.as_bytes());
    let digest = hasher.finalize();
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&digest[..8]);
    // The remainder is below count, a u32.
    (u64::from_be_bytes(prefix) % u64::from(count.max(1))) as u32
}

/// An episode a sharded extraction could not extract, kept so a merge can
/// put its message where a single run would.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartFailure {
    /// The episode.
    pub episode_id: String,
    /// The message a single run records in `skipped`.
    pub message: String,
}

/// `shard.json`: what a part is a part of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartFile {
    /// [`PART_FORMAT`].
    pub format: String,
    /// `validate` or `extract`.
    pub stage: String,
    /// The shard.
    #[serde(flatten)]
    pub shard: Shard,
    /// Episodes the part holds (validate: rows; extract: usable episodes of the shard).
    pub episodes: u64,
    /// Extract only: the shard's episodes that could not be extracted, in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<PartFailure>,
}

impl PartFile {
    /// A part description for `stage`.
    pub fn new(stage: &str, shard: Shard, episodes: u64) -> Self {
        Self { format: PART_FORMAT.into(), stage: stage.into(), shard, episodes, failures: Vec::new() }
    }

    /// Writes it into the (staged) part folder.
    pub fn write(&self, dir: &Path) -> Result<(), atomic_file::WriteError> {
        let path = dir.join(PART_FILE);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| atomic_file::WriteError { path: path.clone(), source: std::io::Error::other(e) })?;
        atomic_file::write_bytes_atomically(&path, &json)
    }

    /// Reads the part description of the folder `dir`.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join(PART_FILE);
        let bytes = crate::store::regular_file::read_regular(&path, 64 << 20).map_err(|e| {
            format!("{}: {e} (not a part written by `cis490 validate|extract --shard`)", path.display())
        })?;
        let part: Self = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a shard part description: {e}", path.display()))?;
        if part.format != PART_FORMAT {
            return Err(format!("{}: format {:?}, this cis490 reads {PART_FORMAT:?}", path.display(), part.format));
        }
        Shard::new(u64::from(part.shard.index), u64::from(part.shard.count))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_hash_is_pinned_and_spreads_episodes_evenly() {
        // Pinned: changing the hash would move every episode of every
        // sharded sweep already on disk.
        // sha256("host-a/ep-000001") starts a3e4a993a50537ea (Python's hashlib agrees).
        assert_eq!(shard_index("host-a", "ep-000001", 1 << 20), 0x537ea);
        assert_eq!(shard_index("host-a", "ep-000001", 8), 2);
        let n = 8;
        let mut counts = vec![0u32; n as usize];
        for i in 0..8000 {
            counts[shard_index(&format!("host-{}", i % 5), &format!("ep-{i:06}"), n) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
        // One shard owns everything.
        assert!(Shard { index: 0, count: 1 }.owns("h", "e"));
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(Shard::parse("3/8"), Ok(Shard { index: 3, count: 8 }));
        assert!(matches!(Shard::parse("8/8"), Err(ShardError::Range { .. })));
        assert!(matches!(Shard::parse("0/0"), Err(ShardError::Range { .. })));
        assert!(matches!(Shard::parse("1/99999999"), Err(ShardError::Range { .. })));
        assert!(matches!(Shard::parse("a/b"), Err(ShardError::Syntax { .. })));
        assert!(matches!(Shard::parse("3"), Err(ShardError::Syntax { .. })));
        assert!(matches!(Shard::parse("-1/4"), Err(ShardError::Syntax { .. })));
        assert_eq!(Shard { index: 3, count: 16 }.part_name(), "shard-0003-of-0016");
    }

    #[test]
    fn auto_reads_slurm_and_kubernetes() {
        let slurm =
            env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8")]);
        assert_eq!(Shard::from_scheduler(slurm, None), Ok(Shard { index: 4, count: 8 }));
        let stepped =
            env(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_STEP", "2")]);
        assert!(matches!(Shard::from_scheduler(stepped, None), Err(ShardError::BadVariable { .. })));
        let too_far = env(&[("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert!(matches!(Shard::from_scheduler(too_far, None), Err(ShardError::Range { .. })));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), (COUNT_ENV, "3")]);
        assert_eq!(Shard::from_scheduler(k8s, None), Ok(Shard { index: 2, count: 3 }));
        let k8s_flag = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(Shard::from_scheduler(&k8s_flag, Some(4)), Ok(Shard { index: 2, count: 4 }));
        assert!(matches!(Shard::from_scheduler(&k8s_flag, None), Err(ShardError::NoCount { .. })));
        let junk = env(&[("JOB_COMPLETION_INDEX", "x"), (COUNT_ENV, "3")]);
        assert!(matches!(Shard::from_scheduler(junk, None), Err(ShardError::BadVariable { .. })));
        assert_eq!(Shard::from_scheduler(env(&[]), None), Err(ShardError::NoScheduler));
    }
}
