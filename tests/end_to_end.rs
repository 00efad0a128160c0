//! End-to-end: the generator's store, validated, gives exactly the statuses
//! and reasons the generator planned; the index reads back with the spec's
//! columns; the same seed gives the same bytes.

use std::collections::BTreeMap;
use std::fs;

use arrow_array::{Array, StringArray};
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::synth::{self, SynthOptions};
use cis490_pipeline::validate::{self, ValidateOptions};
use cis490_shared::validation::Status;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn synth_then_validate_gives_the_planned_statuses_and_reasons() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let report = cis490_tests::small_store(&store, 240, 11, 0.3);
    let out = dir.path().join("validation");
    let sweep = cis490_tests::validate_store(&store, &out)?;
    assert_eq!(sweep.rows.len(), 240);
    let mut wrong = Vec::new();
    let by_id: BTreeMap<&str, &validate::index::IndexRow> =
        sweep.rows.iter().map(|r| (r.episode_id.as_str(), r)).collect();
    for plan in &report.plans {
        let row = by_id.get(plan.episode_id.as_str()).ok_or("episode missing from the index")?;
        let expected = plan.fault.map_or(Status::Accepted, |f| f.expected_status());
        let reason_ok =
            plan.fault.is_none_or(|f| row.reasons.iter().any(|r| r.to_string().starts_with(f.expected_reason())));
        if row.status != expected || !reason_ok {
            wrong.push(format!(
                "{} {:?}: got {} {:?} ({})",
                row.episode_id, plan.fault, row.status, row.reasons, row.details
            ));
        }
    }
    assert!(wrong.is_empty(), "{} episodes judged unlike the plan:\n{}", wrong.len(), wrong.join("\n"));
    Ok(())
}

#[test]
fn the_default_mix_resembles_the_real_corpus() -> TestResult {
    let opts = SynthOptions::default();
    let (_, plans) = synth::plan_store(&opts);
    let mut counts = BTreeMap::new();
    for p in &plans {
        *counts.entry(p.fault.map_or(Status::Accepted, |f| f.expected_status())).or_insert(0usize) += 1;
    }
    let share = |s| counts.get(&s).copied().unwrap_or(0) as f64 / plans.len() as f64;
    assert!((0.80..0.88).contains(&share(Status::Accepted)), "{counts:?}");
    assert!((0.08..0.12).contains(&share(Status::Degraded)), "{counts:?}");
    assert!((0.03..0.07).contains(&share(Status::Rejected)), "{counts:?}");
    assert!((0.002..0.015).contains(&share(Status::Errored)), "{counts:?}");
    Ok(())
}

#[test]
fn the_same_seed_writes_the_same_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    cis490_tests::small_store(&a, 12, 5, 0.5);
    cis490_tests::small_store(&b, 12, 5, 0.5);
    cis490_tests::small_store(&c, 12, 6, 0.5);
    let read_all = |root: &std::path::Path| -> Result<BTreeMap<String, Vec<u8>>, std::io::Error> {
        let mut files = BTreeMap::new();
        for host in fs::read_dir(root)? {
            let host = host?;
            for ep in fs::read_dir(host.path())? {
                let ep = ep?;
                let key = format!("{}/{}", host.file_name().to_string_lossy(), ep.file_name().to_string_lossy());
                files.insert(key, fs::read(ep.path())?);
            }
        }
        Ok(files)
    };
    let (fa, fb, fc) = (read_all(&a)?, read_all(&b)?, read_all(&c)?);
    assert_eq!(fa.len(), 12);
    assert!(fa == fb, "same seed, different bytes");
    assert!(fa != fc, "different seeds, same bytes");
    Ok(())
}

#[test]
fn the_index_has_the_spec_columns_and_reads_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    cis490_tests::small_store(&store, 40, 3, 0.3);
    fs::write(store.join("README.txt"), "not an episode")?;
    fs::create_dir_all(store.join("Bad_Host"))?;
    let out = dir.path().join("validation");
    let opts = ValidateOptions {
        store,
        out: out.clone(),
        jobs: 1,
        limits: ReadLimits::default(),
        progress: false,
        force: false,
        full: false,
        shard: None,
    };
    let sweep = validate::run(&opts, &|_, _, _| {})?;
    assert_eq!(sweep.summary.skipped_paths.len(), 2);
    let file = fs::File::open(out.join("validation_v1.parquet"))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch?;
        let schema = batch.schema();
        for col in [
            "episode_id",
            "host_id",
            "profile",
            "sample_id",
            "status",
            "reasons",
            "started_wall_ns",
            "duration_s",
            "rows_proc",
            "rows_guest",
            "rows_qmp",
            "rows_netflow",
            "archive_sha256",
            "archive_bytes",
            "path",
        ] {
            assert!(schema.field_with_name(col).is_ok(), "column {col} missing");
        }
        let status = batch.column_by_name("status").and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let status = status.ok_or("status is not a string column")?;
        assert_eq!(status.null_count(), 0);
        rows += batch.num_rows();
    }
    assert_eq!(rows, 40);
    let summary: cis490_shared::validation::ValidationSummary =
        serde_json::from_slice(&fs::read(out.join("validation_summary.json"))?)?;
    assert_eq!(summary.total, 40);
    // Nothing but the two outputs and the incremental-sweep cache in the output folder.
    let mut names: Vec<String> = fs::read_dir(&out)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(names, ["validation_cache_v1.json", "validation_summary.json", "validation_v1.parquet"]);
    Ok(())
}

/// The index as lab users read it: pyarrow and pandas (`tests/python/check_index.py`).
/// Runs when `CIS490_PYTHON` names a Python with both (the test command sets it).
#[test]
fn pandas_and_pyarrow_read_the_index() -> TestResult {
    let Some(python) = cis490_tests::peer_python("pandas check", "pyarrow and pandas") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    cis490_tests::small_store(&store, 60, 9, 0.5);
    let out = dir.path().join("validation");
    cis490_tests::validate_store(&store, &out)?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/check_index.py");
    let result = std::process::Command::new(python).arg(script).arg(&out).arg("60").output()?;
    assert!(
        result.status.success(),
        "check_index.py failed:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    Ok(())
}
