//! Incremental sweeps: `validation_cache_v1.json` beside the index records,
//! for every indexed archive, its path relative to the store, size and
//! modification time (ns). A later sweep of the same store with the same
//! limits and rules reuses the index row of every archive whose three are
//! unchanged and validates the rest (new or changed); archives gone from
//! the store leave the index. The index and summary it writes are the ones
//! a full sweep would write.
//!
//! What it cannot see: an archive rewritten in place with the same size
//! and a restored modification time. `extract` still checks each archive's
//! sha256 against the index, and `--full` re-reads everything.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::index::IndexRow;
use crate::store::archive::ReadLimits;
use crate::validate::index::read_index;

/// File name of the cache inside the output folder.
pub const CACHE_FILE: &str = "validation_cache_v1.json";

/// Version of the validation rules: a cache written under other rules is
/// not reused. Bump it whenever a change to `validate` can change a row.
pub const RULES_VERSION: u32 = 1;

/// Largest cache read (≈ 100 B per episode: about 2.5 M episodes).
const MAX_CACHE_BYTES: u64 = 256 << 20;

/// When an archive was last seen: size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i128,
}

impl FileStamp {
    /// The stamp of `path` (not following a final link), if it can be read.
    pub fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(Self {
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }
}

/// What a sweep's rows depend on besides the archives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepKey {
    /// [`RULES_VERSION`].
    pub rules: u32,
    /// The store, canonicalized.
    pub store: String,
    /// The limits, as text.
    pub limits: String,
}

impl SweepKey {
    /// The key of a sweep of `store` under `limits`.
    pub fn new(store: &Path, limits: &ReadLimits) -> Self {
        let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
        Self { rules: RULES_VERSION, store: store.display().to_string(), limits: format!("{limits:?}") }
    }
}

/// The cache file's contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheFile {
    /// What the rows were computed under.
    pub key: SweepKey,
    /// `(relative path, stamp)` of every indexed archive, in index order
    /// (no stamp: it could not be read, so it is validated again).
    pub entries: Vec<(String, Option<FileStamp>)>,
}

/// Index rows of an earlier sweep that may be reused, by relative path.
#[derive(Debug, Default)]
pub struct Reusable {
    rows: HashMap<String, (Option<FileStamp>, IndexRow)>,
}

impl Reusable {
    /// The rows of the sweep in `out` if it was made under `key`; empty
    /// (everything is validated) when there is none, it was made under
    /// another key, or its files are unreadable or disagree.
    pub fn load(out: &Path, key: &SweepKey) -> Self {
        match Self::try_load(out, key) {
            Ok(r) => r,
            Err(why) => {
                tracing::info!("full sweep: {why}");
                Self::default()
            }
        }
    }

    fn try_load(out: &Path, key: &SweepKey) -> Result<Self, String> {
        let cache_path = out.join(CACHE_FILE);
        if !cache_path.exists() {
            return Err(format!("no {} in {}", CACHE_FILE, out.display()));
        }
        let bytes = crate::store::regular_file::read_regular(&cache_path, MAX_CACHE_BYTES)
            .map_err(|e| format!("{}: {e}", cache_path.display()))?;
        let cache: CacheFile = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", cache_path.display()))?;
        if cache.key != *key {
            return Err("the earlier sweep was of another store, or under other limits or rules".into());
        }
        let index_path = out.join(super::index::INDEX_FILE);
        let rows = read_index(&index_path).map_err(|e| crate::error_chain(&e))?;
        if rows.len() != cache.entries.len() {
            return Err(format!("{} and {} disagree", index_path.display(), cache_path.display()));
        }
        let mut map = HashMap::with_capacity(rows.len());
        for (row, (path, stamp)) in rows.into_iter().zip(cache.entries) {
            if row.path != path {
                return Err(format!("{} and {} disagree at {path}", index_path.display(), cache_path.display()));
            }
            map.insert(path, (stamp, row));
        }
        Ok(Self { rows: map })
    }

    /// The earlier row of the archive at `rel_path` if its stamp is unchanged.
    pub fn take(&mut self, rel_path: &str, stamp: Option<FileStamp>) -> Option<IndexRow> {
        let (old, _) = self.rows.get(rel_path)?;
        if old.is_none() || *old != stamp {
            return None;
        }
        self.rows.remove(rel_path).map(|(_, row)| row)
    }

    /// Rows available.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_sees_size_and_time_changes() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a");
        std::fs::write(&path, b"one")?;
        let first = FileStamp::of(&path);
        assert!(first.is_some());
        std::fs::write(&path, b"three")?;
        assert_ne!(FileStamp::of(&path), first);
        assert_eq!(FileStamp::of(&dir.path().join("missing")), None);
        Ok(())
    }

    #[test]
    fn a_key_names_store_limits_and_rules() {
        let a = SweepKey::new(Path::new("/no/such/store"), &ReadLimits::default());
        let b = SweepKey::new(Path::new("/no/such/store"), &ReadLimits { max_span_s: 60, ..ReadLimits::default() });
        assert_ne!(a, b);
        assert_eq!(a, SweepKey::new(Path::new("/no/such/store"), &ReadLimits::default()));
    }
}
