//! Normalization statistics fitted on the training side only, saved next
//! to the split so the trainer (and every inference path) uses the same.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use arrow_array::{Array, FixedSizeListArray, Float32Array, StringArray, UInt8Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use cis490_shared::Cause;
use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::features::stats::summary_names;
use cis490_shared::registry::{CHANNELS, Channel, schema_hash};

use super::SplitError;
use crate::extract::shards::episodes::{summary_shards, tensor_shards};

/// Mean and standard deviation per feature; a feature never seen, or
/// constant, gets std 1 so normalizing never divides by zero.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureStats {
    /// Feature names, in column order.
    pub names: Vec<String>,
    /// Means.
    pub mean: Vec<f64>,
    /// Standard deviations (population).
    pub std: Vec<f64>,
    /// Observed values per feature.
    pub count: Vec<u64>,
}

/// Normalization of both feature kinds, fitted on training windows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// The feature schema these statistics belong to.
    pub schema_hash: String,
    /// Training windows used.
    pub train_windows: u64,
    /// Per summary column (`<channel>.<stat>`), over non-missing values.
    pub summary: FeatureStats,
    /// Per tensor channel, over observed (mask = 1) cells.
    pub tensor: FeatureStats,
}

/// Welford's running mean and variance.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Running {
    fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
}

fn finish(names: Vec<String>, running: &[Running]) -> FeatureStats {
    let std = running
        .iter()
        .map(|r| {
            let s = if r.n > 0 { (r.m2 / r.n as f64).sqrt() } else { 0.0 };
            if s > 0.0 && s.is_finite() { s } else { 1.0 }
        })
        .collect();
    FeatureStats {
        names,
        mean: running.iter().map(|r| r.mean).collect(),
        std,
        count: running.iter().map(|r| r.n).collect(),
    }
}

fn open(path: &Path) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, SplitError> {
    let err = |source: Cause| SplitError::Features { path: path.display().to_string(), source };
    let file = File::open(path).map_err(|e| err(e.into()))?;
    ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| err(e.into()))
}

fn column_err(path: &Path, name: &str) -> SplitError {
    SplitError::Features {
        path: path.display().to_string(),
        source: format!("column {name:?} is missing or mistyped").into(),
    }
}

fn episode_ids<'a>(batch: &'a arrow_array::RecordBatch, path: &Path) -> Result<&'a StringArray, SplitError> {
    batch
        .column_by_name("episode_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| column_err(path, "episode_id"))
}

/// Fits the statistics on the windows of the `train` episodes.
pub fn fit(features: &Path, train: &BTreeSet<String>) -> Result<Normalization, SplitError> {
    let names = summary_names();
    let mut summary = vec![Running::default(); names.len()];
    let mut windows = 0u64;
    for path in summary_shards(features)? {
        for batch in open(&path)? {
            let batch =
                batch.map_err(|e| SplitError::Features { path: path.display().to_string(), source: e.into() })?;
            let ids = episode_ids(&batch, &path)?;
            let rows: Vec<usize> = (0..batch.num_rows()).filter(|i| train.contains(ids.value(*i))).collect();
            windows += rows.len() as u64;
            for (j, name) in names.iter().enumerate() {
                let col = batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                    .ok_or_else(|| column_err(&path, name))?;
                for &i in &rows {
                    summary[j].push(f64::from(col.value(i)));
                }
            }
        }
    }
    let mut tensor = vec![Running::default(); CHANNELS.len()];
    let tensor_dir = tensor_shards(features)?;
    for path in tensor_dir {
        for batch in open(&path)? {
            let batch =
                batch.map_err(|e| SplitError::Features { path: path.display().to_string(), source: e.into() })?;
            let ids = episode_ids(&batch, &path)?;
            let list = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
                    .ok_or_else(|| column_err(&path, name))
            };
            let (values, mask) = (list("tensor")?, list("mask")?);
            let values =
                values.values().as_any().downcast_ref::<Float32Array>().ok_or_else(|| column_err(&path, "tensor"))?;
            let mask = mask.values().as_any().downcast_ref::<UInt8Array>().ok_or_else(|| column_err(&path, "mask"))?;
            let cells = CHANNELS.len() * WINDOW_STEPS;
            for i in (0..batch.num_rows()).filter(|i| train.contains(ids.value(*i))) {
                for (c, run) in tensor.iter_mut().enumerate() {
                    for k in 0..WINDOW_STEPS {
                        let at = i * cells + c * WINDOW_STEPS + k;
                        if mask.value(at) == 1 {
                            run.push(f64::from(values.value(at)));
                        }
                    }
                }
            }
        }
    }
    Ok(Normalization {
        schema_hash: schema_hash(),
        train_windows: windows,
        summary: finish(names, &summary),
        tensor: finish(CHANNELS.iter().map(Channel::name).collect(), &tensor),
    })
}
