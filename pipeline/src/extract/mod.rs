//! Feature extraction: accepted (and usable degraded) episodes → windows →
//! summary and tensor shards.
//!
//! - [`episode`]: one episode's grid, windows and features, on demand;
//! - [`shards`]: the Parquet shard layout;
//! - [`reuse`]: what lets a later extraction of a grown store extract only
//!   new and changed episodes.
//!
//! Episodes stream through in chunks: both cores compute a chunk's windows,
//! then the chunk is written as one summary and one tensor shard, so memory
//! stays bounded by the chunk size whatever the corpus size.
//!
//! Outputs are one consistent run: shards and `extract_summary.json` are
//! written into a staging folder and swapped in whole
//! ([`crate::output_dir`]), so an earlier extraction's shards never stay
//! beside new ones. The summary records what the run was made from (the
//! index's sha256 and row count, the store) and every shard it wrote (rows
//! and bytes), and [`shard_files`] refuses a folder whose shards differ
//! from that list. Each archive is checked against the index (its size and
//! sha256) before its features count.

pub mod episode;
pub mod reuse;
pub mod shards;

use std::fs;
use std::path::{Path, PathBuf};

use cis490_shared::Cause;
use cis490_shared::registry::{Source, schema_hash};
use cis490_shared::validation::{Reason, ReasonCode};
use rayon::prelude::*;

use crate::atomic_file;
use crate::output_dir::{OutputError, StagedDir};
use crate::shard::{PartFailure, PartFile, Shard};
use crate::store::archive::ReadLimits;
use crate::validate::SUMMARY_FILE;
use crate::validate::index::read_index;
use crate::validate::index::{IndexRow, file_sha256};
use episode::{EpisodeWindows, extract_indexed};
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
    /// Caps on reading each archive.
    pub limits: ReadLimits,
    /// Replace `out` even if it is not an earlier extraction.
    pub force: bool,
    /// Extract every episode even where `out` holds an earlier extraction
    /// of the same store (otherwise unchanged episodes keep their rows).
    pub full: bool,
    /// Extract only this shard's episodes, into `<out>/shard-IIII-of-NNNN/`
    /// (see [`crate::shard`]); a shard is always extracted whole, so its rows
    /// are in index order, as `cis490 merge` needs them.
    pub shard: Option<Shard>,
}

impl ExtractOptions {
    /// The folder the extraction writes: `out`, or the shard's part folder in it.
    pub fn target(&self) -> PathBuf {
        match &self.shard {
            Some(shard) => shard.part_dir(&self.out),
            None => self.out.clone(),
        }
    }
}

/// Extraction could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The index is unreadable.
    #[error(transparent)]
    Index(#[from] crate::validate::index::IndexReadError),
    /// The output could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file or folder.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// An earlier extraction's shard could not be read back.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The worker pool could not start.
    #[error("cannot start worker threads")]
    Pool(#[source] rayon::ThreadPoolBuildError),
    /// The thread writing the shards panicked.
    #[error("the shard writer panicked")]
    WriterPanicked,
    /// The output folder cannot be prepared or swapped in.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The store cannot be opened or listed.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The index and the summary beside it come from different sweeps.
    #[error("cannot check {index} against its validation summary")]
    Provenance {
        /// The index.
        index: String,
        /// What does not match.
        #[source]
        source: Cause,
    },
}

/// One shard pair written by an extraction.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardFile {
    /// File name, the same in `summary/` and `tensors/`.
    pub name: String,
    /// Window rows in each of the two files.
    pub rows: u64,
    /// Size of `summary/<name>`.
    pub summary_bytes: u64,
    /// Size of `tensors/<name>`.
    pub tensors_bytes: u64,
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
    /// The store read, as given.
    #[serde(default)]
    pub store: String,
    /// The acceptance index read, as given.
    #[serde(default)]
    pub index: String,
    /// sha256 (hex) of that index.
    #[serde(default)]
    pub index_sha256: String,
    /// Rows in that index.
    #[serde(default)]
    pub index_rows: u64,
    /// Every shard written, in order: a feature folder holds exactly these.
    #[serde(default)]
    pub shard_files: Vec<ShardFile>,
    /// Episodes whose rows were kept from the earlier extraction (not written to the file).
    #[serde(skip)]
    pub reused_episodes: u64,
}

/// Which threat models can use an episode, from its validation reasons.
pub fn usability(reasons: &[Reason]) -> (bool, bool) {
    let broken = |s: Source| {
        reasons.iter().any(|r| {
            matches!(r.code, ReasonCode::SourceMissing | ReasonCode::RowGate)
                && r.subject.as_deref() == Some(s.as_str())
        })
    };
    let realistic = ![Source::Proc, Source::Qmp, Source::Netflow].into_iter().any(broken);
    (realistic, realistic && !broken(Source::Guest))
}

fn rows_of(entry: &IndexRow, profile: &str, ep: EpisodeWindows) -> Vec<WindowRow> {
    let (usable_realistic, usable_oracle) = usability(&entry.reasons);
    ep.windows
        .iter()
        .zip(ep.features)
        .map(|(w, f)| WindowRow {
            key: WindowKey {
                episode_id: entry.episode_id.to_string(),
                host_id: entry.host_id.to_string(),
                sample_id: entry.sample_id.clone(),
                profile: profile.to_string(),
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

/// A kept shard in the new output: a hard link (same file system as the
/// staging folder beside it), or a copy where links are not supported.
fn link_or_copy(from: &Path, to: &Path) -> Result<(), ExtractError> {
    let fail = |e: std::io::Error| ExtractError::Write { path: to.display().to_string(), source: e.into() };
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).map_err(fail)?;
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), ExtractError> {
    fs::create_dir_all(path).map_err(|e| ExtractError::Write { path: path.display().to_string(), source: e.into() })
}

/// Checks the index against the `validation_summary.json` beside it (when
/// there is one): both must come from the same sweep. Returns the index's
/// sha256.
fn check_index(index: &Path) -> Result<String, ExtractError> {
    let shown = index.display().to_string();
    let fail = |source: Cause| ExtractError::Provenance { index: shown.clone(), source };
    let sha256 = file_sha256(index).map_err(|e| fail(e.into()))?;
    let summary_path = index.with_file_name(SUMMARY_FILE);
    if let Ok(bytes) = crate::store::regular_file::read_regular(&summary_path, 64 << 20) {
        let summary: cis490_shared::validation::ValidationSummary = serde_json::from_slice(&bytes).map_err(|e| {
            fail(format!("{} beside it is not a validation summary: {e}", summary_path.display()).into())
        })?;
        if let Some(recorded) = summary.index_sha256
            && recorded != sha256
        {
            return Err(fail(
                format!(
                    "it is not the index {} describes (sha256 {sha256}, the summary says {recorded}): the two come from different validation runs; run `cis490 validate` again",
                    summary_path.display()
                )
                .into(),
            ));
        }
    } else {
        tracing::warn!("{}: no validation summary beside it to check it against", index.display());
    }
    Ok(sha256)
}

/// The archive of an index row: always `<host_id>/<episode_id>.tar.zst`
/// under the store, rebuilt from the validated ids (the row's `path` must
/// agree), so an index row can never point outside the store.
fn archive_rel_path(entry: &IndexRow) -> Result<String, String> {
    use cis490_shared::ids::{EpisodeId, HostId};
    let host = HostId::new(entry.host_id.clone()).map_err(|e| e.to_string())?;
    let episode = EpisodeId::new(entry.episode_id.clone()).map_err(|e| e.to_string())?;
    let rel = format!("{host}/{episode}{}", crate::store::layout::ARCHIVE_SUFFIX);
    if entry.path != rel {
        return Err(format!("index path {:?} is not {rel:?}", entry.path));
    }
    Ok(rel)
}

/// Runs extraction; `on_done` is called with (episodes done, total) after
/// each chunk (for progress events).
pub fn run(opts: &ExtractOptions, on_done: &(dyn Fn(u64, u64) + Sync)) -> Result<ExtractSummary, ExtractError> {
    let index_sha256 = check_index(&opts.index)?;
    let index = read_index(&opts.index)?;
    let target = opts.target();
    let mut summary = ExtractSummary {
        schema_hash: schema_hash(),
        indexed: index.len() as u64,
        store: opts.store.display().to_string(),
        index: opts.index.display().to_string(),
        index_sha256,
        index_rows: index.len() as u64,
        ..Default::default()
    };
    let usable: Vec<&IndexRow> = index
        .iter()
        .filter(|e| opts.shard.is_none_or(|shard| shard.owns(e.host_id.as_str(), e.episode_id.as_str())))
        .filter(|e| {
            let keep = e.status.is_usable();
            if !keep {
                summary.skipped.push(format!("{}: {}", e.episode_id, e.status));
            }
            keep
        })
        .collect();
    let staged =
        StagedDir::begin(&target, "cis490 extract", EXTRACT_SUMMARY_FILE, opts.force, &[&opts.store, &opts.index])?;
    let out = staged.path().to_path_buf();
    for dir in ["summary", "tensors"] {
        create_dir(&out.join(dir))?;
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.jobs.max(1)).build().map_err(ExtractError::Pool)?;

    // Shards of an earlier extraction of this store whose episodes are
    // unchanged are kept; only new and changed episodes are extracted.
    let key = reuse::ExtractKey::new(&opts.store, &opts.limits);
    let source = crate::source::Source::open(&opts.store)?;
    let whole = opts.full || opts.shard.is_some();
    if !whole && source.local_root().is_none() {
        // A bucket's sizes come from its listing (one request per 1,000 objects).
        source.list()?;
    }
    let plan = if whole { None } else { reuse::plan(&target, &key, &usable, &source) }.unwrap_or_default();
    let mut kept_files: Vec<ShardFile> = Vec::new();
    let mut cached: Vec<reuse::CachedShard> = Vec::new();
    for (file, shard) in &plan.keep {
        for kind in ["summary", "tensors"] {
            link_or_copy(&target.join(kind).join(&file.name), &out.join(kind).join(&file.name))?;
        }
        kept_files.push(file.clone());
        cached.push(shard.clone());
    }
    for (file, shard) in &plan.rewrite {
        let ids: std::collections::BTreeSet<&str> = shard.episodes.iter().map(|e| e.id.as_str()).collect();
        let (rows, summary_bytes) = reuse::rewrite_shard(
            &target.join("summary").join(&file.name),
            &out.join("summary").join(&file.name),
            &ids,
        )?;
        let (_, tensors_bytes) = reuse::rewrite_shard(
            &target.join("tensors").join(&file.name),
            &out.join("tensors").join(&file.name),
            &ids,
        )?;
        kept_files.push(ShardFile { name: file.name.clone(), rows, summary_bytes, tensors_bytes });
        cached.push(shard.clone());
    }
    let (reused_windows, reused_dropped) = plan.reused_counts();
    summary.episodes += plan.reused.len() as u64;
    summary.windows += reused_windows;
    summary.dropped_windows += reused_dropped;
    let reused = plan.reused.len() as u64;
    summary.reused_episodes = reused;
    if reused > 0 {
        tracing::info!(
            "reusing {reused} episodes' rows ({} shards kept, {} rewritten without changed or removed episodes)",
            plan.keep.len(),
            plan.rewrite.len()
        );
    }
    let to_extract: Vec<&IndexRow> =
        usable.iter().copied().filter(|e| !plan.reused.contains(e.episode_id.as_str())).collect();
    let total = usable.len() as u64;

    let bar = crate::progress::bar(to_extract.len() as u64, "extracting", opts.progress);
    let skipped_before = summary.skipped.len() as u64;
    let mut failures: Vec<PartFailure> = Vec::new();
    let limits = opts.limits;
    // A writer thread encodes shard N while the pool computes chunk N + 1.
    let (to_writer, from_chunks) = std::sync::mpsc::sync_channel::<(usize, Vec<WindowRow>)>(1);
    let written = std::thread::scope(|scope| {
        let out = &out;
        let writer = scope.spawn(move || -> Result<Vec<ShardFile>, ExtractError> {
            let mut files = Vec::new();
            for (shard, rows) in from_chunks {
                let name = shards::shard_file_name(shard);
                let batch_err =
                    |e: arrow_schema::ArrowError| ExtractError::Write { path: name.clone(), source: e.into() };
                let summary_batch = shards::summary_batch(&rows).map_err(batch_err)?;
                let summary_bytes = shards::write_batch(&out.join("summary").join(&name), &summary_batch)?;
                let tensor_batch = shards::tensor_batch(&rows).map_err(batch_err)?;
                let tensors_bytes = shards::write_batch(&out.join("tensors").join(&name), &tensor_batch)?;
                files.push(ShardFile { name, rows: rows.len() as u64, summary_bytes, tensors_bytes });
            }
            Ok(files)
        });
        for (i, chunk) in to_extract.chunks(EPISODES_PER_SHARD).enumerate() {
            let shard = plan.next_shard + i;
            let results: Vec<Result<(Vec<WindowRow>, usize), String>> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|entry| {
                        let result = archive_rel_path(entry)
                            .and_then(|rel_path| {
                                // Validation rejects a manifest without one: a row without is an error.
                                let profile = entry.profile.as_deref().ok_or("the index row has no profile")?;
                                let ep = extract_indexed(&source, &rel_path, entry, &limits)
                                    .map_err(|e| crate::error_chain(&e))?;
                                let dropped = ep.dropped;
                                Ok((rows_of(entry, profile, ep), dropped))
                            })
                            .map_err(|e: String| format!("{}: {e}", entry.episode_id));
                        bar.inc(1);
                        result
                    })
                    .collect()
            });
            let mut rows = Vec::new();
            let mut episodes = Vec::new();
            for (entry, result) in chunk.iter().zip(results) {
                match result {
                    Ok((r, dropped)) => {
                        summary.episodes += 1;
                        summary.dropped_windows += dropped as u64;
                        episodes.push(reuse::ShardEpisode {
                            id: entry.episode_id.to_string(),
                            fingerprint: reuse::fingerprint(entry),
                            windows: r.len() as u64,
                            dropped: dropped as u64,
                        });
                        rows.extend(r);
                    }
                    Err(why) => {
                        tracing::warn!("skipped {why}");
                        if opts.shard.is_some() {
                            failures
                                .push(PartFailure { episode_id: entry.episode_id.to_string(), message: why.clone() });
                        }
                        summary.skipped.push(why);
                    }
                }
            }
            summary.windows += rows.len() as u64;
            cached.push(reuse::CachedShard { name: shards::shard_file_name(shard), episodes });
            on_done(summary.episodes + summary.skipped.len() as u64 - skipped_before, total);
            if to_writer.send((shard, rows)).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(to_writer);
        writer.join().unwrap_or(Err(ExtractError::WriterPanicked))
    })?;
    let mut written = [kept_files, written].concat();
    written.sort_by(|a, b| a.name.cmp(&b.name));
    summary.shards = written.len() as u64;
    summary.shard_files = written;
    bar.finish_and_clear();
    write_extraction(&out, &target, &summary, &reuse::CacheFile { key, shards: cached })?;
    if let Some(shard) = opts.shard {
        let part = PartFile { failures, ..PartFile::new("extract", shard, usable.len() as u64) };
        part.write(&out).map_err(|e| ExtractError::Write {
            path: target.join(crate::shard::PART_FILE).display().to_string(),
            source: e.source.into(),
        })?;
    }
    staged.commit()?;
    Ok(summary)
}

/// Writes `extract_summary.json` and the reuse cache into `dir`, the
/// staging folder that becomes `target`.
pub(crate) fn write_extraction(
    dir: &Path,
    target: &Path,
    summary: &ExtractSummary,
    cache: &reuse::CacheFile,
) -> Result<(), ExtractError> {
    // Staged files' errors name the staging folder: the final paths are said instead.
    let write_err =
        |name: &str, source: Cause| ExtractError::Write { path: target.join(name).display().to_string(), source };
    let json = serde_json::to_vec_pretty(summary).map_err(|e| write_err(EXTRACT_SUMMARY_FILE, e.into()))?;
    atomic_file::write_bytes_atomically(&dir.join(EXTRACT_SUMMARY_FILE), &json)
        .map_err(|e| write_err(EXTRACT_SUMMARY_FILE, e.source.into()))?;
    let json = serde_json::to_vec(cache).map_err(|e| write_err(reuse::CACHE_FILE, e.into()))?;
    atomic_file::write_bytes_atomically(&dir.join(reuse::CACHE_FILE), &json)
        .map_err(|e| write_err(reuse::CACHE_FILE, e.source.into()))?;
    Ok(())
}

/// The extraction summary of a feature folder.
pub fn read_summary(features: &Path) -> Result<ExtractSummary, String> {
    let path = features.join(EXTRACT_SUMMARY_FILE);
    let bytes = crate::store::regular_file::read_regular(&path, 256 << 20)
        .map_err(|e| format!("{}: {e} (run `cis490 extract` first)", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: not an extraction summary: {e}", path.display()))
}

/// A fingerprint of a feature folder's extraction (sha256 of its
/// `extract_summary.json`, which lists every shard with its size): splits
/// record it, and training and evaluation refuse features that changed.
pub fn features_digest(features: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let path = features.join(EXTRACT_SUMMARY_FILE);
    let bytes = crate::store::regular_file::read_regular(&path, 256 << 20)
        .map_err(|e| format!("{}: {e} (run `cis490 extract` first)", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Checks that `features` is still the extraction a split recorded
/// (`recorded`, empty for splits made before splits recorded it).
pub fn check_features_digest(features: &Path, recorded: &str) -> Result<(), String> {
    if recorded.is_empty() {
        return Ok(());
    }
    let now = features_digest(features)?;
    if now != recorded {
        return Err(format!(
            "the split was made from another extraction than the one now in {} (extracted again since?): run `cis490 split` again",
            features.display()
        ));
    }
    Ok(())
}

/// The shards of `kind` (`summary` or `tensors`) of a feature folder, in
/// order, checked against its `extract_summary.json`: the folder must hold
/// exactly the shards that extraction wrote, with their sizes, so shards of
/// another run (a stale or foreign file) are refused by name instead of
/// silently mixed in.
pub fn shard_files(features: &Path, kind: &str) -> Result<Vec<PathBuf>, String> {
    let summary = read_summary(features)?;
    if summary.schema_hash != schema_hash() {
        return Err(format!(
            "{}: made for feature schema {}, this build computes {} (run `cis490 extract` again)",
            features.display(),
            summary.schema_hash,
            schema_hash()
        ));
    }
    if summary.shard_files.is_empty() && summary.shards > 0 {
        return Err(format!(
            "{}: made by an older cis490 that did not list its shards; run `cis490 extract` again",
            features.join(EXTRACT_SUMMARY_FILE).display()
        ));
    }
    let dir = features.join(kind);
    let mut present: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e} (run `cis490 extract` first)", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    present.sort();
    let listed: std::collections::BTreeSet<&str> = summary.shard_files.iter().map(|f| f.name.as_str()).collect();
    if let Some(stray) = present.iter().find(|name| !listed.contains(name.as_str())) {
        return Err(format!(
            "{}: not written by the extraction that {} describes (a stale or foreign file); extract into an empty folder or remove it",
            dir.join(stray).display(),
            EXTRACT_SUMMARY_FILE
        ));
    }
    let mut paths = Vec::with_capacity(summary.shard_files.len());
    for file in &summary.shard_files {
        let path = dir.join(&file.name);
        let want = if kind == "summary" { file.summary_bytes } else { file.tensors_bytes };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == want => paths.push(path),
            Ok(meta) if meta.is_file() => {
                return Err(format!(
                    "{}: {} bytes, but extraction wrote {want}: the shard changed since",
                    path.display(),
                    meta.len()
                ));
            }
            Ok(_) => return Err(format!("{}: not a regular file", path.display())),
            Err(e) => return Err(format!("{}: {e} (listed in {EXTRACT_SUMMARY_FILE})", path.display())),
        }
    }
    Ok(paths)
}
