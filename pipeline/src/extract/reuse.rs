//! Incremental extraction: `extract_cache_v1.json` beside the shards
//! records which episodes each shard holds, with a fingerprint of the
//! episode's index row (its archive's sha256, status and reasons, manifest
//! facts: everything its rows come from), its window and dropped-window
//! counts. A later extraction of the same store with the same limits and
//! feature schema keeps every shard whose episodes are all unchanged (the
//! files are hard-linked into the new output, not re-read), rewrites a
//! shard without the rows of episodes that changed or left the index, and
//! extracts only new and changed episodes into new shards. The feature
//! folder then holds exactly the rows a full extraction writes (in another
//! shard order); `--full` extracts everything again.
//!
//! A reused episode's archive is not re-read, but its size must still
//! equal the index's `archive_bytes` (else it is extracted again, and the
//! sha256 check then names it).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatchReader;
use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use cis490_shared::Cause;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ExtractError, ShardFile};
use crate::store::archive::ReadLimits;
use crate::validate::index::IndexRow;

/// File name of the cache inside the feature folder.
pub const CACHE_FILE: &str = "extract_cache_v1.json";

/// Largest cache read (≈ 150 B per episode: about 1.7 M episodes).
const MAX_CACHE_BYTES: u64 = 256 << 20;

/// What an extraction's rows depend on besides the index rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractKey {
    /// The feature schema hash.
    pub schema_hash: String,
    /// The store, canonicalized.
    pub store: String,
    /// The limits, as text.
    pub limits: String,
}

impl ExtractKey {
    /// The key of an extraction of `store` under `limits`.
    pub fn new(store: &Path, limits: &ReadLimits) -> Self {
        let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
        Self {
            schema_hash: cis490_shared::registry::schema_hash(),
            store: store.display().to_string(),
            limits: format!("{limits:?}"),
        }
    }
}

/// One episode in a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEpisode {
    /// Episode id.
    pub id: String,
    /// [`fingerprint`] of its index row.
    pub fingerprint: String,
    /// Windows it has in the shard.
    pub windows: u64,
    /// Windows it dropped for straddling a transition.
    pub dropped: u64,
}

/// The episodes of one shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedShard {
    /// The shard's file name.
    pub name: String,
    /// Its episodes, in row order.
    pub episodes: Vec<ShardEpisode>,
}

/// The cache file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheFile {
    /// What the shards were made under.
    pub key: ExtractKey,
    /// Every shard.
    pub shards: Vec<CachedShard>,
}

/// What an episode's rows come from, as a digest of its index row.
///
/// The digest is of the row's text in the layout `extract_cache_v1` was
/// defined with (every column, as written), not of [`IndexRow`]'s own
/// `Debug`: a change of the row's Rust types (a typed status or reason)
/// must not make every cached shard look changed.
pub fn fingerprint(row: &IndexRow) -> String {
    hex::encode(Sha256::digest(format!("{:?}", cached_layout::IndexRow::of(row)).as_bytes()))
}

/// The index row as `extract_cache_v1` fingerprints it.
mod cached_layout {
    /// Same name, fields and order as the row had when the cache format
    /// was defined, so its `Debug` text (the fingerprinted bytes) is too.
    #[derive(Debug)]
    #[expect(dead_code, reason = "the fields are read through `Debug`: the fingerprinted text")]
    pub struct IndexRow<'a> {
        episode_id: &'a str,
        host_id: &'a str,
        profile: Option<&'a str>,
        sample_id: Option<&'a str>,
        agent_version: Option<&'a str>,
        status: &'a str,
        reasons: Vec<String>,
        details: &'a str,
        started_wall_ns: Option<i64>,
        duration_s: Option<f64>,
        rows: [Option<u64>; 4],
        archive_sha256: Option<&'a str>,
        archive_bytes: Option<u64>,
        path: &'a str,
    }

    impl<'a> IndexRow<'a> {
        pub fn of(row: &'a super::IndexRow) -> Self {
            Self {
                episode_id: row.episode_id.as_str(),
                host_id: row.host_id.as_str(),
                profile: row.profile.as_deref(),
                sample_id: row.sample_id.as_deref(),
                agent_version: row.agent_version.as_deref(),
                status: row.status.as_str(),
                reasons: row.reasons.iter().map(ToString::to_string).collect(),
                details: &row.details,
                started_wall_ns: row.started_wall_ns,
                duration_s: row.duration_s,
                rows: row.rows,
                archive_sha256: row.archive_sha256.as_deref(),
                archive_bytes: row.archive_bytes,
                path: &row.path,
            }
        }
    }
}

/// The plan of an incremental extraction.
#[derive(Debug, Default)]
pub struct Plan {
    /// Shards kept whole: their files are linked into the new output.
    pub keep: Vec<(ShardFile, CachedShard)>,
    /// Shards rewritten without some episodes' rows: (old file, episodes kept).
    pub rewrite: Vec<(ShardFile, CachedShard)>,
    /// Episode ids whose rows come from kept or rewritten shards.
    pub reused: BTreeSet<String>,
    /// The first free shard number for new shards.
    pub next_shard: usize,
}

impl Plan {
    /// Windows and dropped windows of the reused episodes.
    pub fn reused_counts(&self) -> (u64, u64) {
        self.keep
            .iter()
            .chain(&self.rewrite)
            .flat_map(|(_, s)| &s.episodes)
            .fold((0, 0), |(w, d), e| (w + e.windows, d + e.dropped))
    }
}

fn shard_number(name: &str) -> Option<usize> {
    name.strip_prefix("part-")?.strip_suffix(".parquet")?.parse().ok()
}

/// The plan for extracting `usable` (index rows, in index order) into a
/// folder whose earlier extraction is in `out`; `None` (extract
/// everything) when there is none of this store, limits and schema, or it
/// is unreadable.
pub fn plan(out: &Path, key: &ExtractKey, usable: &[&IndexRow], store: &crate::source::Source) -> Option<Plan> {
    let cache_path = out.join(CACHE_FILE);
    if !cache_path.exists() {
        return None;
    }
    let load = || -> Result<(CacheFile, Vec<ShardFile>), String> {
        let bytes =
            crate::store::regular_file::read_regular(&cache_path, MAX_CACHE_BYTES).map_err(|e| e.to_string())?;
        let cache: CacheFile = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let summary = super::read_summary(out)?;
        // The shards must be exactly those the summary lists, with their sizes.
        super::shard_files(out, "summary")?;
        super::shard_files(out, "tensors")?;
        Ok((cache, summary.shard_files))
    };
    let (cache, files) = match load() {
        Ok(loaded) => loaded,
        Err(why) => {
            tracing::info!("full extraction: the earlier one in {} is unusable: {why}", out.display());
            return None;
        }
    };
    if cache.key != *key {
        tracing::info!("full extraction: the earlier one was of another store, schema or limits");
        return None;
    }
    let files: HashMap<&str, &ShardFile> = files.iter().map(|f| (f.name.as_str(), f)).collect();
    let current: HashMap<&str, (&IndexRow, String)> =
        usable.iter().map(|r| (r.episode_id.as_str(), (*r, fingerprint(r)))).collect();
    let unchanged = |e: &ShardEpisode| {
        current.get(e.id.as_str()).is_some_and(|(row, fp)| {
            *fp == e.fingerprint
                && super::archive_rel_path(row)
                    .ok()
                    .and_then(|rel| store.stamp(&rel))
                    .is_some_and(|stamp| Some(stamp.size) == row.archive_bytes)
        })
    };
    let mut plan = Plan::default();
    for shard in cache.shards {
        let Some(file) = files.get(shard.name.as_str()) else {
            tracing::info!("full extraction: {} is in the cache but not in the summary", shard.name);
            return None;
        };
        plan.next_shard = plan.next_shard.max(shard_number(&shard.name).map_or(0, |n| n + 1));
        let kept: Vec<ShardEpisode> = shard.episodes.iter().filter(|e| unchanged(e)).cloned().collect();
        plan.reused.extend(kept.iter().map(|e| e.id.clone()));
        if kept.len() == shard.episodes.len() {
            plan.keep.push(((*file).clone(), shard));
        } else if !kept.is_empty() {
            plan.rewrite.push(((*file).clone(), CachedShard { name: shard.name, episodes: kept }));
        }
    }
    Some(plan)
}

/// Reads `path` whole and writes the rows of `episodes` to `to`; returns
/// the rows and bytes written.
pub fn rewrite_shard(path: &Path, to: &Path, episodes: &BTreeSet<&str>) -> Result<(u64, u64), ExtractError> {
    let fail = |source: Cause| ExtractError::Read { path: path.display().to_string(), source };
    let file = crate::store::regular_file::open_regular(path).map_err(|e| fail(e.into()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| fail(e.into()))?;
    let schema = reader.schema();
    let mut kept: Vec<RecordBatch> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(e.into()))?;
        let ids = batch
            .column_by_name("episode_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| fail("no episode_id column".into()))?;
        let mask: BooleanArray = (0..ids.len()).map(|i| Some(episodes.contains(ids.value(i)))).collect();
        kept.push(arrow_select::filter::filter_record_batch(&batch, &mask).map_err(|e| fail(e.into()))?);
    }
    let batch = arrow_select::concat::concat_batches(&Arc::clone(&schema), &kept).map_err(|e| fail(e.into()))?;
    let bytes = super::shards::write_batch(to, &batch)?;
    Ok((batch.num_rows() as u64, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::ids::{EpisodeId, HostId};
    use cis490_shared::validation::{Reason, ReasonCode};

    #[test]
    fn a_fingerprint_changes_with_anything_rows_come_from() {
        let ids = (EpisodeId::new("e"), HostId::new("h"));
        let (Ok(episode), Ok(host)) = ids else { panic!("valid ids refused: {ids:?}") };
        let row = IndexRow { archive_sha256: Some("aa".into()), ..IndexRow::new(episode, host, String::new()) };
        let same = fingerprint(&row);
        assert_eq!(same, fingerprint(&row.clone()));
        assert_ne!(same, fingerprint(&IndexRow { archive_sha256: Some("ab".into()), ..row.clone() }));
        let gated = vec![Reason::about(ReasonCode::RowGate, "guest")];
        assert_ne!(same, fingerprint(&IndexRow { reasons: gated, ..row.clone() }));
        // The digest of this row as extract_cache_v1 has recorded it since
        // the format was defined (status and reasons were strings then).
        assert_eq!(same, "4ca78b6092463d039b1780f2ad9ccdbddfbea0c9f79c94a7713acd90a8a5d7ef");
        assert_eq!(shard_number("part-00012.parquet"), Some(12));
        assert_eq!(shard_number("other"), None);
    }
}
