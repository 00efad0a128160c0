//! Outputs are never silently mixed or stale, and inputs that are not
//! regular files never hang a sweep.
//!
//! Re-extracting into a folder that holds another store's extraction
//! leaves only the new shards; a shard planted afterwards is refused by
//! name; an archive swapped after validation is that episode's error, not
//! features under the validated id; an index that does not belong to the
//! summary beside it is refused; a split made from an earlier extraction is
//! refused by training; a FIFO where an archive should be is an error, not
//! a hang; a link planted in an output folder is never written through; a
//! folder that is not an earlier output is not replaced without `--force`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cis490_pipeline::extract::{self, EXTRACT_SUMMARY_FILE};
use cis490_pipeline::split::{self, SplitOptions, recipes::Recipe};
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::validate::index::INDEX_FILE;
use cis490_pipeline::validate::{self, SUMMARY_FILE};
use cis490_tests::small_store;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn validate_into(store: &Path, out: &Path) -> Result<Vec<validate::index::IndexRow>, validate::ValidateError> {
    Ok(cis490_tests::validate_store(store, out)?.rows)
}

fn extract_into(store: &Path, validation: &Path, out: &Path) -> Result<extract::ExtractSummary, extract::ExtractError> {
    cis490_tests::extract_store(store, validation, out)
}

fn shard_names(dir: &Path) -> Result<Vec<String>, std::io::Error> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

fn host_split(features: &Path, out: &Path) -> Result<split::SplitFile, split::SplitError> {
    split::run(&SplitOptions {
        features: features.to_path_buf(),
        recipe: Recipe::Time,
        test_hosts: Vec::new(),
        seed: 3,
        val_share: 0.2,
        in_distribution_share: 0.1,
        out: out.to_path_buf(),
    })
}

#[test]
fn re_extracting_into_a_used_folder_leaves_only_the_new_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (big, small) = (dir.path().join("big"), dir.path().join("small"));
    // 300 episodes: three shards; 40 episodes: one.
    small_store(&big.join("store"), 300, 11, 0.0);
    small_store(&small.join("store"), 40, 12, 0.0);
    validate_into(&big.join("store"), &big.join("validation"))?;
    validate_into(&small.join("store"), &small.join("validation"))?;
    let features = dir.path().join("features");
    let first = extract_into(&big.join("store"), &big.join("validation"), &features)?;
    assert!(first.shards >= 3, "{first:?}");
    let second = extract_into(&small.join("store"), &small.join("validation"), &features)?;
    assert_eq!(second.shards, 1);
    assert_eq!(shard_names(&features.join("summary"))?, ["part-00000.parquet"], "no stale shard stays");
    assert_eq!(shard_names(&features.join("tensors"))?, ["part-00000.parquet"]);
    let leftovers: Vec<String> = shard_names(dir.path())?.into_iter().filter(|n| n.starts_with('.')).collect();
    assert!(leftovers.is_empty(), "staging folders left: {leftovers:?}");
    // The split sees exactly the small store's episodes.
    let made = host_split(&features, &dir.path().join("split.json"))?;
    let episodes = made.train.len() + made.val.len() + made.test.len() + made.in_distribution.len();
    assert_eq!(episodes as u64, second.episodes);
    // A shard planted afterwards (another run's) is refused by name.
    std::fs::copy(features.join("summary/part-00000.parquet"), features.join("summary/part-00007.parquet"))?;
    let err = host_split(&features, &dir.path().join("split2.json"))
        .err()
        .map(|e| cis490_shared::error_chain(&e))
        .unwrap_or_default();
    assert!(err.contains("part-00007.parquet") && err.contains("not written by the extraction"), "{err}");
    Ok(())
}

#[test]
fn training_refuses_a_split_of_an_earlier_extraction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 60, 41, 0.1);
    let validation = dir.path().join("validation");
    let rows = validate_into(&store, &validation)?;
    let features = dir.path().join("features");
    extract_into(&store, &validation, &features)?;
    let split_path = dir.path().join("split.json");
    host_split(&features, &split_path)?;
    // The store changes and is validated and extracted again: the split
    // no longer describes these features.
    let gone =
        rows.iter().find(|r| r.status == cis490_shared::validation::Status::Accepted).ok_or("no accepted episode")?;
    std::fs::remove_file(store.join(&gone.path))?;
    validate_into(&store, &validation)?;
    extract_into(&store, &validation, &features)?;
    let opts = cis490_tests::quick_train_options(features, split_path, dir.path().join("run"), &["gbt"])?;
    let err = cis490_pipeline::train::run(&opts).err().map(|e| cis490_shared::error_chain(&e)).unwrap_or_default();
    assert!(err.contains("another extraction"), "{err}");
    Ok(())
}

#[test]
fn an_archive_swapped_after_validation_is_that_episodes_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 30, 5, 0.3);
    let validation = dir.path().join("validation");
    let rows = validate_into(&store, &validation)?;
    let accepted =
        rows.iter().find(|r| r.status == cis490_shared::validation::Status::Accepted).ok_or("no accepted episode")?;
    let rejected =
        rows.iter().find(|r| r.status == cis490_shared::validation::Status::Rejected).ok_or("no rejected episode")?;
    std::fs::copy(store.join(&rejected.path), store.join(&accepted.path))?;
    let summary = extract_into(&store, &validation, &dir.path().join("features"))?;
    let why = summary
        .skipped
        .iter()
        .find(|s| s.starts_with(&format!("{}:", accepted.episode_id)))
        .ok_or(format!("{} was extracted: {:?}", accepted.episode_id, summary.skipped))?;
    assert!(why.contains("changed since validation"), "{why}");
    let usable = rows.iter().filter(|r| r.status.is_usable()).count() as u64;
    assert_eq!(summary.episodes, usable - 1, "every other episode is extracted");
    Ok(())
}

#[test]
fn an_index_that_is_not_its_summarys_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    small_store(&a.join("store"), 10, 1, 0.0);
    small_store(&b.join("store"), 12, 2, 0.0);
    validate_into(&a.join("store"), &a.join("validation"))?;
    validate_into(&b.join("store"), &b.join("validation"))?;
    // A new index beside an old summary (what a kill between two renames
    // used to leave).
    std::fs::copy(b.join("validation").join(INDEX_FILE), a.join("validation").join(INDEX_FILE))?;
    let err = extract_into(&a.join("store"), &a.join("validation"), &dir.path().join("features"))
        .err()
        .map(|e| cis490_shared::error_chain(&e))
        .unwrap_or_default();
    assert!(err.contains("different validation runs") && err.contains(SUMMARY_FILE), "{err}");
    Ok(())
}

/// Runs `f` on another thread and fails if it does not return in time
/// (a FIFO opened for reading blocks until a writer comes).
fn within<T: Send + 'static>(seconds: u64, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(seconds)).map_err(|_| format!("still running after {seconds} s: it hangs"))
}

fn mkfifo(path: &Path) -> TestResult {
    std::fs::remove_file(path)?;
    let status = std::process::Command::new("mkfifo").arg(path).status()?;
    assert!(status.success(), "mkfifo {}", path.display());
    Ok(())
}

#[test]
fn a_fifo_where_an_archive_should_be_is_an_error_not_a_hang() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 12, 9, 0.0);
    let validation = dir.path().join("validation");
    let rows = validate_into(&store, &validation)?;
    let victim = rows
        .iter()
        .find(|r| r.status == cis490_shared::validation::Status::Accepted)
        .ok_or("no accepted episode")?
        .clone();
    let fifo = store.join(&victim.path);
    mkfifo(&fifo)?;
    // validate: the archive became a FIFO after the listing.
    let episode = cis490_pipeline::store::layout::EpisodeRef {
        host_id: cis490_shared::ids::HostId::new(victim.host_id.clone())?,
        episode_id: cis490_shared::ids::EpisodeId::new(victim.episode_id.clone())?,
        path: fifo.clone(),
        rel_path: victim.path.clone(),
    };
    let row = within(20, move || validate::validate_episode(&episode, &ReadLimits::default()))?;
    assert_eq!(row.status, cis490_shared::validation::Status::Errored);
    assert!(row.details.contains("FIFO"), "{}", row.details);
    // extract: a FIFO at an indexed path.
    let (store2, validation2, features) = (store.clone(), validation.clone(), dir.path().join("features"));
    let summary = within(60, move || extract_into(&store2, &validation2, &features))?.map_err(|e| e.to_string())?;
    assert!(
        summary.skipped.iter().any(|s| s.starts_with(victim.episode_id.as_str()) && s.contains("FIFO")),
        "{:?}",
        summary.skipped
    );
    Ok(())
}

#[test]
fn a_link_planted_in_the_output_is_never_written_through() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 6, 3, 0.0);
    let out = dir.path().join("validation");
    validate_into(&store, &out)?;
    let outside: PathBuf = dir.path().join("outside.json");
    std::fs::write(&outside, b"precious")?;
    std::fs::remove_file(out.join(SUMMARY_FILE))?;
    std::os::unix::fs::symlink(&outside, out.join(SUMMARY_FILE))?;
    std::fs::write(out.join(format!(".{INDEX_FILE}.tmp-1")), b"")?;
    validate_into(&store, &out)?;
    assert_eq!(std::fs::read(&outside)?, b"precious");
    assert!(!std::fs::symlink_metadata(out.join(SUMMARY_FILE))?.file_type().is_symlink());
    Ok(())
}

#[test]
fn a_folder_that_is_not_an_earlier_output_is_not_replaced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 4, 3, 0.0);
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes)?;
    std::fs::write(notes.join("thesis.tex"), b"precious")?;
    let err = validate_into(&store, &notes).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("refusing to replace") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(notes.join("thesis.tex"))?, b"precious");
    let extracted = dir.path().join("features");
    let err = extract_into(&store, &notes, &extracted).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains(INDEX_FILE), "{err}");
    assert!(!extracted.join(EXTRACT_SUMMARY_FILE).exists());
    Ok(())
}
