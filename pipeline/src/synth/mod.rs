//! The synthetic corpus generator: a deterministic receiver store in exactly
//! the corpus format, realistic enough that models, splits and the dashboard
//! behave as on real data.
//!
//! - [`hosts`]: devices with different hardware, noise and clocks;
//! - [`behaviour`]: benign workloads and the samples of the six profiles;
//! - [`render`]: activities → the 46 channels on the spec's clocks;
//! - [`faults`]: injected faults covering every validation reason;
//! - [`episode`]: one episode's plan and archive bytes.
//!
//! `docs/synthetic-corpus.md` describes the model in prose.

pub mod behaviour;
pub mod episode;
pub mod faults;
pub mod hosts;
pub mod render;
pub use cis490_shared::rng;

use std::fs;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::atomic_file::{self, WriteError};
use episode::{EpisodePlan, build_archive, plan_episode};
use hosts::HostSpec;
use rng::Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// The store folder to write.
    pub out: PathBuf,
    /// Number of hosts (at least 1; 4 or more recommended).
    pub hosts: usize,
    /// Number of episodes.
    pub episodes: u64,
    /// The seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Share of episodes with an injected fault.
    pub fault_rate: f64,
    /// Worker threads.
    pub jobs: usize,
    /// Show a progress bar.
    pub progress: bool,
}

/// Hosts in a generated store by default.
pub const DEFAULT_HOSTS: usize = 5;
/// Episodes in a generated store by default (the demo's corpus).
pub const DEFAULT_EPISODES: u64 = 600;
/// Share of episodes with an injected fault by default.
pub const DEFAULT_FAULT_RATE: f64 = 0.16;

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            out: PathBuf::from("store"),
            hosts: DEFAULT_HOSTS,
            episodes: DEFAULT_EPISODES,
            seed: crate::DEFAULT_SEED,
            fault_rate: DEFAULT_FAULT_RATE,
            jobs: crate::default_jobs(),
            progress: false,
        }
    }
}

/// Generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// A folder could not be created.
    #[error("cannot create {path}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An archive could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The worker pool could not start.
    #[error("cannot start worker threads")]
    Pool(#[source] rayon::ThreadPoolBuildError),
}

/// The hosts and per-episode plans of a store; pure and cheap, so tests can
/// compare a validator's verdicts with what the generator intended.
pub fn plan_store(opts: &SynthOptions) -> (Vec<HostSpec>, Vec<EpisodePlan>) {
    let hosts = hosts::hosts(opts.hosts.max(1));
    let mut rng = Rng::derive(opts.seed, u64::MAX);
    let faults = faults::assign(opts.episodes as usize, opts.fault_rate, &mut rng);
    let plans = faults
        .into_iter()
        .enumerate()
        .map(|(i, fault)| {
            let mut r = Rng::derive(opts.seed ^ 0x5eed, i as u64);
            plan_episode(i as u64, opts.episodes, &hosts, fault, &mut r)
        })
        .collect();
    (hosts, plans)
}

/// What a generation run wrote.
#[derive(Debug, Clone)]
pub struct SynthReport {
    /// The plans, one per archive written.
    pub plans: Vec<EpisodePlan>,
    /// Total bytes of archives written.
    pub bytes: u64,
}

/// Writes the store described by `opts`.
pub fn run(opts: &SynthOptions) -> Result<SynthReport, SynthError> {
    if !(0.0..=1.0).contains(&opts.fault_rate) {
        return Err(SynthError::Options(format!("--fault-rate must be within 0..=1, got {}", opts.fault_rate)));
    }
    if opts.hosts == 0 {
        return Err(SynthError::Options("--hosts must be at least 1".into()));
    }
    let (hosts, plans) = plan_store(opts);
    for h in &hosts {
        let dir = opts.out.join(&h.id);
        fs::create_dir_all(&dir).map_err(|source| SynthError::CreateDir { path: dir, source })?;
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.jobs.max(1)).build().map_err(SynthError::Pool)?;
    let bar = crate::progress::bar(plans.len() as u64, "generating", opts.progress);
    let bytes: Result<Vec<u64>, WriteError> = pool.install(|| {
        plans
            .par_iter()
            .map(|plan| {
                let host = &hosts[plan.host];
                let path = opts.out.join(&host.id).join(format!("{}.tar.zst", plan.episode_id));
                let archive =
                    build_archive(plan, host, opts.seed).map_err(|source| WriteError { path: path.clone(), source })?;
                atomic_file::write_bytes_atomically(&path, &archive)?;
                bar.inc(1);
                Ok(archive.len() as u64)
            })
            .collect()
    });
    bar.finish_and_clear();
    Ok(SynthReport { plans, bytes: bytes?.iter().sum() })
}
