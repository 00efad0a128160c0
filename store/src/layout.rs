//! The receiver store layout: `<store>/<host_id>/<episode_id>.tar.zst`.
//!
//! Listing is sorted (host, then episode) so sweeps are deterministic.
//! Anything that does not fit the layout (stray files, bad folder names,
//! links) is reported as skipped, never fatal, and never followed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cis490_shared::ids::{EpisodeId, HostId};

/// The suffix of episode archives.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// One episode archive found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeRef {
    /// The host folder it lives in.
    pub host_id: HostId,
    /// The episode id from its file name.
    pub episode_id: EpisodeId,
    /// Full path of the archive.
    pub path: PathBuf,
    /// Path relative to the store, with `/` separators.
    pub rel_path: String,
}

/// A path in the store that is not an episode, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPath {
    /// Path relative to the store.
    pub rel_path: String,
    /// Why it was skipped.
    pub why: String,
}

/// The episodes of a store and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct StoreListing {
    /// Episodes, sorted by host then episode id.
    pub episodes: Vec<EpisodeRef>,
    /// Everything else, sorted by path.
    pub skipped: Vec<SkippedPath>,
}

/// The store itself cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The store path does not exist or is not a folder.
    #[error("store {path}: not a folder (does it exist?)")]
    NotAFolder {
        /// The store path.
        path: PathBuf,
    },
    /// Listing a folder failed.
    #[error("store {path}: cannot list")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

fn sorted_entries(dir: &Path) -> Result<Vec<fs::DirEntry>, LayoutError> {
    let io_err = |source| LayoutError::Io { path: dir.to_path_buf(), source };
    let mut entries = fs::read_dir(dir).map_err(io_err)?.collect::<Result<Vec<_>, _>>().map_err(io_err)?;
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

/// The episode an archive's file name (`<episode_id>.tar.zst`) names, or
/// why the file is not an episode (the reason a listing skips it with).
/// Every kind of store (a folder, a bucket) names archives by this rule.
pub fn episode_of_file_name(file_name: &str) -> Result<EpisodeId, &'static str> {
    let stem = file_name.strip_suffix(ARCHIVE_SUFFIX).ok_or("not a .tar.zst archive")?;
    EpisodeId::new(stem).map_err(|_| "file name is not an episode id")
}

/// Lists the episodes of the store at `store`.
pub fn list_store(store: &Path) -> Result<StoreListing, LayoutError> {
    if !store.is_dir() {
        return Err(LayoutError::NotAFolder { path: store.to_path_buf() });
    }
    let mut listing = StoreListing::default();
    for host_entry in sorted_entries(store)? {
        let name = host_entry.file_name().to_string_lossy().into_owned();
        let skip = |why: &str| SkippedPath { rel_path: name.clone(), why: why.to_string() };
        let Ok(file_type) = host_entry.file_type() else {
            listing.skipped.push(skip("cannot read its type"));
            continue;
        };
        if !file_type.is_dir() {
            let why = if file_type.is_symlink() { "a link (not followed)" } else { "not a host folder" };
            listing.skipped.push(skip(why));
            continue;
        }
        let Ok(host_id) = HostId::new(name.clone()) else {
            listing.skipped.push(skip("folder name is not a host id"));
            continue;
        };
        list_host(store, &host_entry.path(), &host_id, &mut listing)?;
    }
    Ok(listing)
}

fn list_host(store: &Path, dir: &Path, host_id: &HostId, listing: &mut StoreListing) -> Result<(), LayoutError> {
    for entry in sorted_entries(dir)? {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let rel_path = format!("{host_id}/{file_name}");
        let skip = |why: &str| SkippedPath { rel_path: rel_path.clone(), why: why.to_string() };
        let Ok(file_type) = entry.file_type() else {
            listing.skipped.push(skip("cannot read its type"));
            continue;
        };
        if !file_type.is_file() {
            listing.skipped.push(skip("not a regular file (links are not followed)"));
            continue;
        }
        let episode_id = match episode_of_file_name(&file_name) {
            Ok(id) => id,
            Err(why) => {
                listing.skipped.push(skip(why));
                continue;
            }
        };
        let path = store.join(host_id.as_str()).join(&file_name);
        listing.episodes.push(EpisodeRef { host_id: host_id.clone(), episode_id, path, rel_path });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strays_and_bad_names_are_skipped_and_reported() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = dir.path();
        fs::create_dir_all(store.join("lab-pc-01"))?;
        fs::create_dir_all(store.join("Bad_Host"))?;
        fs::write(store.join("README.txt"), "x")?;
        fs::write(store.join("lab-pc-01/ep-2.tar.zst"), "x")?;
        fs::write(store.join("lab-pc-01/ep-1.tar.zst"), "x")?;
        fs::write(store.join("lab-pc-01/bad.name.tar.zst"), "x")?;
        fs::write(store.join("lab-pc-01/notes.txt"), "x")?;
        let listing = list_store(store)?;
        let ids: Vec<&str> = listing.episodes.iter().map(|e| e.episode_id.as_str()).collect();
        assert_eq!(ids, ["ep-1", "ep-2"]);
        assert_eq!(listing.episodes[0].rel_path, "lab-pc-01/ep-1.tar.zst");
        let skipped: Vec<&str> = listing.skipped.iter().map(|s| s.rel_path.as_str()).collect();
        assert_eq!(skipped, ["Bad_Host", "README.txt", "lab-pc-01/bad.name.tar.zst", "lab-pc-01/notes.txt"]);
        assert!(matches!(list_store(&store.join("missing")), Err(LayoutError::NotAFolder { .. })));
        Ok(())
    }
}
