//! The per-episode acceptance index, `validation_v1.parquet`.
//!
//! One row per episode with the columns the corpus format requires
//! (readable by pyarrow and pandas under those names), written atomically
//! in row groups of [`ROWS_PER_GROUP`]. Every text in a row is bounded (the
//! validator caps reasons, details and manifest fields), so a group's
//! string columns stay far below Arrow's 2 GiB offset limit whatever the
//! archives held: the writer cannot overflow and a sweep always ends with
//! its index.
//!
//! This module owns the format: [`IndexRow`], its writer, and its reader
//! ([`read_index`], in `read`). Everything else reads the index through it.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use sha2::{Digest, Sha256};

use crate::atomic_file::{self, WriteError};
use cis490_shared::ids::{EpisodeId, HostId};
use cis490_shared::validation::{Reason, Status};

mod read;
pub use read::{IndexReadError, read_index};

/// File name of the acceptance index inside the output folder.
pub const INDEX_FILE: &str = "validation_v1.parquet";
/// Rows per Parquet row group (and per Arrow batch built in memory).
pub const ROWS_PER_GROUP: usize = 4096;

/// One episode's row in the acceptance index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// Episode id (from the file name).
    pub episode_id: EpisodeId,
    /// Host id (from the folder).
    pub host_id: HostId,
    /// Manifest profile, when readable.
    pub profile: Option<String>,
    /// Manifest sample id, when readable.
    pub sample_id: Option<String>,
    /// Manifest agent version, when readable.
    pub agent_version: Option<String>,
    /// The episode's status (the `status` column: `accepted`, `degraded`,
    /// `rejected` or `errored`).
    pub status: Status,
    /// Why it is not accepted (the `reasons` column, each written as
    /// `code` or `code:subject`).
    pub reasons: Vec<Reason>,
    /// Human-readable details of the reasons, `; `-separated.
    pub details: String,
    /// Manifest `started_wall_ns`.
    pub started_wall_ns: Option<i64>,
    /// Labelled duration in seconds.
    pub duration_s: Option<f64>,
    /// Usable rows per source in the labelled span: proc, guest, qmp, netflow.
    pub rows: [Option<u64>; 4],
    /// sha256 of the archive file.
    pub archive_sha256: Option<String>,
    /// Size of the archive file.
    pub archive_bytes: Option<u64>,
    /// Path relative to the store.
    pub path: String,
}

impl IndexRow {
    /// The row of an episode nothing has judged yet: errored, no reasons,
    /// no manifest facts.
    pub fn new(episode_id: EpisodeId, host_id: HostId, path: String) -> Self {
        Self {
            episode_id,
            host_id,
            profile: None,
            sample_id: None,
            agent_version: None,
            status: Status::Errored,
            reasons: Vec::new(),
            details: String::new(),
            started_wall_ns: None,
            duration_s: None,
            rows: [None; 4],
            archive_sha256: None,
            archive_bytes: None,
            path,
        }
    }
}

/// The index could not be written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Building the Arrow batch failed.
    #[error("building the index table")]
    Arrow(#[from] ArrowError),
    /// Encoding Parquet failed.
    #[error("encoding Parquet")]
    Parquet(#[from] ParquetError),
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn strings<'a>(rows: &'a [IndexRow], get: impl Fn(&'a IndexRow) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<StringArray>())
}

fn ints(rows: &[IndexRow], get: impl Fn(&IndexRow) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<Int64Array>())
}

fn to_i64(v: Option<u64>) -> Option<i64> {
    v.and_then(|v| i64::try_from(v).ok())
}

/// The index rows as one Arrow record batch.
pub fn to_record_batch(rows: &[IndexRow]) -> Result<RecordBatch, ArrowError> {
    let mut reasons = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for r in &row.reasons {
            reasons.values().append_value(r.to_string());
        }
        reasons.append(true);
    }
    let reasons = reasons.finish();
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let int = |name: &str| Field::new(name, DataType::Int64, true);
    let schema = Schema::new(vec![
        text("episode_id", false),
        text("host_id", false),
        text("profile", true),
        text("sample_id", true),
        text("agent_version", true),
        text("status", false),
        Field::new("reasons", reasons.data_type().clone(), false),
        text("details", false),
        int("started_wall_ns"),
        Field::new("duration_s", DataType::Float64, true),
        int("rows_proc"),
        int("rows_guest"),
        int("rows_qmp"),
        int("rows_netflow"),
        text("archive_sha256", true),
        int("archive_bytes"),
        text("path", false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        strings(rows, |r| Some(r.episode_id.as_str())),
        strings(rows, |r| Some(r.host_id.as_str())),
        strings(rows, |r| r.profile.as_deref()),
        strings(rows, |r| r.sample_id.as_deref()),
        strings(rows, |r| r.agent_version.as_deref()),
        strings(rows, |r| Some(r.status.as_str())),
        Arc::new(reasons),
        strings(rows, |r| Some(&r.details)),
        ints(rows, |r| r.started_wall_ns),
        Arc::new(rows.iter().map(|r| r.duration_s).collect::<Float64Array>()),
        ints(rows, |r| to_i64(r.rows[0])),
        ints(rows, |r| to_i64(r.rows[1])),
        ints(rows, |r| to_i64(r.rows[2])),
        ints(rows, |r| to_i64(r.rows[3])),
        strings(rows, |r| r.archive_sha256.as_deref()),
        ints(rows, |r| to_i64(r.archive_bytes)),
        strings(rows, |r| Some(&r.path)),
    ];
    RecordBatch::try_new(Arc::new(schema), columns)
}

/// Writes the index to `path` atomically (zstd-compressed Parquet, row
/// groups of [`ROWS_PER_GROUP`]); returns the file's sha256 (hex), which
/// the summary records so later stages can check the two belong together.
pub fn write_index(path: &Path, rows: &[IndexRow]) -> Result<String, IndexError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build();
    let schema = to_record_batch(&[])?.schema();
    let sha256 = atomic_file::write_atomically(path, |out| {
        let mut hashing = HashingWriter { inner: out, hasher: Sha256::new() };
        {
            let mut writer =
                ArrowWriter::try_new(&mut hashing, schema.clone(), Some(props)).map_err(std::io::Error::other)?;
            for chunk in rows.chunks(ROWS_PER_GROUP) {
                let batch = to_record_batch(chunk).map_err(std::io::Error::other)?;
                writer.write(&batch).map_err(std::io::Error::other)?;
                writer.flush().map_err(std::io::Error::other)?;
            }
            writer.close().map_err(std::io::Error::other)?;
        }
        Ok(hex::encode(hashing.hasher.finalize()))
    })?;
    Ok(sha256)
}

/// Hashes what passes through to the file.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The sha256 (hex) of a file, read in a stream (e.g. an index, to check
/// it against its summary).
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = crate::store::regular_file::open_regular(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
