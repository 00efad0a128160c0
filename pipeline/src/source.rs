//! Where the receiver store is: a folder (`/data/store`, `file:///data/store`)
//! or, with the `object-store` feature, an S3-compatible bucket
//! (`s3://bucket/prefix`: AWS, Ceph, Garage, MinIO).
//!
//! Every stage that reads archives goes through [`Source`]: it lists the
//! store into the same [`StoreListing`] (episodes in store order: host,
//! then file name; anything else skipped with a reason), gives each
//! archive's size and modification time for incremental sweeps, and feeds
//! each archive to the same bounded streaming reader with the same caps.
//! For a bucket, credentials, region and endpoint come from the standard
//! `AWS_*` environment variables ([`object`]).

#[cfg(feature = "object-store")]
pub mod object;

use std::path::{Path, PathBuf};

use crate::store::archive::{ArchiveError, ArchiveFileDigest, EpisodeArchive, ReadLimits, read_archive};
use crate::store::layout::{LayoutError, StoreListing, list_store};
use crate::validate::cache::FileStamp;

/// The store could not be opened or listed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A local store cannot be listed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// `--store` names a scheme this build cannot read.
    #[error("--store {given}: {why}")]
    Unsupported {
        /// As given.
        given: String,
        /// Why not.
        why: String,
    },
    /// The object store refused or failed (missing bucket, denied access, unreachable endpoint).
    #[error("{url}: {why}")]
    Remote {
        /// The store's URL.
        url: String,
        /// The object store's error, with its causes.
        why: String,
    },
}

/// A receiver store to read.
#[derive(Debug)]
pub enum Source {
    /// A folder on this machine.
    Local(PathBuf),
    /// A bucket of an S3-compatible object store.
    #[cfg(feature = "object-store")]
    Object(object::ObjectSource),
}

impl Source {
    /// Opens `--store`: `s3://bucket[/prefix]`, `file:///path`, or a path.
    pub fn open(store: &Path) -> Result<Self, SourceError> {
        let text = store.to_string_lossy();
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(SourceError::Unsupported {
                    given: text.into_owned(),
                    why: "a file:// URL needs an absolute path (file:///data/store)".into(),
                });
            }
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Self::open_url(&text, scheme);
        }
        Ok(Self::Local(store.to_path_buf()))
    }

    #[cfg(feature = "object-store")]
    fn open_url(text: &str, scheme: &str) -> Result<Self, SourceError> {
        if matches!(scheme, "s3" | "s3a") {
            return object::ObjectSource::open(text).map(Self::Object);
        }
        Err(SourceError::Unsupported {
            given: text.into(),
            why: format!("{scheme}:// is not supported (s3://, file:// or a path)"),
        })
    }

    #[cfg(not(feature = "object-store"))]
    fn open_url(text: &str, scheme: &str) -> Result<Self, SourceError> {
        let why = if matches!(scheme, "s3" | "s3a") {
            "this cis490 was built without object stores (build with `--features object-store`)".to_string()
        } else {
            format!("{scheme}:// is not supported (file:// or a path)")
        };
        Err(SourceError::Unsupported { given: text.into(), why })
    }

    /// The store's episodes in store order, and what was skipped.
    pub fn list(&self) -> Result<StoreListing, SourceError> {
        match self {
            Self::Local(root) => Ok(list_store(root)?),
            #[cfg(feature = "object-store")]
            Self::Object(o) => o.list(),
        }
    }

    /// Reads the archive at `rel_path` (`<host_id>/<episode_id>.tar.zst`)
    /// through the bounded reader; see [`read_archive`].
    pub fn read_archive(
        &self,
        rel_path: &str,
        limits: &ReadLimits,
    ) -> (Option<ArchiveFileDigest>, Result<EpisodeArchive, ArchiveError>) {
        match self {
            Self::Local(root) => read_archive(&root.join(rel_path), limits),
            #[cfg(feature = "object-store")]
            Self::Object(o) => o.read_archive(rel_path, limits),
        }
    }

    /// Size and modification time of the archive at `rel_path` (for a
    /// bucket: as listed by the last [`Source::list`]).
    pub fn stamp(&self, rel_path: &str) -> Option<FileStamp> {
        match self {
            Self::Local(root) => FileStamp::of(&root.join(rel_path)),
            #[cfg(feature = "object-store")]
            Self::Object(o) => o.stamp(rel_path),
        }
    }

    /// The archive's name in messages: its path, or its URL.
    pub fn shown(&self, rel_path: &str) -> String {
        match self {
            Self::Local(root) => root.join(rel_path).display().to_string(),
            #[cfg(feature = "object-store")]
            Self::Object(o) => o.url_of(rel_path),
        }
    }

    /// The folder, for a store on this machine.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Self::Local(root) => Some(root),
            #[cfg(feature = "object-store")]
            Self::Object(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_arguments_are_parsed() {
        assert!(
            matches!(Source::open(Path::new("/data/store")), Ok(Source::Local(p)) if p == Path::new("/data/store"))
        );
        assert!(
            matches!(Source::open(Path::new("file:///data/store")), Ok(Source::Local(p)) if p == Path::new("/data/store"))
        );
        let relative = Source::open(Path::new("file://data/store")).map(|_| ()).map_err(|e| e.to_string());
        assert!(relative.is_err_and(|e| e.contains("absolute path")));
        let gs = Source::open(Path::new("gs://bucket/x")).map(|_| ()).map_err(|e| e.to_string());
        assert!(gs.is_err_and(|e| e.contains("gs:// is not supported")));
    }
}
