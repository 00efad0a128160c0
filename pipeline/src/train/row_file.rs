//! Training windows kept on disk: the channel × time rows of one side and
//! variant written once, as little-endian `f32`, to a scratch folder in
//! the run folder, and read back by row for each batch. The lab's corpus
//! has ~2 M windows (7 GB of oracle tensors), far more than a training
//! process may hold; the page cache keeps what fits, and the process
//! itself holds only the class indices and one batch.
//!
//! [`ScratchDir`] is `RUN/.windows-<pid>-<random>/`, removed when dropped
//! and, when a killed run left one, by the next run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use cis490_models::neural::source::WindowSource;

use crate::atomic_file;

const SCRATCH_MARK: &str = ".windows-";

/// A scratch folder removed when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `parent/.windows-<pid>-<random>/`, first removing those
    /// of runs that no longer run.
    pub fn create(parent: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        for entry in std::fs::read_dir(parent)?.filter_map(Result::ok) {
            let name = entry.file_name();
            let stale = name.to_string_lossy().starts_with(SCRATCH_MARK)
                && atomic_file::abandoned(&name, SCRATCH_MARK)
                && entry.file_type().is_ok_and(|t| t.is_dir());
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let path = parent.join(format!("{SCRATCH_MARK}{}", atomic_file::owner_token()));
        std::fs::create_dir(&path)?;
        Ok(Self { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Writes rows of `row_len` values, then becomes a [`RowFile`].
pub struct RowFileWriter {
    out: BufWriter<File>,
    path: PathBuf,
    row_len: usize,
    labels: Vec<u32>,
}

impl RowFileWriter {
    /// A new file (created exclusively, never through a link).
    pub fn create(path: &Path, row_len: usize) -> std::io::Result<Self> {
        let file = atomic_file::create_exclusive(path)?;
        Ok(Self { out: BufWriter::with_capacity(1 << 20, file), path: path.to_path_buf(), row_len, labels: Vec::new() })
    }

    /// Appends one row and its class.
    pub fn push(&mut self, row: &[f32], class: u32) -> std::io::Result<()> {
        if row.len() != self.row_len {
            return Err(std::io::Error::other(format!("a row of {} values, expected {}", row.len(), self.row_len)));
        }
        for v in row {
            self.out.write_all(&v.to_le_bytes())?;
        }
        self.labels.push(class);
        Ok(())
    }

    /// The finished file, open for reading.
    pub fn finish(self) -> std::io::Result<RowFile> {
        drop(self.out.into_inner().map_err(|e| e.into_error())?);
        // Written write-only (created exclusively); read back through a reader.
        let file = crate::store::regular_file::open_regular(&self.path)?;
        Ok(RowFile { file, path: self.path, row_len: self.row_len, labels: self.labels })
    }
}

/// Rows on disk and their classes in memory.
#[derive(Debug)]
pub struct RowFile {
    file: File,
    path: PathBuf,
    row_len: usize,
    labels: Vec<u32>,
}

impl RowFile {
    fn read_at(&self, first: usize, count: usize, bytes: &mut Vec<u8>, out: &mut Vec<f32>) -> Result<(), String> {
        let width = self.row_len * 4;
        bytes.resize(count * width, 0);
        self.file
            .read_exact_at(bytes, (first * width) as u64)
            .map_err(|e| format!("{}: rows {first}..{}: {e}", self.path.display(), first + count))?;
        out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        Ok(())
    }
}

impl WindowSource for RowFile {
    fn row_len(&self) -> usize {
        self.row_len
    }

    fn labels(&self) -> &[u32] {
        &self.labels
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<(), String> {
        out.reserve(rows.len() * self.row_len);
        let mut bytes = Vec::with_capacity(self.row_len * 4);
        for &r in rows {
            if r >= self.labels.len() {
                return Err(format!("{}: window {r} of {} asked for", self.path.display(), self.labels.len()));
            }
            self.read_at(r, 1, &mut bytes, out)?;
        }
        Ok(())
    }

    fn read_range(&self, start: usize, count: usize, out: &mut Vec<f32>) -> Result<(), String> {
        if start.checked_add(count).is_none_or(|end| end > self.labels.len()) {
            return Err(format!("{}: windows {start}+{count} of {}", self.path.display(), self.labels.len()));
        }
        self.read_at(start, count, &mut Vec::new(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_as_written_and_the_scratch_folder_goes() -> Result<(), Box<dyn std::error::Error>> {
        let parent = tempfile::tempdir()?;
        let scratch = ScratchDir::create(parent.path())?;
        let kept = scratch.path().to_path_buf();
        let mut w = RowFileWriter::create(&scratch.path().join("rows"), 3)?;
        for i in 0..100u32 {
            let v = i as f32;
            w.push(&[v, -v, if i == 7 { f32::NAN } else { v / 2.0 }], i % 7)?;
        }
        assert!(w.push(&[1.0], 0).is_err(), "a short row is refused");
        let rows = w.finish()?;
        assert_eq!(rows.labels().len(), 100);
        let mut out = Vec::new();
        rows.read_rows(&[99, 0, 7], &mut out)?;
        assert_eq!(out[..6], [99.0, -99.0, 49.5, 0.0, -0.0, 0.0]);
        assert!(out[8].is_nan());
        out.clear();
        rows.read_range(98, 2, &mut out)?;
        assert_eq!(out, [98.0, -98.0, 49.0, 99.0, -99.0, 49.5]);
        assert!(rows.read_rows(&[100], &mut out).is_err());
        assert!(rows.read_range(99, 2, &mut out).is_err());
        drop(rows);
        drop(scratch);
        assert!(!kept.exists());

        // A dead run's folder goes, a live one's stays.
        let dead = parent.path().join(format!("{SCRATCH_MARK}{}-00", u32::MAX - 1));
        std::fs::create_dir(&dead)?;
        let live = ScratchDir::create(parent.path())?;
        let again = ScratchDir::create(parent.path())?;
        assert!(!dead.exists() && live.path().exists() && again.path().exists());
        Ok(())
    }
}
