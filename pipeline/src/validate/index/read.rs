//! Reading the acceptance index (`validation_v1.parquet`) back into the
//! validator's own [`IndexRow`]s.

use std::fs::File;
use std::path::Path;

use arrow_array::{Array, Float64Array, Int64Array, ListArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::IndexRow;
use cis490_shared::Cause;
use cis490_shared::ids::{EpisodeId, HostId};
use cis490_shared::validation::{Reason, Status};

/// The index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexReadError {
    /// Opening or decoding failed.
    #[error("cannot read {path}")]
    Read {
        /// The index file.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// A value is not what its column allows.
    #[error("{path}: row {row}, column {column:?}: {message}")]
    Value {
        /// The index file.
        path: String,
        /// The row (0-based, in file order).
        row: usize,
        /// The column.
        column: &'static str,
        /// What is wrong.
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
pub fn read_index(path: &Path) -> Result<Vec<IndexRow>, IndexReadError> {
    let shown = path.display().to_string();
    let err = |source: Cause| IndexReadError::Read { path: shown.clone(), source };
    let file = File::open(path).map_err(|e| err(e.into()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| err(e.into()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.into()))?;
        let s = |name| column::<StringArray>(&batch, &shown, name, "string");
        let n = |name| column::<Int64Array>(&batch, &shown, name, "int64");
        let (episode, host, profile, sample, agent, status, details, sha, rel) = (
            s("episode_id")?,
            s("host_id")?,
            s("profile")?,
            s("sample_id")?,
            s("agent_version")?,
            s("status")?,
            s("details")?,
            s("archive_sha256")?,
            s("path")?,
        );
        let (started, bytes) = (n("started_wall_ns")?, n("archive_bytes")?);
        let rows = [
            ("rows_proc", n("rows_proc")?),
            ("rows_guest", n("rows_guest")?),
            ("rows_qmp", n("rows_qmp")?),
            ("rows_netflow", n("rows_netflow")?),
        ];
        let duration = column::<Float64Array>(&batch, &shown, "duration_s", "float64")?;
        let reasons = column::<ListArray>(&batch, &shown, "reasons", "list<string>")?;
        let int = |a: &Int64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
        let value_err = |row: usize, column: &'static str, message: String| IndexReadError::Value {
            path: shown.clone(),
            row,
            column,
            message,
        };
        for i in 0..batch.num_rows() {
            let row_no = out.len();
            // A negative count or size is an error, never a missing value.
            let count = |column: &'static str, a: &Int64Array| {
                int(a, i)
                    .map(|v| {
                        u64::try_from(v).map_err(|_| IndexReadError::Value {
                            path: shown.clone(),
                            row: row_no,
                            column,
                            message: format!("{v} is negative"),
                        })
                    })
                    .transpose()
            };
            let mut row_counts = [None; 4];
            for (slot, (column, a)) in row_counts.iter_mut().zip(rows) {
                *slot = count(column, a)?;
            }
            let list = reasons.value(i);
            let list = list.as_any().downcast_ref::<StringArray>().ok_or_else(|| IndexReadError::Column {
                path: shown.clone(),
                column: "reasons",
                expected: "list<string>",
            })?;
            out.push(IndexRow {
                episode_id: EpisodeId::new(episode.value(i))
                    .map_err(|e| value_err(out.len(), "episode_id", e.to_string()))?,
                host_id: HostId::new(host.value(i)).map_err(|e| value_err(out.len(), "host_id", e.to_string()))?,
                profile: text(profile, i),
                sample_id: text(sample, i),
                agent_version: text(agent, i),
                status: status.value(i).parse::<Status>().map_err(|e| value_err(out.len(), "status", e))?,
                reasons: (0..list.len())
                    .map(|j| list.value(j).parse::<Reason>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| value_err(out.len(), "reasons", e))?,
                details: details.value(i).to_string(),
                started_wall_ns: int(started, i),
                duration_s: (!duration.is_null(i)).then(|| duration.value(i)),
                rows: row_counts,
                archive_sha256: text(sha, i),
                archive_bytes: count("archive_bytes", bytes)?,
                path: rel.value(i).to_string(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::validation::ReasonCode;

    #[test]
    fn rows_read_back_as_written() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("validation_v1.parquet");
        let rows = vec![
            IndexRow {
                episode_id: EpisodeId::new("ep-1")?,
                host_id: HostId::new("lab-pc-01")?,
                profile: Some("io-walk".into()),
                sample_id: Some("find-walk".into()),
                agent_version: Some("1.4.0".into()),
                status: Status::Degraded,
                reasons: vec![
                    Reason::about(ReasonCode::RowGate, "guest"),
                    Reason::about(ReasonCode::GapOver5s, "guest"),
                ],
                details: "guest.jsonl: 10 rows".into(),
                started_wall_ns: Some(1_767_225_600_000_000_001),
                duration_s: Some(120.5),
                rows: [Some(240), Some(10), None, Some(120)],
                archive_sha256: Some("ab".repeat(32)),
                archive_bytes: Some(1234),
                path: "lab-pc-01/ep-1.tar.zst".into(),
            },
            IndexRow::new(EpisodeId::new("ep-2")?, HostId::new("h")?, "h/ep-2.tar.zst".into()),
        ];
        super::super::write_index(&path, &rows)?;
        assert_eq!(read_index(&path)?, rows);
        Ok(())
    }

    #[test]
    fn a_bad_value_is_named_by_row_and_column() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("validation_v1.parquet");
        let good = IndexRow::new(EpisodeId::new("ep-1")?, HostId::new("h")?, "h/ep-1.tar.zst".into());
        let mut batch = super::super::to_record_batch(&[good.clone(), good])?;
        // Another writer's index: a status this format does not have.
        let status = batch.schema().index_of("status")?;
        let mut columns = batch.columns().to_vec();
        columns[status] = std::sync::Arc::new(arrow_array::StringArray::from(vec!["errored", "quarantined"]));
        batch = RecordBatch::try_new(batch.schema(), columns)?;
        let file = std::fs::File::create(&path)?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
        writer.write(&batch)?;
        writer.close()?;
        let err = read_index(&path).err().ok_or("a bad status was read")?.to_string();
        assert!(err.contains("row 1") && err.contains("\"status\"") && err.contains("quarantined"), "{err}");
        Ok(())
    }
}
