//! Feature shards: `summary/part-NNNNN.parquet` (one float32 column per
//! `<channel>.<stat>`) and `tensors/part-NNNNN.parquet` (a 46×20 float32
//! tensor and its mask per row), with the same key columns and rows in the
//! same order in both.
//!
//! This module owns the feature folder's shards: their layout and writing
//! (here), listing them with the schema check ([`crate::extract::shard_files`]),
//! and reading them back: `windows` (training and evaluation windows,
//! streamed, with `training` only) and [`episodes`] (the episodes and their windows per label,
//! from the key columns only). Train, split, eval and the benchmarks read
//! shards only through these.

pub mod episodes;
#[cfg(feature = "training")]
pub mod windows;

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, UInt8Array};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use cis490_shared::Cause;
use cis490_shared::features::stats::{SUMMARY_LEN, TENSOR_LEN, summary_names};

use super::ExtractError;
use crate::atomic_file;

/// The key columns of one window row.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowKey {
    /// Episode id.
    pub episode_id: String,
    /// Host id.
    pub host_id: String,
    /// Sample id (null for benign episodes).
    pub sample_id: Option<String>,
    /// The episode's profile (`benign` for all-benign episodes).
    pub profile: String,
    /// Agent version that recorded it.
    pub agent_version: Option<String>,
    /// Unix ns of the first label.
    pub started_wall_ns: i64,
    /// Seconds from the first label to the window start.
    pub window_start_s: f64,
    /// The window's class.
    pub label: String,
    /// Usable by realistic models (proc, qmp and netflow passed).
    pub usable_realistic: bool,
    /// Usable by oracle models (all four sources passed).
    pub usable_oracle: bool,
}

/// One window's row: keys and features.
#[derive(Debug, Clone)]
pub struct WindowRow {
    /// Keys.
    pub key: WindowKey,
    /// Summary features ([`SUMMARY_LEN`]).
    pub summary: Vec<f32>,
    /// Tensor ([`TENSOR_LEN`], channel-major).
    pub tensor: Vec<f32>,
    /// Tensor mask (1 observed, 0 filled).
    pub mask: Vec<u8>,
}

/// Names of the key columns, in order.
pub const KEY_COLUMNS: [&str; 10] = [
    "episode_id",
    "host_id",
    "sample_id",
    "profile",
    "agent_version",
    "started_wall_ns",
    "window_start_s",
    "label",
    "usable_realistic",
    "usable_oracle",
];

fn key_fields() -> Vec<Field> {
    vec![
        Field::new("episode_id", DataType::Utf8, false),
        Field::new("host_id", DataType::Utf8, false),
        Field::new("sample_id", DataType::Utf8, true),
        Field::new("profile", DataType::Utf8, false),
        Field::new("agent_version", DataType::Utf8, true),
        Field::new("started_wall_ns", DataType::Int64, false),
        Field::new("window_start_s", DataType::Float64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("usable_realistic", DataType::Boolean, false),
        Field::new("usable_oracle", DataType::Boolean, false),
    ]
}

fn key_columns(rows: &[WindowRow]) -> Vec<ArrayRef> {
    let mut text: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let mut label = StringBuilder::new();
    let mut started = Int64Builder::new();
    let mut start_s = Float64Builder::new();
    let (mut realistic, mut oracle) = (BooleanBuilder::new(), BooleanBuilder::new());
    for r in rows {
        let k = &r.key;
        text[0].append_value(&k.episode_id);
        text[1].append_value(&k.host_id);
        text[2].append_option(k.sample_id.as_deref());
        text[3].append_value(&k.profile);
        text[4].append_option(k.agent_version.as_deref());
        started.append_value(k.started_wall_ns);
        start_s.append_value(k.window_start_s);
        label.append_value(&k.label);
        realistic.append_value(k.usable_realistic);
        oracle.append_value(k.usable_oracle);
    }
    let mut t = text.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut next = || t.next().unwrap_or_else(|| Arc::new(StringBuilder::new().finish()));
    let (a, b, c, d, e) = (next(), next(), next(), next(), next());
    vec![
        a,
        b,
        c,
        d,
        e,
        Arc::new(started.finish()),
        Arc::new(start_s.finish()),
        Arc::new(label.finish()),
        Arc::new(realistic.finish()),
        Arc::new(oracle.finish()),
    ]
}

/// The file name of shard `number` (the same in `summary/` and `tensors/`).
pub fn shard_file_name(number: usize) -> String {
    format!("part-{number:05}.parquet")
}

/// The summary shard's record batch.
pub fn summary_batch(rows: &[WindowRow]) -> Result<RecordBatch, ArrowError> {
    let mut fields = key_fields();
    let mut columns = key_columns(rows);
    for (j, name) in summary_names().into_iter().enumerate() {
        fields.push(Field::new(name, DataType::Float32, true));
        columns.push(Arc::new(rows.iter().map(|r| r.summary[j]).collect::<Float32Array>()));
    }
    debug_assert_eq!(fields.len(), KEY_COLUMNS.len() + SUMMARY_LEN);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// The tensor shard's record batch.
pub fn tensor_batch(rows: &[WindowRow]) -> Result<RecordBatch, ArrowError> {
    let len = i32::try_from(TENSOR_LEN).map_err(|e| ArrowError::InvalidArgumentError(e.to_string()))?;
    let mut fields = key_fields();
    let mut columns = key_columns(rows);
    let tensor_item = Arc::new(Field::new("item", DataType::Float32, false));
    let mask_item = Arc::new(Field::new("item", DataType::UInt8, false));
    let tensor_values: Float32Array = rows.iter().flat_map(|r| r.tensor.iter().copied()).collect();
    let mask_values: UInt8Array = rows.iter().flat_map(|r| r.mask.iter().copied()).collect();
    let tensor = FixedSizeListArray::try_new(tensor_item.clone(), len, Arc::new(tensor_values), None)?;
    let mask = FixedSizeListArray::try_new(mask_item.clone(), len, Arc::new(mask_values), None)?;
    fields.push(Field::new("tensor", DataType::FixedSizeList(tensor_item, len), false));
    fields.push(Field::new("mask", DataType::FixedSizeList(mask_item, len), false));
    columns.push(Arc::new(tensor));
    columns.push(Arc::new(mask));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Writes one batch as a zstd Parquet file, atomically; returns its size.
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<u64, ExtractError> {
    let fail = |source: Cause| ExtractError::Write { path: path.display().to_string(), source };
    // Dictionaries pay off only for the repeated key strings; for floats and
    // tensors they cost time (measured) and save nothing.
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| fail(e.into()))?))
        .set_max_row_group_row_count(Some(4096))
        .set_dictionary_enabled(false);
    for key in ["episode_id", "host_id", "sample_id", "profile", "agent_version", "label"] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(key), true);
    }
    let props = props.build();
    atomic_file::write_atomically(path, |out| {
        let mut writer = ArrowWriter::try_new(out, batch.schema(), Some(props)).map_err(std::io::Error::other)?;
        writer.write(batch).map_err(std::io::Error::other)?;
        writer.close().map_err(std::io::Error::other)?;
        Ok(())
    })
    .map_err(|e| fail(e.source.into()))?;
    std::fs::symlink_metadata(path).map(|m| m.len()).map_err(|e| fail(e.into()))
}
