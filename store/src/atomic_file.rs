//! Atomic file writes: write a temporary file beside the target, flush it
//! to disk, then rename it over the target, so readers never see half a
//! file and a crash leaves either the old file or the new one.
//!
//! The temporary file is created exclusively (`O_CREAT | O_EXCL`, never
//! through a link: a planted symbolic link makes the create fail instead of
//! writing through it), under a name no other process can predict
//! (`.<name>.tmp-<pid>-<random>`). The rename replaces whatever is at the
//! target path, a link included, never the file a link points to.
//! [`remove_stale_temps`] deletes the temporary files of processes that
//! died mid-write.
//!
//! Owned names (temporary files here, staging folders, training scratch)
//! carry an [`owner_token`]: the pid, and a tag of the machine's host name,
//! so on a file system shared by cluster nodes (Slurm, Kubernetes pods) a
//! process only ever clears what a dead process *of its own machine* left
//! ([`abandoned`]); another node's pid says nothing here.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
pub struct WriteError {
    /// The target path.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// 64 unpredictable bits: SipHash keys come from the OS's randomness once
/// per process, and every call hashes a fresh counter and the clock.
pub fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// The marker between a name and the owner's pid in temporary names.
const TEMP_MARK: &str = ".tmp-";

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{TEMP_MARK}{}", owner_token()))
}

/// Creates `path` exclusively for writing: fails if anything (a file, a
/// link, even a dangling one) is already there.
pub fn create_exclusive(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o666)
        .open(path)
}

/// Writes `path` atomically with `write`, which gets a buffered file.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>,
) -> Result<T, WriteError> {
    let err = |source| WriteError { path: path.to_path_buf(), source };
    let tmp = temp_path(path);
    let mut created = false;
    let result = (|| {
        let file = create_exclusive(&tmp)?;
        created = true;
        let mut out = BufWriter::new(file);
        let value = write(&mut out)?;
        out.flush()?;
        out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_parent(path);
        Ok(value)
    })();
    if result.is_err() && created {
        // Best effort: the temporary file is ours and useless now.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, |out| out.write_all(bytes))
}

/// Flushes the folder holding `path` so a rename in it survives a crash
/// (best effort: some file systems refuse to sync a folder).
pub fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

/// This machine's tag: the first 32 bits of the sha256 of its host name
/// (a Kubernetes pod's name, a Slurm node's name).
pub fn host_tag() -> u32 {
    use sha2::{Digest, Sha256};
    static TAG: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| {
        let name = fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let digest = Sha256::digest(name.trim().as_bytes());
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    })
}

/// What owned names end with: `<pid>-<host tag: 8 hex><random: 16 hex>`.
pub fn owner_token() -> String {
    format!("{}-{:08x}{:016x}", std::process::id(), host_tag(), random_u64())
}

/// The pid in a name `<anything><mark><pid>-<random>`, if it has one.
pub fn owner_pid(name: &OsStr, mark: &str) -> Option<u32> {
    owner(name, mark).map(|(pid, _)| pid)
}

/// The pid and, in names made since tokens had one, the host tag.
fn owner(name: &OsStr, mark: &str) -> Option<(u32, Option<u32>)> {
    let name = name.to_str()?;
    let (_, rest) = name.rsplit_once(mark)?;
    let (pid, random) = rest.split_once('-')?;
    let host = if random.len() == 24 { u32::from_str_radix(&random[..8], 16).ok() } else { None };
    Some((pid.parse().ok()?, host))
}

/// Whether the name (`<anything><mark><owner token>`) belongs to a process
/// of this machine that no longer runs. A name of another machine is never
/// abandoned as far as this one can tell.
pub fn abandoned(name: &OsStr, mark: &str) -> bool {
    match owner(name, mark) {
        Some((_, Some(host))) if host != host_tag() => false,
        Some((pid, _)) => !process_alive(pid),
        None => false,
    }
}

/// Whether process `pid` still runs (Linux: `/proc/<pid>` exists).
pub fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporary files left in `dir` by writers that are no longer
/// running (killed between create and rename). Returns how many went.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let stale = name.to_string_lossy().starts_with('.')
            && abandoned(&name, TEMP_MARK)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if stale && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("x.json");
        write_bytes_atomically(&path, b"old")?;
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err::<(), _>(io::Error::other("boom"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(&path)?, b"old");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn a_planted_link_at_the_target_is_replaced_not_written_through() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"precious")?;
        let out = dir.path().join("out");
        fs::create_dir(&out)?;
        let target = out.join("summary.json");
        std::os::unix::fs::symlink(&outside, &target)?;
        write_bytes_atomically(&target, b"new")?;
        assert_eq!(fs::read(&outside)?, b"precious", "the link's target is untouched");
        assert!(!fs::symlink_metadata(&target)?.file_type().is_symlink());
        assert_eq!(fs::read(&target)?, b"new");
        Ok(())
    }

    #[test]
    fn temp_names_are_unpredictable_and_created_exclusively() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("index.parquet");
        let (a, b) = (temp_path(&target), temp_path(&target));
        assert_ne!(a, b);
        assert_eq!(owner_pid(a.file_name().unwrap_or_default(), TEMP_MARK), Some(std::process::id()));
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &planted)?;
        assert!(create_exclusive(&planted).is_err(), "a dangling link is not followed");
        assert!(!dir.path().join("elsewhere").exists());
        Ok(())
    }

    #[test]
    fn temps_of_dead_writers_are_removed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        // pid 2^22 + 1 is above Linux's pid_max default ceiling: never running.
        let dead = dir.path().join(".validation_v1.parquet.tmp-4194305-00aa");
        let alive = dir.path().join(format!(".x.tmp-{}-00bb", std::process::id()));
        fs::write(&dead, b"")?;
        fs::write(&alive, b"")?;
        assert_eq!(remove_stale_temps(dir.path()), 1);
        assert!(!dead.exists() && alive.exists());
        // A dead pid of another machine (another cluster node on a shared
        // file system) may be a live process there: kept.
        let other_host = host_tag().wrapping_add(1);
        let remote = dir.path().join(format!(".y.tmp-4194305-{other_host:08x}{:016x}", 7));
        let local_dead = dir.path().join(format!(".z.tmp-4194305-{:08x}{:016x}", host_tag(), 7));
        fs::write(&remote, b"")?;
        fs::write(&local_dead, b"")?;
        assert_eq!(remove_stale_temps(dir.path()), 1);
        assert!(remote.exists() && !local_dead.exists());
        Ok(())
    }
}
