//! Incremental sweeps: a store that gained, changed and lost archives
//! since its last validation is validated again reading only the new and
//! changed archives, and the index and summary equal a full sweep's; the
//! extraction after it extracts only new and changed episodes and holds
//! exactly the rows of a full extraction.

use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array};
use cis490_pipeline::extract::{self, ExtractSummary};
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::validate::{SUMMARY_FILE, index::INDEX_FILE};
use cis490_tests::{extract_store, small_store, validate_store, validate_store_with};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn archives(store: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for host in std::fs::read_dir(store)? {
        let host = host?.path();
        if host.is_dir() {
            for ep in std::fs::read_dir(&host)? {
                out.push(ep?.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn digest(path: &Path) -> Result<String, std::io::Error> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

/// The index and summary of `a` and `b` are the same bytes.
fn same_outputs(a: &Path, b: &Path) -> TestResult {
    assert_eq!(digest(&a.join(INDEX_FILE))?, digest(&b.join(INDEX_FILE))?, "index");
    let summary = |p: &Path| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join(SUMMARY_FILE))?)?;
        // The summary names the index's digest (checked above) and the store.
        if let Some(o) = v.as_object_mut() {
            o.remove("index_sha256");
        }
        Ok(v)
    };
    assert_eq!(summary(a)?, summary(b)?, "summary");
    Ok(())
}

#[test]
fn a_grown_store_is_validated_reading_only_new_and_changed_archives() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 40, 1414, 0.2);
    let all = archives(&store)?;
    assert!(all.len() >= 40);

    // Three archives arrive later: set them aside for the first sweep.
    let later = dir.path().join("later");
    std::fs::create_dir(&later)?;
    let mut held = Vec::new();
    for (i, path) in all.iter().enumerate().filter(|(i, _)| i % 13 == 5) {
        let aside = later.join(format!("{i}"));
        std::fs::rename(path, &aside)?;
        held.push((aside, path.clone()));
    }
    let out = dir.path().join("validation");
    let first = validate_store(&store, &out)?;
    assert_eq!(first.reused, 0, "nothing to reuse the first time");
    let features = dir.path().join("features");
    let first_extract = extract_store(&store, &out, &features)?;
    assert_eq!(first_extract.reused_episodes, 0);
    assert_eq!(first.rows.len(), all.len() - held.len());

    // The store grows, one archive changes, one is touched, one leaves.
    for (aside, path) in &held {
        std::fs::rename(aside, path)?;
    }
    let changed = &all[2];
    let mut bytes = std::fs::read(changed)?;
    bytes.truncate(bytes.len() / 2);
    std::fs::write(changed, &bytes)?;
    let touched = &all[3];
    let same = std::fs::read(touched)?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(touched, &same)?;
    std::fs::remove_file(&all[4])?;

    let second = validate_store(&store, &out)?;
    let expected_reused = first.rows.len() - 3; // changed, touched and deleted are not reused
    assert_eq!(second.reused as usize, expected_reused, "reused rows");
    assert_eq!(second.rows.len(), all.len() - 1);
    assert!(second.rows.iter().any(|r| r.path.ends_with(&*changed.file_name().unwrap_or_default().to_string_lossy())
        && r.status != cis490_shared::validation::Status::Accepted));

    // Exactly what a full sweep writes.
    let full_out = dir.path().join("full");
    let full = validate_store_with(&store, &full_out, true, ReadLimits::default())?;
    assert_eq!(full.reused, 0);
    assert_eq!(second.rows, full.rows);
    same_outputs(&out, &full_out)?;

    // Extraction: only the new and changed episodes are extracted, and the
    // folder holds exactly the rows of a full extraction.
    let second_extract = extract_store(&store, &out, &features)?;
    let full_features = dir.path().join("full-features");
    let full_extract = extract_store(&store, &out, &full_features)?;
    assert_eq!(full_extract.reused_episodes, 0);
    let usable_before = first_extract.episodes;
    assert!(
        second_extract.reused_episodes + 3 >= usable_before && second_extract.reused_episodes < usable_before,
        "reused {} of {usable_before}",
        second_extract.reused_episodes
    );
    same_features(&features, &full_features, &second_extract, &full_extract)?;
    // Nothing changed: every shard is kept.
    let again = extract_store(&store, &out, &features)?;
    assert_eq!(again.reused_episodes, again.episodes);
    same_features(&features, &full_features, &again, &full_extract)?;

    // Unchanged store: everything reused, same outputs.
    let third = validate_store(&store, &out)?;
    assert_eq!(third.reused as usize, third.rows.len());
    same_outputs(&out, &full_out)?;

    // A damaged cache (validate) or cache file (extract) means a full run,
    // with the same outputs, never an error or a wrong row.
    std::fs::write(out.join("validation_cache_v1.json"), b"{\"key\": [1, 2")?;
    assert_eq!(validate_store(&store, &out)?.reused, 0, "damaged validation cache");
    same_outputs(&out, &full_out)?;
    std::fs::write(features.join("extract_cache_v1.json"), vec![b'['; 1 << 16])?;
    let rebuilt = extract_store(&store, &out, &features)?;
    assert_eq!(rebuilt.reused_episodes, 0, "damaged extraction cache");
    same_features(&features, &full_features, &rebuilt, &full_extract)?;

    // --full and other limits read everything again.
    assert_eq!(validate_store_with(&store, &out, true, ReadLimits::default())?.reused, 0);
    let other = ReadLimits { max_span_s: 3 * 3600, ..ReadLimits::default() };
    assert_eq!(validate_store_with(&store, &out, false, other)?.reused, 0, "limits changed");
    assert_eq!(validate_store(&store, &out)?.reused, 0, "and back");

    // Another store's sweep in the folder is never reused.
    let other_store = dir.path().join("other-store");
    small_store(&other_store, 5, 7, 0.0);
    let other_sweep = validate_store(&other_store, &out)?;
    assert_eq!(other_sweep.reused, 0);
    assert_eq!(other_sweep.rows.len(), archives(&other_store)?.len());
    Ok(())
}

/// Every row of a kind's shards, sorted by episode and window start.
fn sorted_rows(features: &Path, kind: &str) -> Result<RecordBatch, Box<dyn std::error::Error>> {
    let mut batches = Vec::new();
    for path in extract::shard_files(features, kind)? {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path)?)?.build()?;
        for batch in reader {
            batches.push(batch?);
        }
    }
    let schema = batches.first().ok_or("no rows")?.schema();
    let all = arrow_select::concat::concat_batches(&schema, &batches)?;
    let ids = all.column_by_name("episode_id").and_then(|c| c.as_any().downcast_ref::<StringArray>()).ok_or("ids")?;
    let starts =
        all.column_by_name("window_start_s").and_then(|c| c.as_any().downcast_ref::<Float64Array>()).ok_or("starts")?;
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by(|a, b| {
        let (a, b) = (*a as usize, *b as usize);
        ids.value(a).cmp(ids.value(b)).then(starts.value(a).total_cmp(&starts.value(b)))
    });
    Ok(arrow_select::take::take_record_batch(&all, &UInt32Array::from(order))?)
}

/// Two feature folders hold the same rows and their summaries the same counts.
fn same_features(a: &Path, b: &Path, sa: &ExtractSummary, sb: &ExtractSummary) -> TestResult {
    for kind in ["summary", "tensors"] {
        assert!(sorted_rows(a, kind)? == sorted_rows(b, kind)?, "{kind} rows differ");
    }
    assert_eq!(
        (sa.indexed, sa.episodes, sa.windows, sa.dropped_windows, &sa.skipped, &sa.index_sha256),
        (sb.indexed, sb.episodes, sb.windows, sb.dropped_windows, &sb.skipped, &sb.index_sha256)
    );
    Ok(())
}
