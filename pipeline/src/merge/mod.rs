//! `cis490 merge`: the parts of a sharded sweep ([`crate::shard`]) into
//! exactly what one process would have written.
//!
//! - [`validation`]: `validate --shard` parts → one acceptance index,
//!   summary and cache;
//! - [`features`]: `extract --shard` parts → one feature folder, with the
//!   shards a single run cuts (128 usable episodes each, in index order).
//!
//! Parts are found here: each path given is a part folder (it holds
//! `shard.json`) or a folder of them (`shard-IIII-of-NNNN/`). Every shard
//! `0..N` must be there exactly once, all of one sweep (same stage, count,
//! store, limits); a missing or duplicated shard is an error naming it.
//! The merged output is staged and swapped in whole like every stage's.

pub mod features;
pub mod validation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::output_dir::OutputError;
use crate::shard::{PART_FILE, PartFile, Shard};

/// Why parts could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A path given is not a part or a folder of parts.
    #[error("{path}: {why}")]
    NotAPart {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// Two parts claim the same shard.
    #[error("shard {shard} given twice: {first} and {second}; give each shard's part once")]
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One part.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A shard has no part.
    #[error("shard {shard} is missing (no part such as {expected}); run that shard (again) before merging")]
    Missing {
        /// The shard.
        shard: Shard,
        /// Where a part of it would be.
        expected: PathBuf,
    },
    /// A part does not belong with the others, or is not intact.
    #[error("{path}: {why}")]
    Mismatch {
        /// The part (or its file).
        path: PathBuf,
        /// What does not fit.
        why: String,
    },
    /// The output folder cannot be prepared or swapped in.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing the merged validation failed.
    #[error(transparent)]
    Validate(#[from] crate::validate::ValidateError),
    /// Reading or writing features failed.
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
}

impl MergeError {
    fn mismatch(path: &Path, why: impl Into<String>) -> Self {
        Self::Mismatch { path: path.to_path_buf(), why: why.into() }
    }
}

/// One part of a sharded sweep.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its folder.
    pub dir: PathBuf,
    /// Its `shard.json`.
    pub file: PartFile,
}

/// The parts named by `paths` (part folders, or folders of them) for
/// `stage`, one per shard `0..N` in shard order.
pub fn find_parts(paths: &[PathBuf], stage: &str) -> Result<Vec<Part>, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::NotAPart { path: PathBuf::from("."), why: "no parts given".into() });
    }
    let mut found: Vec<Part> = Vec::new();
    for path in paths {
        if path.join(PART_FILE).is_file() {
            found.push(read_part(path)?);
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| MergeError::NotAPart {
            path: path.clone(),
            why: format!("{e} (give part folders or the folder that holds them)"),
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("shard-"))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(MergeError::NotAPart {
                path: path.clone(),
                why: format!("neither a part (no {PART_FILE}) nor a folder of shard-IIII-of-NNNN parts"),
            });
        }
        for dir in dirs {
            found.push(read_part(&dir)?);
        }
    }
    let first = &found[0];
    let count = first.file.shard.count;
    let mut by_index: BTreeMap<u32, Part> = BTreeMap::new();
    for part in found.iter() {
        if part.file.stage != stage {
            return Err(MergeError::mismatch(
                &part.dir,
                format!("a part of `cis490 {}`, not of `cis490 {stage}`", part.file.stage),
            ));
        }
        if part.file.shard.count != count {
            return Err(MergeError::mismatch(
                &part.dir,
                format!(
                    "shard {} is one of {} shards, but {} is one of {count}: parts of different sweeps",
                    part.file.shard,
                    part.file.shard.count,
                    first.dir.display()
                ),
            ));
        }
        if let Some(earlier) = by_index.get(&part.file.shard.index) {
            return Err(MergeError::Duplicate {
                shard: part.file.shard,
                first: earlier.dir.clone(),
                second: part.dir.clone(),
            });
        }
        by_index.insert(part.file.shard.index, part.clone());
    }
    let parent = first.dir.parent().map(Path::to_path_buf).unwrap_or_default();
    for index in 0..count {
        if !by_index.contains_key(&index) {
            let shard = Shard { index, count };
            return Err(MergeError::Missing { shard, expected: shard.part_dir(&parent) });
        }
    }
    Ok(by_index.into_values().collect())
}

fn read_part(dir: &Path) -> Result<Part, MergeError> {
    let file = PartFile::read(dir).map_err(|why| MergeError::NotAPart { path: dir.to_path_buf(), why })?;
    Ok(Part { dir: dir.to_path_buf(), file })
}

/// Reads a JSON file of a part (bounded), naming it on error.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, MergeError> {
    let bytes = crate::store::regular_file::read_regular(path, 256 << 20)
        .map_err(|e| MergeError::mismatch(path, format!("cannot read it: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| MergeError::mismatch(path, format!("not {what}: {e}")))
}

/// Checks that every part agrees with the first on `what` (`value` of each).
fn same_across<T: PartialEq + std::fmt::Debug>(parts: &[Part], values: &[T], what: &str) -> Result<(), MergeError> {
    for (part, value) in parts.iter().zip(values).skip(1) {
        if *value != values[0] {
            return Err(MergeError::mismatch(
                &part.dir,
                format!(
                    "its {what} is {value:?}, but {} has {:?}: parts of different sweeps",
                    parts[0].dir.display(),
                    values[0]
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(root: &Path, stage: &str, index: u32, count: u32) -> Result<PathBuf, Box<dyn std::error::Error>> {
        let shard = Shard { index, count };
        let dir = shard.part_dir(root);
        std::fs::create_dir_all(&dir)?;
        PartFile::new(stage, shard, 0).write(&dir)?;
        Ok(dir)
    }

    fn refusal(paths: &[PathBuf], stage: &str) -> String {
        match find_parts(paths, stage) {
            Ok(parts) => format!("accepted {} parts", parts.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn missing_duplicate_and_foreign_parts_are_named() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path().join("parts");
        for i in 0..3 {
            part(&root, "validate", i, 3)?;
        }
        let parts = find_parts(std::slice::from_ref(&root), "validate")?;
        assert_eq!(parts.iter().map(|p| p.file.shard.index).collect::<Vec<_>>(), [0, 1, 2]);

        // The same part twice.
        let one = Shard { index: 1, count: 3 }.part_dir(&root);
        let err = refusal(&[root.clone(), one.clone()], "validate");
        assert!(err.contains("shard 1/3 given twice") && err.contains("shard-0001-of-0003"), "{err}");

        // A part of another stage.
        let err = refusal(std::slice::from_ref(&root), "extract");
        assert!(err.contains("not of `cis490 extract`"), "{err}");

        // A missing shard.
        std::fs::remove_dir_all(&one)?;
        let err = refusal(std::slice::from_ref(&root), "validate");
        assert!(err.contains("shard 1/3 is missing") && err.contains("shard-0001-of-0003"), "{err}");

        // A part of a sweep cut differently.
        let other = tmp.path().join("other");
        let four = part(&other, "validate", 1, 4)?;
        let err = refusal(&[root.clone(), four], "validate");
        assert!(err.contains("one of 4 shards"), "{err}");

        // Not a part at all.
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty)?;
        let err = refusal(&[empty], "validate");
        assert!(err.contains("neither a part"), "{err}");
        Ok(())
    }
}
