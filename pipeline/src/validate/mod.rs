//! Validation of a receiver store: every episode gets one status and its
//! reasons, the sweep writes the acceptance index and a summary.
//!
//! - [`rules`]: the corpus format's rules over one read archive (pure);
//! - [`reasons`]: reason codes and the status each implies;
//! - [`index`]: the Parquet acceptance index;
//! - [`cache`]: what lets a later sweep of a grown store re-read only new
//!   and changed archives.
//!
//! The sweep runs on a rayon pool (`--jobs`, both cores by default), keeps
//! going past any bad episode (a panic in one episode marks it `errored`),
//! and writes nothing outside its output folder. Its outputs are staged and
//! swapped in whole ([`crate::output_dir`]): the index and the summary in
//! `--out` always come from the same sweep, and the summary records the
//! index's sha256 so `extract` can check that they do.

pub mod cache;
pub mod index;
pub mod reasons;
pub mod rules;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use cis490_shared::validation::{Reason, ReasonCode, Status, ValidationSummary};
use rayon::prelude::*;

use crate::atomic_file::{self, WriteError};
use crate::output_dir::{OutputError, StagedDir};
use crate::shard::{PartFile, Shard};
use crate::source::{Source, SourceError};
use crate::store::archive::{ReadLimits, read_archive};
use crate::store::layout::EpisodeRef;
use index::{INDEX_FILE, IndexError, IndexRow};

pub use cis490_shared::validation::SUMMARY_FILE;

/// What a sweep needs.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// The receiver store.
    pub store: PathBuf,
    /// The output folder (created if missing).
    pub out: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Caps for reading archives.
    pub limits: ReadLimits,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Replace `out` even if it is not an earlier validation output.
    pub force: bool,
    /// Validate every archive even where `out` holds an earlier sweep of
    /// the same store (otherwise unchanged archives keep their rows).
    pub full: bool,
    /// Validate only this shard's episodes, into `<out>/shard-IIII-of-NNNN/`
    /// (see [`crate::shard`]).
    pub shard: Option<Shard>,
}

impl ValidateOptions {
    /// The folder the sweep writes: `out`, or the shard's part folder in it.
    pub fn target(&self) -> PathBuf {
        match &self.shard {
            Some(shard) => shard.part_dir(&self.out),
            None => self.out.clone(),
        }
    }
}

/// Most skipped store paths listed in the summary (the rest are counted).
pub const MAX_SKIPPED_LISTED: usize = 1000;

/// Why a sweep could not run (episode problems never end up here).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The store cannot be opened or listed (a bucket: missing, denied, unreachable).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The output folder cannot be prepared or swapped in.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The worker pool could not start.
    #[error("cannot start {jobs} worker threads")]
    Pool {
        /// Requested threads.
        jobs: usize,
        /// The pool's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// Writing the index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Writing the summary failed.
    #[error(transparent)]
    Summary(#[from] WriteError),
}

/// The outcome of a sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Counts per status and reason.
    pub summary: ValidationSummary,
    /// One row per episode, in store order.
    pub rows: Vec<IndexRow>,
    /// Rows reused from the earlier sweep in the output folder (unchanged archives).
    pub reused: u64,
}

/// Validates one episode archive (a local file) into its index row.
pub fn validate_episode(episode: &EpisodeRef, limits: &ReadLimits) -> IndexRow {
    judge_episode(episode, limits, || read_archive(&episode.path, limits))
}

/// Validates one episode of `source` into its index row.
pub fn validate_episode_in(source: &Source, episode: &EpisodeRef, limits: &ReadLimits) -> IndexRow {
    judge_episode(episode, limits, || source.read_archive(&episode.rel_path, limits))
}

type ReadOutcome = (
    Option<crate::store::archive::ArchiveFileDigest>,
    Result<crate::store::archive::EpisodeArchive, crate::store::archive::ArchiveError>,
);

fn judge_episode(episode: &EpisodeRef, limits: &ReadLimits, read: impl FnOnce() -> ReadOutcome) -> IndexRow {
    let mut row = IndexRow::new(episode.episode_id.clone(), episode.host_id.clone(), episode.rel_path.clone());
    // A panic while reading or judging marks this episode errored; the
    // sweep goes on.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let (digest, archive) = read();
        let judged = archive.map(|mut archive| {
            rules::judge(&mut archive, episode.host_id.as_str(), episode.episode_id.as_str(), limits)
        });
        (digest, judged)
    }));
    let (digest, judged) = match outcome {
        Ok(done) => done,
        Err(_) => {
            row.status = Status::Errored;
            row.reasons = vec![Reason::new(ReasonCode::InternalError)];
            row.details = "the reader panicked on this archive (a bug: please report it)".into();
            return row;
        }
    };
    if let Some(d) = digest {
        row.archive_sha256 = Some(d.sha256);
        row.archive_bytes = Some(d.bytes);
    }
    let judged = match judged {
        Ok(judged) => judged,
        Err(e) => {
            row.status = Status::Errored;
            row.reasons = vec![Reason::new(e.reason())];
            row.details = reasons::capped(crate::error_chain(&e), reasons::MAX_DETAIL_BYTES);
            return row;
        }
    };
    row.status = judged.status();
    row.reasons = judged.findings.reasons();
    row.details = judged.findings.details();
    let facts = judged.facts;
    row.profile = facts.profile;
    row.sample_id = facts.sample_id;
    row.agent_version = facts.agent_version;
    row.started_wall_ns = facts.started_wall_ns;
    row.duration_s = facts.duration_s;
    row.rows = facts.rows;
    row
}

/// Runs a sweep over the store and writes `validation_v1.parquet` and
/// `validation_summary.json` into the output folder (staged, then swapped
/// in whole). `on_done` is called after each episode with its row, done and
/// total (for progress events).
pub fn run(opts: &ValidateOptions, on_done: &(dyn Fn(&IndexRow, u64, u64) + Sync)) -> Result<Sweep, ValidateError> {
    let source = Source::open(&opts.store)?;
    let mut listing = source.list()?;
    let out = opts.target();
    if let Some(shard) = &opts.shard {
        listing.episodes.retain(|ep| shard.owns(ep.host_id.as_str(), ep.episode_id.as_str()));
        // Paths that are not episodes belong to no shard: shard 0 reports them.
        if shard.index != 0 {
            listing.skipped.clear();
        }
    }
    let staged = StagedDir::begin(&out, "cis490 validate", SUMMARY_FILE, opts.force, &[&opts.store])?;
    for skipped in &listing.skipped {
        tracing::warn!(path = %skipped.rel_path, "skipped: {}", skipped.why);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|source| ValidateError::Pool { jobs: opts.jobs, source })?;
    let total = listing.episodes.len() as u64;
    let key = cache::SweepKey::new(&opts.store, &opts.limits);
    let mut reusable = if opts.full { cache::Reusable::default() } else { cache::Reusable::load(&out, &key) };
    // Stamps are taken before reading: an archive that changes during the
    // sweep is validated again next time.
    let stamps: Vec<Option<cache::FileStamp>> = listing.episodes.iter().map(|ep| source.stamp(&ep.rel_path)).collect();
    let earlier: Vec<Option<IndexRow>> =
        listing.episodes.iter().zip(&stamps).map(|(ep, stamp)| reusable.take(&ep.rel_path, *stamp)).collect();
    drop(reusable);
    let reused = earlier.iter().filter(|row| row.is_some()).count() as u64;
    if reused > 0 {
        tracing::info!("reusing {reused} of {total} rows of the earlier sweep; validating {}", total - reused);
    }
    let bar = crate::progress::bar(total, "validating", opts.progress);
    let done = std::sync::atomic::AtomicU64::new(0);
    let rows: Vec<IndexRow> = pool.install(|| {
        listing
            .episodes
            .par_iter()
            .zip(earlier)
            .map(|(ep, earlier)| {
                let row = earlier.unwrap_or_else(|| validate_episode_in(&source, ep, &opts.limits));
                bar.inc(1);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                on_done(&row, n, total);
                row
            })
            .collect()
    });
    bar.finish_and_clear();
    let skipped_paths: Vec<String> = listing.skipped.iter().map(|s| format!("{}: {}", s.rel_path, s.why)).collect();
    let mut summary = summarize(&rows, skipped_paths);
    summary.store = Some(opts.store.display().to_string());
    write_sweep(staged.path(), &out, &rows, &stamps, &mut summary, key)?;
    if let Some(shard) = opts.shard {
        PartFile::new("validate", shard, rows.len() as u64).write(staged.path())?;
    }
    staged.commit()?;
    Ok(Sweep { summary, rows, reused })
}

/// The summary of `rows`: counts per status and reason, and the store's
/// paths that are not episodes (`skipped`, the first
/// [`MAX_SKIPPED_LISTED`] listed, then `+N more`).
pub(crate) fn summarize(rows: &[IndexRow], skipped: Vec<String>) -> ValidationSummary {
    let mut summary = ValidationSummary::default();
    for row in rows {
        summary.record(row.status, &row.reasons);
    }
    let more = skipped.len().saturating_sub(MAX_SKIPPED_LISTED);
    summary.skipped_paths = skipped;
    summary.skipped_paths.truncate(MAX_SKIPPED_LISTED);
    if more > 0 {
        summary.skipped_paths.push(format!("+{more} more"));
    }
    summary
}

/// Writes a sweep's three files into `dir` (a staging folder that becomes
/// `out`): the index, the summary (completed with the index's sha256 and
/// rows) and the cache of `stamps` (one per row) under `key`.
pub(crate) fn write_sweep(
    dir: &std::path::Path,
    out: &std::path::Path,
    rows: &[IndexRow],
    stamps: &[Option<cache::FileStamp>],
    summary: &mut ValidationSummary,
    key: cache::SweepKey,
) -> Result<(), ValidateError> {
    let json_err = |name: &str, e: serde_json::Error| {
        ValidateError::Summary(WriteError { path: out.join(name), source: std::io::Error::other(e) })
    };
    summary.index_sha256 = Some(index::write_index(&dir.join(INDEX_FILE), rows)?);
    summary.index_rows = Some(rows.len() as u64);
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| json_err(SUMMARY_FILE, e))?;
    atomic_file::write_bytes_atomically(&dir.join(SUMMARY_FILE), &json)?;
    let cache = cache::CacheFile {
        key,
        entries: rows.iter().zip(stamps).map(|(row, stamp)| (row.path.clone(), *stamp)).collect(),
    };
    let json = serde_json::to_vec(&cache).map_err(|e| json_err(cache::CACHE_FILE, e))?;
    atomic_file::write_bytes_atomically(&dir.join(cache::CACHE_FILE), &json)?;
    Ok(())
}
