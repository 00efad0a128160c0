//! A receiver store in an S3-compatible bucket (`s3://bucket/prefix`),
//! read with the `object_store` crate's S3 client.
//!
//! Configuration is the standard `AWS_*` environment: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_REGION` or
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for an on-premises store
//! (Ceph, Garage, MinIO) and `AWS_ALLOW_HTTP=true` for a lab's plain-HTTP
//! endpoint. Listing happens once per run; each archive is streamed
//! chunk by chunk into the same bounded reader as a local file, on the
//! caller's thread (a small tokio runtime drives the client), so the
//! read caps bound memory and work per archive exactly as on disk. A
//! missing bucket or a denied listing stops the run with the store's
//! error; a failed or denied object is that episode's `io_error`, never a
//! stopped sweep.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::SourceError;
use crate::store::archive::{ArchiveError, ArchiveFileDigest, EpisodeArchive, ReadLimits, read_archive_from};
use crate::store::layout::{EpisodeRef, SkippedPath, StoreListing, episode_of_file_name};
use crate::validate::cache::FileStamp;
use cis490_shared::ids::HostId;

/// Most objects listed under a store's prefix (≈ 26× the lab's corpus).
pub const MAX_LISTED_OBJECTS: usize = 2_000_000;

/// An S3-compatible bucket and prefix holding a receiver store.
pub struct ObjectSource {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    stamps: Mutex<HashMap<String, FileStamp>>,
}

impl std::fmt::Debug for ObjectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSource").field("url", &self.url).finish_non_exhaustive()
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    cis490_shared::error_chain(e)
}

impl ObjectSource {
    /// Connects to `s3://bucket[/prefix]` (nothing is requested yet).
    pub fn open(url: &str) -> Result<Self, SourceError> {
        let remote = |why: String| SourceError::Remote { url: url.to_string(), why };
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(remote("no bucket name (s3://bucket/prefix)".into()));
        }
        let prefix = prefix.trim_matches('/').to_string();
        // reqwest is built without a TLS provider of its own: ring, already in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| remote(format!("cannot configure the S3 client from the AWS_* environment: {}", chain(&e))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cis490-s3")
            .enable_all()
            .build()
            .map_err(|e| remote(format!("cannot start the S3 client's runtime: {e}")))?;
        let shown = if prefix.is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
        Ok(Self { url: shown, prefix, store: Arc::new(store), runtime, stamps: Mutex::new(HashMap::new()) })
    }

    fn key(&self, rel_path: &str) -> String {
        if self.prefix.is_empty() { rel_path.to_string() } else { format!("{}/{rel_path}", self.prefix) }
    }

    /// `s3://bucket/prefix/<rel_path>`.
    pub fn url_of(&self, rel_path: &str) -> String {
        if rel_path.is_empty() { self.url.clone() } else { format!("{}/{rel_path}", self.url) }
    }

    /// Lists the store: `<prefix>/<host_id>/<episode_id>.tar.zst` objects,
    /// in the order of a local store (host, then file name).
    pub fn list(&self) -> Result<StoreListing, SourceError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let metas = self.runtime.block_on(async {
            let mut stream = self.store.list(prefix.as_ref());
            let mut metas = Vec::new();
            while let Some(meta) = stream.next().await {
                metas.push(meta?);
                if metas.len() > MAX_LISTED_OBJECTS {
                    break;
                }
            }
            Ok::<_, object_store::Error>(metas)
        });
        let metas = metas.map_err(|e| SourceError::Remote { url: self.url.clone(), why: chain(&e) })?;
        if metas.len() > MAX_LISTED_OBJECTS {
            return Err(SourceError::Remote {
                url: self.url.clone(),
                why: format!("more than {MAX_LISTED_OBJECTS} objects under the prefix; is it the store's?"),
            });
        }
        let mut listing = StoreListing::default();
        let mut found: Vec<(HostId, String, EpisodeRef)> = Vec::new();
        let mut stamps = HashMap::new();
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        for meta in metas {
            let key = meta.location.to_string();
            let Some(rel) = key.strip_prefix(&strip) else { continue };
            let skip = |why: &str| SkippedPath { rel_path: rel.to_string(), why: why.to_string() };
            let Some((host, file)) = rel.split_once('/') else {
                listing.skipped.push(skip("not a host folder"));
                continue;
            };
            let Ok(host_id) = HostId::new(host) else {
                listing.skipped.push(skip("folder name is not a host id"));
                continue;
            };
            if file.contains('/') {
                listing.skipped.push(skip("nested below a host folder"));
                continue;
            }
            let episode_id = match episode_of_file_name(file) {
                Ok(id) => id,
                Err(why) => {
                    listing.skipped.push(skip(why));
                    continue;
                }
            };
            let mtime_ns = i128::from(meta.last_modified.timestamp()) * 1_000_000_000
                + i128::from(meta.last_modified.timestamp_subsec_nanos());
            stamps.insert(rel.to_string(), FileStamp { size: meta.size, mtime_ns });
            let episode = EpisodeRef {
                host_id: host_id.clone(),
                episode_id,
                path: std::path::PathBuf::from(self.url_of(rel)),
                rel_path: rel.to_string(),
            };
            found.push((host_id, file.to_string(), episode));
        }
        // A local store's order: host folders by name, then files by name.
        found.sort_by(|a, b| (a.0.as_str(), a.1.as_bytes()).cmp(&(b.0.as_str(), b.1.as_bytes())));
        listing.episodes = found.into_iter().map(|(_, _, e)| e).collect();
        listing.skipped.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
        *self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = stamps;
        Ok(listing)
    }

    /// Size and modification time of a listed archive.
    pub fn stamp(&self, rel_path: &str) -> Option<FileStamp> {
        self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(rel_path).copied()
    }

    /// Streams the archive at `rel_path` through the bounded reader.
    pub fn read_archive(
        &self,
        rel_path: &str,
        limits: &ReadLimits,
    ) -> (Option<ArchiveFileDigest>, Result<EpisodeArchive, ArchiveError>) {
        let location = ObjectPath::from(self.key(rel_path).as_str());
        let got = self.runtime.block_on(self.store.get(&location));
        match got {
            Ok(result) => {
                let reader = ObjectReader {
                    runtime: self.runtime.handle().clone(),
                    stream: result.into_stream(),
                    chunk: Vec::new(),
                    at: 0,
                    url: self.url_of(rel_path),
                };
                read_archive_from(reader, limits)
            }
            Err(e) => (
                None,
                Err(ArchiveError::Io(std::io::Error::other(format!("{}: {}", self.url_of(rel_path), chain(&e))))),
            ),
        }
    }
}

/// A blocking `Read` over an object's byte stream: each `read` takes from
/// the chunk in hand, or waits for the next one.
struct ObjectReader<S> {
    runtime: tokio::runtime::Handle,
    stream: S,
    chunk: Vec<u8>,
    at: usize,
    url: String,
}

impl<S, B> Read for ObjectReader<S>
where
    S: futures_util::Stream<Item = object_store::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(bytes.as_ref());
                    self.at = 0;
                }
                Some(Err(e)) => return Err(std::io::Error::other(format!("{}: {}", self.url, chain(&e)))),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
