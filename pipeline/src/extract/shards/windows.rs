//! Training and evaluation windows from feature shards: for the windows of
//! chosen episodes usable by a variant, either the summary features the
//! variant sees or its channels of the channel × time tensor, with class
//! indices and each window's episode, host and start. [`scan`] streams
//! them one record batch at a time (only the needed columns decoded);
//! [`windows`] collects them in memory for small sets and tests.

use std::collections::BTreeSet;
use std::path::Path;

use arrow_array::{Array, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, StringArray};
use cis490_models::table::Table;
use cis490_models::variant::Variant;
use cis490_shared::Cause;
use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::{Label, UnknownLabel};
use cis490_shared::registry::CHANNELS;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::episodes::{summary_shards, tensor_shards};
use crate::train::TrainError;

/// Which features a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Six statistics per channel.
    Summary,
    /// The channel × 20-step tensor, channel-major.
    Tensor,
}

/// Where a window comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowOrigin {
    /// Episode.
    pub episode_id: String,
    /// Host.
    pub host_id: String,
    /// Seconds from the episode's first label.
    pub window_start_s: f64,
}

/// A table and the key of each row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows {
    /// Features and class indices.
    pub table: Table,
    /// One key per row.
    pub keys: Vec<WindowOrigin>,
}

fn column_err(path: &Path, name: &str) -> TrainError {
    TrainError::Features {
        path: path.display().to_string(),
        source: format!("column {name:?} is missing or mistyped").into(),
    }
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T, TrainError> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<T>()).ok_or_else(|| column_err(path, name))
}

/// The summary features `variant` sees for every window of `episodes`
/// usable by that variant, with class indices as labels.
pub fn summary_table(features: &Path, episodes: &BTreeSet<String>, variant: Variant) -> Result<Table, TrainError> {
    Ok(windows(features, episodes, variant, FeatureKind::Summary)?.table)
}

/// Windows of `episodes` usable by `variant`, with `kind` features, in memory.
pub fn windows(
    features: &Path,
    episodes: &BTreeSet<String>,
    variant: Variant,
    kind: FeatureKind,
) -> Result<Windows, TrainError> {
    let mut out = Windows { table: Table { cols: row_len(variant, kind), ..Table::default() }, keys: Vec::new() };
    scan(features, &[episodes], variant, kind, &mut |_, key, class, row| {
        out.table.x.extend_from_slice(row);
        out.table.y.push(class);
        out.table.rows += 1;
        out.keys.push(key.to_owned());
        Ok(())
    })?;
    Ok(out)
}

/// Values per window of `variant`'s `kind` features.
pub fn row_len(variant: Variant, kind: FeatureKind) -> usize {
    match kind {
        FeatureKind::Summary => variant.summary_indices().len(),
        FeatureKind::Tensor => variant.channel_indices().len() * WINDOW_STEPS,
    }
}

/// A window's key as read, borrowed from the batch.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    /// Episode.
    pub episode_id: &'a str,
    /// Host.
    pub host_id: &'a str,
    /// Seconds from the episode's first label.
    pub window_start_s: f64,
}

impl KeyRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> WindowOrigin {
        WindowOrigin {
            episode_id: self.episode_id.to_string(),
            host_id: self.host_id.to_string(),
            window_start_s: self.window_start_s,
        }
    }
}

/// What [`scan`] hands each window to: the index of the side (in `sides`)
/// the episode belongs to, its key, class index and feature values.
pub type WindowSink<'s> = dyn FnMut(usize, KeyRef<'_>, u32, &[f32]) -> Result<(), TrainError> + 's;

/// The class of every window per side (in `sides` order, in scan order)
/// usable by `variant`, read from the key columns only.
pub fn classes(features: &Path, sides: &[&BTreeSet<String>], variant: Variant) -> Result<Vec<Vec<u32>>, TrainError> {
    let mut out = vec![Vec::new(); sides.len()];
    read_shards(features, sides, variant, None, &mut |side, _, class, _| {
        out[side].push(class);
        Ok(())
    })?;
    Ok(out)
}

/// Streams every window of the episodes in `sides` usable by `variant`,
/// in shard order, reading only the columns it needs (keys, and the
/// variant's summary columns or the tensor column); memory stays at one
/// record batch whatever the size of the feature folder.
pub fn scan(
    features: &Path,
    sides: &[&BTreeSet<String>],
    variant: Variant,
    kind: FeatureKind,
    sink: &mut WindowSink<'_>,
) -> Result<(), TrainError> {
    read_shards(features, sides, variant, Some(kind), sink)
}

fn read_shards(
    features: &Path,
    sides: &[&BTreeSet<String>],
    variant: Variant,
    kind: Option<FeatureKind>,
    sink: &mut WindowSink<'_>,
) -> Result<(), TrainError> {
    let names = summary_names();
    let wanted: Vec<&String> = variant.summary_indices().into_iter().map(|i| &names[i]).collect();
    let channels = variant.channel_indices();
    let usable_column = match variant {
        Variant::Realistic => "usable_realistic",
        Variant::Oracle => "usable_oracle",
    };
    let mut columns: Vec<&str> = vec!["episode_id", "host_id", "label", "window_start_s", usable_column];
    match kind {
        Some(FeatureKind::Summary) => columns.extend(wanted.iter().map(|n| n.as_str())),
        Some(FeatureKind::Tensor) => columns.push("tensor"),
        None => {}
    }
    let shards = match kind {
        Some(FeatureKind::Tensor) => tensor_shards(features),
        _ => summary_shards(features),
    }?;
    let mut row: Vec<f32> = Vec::new();
    for path in shards {
        let read_err = |source: Cause| TrainError::Features { path: path.display().to_string(), source };
        let file = crate::store::regular_file::open_regular(&path).map_err(|e| read_err(e.into()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| read_err(e.into()))?;
        let mut roots = Vec::with_capacity(columns.len());
        for name in &columns {
            roots.push(builder.schema().index_of(name).map_err(|_| column_err(&path, name))?);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder.with_projection(mask).build().map_err(|e| read_err(e.into()))?;
        for batch in reader {
            let batch = batch.map_err(|e| read_err(e.into()))?;
            let ids: &StringArray = column(&batch, "episode_id", &path)?;
            let hosts: &StringArray = column(&batch, "host_id", &path)?;
            let labels: &StringArray = column(&batch, "label", &path)?;
            let starts: &Float64Array = column(&batch, "window_start_s", &path)?;
            let usable: &BooleanArray = column(&batch, usable_column, &path)?;
            let summary: Vec<&Float32Array> = match kind {
                Some(FeatureKind::Summary) => {
                    wanted.iter().map(|n| column(&batch, n, &path)).collect::<Result<_, _>>()?
                }
                _ => Vec::new(),
            };
            let tensor = match kind {
                Some(FeatureKind::Tensor) => {
                    let list: &FixedSizeListArray = column(&batch, "tensor", &path)?;
                    let values = list.values().as_any().downcast_ref::<Float32Array>();
                    match values {
                        Some(v) if list.value_length() as usize == CHANNELS.len() * WINDOW_STEPS => Some((list, v)),
                        _ => return Err(column_err(&path, "tensor")),
                    }
                }
                _ => None,
            };
            for i in 0..batch.num_rows() {
                if !usable.value(i) {
                    continue;
                }
                let id = ids.value(i);
                let Some(side) = sides.iter().position(|s| s.contains(id)) else { continue };
                let label: Label = labels.value(i).parse().map_err(|e: UnknownLabel| read_err(e.into()))?;
                row.clear();
                match (kind, tensor) {
                    (Some(FeatureKind::Tensor), Some((list, values))) => {
                        let base = list.value_offset_at(i);
                        for c in &channels {
                            let start = base + c * WINDOW_STEPS;
                            row.extend_from_slice(&values.values()[start..start + WINDOW_STEPS]);
                        }
                    }
                    (Some(FeatureKind::Summary), _) => {
                        row.extend(summary.iter().map(|c| if c.is_null(i) { f32::NAN } else { c.value(i) }))
                    }
                    _ => {}
                }
                let key = KeyRef { episode_id: id, host_id: hosts.value(i), window_start_s: starts.value(i) };
                sink(side, key, label.index() as u32, &row)?;
            }
        }
    }
    Ok(())
}
