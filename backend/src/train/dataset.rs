//! Training and evaluation tables from feature shards: for the windows of
//! chosen episodes usable by a variant, either the summary features the
//! variant sees or its channels of the channel × time tensor, with class
//! indices and each window's episode, host and start.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use arrow_array::{Array, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, StringArray};
use cis490_models::gbt::Table;
use cis490_models::variant::Variant;
use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::Label;
use cis490_shared::registry::CHANNELS;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::TrainError;
use crate::split::episodes::{summary_shards, tensor_shards};

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
pub struct WindowKey {
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
    pub keys: Vec<WindowKey>,
}

fn column_err(path: &Path, name: &str) -> TrainError {
    TrainError::Features {
        path: path.display().to_string(),
        message: format!("column {name:?} is missing or mistyped"),
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

/// Windows of `episodes` usable by `variant`, with `kind` features.
pub fn windows(
    features: &Path,
    episodes: &BTreeSet<String>,
    variant: Variant,
    kind: FeatureKind,
) -> Result<Windows, TrainError> {
    let names = summary_names();
    let wanted: Vec<&String> = variant.summary_indices().into_iter().map(|i| &names[i]).collect();
    let channels = variant.channel_indices();
    let usable_column = match variant {
        Variant::Realistic => "usable_realistic",
        Variant::Oracle => "usable_oracle",
    };
    let cols = match kind {
        FeatureKind::Summary => wanted.len(),
        FeatureKind::Tensor => channels.len() * WINDOW_STEPS,
    };
    let mut out = Windows { table: Table { cols, ..Table::default() }, keys: Vec::new() };
    let shards = match kind {
        FeatureKind::Summary => summary_shards(features),
        FeatureKind::Tensor => tensor_shards(features),
    }
    .map_err(|e| TrainError::Features { path: features.display().to_string(), message: e.to_string() })?;
    for path in shards {
        let read_err = |e: &dyn std::fmt::Display| TrainError::Features {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = File::open(&path).map_err(|e| read_err(&e))?;
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| read_err(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| read_err(&e))?;
            let ids: &StringArray = column(&batch, "episode_id", &path)?;
            let hosts: &StringArray = column(&batch, "host_id", &path)?;
            let labels: &StringArray = column(&batch, "label", &path)?;
            let starts: &Float64Array = column(&batch, "window_start_s", &path)?;
            let usable: &BooleanArray = column(&batch, usable_column, &path)?;
            let summary: Vec<&Float32Array> = match kind {
                FeatureKind::Summary => wanted.iter().map(|n| column(&batch, n, &path)).collect::<Result<_, _>>()?,
                FeatureKind::Tensor => Vec::new(),
            };
            let tensor = match kind {
                FeatureKind::Tensor => {
                    let list: &FixedSizeListArray = column(&batch, "tensor", &path)?;
                    let values = list.values().as_any().downcast_ref::<Float32Array>();
                    match values {
                        Some(v) if list.value_length() as usize == CHANNELS.len() * WINDOW_STEPS => Some((list, v)),
                        _ => return Err(column_err(&path, "tensor")),
                    }
                }
                FeatureKind::Summary => None,
            };
            for row in 0..batch.num_rows() {
                if !episodes.contains(ids.value(row)) || !usable.value(row) {
                    continue;
                }
                let label: Label = labels.value(row).parse().map_err(|e| read_err(&e))?;
                let table = &mut out.table;
                table.y.push(label.index() as u32);
                match tensor {
                    Some((list, values)) => {
                        let base = list.value_offset_at(row);
                        for c in &channels {
                            let start = base + c * WINDOW_STEPS;
                            table.x.extend((start..start + WINDOW_STEPS).map(|i| values.value(i)));
                        }
                    }
                    None => {
                        table.x.extend(summary.iter().map(|c| if c.is_null(row) { f32::NAN } else { c.value(row) }))
                    }
                }
                table.rows += 1;
                out.keys.push(WindowKey {
                    episode_id: ids.value(row).to_string(),
                    host_id: hosts.value(row).to_string(),
                    window_start_s: starts.value(row),
                });
            }
        }
    }
    Ok(out)
}
