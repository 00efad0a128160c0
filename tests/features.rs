//! Feature extraction end to end: the clock-base regression, shards that
//! read back to exactly what the per-episode API computes, determinism.

use std::collections::BTreeMap;
use std::fs;

use arrow_array::{Array, FixedSizeListArray, Float32Array, Float64Array, StringArray};
use cis490_pipeline::extract::episode::{extract_episode, features_of};
use cis490_pipeline::store::archive::{ReadLimits, read_archive_from};
use cis490_shared::features::stats::{SUMMARY_LEN, summary_names};
use cis490_shared::registry::CHANNELS;
use cis490_tests::EpisodeFixture;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One window read from the shards: start, summary features, tensor.
type ShardRow = (f64, Vec<f32>, Vec<f32>);

fn channel(name: &str) -> usize {
    CHANNELS.iter().position(|c| c.name() == name).unwrap_or(usize::MAX)
}

/// The clock-base regression: netflow's `t_mono_ns` is on the flow
/// collector's clock, days away from the host's. Aligned on `t_wall_ns`
/// every netflow channel is observed in every window; aligned on
/// `t_mono_ns` none would be.
#[test]
fn netflow_features_are_present_although_its_monotonic_clock_differs() -> TestResult {
    let fx = EpisodeFixture::clean();
    let (_, archive) = read_archive_from(fx.build().as_slice(), &ReadLimits::default());
    let mut archive = archive?;
    let netflow_mono = archive.source(cis490_shared::registry::Source::Netflow).map(|t| t.t_mono_ns[0]);
    let proc_mono = archive.source(cis490_shared::registry::Source::Proc).map(|t| t.t_mono_ns[0]);
    assert!(
        netflow_mono.zip(proc_mono).is_some_and(|(n, p)| (n - p).abs() > 100_000_000_000_000),
        "fixture clocks differ"
    );
    cis490_pipeline::validate::rules::judge(
        &mut archive,
        cis490_tests::HOST,
        cis490_tests::EPISODE,
        &ReadLimits::default(),
    );
    let ep = features_of(&archive, &ReadLimits::default())?;
    assert_eq!(ep.windows.len() + ep.dropped, 11);
    let syn = channel("netflow.syn_count");
    for f in &ep.features {
        let mask = &f.mask[syn * 20..(syn + 1) * 20];
        assert!(mask.iter().all(|m| *m == 1), "netflow.syn_count observed in every step");
        assert!(f.summary[syn * 6].is_finite(), "netflow.syn_count.mean is a number");
    }
    Ok(())
}

#[test]
fn windows_carry_the_labels_of_the_timeline() -> TestResult {
    let fx = EpisodeFixture::clean();
    let (_, archive) = read_archive_from(fx.build().as_slice(), &ReadLimits::default());
    let mut archive = archive?;
    cis490_pipeline::validate::rules::judge(
        &mut archive,
        cis490_tests::HOST,
        cis490_tests::EPISODE,
        &ReadLimits::default(),
    );
    let ep = features_of(&archive, &ReadLimits::default())?;
    // benign 0-20, cpu-saturate 20-50, benign 50-60: windows at 0,5,10 benign;
    // 15 straddles (50/50); 20..40 attack; 45 straddles; 50 benign.
    let labels: Vec<(f64, String)> = ep.windows.iter().map(|w| (w.start_s, w.label.to_string())).collect();
    assert_eq!(labels.len(), 9, "{labels:?}");
    assert_eq!(ep.dropped, 2);
    assert_eq!(labels[3], (20.0, "cpu-saturate".to_string()));
    assert_eq!(labels[8], (50.0, "benign".to_string()));
    Ok(())
}

fn extract_store(dir: &std::path::Path, episodes: u64) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    cis490_tests::extracted_store(dir, episodes, 21, 0.2)
}

#[test]
fn shards_read_back_to_what_the_episode_api_computes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = extract_store(dir.path(), 16)?;
    let summary_file = fs::File::open(out.join("summary/part-00000.parquet"))?;
    let tensor_file = fs::File::open(out.join("tensors/part-00000.parquet"))?;
    let summary = ParquetRecordBatchReaderBuilder::try_new(summary_file)?.build()?.collect::<Result<Vec<_>, _>>()?;
    let tensors = ParquetRecordBatchReaderBuilder::try_new(tensor_file)?.build()?.collect::<Result<Vec<_>, _>>()?;
    let names = summary_names();
    let mut checked = 0;
    let mut per_episode: BTreeMap<String, Vec<ShardRow>> = BTreeMap::new();
    for (s, t) in summary.iter().zip(&tensors) {
        assert_eq!(s.num_rows(), t.num_rows(), "same rows in both shards");
        let ids = s
            .column_by_name("episode_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or("episode_id")?;
        let tids = t
            .column_by_name("episode_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or("tensor episode_id")?;
        let starts = s
            .column_by_name("window_start_s")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or("start")?;
        let tensor =
            t.column_by_name("tensor").and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>()).ok_or("tensor")?;
        for row in 0..s.num_rows() {
            assert_eq!(ids.value(row), tids.value(row));
            let mut values = Vec::with_capacity(SUMMARY_LEN);
            for name in &names {
                let col =
                    s.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<Float32Array>()).ok_or("feature")?;
                values.push(col.value(row));
            }
            let cells = tensor.value(row);
            let cells = cells.as_any().downcast_ref::<Float32Array>().ok_or("cells")?;
            per_episode.entry(ids.value(row).to_string()).or_default().push((
                starts.value(row),
                values,
                cells.values().to_vec(),
            ));
        }
    }
    for (episode_id, rows) in &per_episode {
        let host = fs::read_dir(dir.path().join("store"))?
            .filter_map(Result::ok)
            .find(|h| h.path().join(format!("{episode_id}.tar.zst")).exists())
            .ok_or("episode file")?;
        let path = host.path().join(format!("{episode_id}.tar.zst"));
        let ep = extract_episode(&path, &ReadLimits::default())?;
        assert_eq!(ep.windows.len(), rows.len(), "{episode_id}");
        for ((w, f), (start, summary, tensor)) in ep.windows.iter().zip(&ep.features).zip(rows) {
            assert_eq!(w.start_s, *start);
            for (a, b) in f.summary.iter().zip(summary) {
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{episode_id}: {a} vs {b}");
            }
            assert_eq!(&f.tensor, tensor);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} windows checked");
    Ok(())
}

#[test]
fn extraction_is_deterministic() -> TestResult {
    let a = tempfile::tempdir()?;
    let b = tempfile::tempdir()?;
    let (fa, fb) = (extract_store(a.path(), 10)?, extract_store(b.path(), 10)?);
    for kind in ["summary", "tensors"] {
        let read = |root: &std::path::Path| fs::read(root.join(kind).join("part-00000.parquet"));
        assert!(read(&fa)? == read(&fb)?, "{kind} shards differ between runs");
    }
    Ok(())
}

/// An independent numpy implementation (`bench/features_numpy.py`, written
/// from the docs) computes the same summary features as the Rust extractor.
/// Runs when `CIS490_PYTHON` names a Python with numpy, pyarrow, pandas and
/// zstandard (the test command sets it).
#[test]
fn a_numpy_implementation_agrees_with_the_extractor() -> TestResult {
    let Some(python) = cis490_tests::peer_python("numpy check", "numpy, pyarrow, pandas and zstandard") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let feats = extract_store(dir.path(), 14)?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let result = std::process::Command::new(python)
        .arg(root.join("bench/features_numpy.py"))
        .arg(dir.path().join("store"))
        .arg(dir.path().join("validation/validation_v1.parquet"))
        .arg(dir.path().join("numpy.parquet"))
        .arg("--compare")
        .arg(&feats)
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    assert!(result.status.success(), "features_numpy.py failed:\n{text}");
    assert!(text.contains("agreement:"), "{text}");
    Ok(())
}
