//! `cis490 merge --features`: `extract --shard` parts → the feature folder
//! one extraction of the whole index writes: the same shards (128 usable
//! episodes each, in index order, named `part-NNNNN.parquet`), the same
//! rows in the same order, the same `extract_summary.json` and cache.
//!
//! The merge streams: it walks the index once and, for each usable
//! episode, takes its rows from the part that owns it. A sharded
//! extraction writes its episodes whole and in index order, so every part
//! is read front to back, one record batch at a time; memory is one output
//! shards being encoded plus one batch per part, whatever the corpus size.
//! `jobs` writer threads encode gathered output shards while the next one
//! is gathered.
//!
//! Checked on the way: each part's shards are the ones its summary lists
//! (sizes included), all parts extracted the same index of the same store
//! under the same limits and feature schema, the index is still the one
//! they read, every usable episode is in its part exactly once (rows, or
//! the failure a single run would have recorded), and each taken row
//! carries the episode's id.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::{MergeError, Part, find_parts, read_json, same_across};
use crate::extract::reuse::{self, CacheFile, CachedShard, ShardEpisode};
use crate::extract::shards::{self, shard_file_name};
use crate::extract::{EPISODES_PER_SHARD, EXTRACT_SUMMARY_FILE, ExtractError, ExtractSummary, ShardFile};
use crate::output_dir::StagedDir;
use crate::shard::shard_index;
use crate::validate::index::{IndexRow, file_sha256, read_index};

/// Rows per record batch read from a part.
const READ_BATCH_ROWS: usize = 256;

/// What a merge of feature parts wrote.
#[derive(Debug, Clone)]
pub struct MergedFeatures {
    /// The merged summary, as written.
    pub summary: ExtractSummary,
    /// Parts merged.
    pub parts: usize,
}

/// What a merge needs besides the parts.
#[derive(Debug, Clone)]
pub struct MergeFeaturesOptions {
    /// Part folders, or folders of them.
    pub parts: Vec<PathBuf>,
    /// The merged feature folder.
    pub out: PathBuf,
    /// The acceptance index, when not at the path the parts recorded
    /// (e.g. the merge runs in another working folder).
    pub index: Option<PathBuf>,
    /// Replace `out` even if it is not an earlier extraction.
    pub force: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Writer threads encoding output shards.
    pub jobs: usize,
}

/// One kind of a part's shards (`summary` or `tensors`), read front to back.
struct RowStream {
    kind: &'static str,
    files: VecDeque<PathBuf>,
    current: PathBuf,
    reader: Option<ParquetRecordBatchReader>,
    pending: Option<RecordBatch>,
}

impl RowStream {
    fn new(part: &Part, kind: &'static str) -> Result<Self, MergeError> {
        let files = crate::extract::shard_files(&part.dir, kind).map_err(|why| MergeError::mismatch(&part.dir, why))?;
        Ok(Self { kind, files: files.into(), current: PathBuf::new(), reader: None, pending: None })
    }

    fn read_err(&self, why: impl std::fmt::Display) -> MergeError {
        MergeError::mismatch(&self.current, why.to_string())
    }

    /// The next batch of rows, opening the next shard when one ends.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, MergeError> {
        loop {
            if let Some(reader) = self.reader.as_mut() {
                match reader.next() {
                    Some(batch) => return batch.map(Some).map_err(|e| self.read_err(e)),
                    None => self.reader = None,
                }
            }
            let Some(path) = self.files.pop_front() else { return Ok(None) };
            self.current = path;
            let file = crate::store::regular_file::open_regular(&self.current).map_err(|e| self.read_err(e))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .map(|b| b.with_batch_size(READ_BATCH_ROWS))
                .and_then(|b| b.build())
                .map_err(|e| self.read_err(e))?;
            self.reader = Some(reader);
        }
    }

    /// Moves the next `n` rows, which must all be `episode`'s, into `into`.
    fn take(&mut self, mut n: u64, episode: &str, into: &mut Vec<RecordBatch>) -> Result<(), MergeError> {
        while n > 0 {
            let batch = match self.pending.take() {
                Some(batch) => batch,
                None => match self.next_batch()? {
                    Some(batch) => batch,
                    None => {
                        return Err(self.read_err(format!(
                            "the {} shards end {n} rows before the end of episode {episode}",
                            self.kind
                        )));
                    }
                },
            };
            let k = usize::try_from(n).unwrap_or(usize::MAX).min(batch.num_rows());
            let slice = batch.slice(0, k);
            if k < batch.num_rows() {
                self.pending = Some(batch.slice(k, batch.num_rows() - k));
            }
            check_episode(&slice, episode).map_err(|why| self.read_err(why))?;
            into.push(slice);
            n -= k as u64;
        }
        Ok(())
    }

    fn is_done(&mut self) -> Result<bool, MergeError> {
        if let Some(batch) = self.pending.take()
            && batch.num_rows() > 0
        {
            return Ok(false);
        }
        loop {
            match self.next_batch()? {
                Some(batch) if batch.num_rows() > 0 => {
                    self.pending = Some(batch);
                    return Ok(false);
                }
                Some(_) => {}
                None => return Ok(true),
            }
        }
    }
}

/// Checks that every row of `slice` is `episode`'s.
fn check_episode(slice: &RecordBatch, episode: &str) -> Result<(), String> {
    let ids = slice
        .column_by_name("episode_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or("no episode_id text column")?;
    match (0..ids.len()).find(|&i| ids.is_null(i) || ids.value(i) != episode) {
        None => Ok(()),
        Some(i) => Err(format!(
            "holds a row of {:?} where episode {episode}'s rows should be (the shards are not the ones shard.json describes)",
            if ids.is_null(i) { "" } else { ids.value(i) }
        )),
    }
}

/// One part, ready to be read.
struct PartReader {
    part: Part,
    episodes: VecDeque<ShardEpisode>,
    failures: HashMap<String, String>,
    summary_rows: RowStream,
    tensor_rows: RowStream,
}

fn open_part(part: &Part) -> Result<(ExtractSummary, reuse::ExtractKey, PartReader), MergeError> {
    let summary: ExtractSummary = read_json(&part.dir.join(EXTRACT_SUMMARY_FILE), "an extraction summary")?;
    let cache_path = part.dir.join(reuse::CACHE_FILE);
    let cache: CacheFile = read_json(&cache_path, "an extraction cache")?;
    let episodes: VecDeque<ShardEpisode> = cache.shards.into_iter().flat_map(|s| s.episodes).collect();
    let windows: u64 = episodes.iter().map(|e| e.windows).sum();
    if episodes.len() as u64 != summary.episodes || windows != summary.windows {
        return Err(MergeError::mismatch(
            &cache_path,
            format!(
                "lists {} episodes and {windows} windows, the summary {} and {}",
                episodes.len(),
                summary.episodes,
                summary.windows
            ),
        ));
    }
    let failures: HashMap<String, String> =
        part.file.failures.iter().map(|f| (f.episode_id.clone(), f.message.clone())).collect();
    if (episodes.len() + failures.len()) as u64 != part.file.episodes {
        return Err(MergeError::mismatch(
            &part.dir,
            format!(
                "holds {} episodes and {} failures, but {} says the shard had {} usable episodes",
                episodes.len(),
                failures.len(),
                crate::shard::PART_FILE,
                part.file.episodes
            ),
        ));
    }
    let reader = PartReader {
        part: part.clone(),
        episodes,
        failures,
        summary_rows: RowStream::new(part, "summary")?,
        tensor_rows: RowStream::new(part, "tensors")?,
    };
    Ok((summary, cache.key, reader))
}

/// One output shard, gathered, for the writer thread.
struct OutShard {
    number: usize,
    summary: Vec<RecordBatch>,
    tensors: Vec<RecordBatch>,
}

fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    if batches.is_empty() {
        return Ok(RecordBatch::new_empty(Arc::clone(schema)));
    }
    let joined = arrow_select::concat::concat_batches(&batches[0].schema(), batches)?;
    // The schema a single run writes (read-back metadata aside).
    RecordBatch::try_new(Arc::clone(schema), joined.columns().to_vec())
}

fn write_shard(dir: &Path, shard: OutShard, schemas: &(SchemaRef, SchemaRef)) -> Result<ShardFile, ExtractError> {
    let name = shard_file_name(shard.number);
    let batch_err = |e: arrow_schema::ArrowError| ExtractError::Write { path: name.clone(), source: e.into() };
    let summary = concat(&schemas.0, &shard.summary).map_err(batch_err)?;
    let summary_bytes = shards::write_batch(&dir.join("summary").join(&name), &summary)?;
    let tensors = concat(&schemas.1, &shard.tensors).map_err(batch_err)?;
    let tensors_bytes = shards::write_batch(&dir.join("tensors").join(&name), &tensors)?;
    Ok(ShardFile { name, rows: summary.num_rows() as u64, summary_bytes, tensors_bytes })
}

/// Merges the `extract --shard` parts into one feature folder.
pub fn merge(opts: &MergeFeaturesOptions) -> Result<MergedFeatures, MergeError> {
    let parts = find_parts(&opts.parts, "extract")?;
    let mut summaries = Vec::new();
    let mut keys: Vec<reuse::ExtractKey> = Vec::new();
    let mut readers = Vec::new();
    for part in &parts {
        let (summary, key, reader) = open_part(part)?;
        let this_build = cis490_shared::registry::schema_hash();
        if summary.schema_hash != this_build {
            return Err(MergeError::mismatch(
                &part.dir,
                format!("extracted for feature schema {}, this cis490 computes {this_build}", summary.schema_hash),
            ));
        }
        summaries.push(summary);
        keys.push(key);
        readers.push(reader);
    }
    let facts = |s: &ExtractSummary| (s.store.clone(), s.index.clone(), s.index_sha256.clone(), s.index_rows);
    same_across(&parts, &summaries.iter().map(facts).collect::<Vec<_>>(), "store, index, index sha256 and rows")?;
    same_across(&parts, &keys, "extraction key (store, limits, schema)")?;
    let first = &summaries[0];
    let index_path = opts.index.clone().unwrap_or_else(|| PathBuf::from(&first.index));
    let sha = file_sha256(&index_path).map_err(|e| {
        MergeError::mismatch(
            &index_path,
            format!("cannot read the index the parts were extracted from: {e} (give --index)"),
        )
    })?;
    if sha != first.index_sha256 {
        return Err(MergeError::mismatch(
            &index_path,
            format!(
                "sha256 {sha}, but the parts were extracted from an index with {}: validated again since?",
                first.index_sha256
            ),
        ));
    }
    let index = read_index(&index_path).map_err(|e| MergeError::mismatch(&index_path, crate::error_chain(&e)))?;

    let mut summary = ExtractSummary {
        schema_hash: first.schema_hash.clone(),
        indexed: index.len() as u64,
        store: first.store.clone(),
        index: first.index.clone(),
        index_sha256: first.index_sha256.clone(),
        index_rows: first.index_rows,
        ..Default::default()
    };
    let mut usable: Vec<&IndexRow> = Vec::new();
    for row in &index {
        if row.status.is_usable() {
            usable.push(row);
        } else {
            summary.skipped.push(format!("{}: {}", row.episode_id, row.status));
        }
    }
    let mut inputs: Vec<&Path> = parts.iter().map(|p| p.dir.as_path()).collect();
    inputs.push(&index_path);
    let staged = StagedDir::begin(&opts.out, "cis490 extract", EXTRACT_SUMMARY_FILE, opts.force, &inputs)?;
    let dir = staged.path().to_path_buf();
    for kind in ["summary", "tensors"] {
        std::fs::create_dir_all(dir.join(kind)).map_err(|e| {
            MergeError::Extract(ExtractError::Write {
                path: opts.out.join(kind).display().to_string(),
                source: e.into(),
            })
        })?;
    }
    let schemas = (shards::summary_batch(&[]).map(|b| b.schema()), shards::tensor_batch(&[]).map(|b| b.schema()));
    let schemas = match schemas {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => {
            return Err(MergeError::Extract(ExtractError::Write {
                path: opts.out.display().to_string(),
                source: e.into(),
            }));
        }
    };
    let count = parts[0].file.shard.count;
    let bar = crate::progress::bar(usable.len() as u64, "merging", opts.progress);
    let mut failures = Vec::new();
    let mut cached = Vec::new();
    let writers = opts.jobs.max(1);
    let (to_writer, from_gatherer) = std::sync::mpsc::sync_channel::<OutShard>(writers);
    let from_gatherer = std::sync::Mutex::new(from_gatherer);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let written = std::thread::scope(|scope| -> Result<Vec<ShardFile>, MergeError> {
        let dir = &dir;
        let schemas = &schemas;
        let from_gatherer = &from_gatherer;
        let failed = &failed;
        let writer_threads: Vec<_> = (0..writers)
            .map(|_| {
                scope.spawn(move || -> Result<Vec<ShardFile>, ExtractError> {
                    let mut done = Ok(Vec::new());
                    loop {
                        // The lock is held only to take the next shard.
                        let next = from_gatherer.lock().map_err(|_| ExtractError::WriterPanicked)?.recv();
                        let Ok(shard) = next else { return done };
                        // After a failure, shards are taken and dropped so the
                        // gatherer never waits on a full channel.
                        if let Ok(files) = done.as_mut() {
                            match write_shard(dir, shard, schemas) {
                                Ok(file) => files.push(file),
                                Err(e) => {
                                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                    done = Err(e);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        let gathered = (|| -> Result<(), MergeError> {
            for (number, chunk) in usable.chunks(EPISODES_PER_SHARD).enumerate() {
                let mut out = OutShard { number, summary: Vec::new(), tensors: Vec::new() };
                let mut episodes = Vec::new();
                for entry in chunk {
                    let id = entry.episode_id.as_str();
                    let reader = &mut readers[shard_index(entry.host_id.as_str(), id, count) as usize];
                    bar.inc(1);
                    if let Some(message) = reader.failures.remove(id) {
                        failures.push(message);
                        continue;
                    }
                    let dir = &reader.part.dir;
                    let Some(episode) = reader.episodes.pop_front() else {
                        return Err(MergeError::mismatch(
                            dir,
                            format!("lacks episode {id}, which the index lists as usable"),
                        ));
                    };
                    if episode.id != id {
                        return Err(MergeError::mismatch(
                            dir,
                            format!(
                                "holds episode {} where the index order puts {id}: not a part of this index",
                                episode.id
                            ),
                        ));
                    }
                    if episode.fingerprint != reuse::fingerprint(entry) {
                        return Err(MergeError::mismatch(
                            dir,
                            format!("episode {id} was extracted from another index row"),
                        ));
                    }
                    reader.summary_rows.take(episode.windows, id, &mut out.summary)?;
                    reader.tensor_rows.take(episode.windows, id, &mut out.tensors)?;
                    summary.episodes += 1;
                    summary.windows += episode.windows;
                    summary.dropped_windows += episode.dropped;
                    episodes.push(episode);
                }
                cached.push(CachedShard { name: shard_file_name(number), episodes });
                if failed.load(std::sync::atomic::Ordering::Relaxed) || to_writer.send(out).is_err() {
                    break; // a writer failed; its error is reported below
                }
            }
            Ok(())
        })();
        drop(to_writer);
        let mut written = Vec::new();
        for writer in writer_threads {
            written.extend(writer.join().unwrap_or(Err(ExtractError::WriterPanicked))?);
        }
        gathered?;
        written.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(written)
    })?;
    bar.finish_and_clear();
    for reader in &mut readers {
        let left = reader.episodes.front().map(|e| e.id.clone()).or_else(|| reader.failures.keys().next().cloned());
        if let Some(id) = left {
            return Err(MergeError::mismatch(
                &reader.part.dir,
                format!("holds episode {id}, which the index does not list as usable: not a part of this index"),
            ));
        }
        if !reader.summary_rows.is_done()? || !reader.tensor_rows.is_done()? {
            return Err(MergeError::mismatch(&reader.part.dir, "its shards hold more rows than its episodes"));
        }
    }
    summary.skipped.extend(failures);
    summary.shards = written.len() as u64;
    summary.shard_files = written;
    let cache = CacheFile { key: keys.swap_remove(0), shards: cached };
    crate::extract::write_extraction(&dir, &opts.out, &summary, &cache)?;
    staged.commit()?;
    Ok(MergedFeatures { summary, parts: parts.len() })
}
