//! The episodes of a feature folder, read from the key columns of the
//! summary shards (only those columns are decoded).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use cis490_shared::Cause;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::KEY_COLUMNS;
use crate::split::SplitError;

/// One episode as the splitter sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeInfo {
    /// Host id.
    pub host_id: String,
    /// Sample id (null for benign episodes).
    pub sample_id: Option<String>,
    /// The episode's profile (`benign` for all-benign episodes).
    pub profile: String,
    /// Unix ns of the first label.
    pub started_wall_ns: i64,
    /// Windows per label.
    pub windows: BTreeMap<String, u64>,
}

/// The summary shards of a feature folder, sorted.
pub fn summary_shards(features: &Path) -> Result<Vec<PathBuf>, SplitError> {
    shards_in(features, "summary")
}

/// The tensor shards of a feature folder, sorted (same rows as the summary shards).
pub fn tensor_shards(features: &Path) -> Result<Vec<PathBuf>, SplitError> {
    shards_in(features, "tensors")
}

fn shards_in(features: &Path, kind: &str) -> Result<Vec<PathBuf>, SplitError> {
    let shards = crate::extract::shard_files(features, kind)
        .map_err(|message| SplitError::Features { path: features.display().to_string(), source: message.into() })?;
    if shards.is_empty() {
        return Err(SplitError::Features {
            path: features.join(kind).display().to_string(),
            source: "no shards: the extraction found no usable episode".into(),
        });
    }
    Ok(shards)
}

fn strings<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a StringArray, SplitError> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>()).ok_or_else(|| {
        SplitError::Features {
            path: path.display().to_string(),
            source: format!("column {name:?} is missing or not a string").into(),
        }
    })
}

/// Reads every episode of the feature folder (by episode id).
pub fn read_episodes(features: &Path) -> Result<BTreeMap<String, EpisodeInfo>, SplitError> {
    let mut out: BTreeMap<String, EpisodeInfo> = BTreeMap::new();
    for path in summary_shards(features)? {
        let err = |source: Cause| SplitError::Features { path: path.display().to_string(), source };
        let file = File::open(&path).map_err(|e| err(e.into()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(e.into()))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), 0..KEY_COLUMNS.len());
        let reader = builder.with_projection(mask).build().map_err(|e| err(e.into()))?;
        for batch in reader {
            let batch = batch.map_err(|e| err(e.into()))?;
            let (ids, hosts, samples, profiles, labels) = (
                strings(&batch, "episode_id", &path)?,
                strings(&batch, "host_id", &path)?,
                strings(&batch, "sample_id", &path)?,
                strings(&batch, "profile", &path)?,
                strings(&batch, "label", &path)?,
            );
            let started = batch
                .column_by_name("started_wall_ns")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| err("column \"started_wall_ns\" is missing or not int64".into()))?;
            for i in 0..batch.num_rows() {
                let info = out.entry(ids.value(i).to_string()).or_insert_with(|| EpisodeInfo {
                    host_id: hosts.value(i).to_string(),
                    sample_id: (!samples.is_null(i)).then(|| samples.value(i).to_string()),
                    profile: profiles.value(i).to_string(),
                    started_wall_ns: started.value(i),
                    windows: BTreeMap::new(),
                });
                *info.windows.entry(labels.value(i).to_string()).or_default() += 1;
            }
        }
    }
    Ok(out)
}
