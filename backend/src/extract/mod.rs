//! Feature extraction: accepted (and usable degraded) episodes → windows →
//! summary and tensor shards.
//!
//! - [`episode`]: one episode's grid, windows and features, on demand;
//! - [`index_reader`]: reading `validation_v1.parquet`;
//! - [`shards`]: the Parquet shard layout.
//!
//! Episodes stream through in chunks: both cores compute a chunk's windows,
//! then the chunk is written as one summary and one tensor shard, so memory
//! stays bounded by the chunk size whatever the corpus size.

pub mod episode;
pub mod index_reader;
pub mod shards;

use std::fs;
use std::path::{Path, PathBuf};

use cis490_shared::registry::{Source, schema_hash};
use rayon::prelude::*;

use crate::atomic_file;
use crate::store::archive::ReadLimits;
use crate::validate::index::IndexRow;
use episode::{EpisodeWindows, extract_episode};
use index_reader::read_index;
use shards::{WindowKey, WindowRow};

/// Episodes per shard (and per parallel chunk).
pub const EPISODES_PER_SHARD: usize = 128;
/// Name of the extraction summary inside the output folder.
pub const EXTRACT_SUMMARY_FILE: &str = "extract_summary.json";

/// What extraction needs.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// The receiver store.
    pub store: PathBuf,
    /// The acceptance index.
    pub index: PathBuf,
    /// Output folder (`summary/`, `tensors/`, `extract_summary.json`).
    pub out: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Show a progress bar.
    pub progress: bool,
}

/// Extraction could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The index is unreadable.
    #[error(transparent)]
    Index(#[from] index_reader::IndexReadError),
    /// The output could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file or folder.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The worker pool could not start.
    #[error("cannot start worker threads: {0}")]
    Pool(String),
}

/// Counts of one extraction run, also written as `extract_summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtractSummary {
    /// The feature schema hash (see `cis490_shared::registry::schema_hash`).
    pub schema_hash: String,
    /// Episodes in the index.
    pub indexed: u64,
    /// Episodes extracted.
    pub episodes: u64,
    /// Windows written.
    pub windows: u64,
    /// Windows dropped for straddling a transition.
    pub dropped_windows: u64,
    /// Episodes skipped, as `episode_id: why`.
    pub skipped: Vec<String>,
    /// Shard files written per kind.
    pub shards: u64,
}

/// Which threat models can use an episode, from its validation reasons.
pub fn usability(reasons: &[String]) -> (bool, bool) {
    let broken =
        |s: Source| reasons.iter().any(|r| *r == format!("source_missing:{s}") || *r == format!("row_gate:{s}"));
    let realistic = ![Source::Proc, Source::Qmp, Source::Netflow].into_iter().any(broken);
    (realistic, realistic && !broken(Source::Guest))
}

fn rows_of(entry: &IndexRow, ep: EpisodeWindows) -> Vec<WindowRow> {
    let (usable_realistic, usable_oracle) = usability(&entry.reasons);
    ep.windows
        .iter()
        .zip(ep.features)
        .map(|(w, f)| WindowRow {
            key: WindowKey {
                episode_id: entry.episode_id.clone(),
                host_id: entry.host_id.clone(),
                sample_id: entry.sample_id.clone(),
                profile: entry.profile.clone().unwrap_or_else(|| "benign".into()),
                agent_version: entry.agent_version.clone(),
                started_wall_ns: ep.start_wall_ns,
                window_start_s: w.start_s,
                label: w.label.to_string(),
                usable_realistic,
                usable_oracle,
            },
            summary: f.summary,
            tensor: f.tensor,
            mask: f.mask,
        })
        .collect()
}

fn create_dir(path: &Path) -> Result<(), ExtractError> {
    fs::create_dir_all(path)
        .map_err(|e| ExtractError::Write { path: path.display().to_string(), message: e.to_string() })
}

/// Runs extraction; `on_done` is called with (episodes done, total) after
/// each chunk (for progress events).
pub fn run(opts: &ExtractOptions, on_done: &(dyn Fn(u64, u64) + Sync)) -> Result<ExtractSummary, ExtractError> {
    let index = read_index(&opts.index)?;
    let mut summary = ExtractSummary { schema_hash: schema_hash(), indexed: index.len() as u64, ..Default::default() };
    let usable: Vec<&IndexRow> = index
        .iter()
        .filter(|e| {
            let keep = e.status == "accepted" || e.status == "degraded";
            if !keep {
                summary.skipped.push(format!("{}: {}", e.episode_id, e.status));
            }
            keep
        })
        .collect();
    for dir in ["summary", "tensors"] {
        create_dir(&opts.out.join(dir))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| ExtractError::Pool(e.to_string()))?;
    let bar = crate::progress::bar(usable.len() as u64, "extracting", opts.progress);
    let skipped_before = summary.skipped.len() as u64;
    let limits = ReadLimits::default();
    // A writer thread encodes shard N while the pool computes chunk N + 1.
    let (to_writer, from_chunks) = std::sync::mpsc::sync_channel::<(usize, Vec<WindowRow>)>(1);
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<u64, ExtractError> {
            let mut shards_written = 0;
            for (shard, rows) in from_chunks {
                let name = format!("part-{shard:05}.parquet");
                let batch_err =
                    |e: arrow_schema::ArrowError| ExtractError::Write { path: name.clone(), message: e.to_string() };
                let summary_batch = shards::summary_batch(&rows).map_err(batch_err)?;
                shards::write_batch(&opts.out.join("summary").join(&name), &summary_batch)?;
                let tensor_batch = shards::tensor_batch(&rows).map_err(batch_err)?;
                shards::write_batch(&opts.out.join("tensors").join(&name), &tensor_batch)?;
                shards_written += 1;
            }
            Ok(shards_written)
        });
        for (shard, chunk) in usable.chunks(EPISODES_PER_SHARD).enumerate() {
            let results: Vec<Result<(Vec<WindowRow>, usize), String>> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|entry| {
                        let path = opts.store.join(&entry.path);
                        let result = extract_episode(&path, &limits)
                            .map(|ep| {
                                let dropped = ep.dropped;
                                (rows_of(entry, ep), dropped)
                            })
                            .map_err(|e| format!("{}: {e}", entry.episode_id));
                        bar.inc(1);
                        result
                    })
                    .collect()
            });
            let mut rows = Vec::new();
            for result in results {
                match result {
                    Ok((r, dropped)) => {
                        summary.episodes += 1;
                        summary.dropped_windows += dropped as u64;
                        rows.extend(r);
                    }
                    Err(why) => {
                        tracing::warn!("skipped {why}");
                        summary.skipped.push(why);
                    }
                }
            }
            summary.windows += rows.len() as u64;
            on_done(summary.episodes + summary.skipped.len() as u64 - skipped_before, usable.len() as u64);
            if to_writer.send((shard, rows)).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(to_writer);
        writer.join().unwrap_or_else(|_| Err(ExtractError::Pool("the shard writer panicked".into())))
    })?;
    summary.shards = written;
    bar.finish_and_clear();
    let json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    let path = opts.out.join(EXTRACT_SUMMARY_FILE);
    atomic_file::write_bytes_atomically(&path, &json)
        .map_err(|e| ExtractError::Write { path: path.display().to_string(), message: e.to_string() })?;
    Ok(summary)
}
