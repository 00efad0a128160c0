//! Training tables from feature shards: the summary features a variant
//! sees, for the windows of chosen episodes.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use arrow_array::{Array, BooleanArray, Float32Array, StringArray};
use cis490_models::gbt::Table;
use cis490_models::variant::Variant;
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::Label;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::TrainError;
use crate::split::episodes::summary_shards;

fn column_err(path: &Path, name: &str) -> TrainError {
    TrainError::Features {
        path: path.display().to_string(),
        message: format!("column {name:?} is missing or mistyped"),
    }
}

/// The summary features `variant` sees for every window of `episodes`
/// usable by that variant, with class indices as labels.
pub fn summary_table(features: &Path, episodes: &BTreeSet<String>, variant: Variant) -> Result<Table, TrainError> {
    let names = summary_names();
    let wanted: Vec<&String> = variant.summary_indices().into_iter().map(|i| &names[i]).collect();
    let usable_column = match variant {
        Variant::Realistic => "usable_realistic",
        Variant::Oracle => "usable_oracle",
    };
    let mut table = Table { cols: wanted.len(), ..Table::default() };
    let shards = summary_shards(features)
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
            let text = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .ok_or_else(|| column_err(&path, name))
            };
            let (ids, labels) = (text("episode_id")?, text("label")?);
            let usable = batch
                .column_by_name(usable_column)
                .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
                .ok_or_else(|| column_err(&path, usable_column))?;
            let columns: Vec<&Float32Array> = wanted
                .iter()
                .map(|n| {
                    batch
                        .column_by_name(n)
                        .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                        .ok_or_else(|| column_err(&path, n))
                })
                .collect::<Result<_, _>>()?;
            for row in 0..batch.num_rows() {
                if !episodes.contains(ids.value(row)) || !usable.value(row) {
                    continue;
                }
                let label: Label = labels.value(row).parse().map_err(|e| read_err(&e))?;
                table.y.push(label.index() as u32);
                table.x.extend(columns.iter().map(|c| if c.is_null(row) { f32::NAN } else { c.value(row) }));
                table.rows += 1;
            }
        }
    }
    Ok(table)
}
