//! Reading the acceptance index (`validation_v1.parquet`) back.

use std::fs::File;
use std::path::Path;

use arrow_array::{Array, Int64Array, ListArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// One episode's row of the acceptance index, as extraction needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// Episode id.
    pub episode_id: String,
    /// Host id.
    pub host_id: String,
    /// Manifest profile.
    pub profile: Option<String>,
    /// Manifest sample id.
    pub sample_id: Option<String>,
    /// Manifest agent version.
    pub agent_version: Option<String>,
    /// Validation status.
    pub status: String,
    /// Reason codes.
    pub reasons: Vec<String>,
    /// Manifest start.
    pub started_wall_ns: Option<i64>,
    /// Path relative to the store.
    pub path: String,
}

/// The index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexReadError {
    /// Opening or decoding failed.
    #[error("{path}: {message}")]
    Read {
        /// The index file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A required column is missing or has another type.
    #[error("{path}: column {column:?} is missing or not {expected}")]
    Column {
        /// The index file.
        path: String,
        /// The column.
        column: &'static str,
        /// The expected type.
        expected: &'static str,
    },
}

fn column<'a, T: 'static>(
    batch: &'a RecordBatch,
    path: &str,
    name: &'static str,
    expected: &'static str,
) -> Result<&'a T, IndexReadError> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<T>()).ok_or_else(|| IndexReadError::Column {
        path: path.to_string(),
        column: name,
        expected,
    })
}

fn text(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// Reads every row of the index at `path`.
pub fn read_index(path: &Path) -> Result<Vec<IndexEntry>, IndexReadError> {
    let shown = path.display().to_string();
    let err = |message: String| IndexReadError::Read { path: shown.clone(), message };
    let file = File::open(path).map_err(|e| err(e.to_string()))?;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        let s = |name| column::<StringArray>(&batch, &shown, name, "string");
        let (episode, host, profile, sample, agent, status, rel) = (
            s("episode_id")?,
            s("host_id")?,
            s("profile")?,
            s("sample_id")?,
            s("agent_version")?,
            s("status")?,
            s("path")?,
        );
        let started = column::<Int64Array>(&batch, &shown, "started_wall_ns", "int64")?;
        let reasons = column::<ListArray>(&batch, &shown, "reasons", "list<string>")?;
        for i in 0..batch.num_rows() {
            let list = reasons.value(i);
            let list = list.as_any().downcast_ref::<StringArray>().ok_or_else(|| IndexReadError::Column {
                path: shown.clone(),
                column: "reasons",
                expected: "list<string>",
            })?;
            out.push(IndexEntry {
                episode_id: episode.value(i).to_string(),
                host_id: host.value(i).to_string(),
                profile: text(profile, i),
                sample_id: text(sample, i),
                agent_version: text(agent, i),
                status: status.value(i).to_string(),
                reasons: (0..list.len()).map(|j| list.value(j).to_string()).collect(),
                started_wall_ns: (!started.is_null(i)).then(|| started.value(i)),
                path: rel.value(i).to_string(),
            });
        }
    }
    Ok(out)
}
