//! Output folders that always hold exactly one consistent run.
//!
//! A stage (validate, extract, each trained model, eval) writes everything
//! into a fresh staging folder beside its `--out` folder
//! (`.<name>.staging-<pid>-<random>`, created exclusively), and only when
//! every file is written swaps it in: with `renameat2(RENAME_EXCHANGE)`,
//! one atomic step, where the file system has it, else two renames. So a
//! reader sees the old run or the new one, never a mix (a new index beside
//! an old summary, new shards beside stale ones); a killed run leaves the
//! old output untouched, and its staging folder is removed by the next run
//! into the same place.
//!
//! A folder is only replaced when an earlier run of the same stage made it
//! (it holds the stage's marker file, e.g. `validation_summary.json`) or
//! it is empty; anything else needs `--force`, so a mistyped `--out` never
//! deletes someone's files. `--out` itself may not be a symbolic link.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic_file::{abandoned, owner_token, remove_stale_temps, sync_parent};

const STAGING_MARK: &str = ".staging-";
const REPLACED_MARK: &str = ".replaced-";

/// The output folder cannot be prepared or swapped in.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// `--out` holds something an earlier run of this stage did not make.
    #[error(
        "refusing to replace {path}: it is not empty and not an earlier {stage} output (no {marker}; it holds {found}); choose an empty or new folder, or pass --force to replace it"
    )]
    NotOurs {
        /// The folder.
        path: PathBuf,
        /// The stage, e.g. `cis490 validate`.
        stage: &'static str,
        /// The marker file an earlier output would hold.
        marker: &'static str,
        /// A few of the names found there.
        found: String,
    },
    /// `--out` holds (or is) one of the stage's inputs: replacing it would
    /// delete them.
    #[error("refusing to replace {path}: it holds {input}, an input of this run; write the outputs elsewhere")]
    HoldsInput {
        /// The folder.
        path: PathBuf,
        /// The input inside it.
        input: PathBuf,
    },
    /// `--out` is a symbolic link or not a folder.
    #[error("{path}: {what}; give a real folder")]
    NotAFolder {
        /// The path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// An I/O error.
    #[error("output folder {path} is not writable")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// A staging folder that becomes `target` on [`StagedDir::commit`], or
/// disappears if dropped uncommitted.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_path_buf(), source }
}

/// The parent of `path` ("." for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Up to three names in `dir`, for the refusal message.
fn some_names(dir: &Path) -> io::Result<(bool, String)> {
    let mut names: Vec<String> = Vec::new();
    let mut more = 0usize;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if names.len() < 3 {
            names.push(name);
        } else {
            more += 1;
        }
    }
    names.sort();
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    Ok((names.is_empty(), text))
}

/// Removes staging and replaced folders of `name` in `parent` whose
/// owning process is gone (runs that were killed). Returns how many went.
pub fn remove_leftovers(parent: &Path, name: &str) -> usize {
    let Ok(entries) = fs::read_dir(parent) else { return 0 };
    let prefix = format!(".{name}");
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let text = file_name.to_string_lossy();
        let Some(rest) = text.strip_prefix(&prefix) else { continue };
        let mark = if rest.starts_with(STAGING_MARK) {
            STAGING_MARK
        } else if rest.starts_with(REPLACED_MARK) {
            REPLACED_MARK
        } else {
            continue;
        };
        let dead = abandoned(&file_name, mark);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if dead && is_dir && fs::remove_dir_all(entry.path()).is_ok() {
            tracing::info!(path = %entry.path().display(), "removed the leftover of an interrupted run");
            removed += 1;
        }
    }
    removed
}

impl StagedDir {
    /// Prepares to write `target` for `stage`, whose outputs always hold
    /// `marker`. Refuses a target that is a link, not a folder, a folder
    /// holding one of `inputs` (even with `force`), or a non-empty folder
    /// without `marker` unless `force`.
    pub fn begin(
        target: &Path,
        stage: &'static str,
        marker: &'static str,
        force: bool,
        inputs: &[&Path],
    ) -> Result<Self, OutputError> {
        match fs::symlink_metadata(target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(OutputError::NotAFolder {
                    path: target.to_path_buf(),
                    what: "is a symbolic link (not followed)",
                });
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(OutputError::NotAFolder { path: target.to_path_buf(), what: "is a file, not a folder" });
            }
            Ok(_) => {
                let real_target = target.canonicalize().map_err(io_err(target))?;
                for input in inputs {
                    if input.canonicalize().is_ok_and(|real| real.starts_with(&real_target)) {
                        return Err(OutputError::HoldsInput { path: target.to_path_buf(), input: input.to_path_buf() });
                    }
                }
                let (empty, found) = some_names(target).map_err(io_err(target))?;
                if !empty && !force && !target.join(marker).is_file() {
                    return Err(OutputError::NotOurs { path: target.to_path_buf(), stage, marker, found });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(target)(e)),
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| OutputError::NotAFolder { path: target.to_path_buf(), what: "has no folder name" })?;
        let parent = parent_of(target);
        fs::create_dir_all(&parent).map_err(io_err(target))?;
        remove_leftovers(&parent, &name);
        remove_stale_temps(&parent);
        let staging = parent.join(format!(".{name}{STAGING_MARK}{}", owner_token()));
        // create_dir fails if anything is there: the folder is ours alone.
        fs::create_dir(&staging).map_err(io_err(target))?;
        Ok(Self { target: target.to_path_buf(), staging, committed: false })
    }

    /// Where to write the outputs.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the outputs will be in after [`StagedDir::commit`].
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Swaps the staging folder in as the target; the old target (if any)
    /// is removed.
    pub fn commit(mut self) -> Result<(), OutputError> {
        sync_parent(&self.staging.join("x"));
        let old = match fs::symlink_metadata(&self.target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(&self.staging, &self.target).map_err(io_err(&self.target))?;
                None
            }
            Err(e) => return Err(io_err(&self.target)(e)),
            Ok(_) => Some(self.swap_in()?),
        };
        self.committed = true;
        sync_parent(&self.target);
        if let Some(old) = old
            && let Err(e) = fs::remove_dir_all(&old)
        {
            tracing::warn!(path = %old.display(), "cannot remove the replaced output: {e}");
        }
        Ok(())
    }

    /// Puts the staging folder at the target; returns where the old target is now.
    fn swap_in(&self) -> Result<PathBuf, OutputError> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, &self.staging, CWD, &self.target, RenameFlags::EXCHANGE) {
            // The old target now sits at the staging path.
            Ok(()) => Ok(self.staging.clone()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                // No atomic exchange on this file system: two renames.
                let name = self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let replaced = parent_of(&self.target).join(format!(".{name}{REPLACED_MARK}{}", owner_token()));
                fs::rename(&self.target, &replaced).map_err(io_err(&self.target))?;
                fs::rename(&self.staging, &self.target).map_err(io_err(&self.target))?;
                Ok(replaced)
            }
            Err(e) => Err(io_err(&self.target)(io::Error::from(e))),
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: an uncommitted run leaves nothing behind.
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: &str = "summary.json";

    fn begin(target: &Path, force: bool) -> Result<StagedDir, OutputError> {
        StagedDir::begin(target, "cis490 test", MARK, force, &[])
    }

    #[test]
    fn a_new_run_replaces_the_old_one_whole() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        let first = begin(&out, false)?;
        fs::write(first.path().join(MARK), "1")?;
        fs::write(first.path().join("stale-shard"), "1")?;
        first.commit()?;
        let second = begin(&out, false)?;
        fs::write(second.path().join(MARK), "2")?;
        second.commit()?;
        assert_eq!(fs::read_to_string(out.join(MARK))?, "2");
        assert!(!out.join("stale-shard").exists(), "nothing of the old run is left");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1, "no staging or replaced folder is left");
        Ok(())
    }

    #[test]
    fn an_uncommitted_run_leaves_the_old_output_and_no_staging() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        fs::create_dir(&out)?;
        fs::write(out.join(MARK), "old")?;
        {
            let staged = begin(&out, false)?;
            fs::write(staged.path().join(MARK), "half")?;
        }
        assert_eq!(fs::read_to_string(out.join(MARK))?, "old");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn foreign_folders_and_links_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("home");
        fs::create_dir(&home)?;
        fs::write(home.join("thesis.tex"), "precious")?;
        let err = begin(&home, false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("refusing to replace") && err.contains("thesis.tex"), "{err}");
        assert!(begin(&home, true).is_ok(), "--force replaces it");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&home, &link)?;
        assert!(matches!(begin(&link, true), Err(OutputError::NotAFolder { .. })));
        assert!(home.join("thesis.tex").exists());
        // An output folder that holds an input is never replaced, even with --force.
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("store/lab-pc-01"))?;
        fs::write(data.join(MARK), "an old summary")?;
        let held = StagedDir::begin(&data, "cis490 test", MARK, true, &[&data.join("store")]);
        assert!(matches!(held, Err(OutputError::HoldsInput { .. })));
        assert!(data.join("store/lab-pc-01").is_dir());
        Ok(())
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let dead = dir.path().join(".out.staging-4194305-abcd");
        let live = dir.path().join(format!(".out.staging-{}-abcd", std::process::id()));
        fs::create_dir(&dead)?;
        fs::create_dir(&live)?;
        let staged = begin(&dir.path().join("out"), false)?;
        assert!(!dead.exists() && live.exists());
        drop(staged);
        Ok(())
    }
}
