//! `cis490 merge --validation`: `validate --shard` parts → the acceptance
//! index, summary and cache one sweep of the whole store writes.
//!
//! Rows are put back in store order (host folder, then file name, as
//! `list_store` walks it); counts are summed again from the rows; the
//! store's stray paths come from shard 0, which alone reports them. Each
//! part is checked first: its index is the one its summary describes, its
//! rows are its shard's, and all parts validated the same store under the
//! same limits and rules (their caches' keys agree), so the merged cache
//! lets a later single sweep of the store be incremental.

use std::path::{Path, PathBuf};

use cis490_shared::validation::ValidationSummary;

use super::{MergeError, Part, find_parts, read_json, same_across};
use crate::output_dir::StagedDir;
use crate::validate::cache::{CACHE_FILE, CacheFile, FileStamp};
use crate::validate::index::{INDEX_FILE, IndexRow, file_sha256, read_index};
use crate::validate::{SUMMARY_FILE, summarize, write_sweep};

/// What a merge of validation parts wrote.
#[derive(Debug, Clone)]
pub struct MergedValidation {
    /// The merged summary, as written.
    pub summary: ValidationSummary,
    /// Parts merged.
    pub parts: usize,
}

/// One part's rows with their cache stamps, checked.
struct PartRows {
    summary: ValidationSummary,
    cache: CacheFile,
    rows: Vec<IndexRow>,
}

fn read_part_rows(part: &Part) -> Result<PartRows, MergeError> {
    let summary_path = part.dir.join(SUMMARY_FILE);
    let summary: ValidationSummary = read_json(&summary_path, "a validation summary")?;
    let index_path = part.dir.join(INDEX_FILE);
    let sha =
        file_sha256(&index_path).map_err(|e| MergeError::mismatch(&index_path, format!("cannot read it: {e}")))?;
    if summary.index_sha256.as_deref() != Some(sha.as_str()) {
        return Err(MergeError::mismatch(
            &index_path,
            format!("not the index {} describes: the part changed since it was written", summary_path.display()),
        ));
    }
    let rows = read_index(&index_path).map_err(|e| MergeError::mismatch(&index_path, crate::error_chain(&e)))?;
    let shard = part.file.shard;
    if let Some(row) = rows.iter().find(|r| !shard.owns(r.host_id.as_str(), r.episode_id.as_str())) {
        return Err(MergeError::mismatch(&index_path, format!("{} is not an episode of shard {shard}", row.path)));
    }
    if rows.len() as u64 != part.file.episodes {
        return Err(MergeError::mismatch(
            &index_path,
            format!("{} rows, but {} says {}", rows.len(), crate::shard::PART_FILE, part.file.episodes),
        ));
    }
    let cache_path = part.dir.join(CACHE_FILE);
    let cache: CacheFile = read_json(&cache_path, "a validation cache")?;
    let agrees = cache.entries.len() == rows.len() && cache.entries.iter().zip(&rows).all(|((p, _), r)| *p == r.path);
    if !agrees {
        return Err(MergeError::mismatch(&cache_path, format!("does not list the rows of {}", index_path.display())));
    }
    Ok(PartRows { summary, cache, rows })
}

/// Merges the `validate --shard` parts found in `parts` into `out` (an
/// empty folder, or an earlier validation output; `force` replaces
/// anything else).
pub fn merge(parts: &[PathBuf], out: &Path, force: bool) -> Result<MergedValidation, MergeError> {
    let parts = find_parts(parts, "validate")?;
    let read: Vec<PartRows> = parts.iter().map(read_part_rows).collect::<Result<_, _>>()?;
    same_across(&parts, &read.iter().map(|p| p.summary.store.clone()).collect::<Vec<_>>(), "store")?;
    same_across(
        &parts,
        &read.iter().map(|p| p.cache.key.clone()).collect::<Vec<_>>(),
        "sweep key (store, limits, rules)",
    )?;
    let dirs: Vec<&Path> = parts.iter().map(|p| p.dir.as_path()).collect();
    let staged = StagedDir::begin(out, "cis490 validate", SUMMARY_FILE, force, &dirs)?;

    let mut key = None;
    let mut store = None;
    let mut skipped = Vec::new();
    let mut merged: Vec<(IndexRow, Option<FileStamp>)> = Vec::new();
    for (i, part) in read.into_iter().enumerate() {
        if i == 0 {
            key = Some(part.cache.key);
            store = part.summary.store;
            skipped = part.summary.skipped_paths;
        }
        merged.extend(part.rows.into_iter().zip(part.cache.entries.into_iter().map(|(_, stamp)| stamp)));
    }
    // Store order: host folders by name, then archives by file name.
    merged.sort_by(|(a, _), (b, _)| (a.host_id.as_str(), &a.path).cmp(&(b.host_id.as_str(), &b.path)));
    let (rows, stamps): (Vec<IndexRow>, Vec<Option<FileStamp>>) = merged.into_iter().unzip();
    // Shard 0's list is already capped with its `+N more` line.
    let mut summary = summarize(&rows, Vec::new());
    summary.skipped_paths = skipped;
    summary.store = store;
    let Some(key) = key else {
        return Err(MergeError::NotAPart { path: out.to_path_buf(), why: "no parts".into() });
    };
    write_sweep(staged.path(), out, &rows, &stamps, &mut summary, key)?;
    staged.commit()?;
    Ok(MergedValidation { summary, parts: parts.len() })
}
