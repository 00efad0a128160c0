//! Evaluation end to end: a small run (trees and an MLP, both threat
//! models) is evaluated on its split; the report's numbers are recomputed
//! from `predictions.parquet` (in Rust, and by pandas when
//! `CIS490_PYTHON` is set), the `metrics` events reach a hub, the same
//! seed gives the same report, and a model is refused on a split it was
//! not trained on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray};
use cis490_pipeline::eval::confusion::Confusion;
use cis490_pipeline::eval::{self, EvalOptions};
use cis490_pipeline::split::recipes::Recipe;
use cis490_pipeline::split::{self, SplitOptions};
use cis490_pipeline::train;
use cis490_server::hub::Hub;
use cis490_shared::label::Label;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The run and split shared by this file's tests (made once per test run,
/// under cargo's target tmp dir).
fn shared_run() -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    static MADE: std::sync::OnceLock<Result<(PathBuf, PathBuf), String>> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("eval-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        trained_run(&dir).map_err(|e| e.to_string())
    });
    made.clone().map_err(Into::into)
}

/// Features, a host split and a trained run under `dir`.
fn trained_run(dir: &Path) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let features = cis490_tests::extracted_store(dir, 90, 52, 0.1)?;
    let split_path = dir.join("split.json");
    split::run(&SplitOptions {
        features: features.clone(),
        recipe: Recipe::Host,
        test_hosts: vec!["lab-pc-02".into()],
        seed: 8,
        val_share: 0.15,
        in_distribution_share: 0.15,
        out: split_path.clone(),
    })?;
    let run = dir.join("run");
    train::run(&cis490_tests::quick_train_options(features, split_path.clone(), run.clone(), &["gbt", "mlp"])?)?;
    Ok((run, split_path))
}

fn options(run: &Path, split: &Path, out: &Path) -> EvalOptions {
    EvalOptions {
        run: run.to_path_buf(),
        split: split.to_path_buf(),
        features: None,
        out: out.to_path_buf(),
        resamples: 500,
        seed: 490,
        confidence: 0.95,
        publisher: None,
        force: false,
        device: Default::default(),
    }
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, Box<dyn std::error::Error>> {
    Ok(batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>()).ok_or(name.to_string())?)
}

/// Confusion matrices per (model, variant, split).
type ConfusionBySource = BTreeMap<(String, String, String), Confusion>;

/// Confusion matrices per (model, variant, split) from the predictions file.
fn confusions(path: &Path) -> Result<ConfusionBySource, Box<dyn std::error::Error>> {
    let mut out = ConfusionBySource::new();
    let index = |s: &str| -> Result<usize, Box<dyn std::error::Error>> { Ok(s.parse::<Label>()?.index()) };
    for batch in ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?.build()? {
        let batch = batch?;
        let [model, variant, split, truth, predicted] =
            ["model", "variant", "split", "truth", "predicted"].map(|n| strings(&batch, n));
        let (model, variant, split, truth, predicted) = (model?, variant?, split?, truth?, predicted?);
        for row in 0..batch.num_rows() {
            let key = (model.value(row).to_string(), variant.value(row).to_string(), split.value(row).to_string());
            out.entry(key)
                .or_insert_with(|| Confusion::new(Label::ALL.len()))
                .add(index(truth.value(row))?, index(predicted.value(row))?);
        }
    }
    Ok(out)
}

#[test]
fn a_run_is_evaluated_with_intervals_breakdowns_and_comparisons() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (run, split_path) = shared_run()?;
    let hub = std::sync::Arc::new(Hub::new());
    let out = dir.path().join("eval");
    let opts = EvalOptions { publisher: Some(hub.clone()), ..options(&run, &split_path, &out) };
    let done = eval::run(&opts)?;
    let made = split::read_split_file(&split_path)?;
    let report: Value = serde_json::from_slice(&std::fs::read(&done.report_path)?)?;
    assert_eq!(report["format"], "cis490-eval/1");
    assert_eq!(report["bootstrap"]["unit"], "episode");
    assert_eq!(report["split"]["in_distribution_source"], "in_distribution");
    let models = report["models"].as_array().ok_or("no models")?;
    assert_eq!(models.len(), 4);
    let from_file = confusions(&done.predictions_path)?;
    let mut rows = 0u64;
    for m in models {
        let name = format!("{}-{}", m["model"], m["variant"]);
        let f1 = &m["macro_f1"];
        let (lo, point, hi) = (f1["lo"].as_f64(), f1["point"].as_f64(), f1["hi"].as_f64());
        let (lo, point, hi) = (lo.ok_or("lo")?, point.ok_or("point")?, hi.ok_or("hi")?);
        assert!(lo <= point && point <= hi && hi - lo > 0.0, "{name}: {lo} {point} {hi}");
        assert!(point > 0.3, "{name}: held-out macro F1 {point}");
        assert_eq!(m["split"], "host");
        assert_eq!(m["untested_profiles"], serde_json::json!(made.untested_profiles));
        // The report's numbers are the predictions file's.
        let key = |split: &str| {
            (
                m["model"].as_str().unwrap_or("").to_string(),
                m["variant"].as_str().unwrap_or("").to_string(),
                split.into(),
            )
        };
        let held = from_file.get(&key("host")).ok_or("no held-out rows")?;
        assert!((held.macro_f1().unwrap_or_default() - point).abs() < 1e-12, "{name}");
        let inside = from_file.get(&key("in_distribution")).ok_or("no in-distribution rows")?;
        let id_point = m["in_distribution"]["macro_f1"]["point"].as_f64().ok_or("id point")?;
        assert!((inside.macro_f1().unwrap_or_default() - id_point).abs() < 1e-12, "{name}");
        let gap = m["generalization_gap"]["point"].as_f64().ok_or("gap")?;
        assert!((gap - (id_point - point)).abs() < 1e-12);
        rows += held.total() + inside.total();
        // Confusion over labels seen in truth or predictions; counts add up.
        let labels: Vec<&str> =
            m["confusion"]["labels"].as_array().ok_or("labels")?.iter().filter_map(Value::as_str).collect();
        let seen: Vec<&str> = held.present_classes().into_iter().map(|k| Label::ALL[k].as_str()).collect();
        assert_eq!(labels, seen);
        let cells: u64 = m["confusion"]["matrix"]
            .as_array()
            .ok_or("matrix")?
            .iter()
            .flat_map(|r| r.as_array().into_iter().flatten())
            .filter_map(Value::as_u64)
            .sum();
        assert_eq!(cells, m["windows"].as_u64().ok_or("windows")?);
        let support: u64 =
            m["per_class"].as_array().ok_or("per_class")?.iter().filter_map(|c| c["support"].as_u64()).sum();
        assert_eq!(support, cells);
        // Breakdowns: the held-out host alone; profiles of the test episodes.
        assert_eq!(m["per_host"].as_array().map(Vec::len), Some(1));
        assert_eq!(m["per_host"][0]["name"], "lab-pc-02");
        let profile_windows: u64 =
            m["per_profile"].as_array().ok_or("per_profile")?.iter().filter_map(|p| p["windows"].as_u64()).sum();
        assert_eq!(profile_windows, cells);
    }
    assert_eq!(rows, done.prediction_rows as u64);
    // Comparisons: the pair under each variant and realistic vs oracle per model.
    let comparisons = report["comparisons"].as_array().ok_or("comparisons")?;
    assert_eq!(comparisons.len(), 4);
    for c in comparisons {
        let (p, holm) = (c["p_value"].as_f64().ok_or("p")?, c["p_holm"].as_f64().ok_or("p_holm")?);
        assert!(0.0 < p && p <= holm && holm <= 1.0, "{c}");
        assert_eq!(c["significant"], holm < 0.05);
    }
    // metrics events reached the hub, one per entry, with their comparisons.
    let snapshot = hub.snapshot_json();
    let events: Vec<&Value> =
        snapshot.as_array().ok_or("snapshot")?.iter().filter(|e| e["type"] == "metrics").collect();
    assert_eq!(events.len(), models.len());
    for m in models {
        let event = events
            .iter()
            .find(|e| e["model"] == m["model"] && e["variant"] == m["variant"])
            .ok_or("an entry has no metrics event")?;
        for field in ["model", "variant", "split", "macro_f1", "per_class", "confusion"] {
            assert_eq!(event[field], m[field], "{field}");
        }
        assert_eq!(event["comparisons"].as_array().map(Vec::len), Some(2), "each model is in two comparisons");
    }
    // The same seed gives the same report.
    let again = eval::run(&options(&run, &split_path, &dir.path().join("again")))?;
    assert_eq!(serde_json::to_value(&again.report)?, serde_json::to_value(&done.report)?);
    // pandas recomputes every point score from the predictions file.
    if let Some(python) = cis490_tests::peer_python("pandas evaluation check", "pandas, pyarrow and numpy") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/check_eval.py");
        let result = std::process::Command::new(python).arg(script).arg(&out).output()?;
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(result.status.success(), "check_eval.py failed:\n{stdout}{}", String::from_utf8_lossy(&result.stderr));
        assert_eq!(stdout.lines().filter(|l| l.contains(": ok,")).count(), 4, "{stdout}");
    }
    Ok(())
}

#[test]
fn models_are_refused_on_a_split_they_were_not_trained_on() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (run, split_path) = shared_run()?;
    let made = split::read_split_file(&split_path)?;
    let other = dir.path().join("other.json");
    split::run(&SplitOptions {
        features: PathBuf::from(&made.features),
        recipe: Recipe::Time,
        test_hosts: Vec::new(),
        seed: 8,
        val_share: 0.15,
        in_distribution_share: 0.15,
        out: other.clone(),
    })?;
    let err = eval::run(&options(&run, &other, &dir.path().join("e"))).err().ok_or("scored on another split")?;
    let text = cis490_shared::error_chain(&err);
    assert!(text.contains("trained on another split") && text.contains("checkpoint.bin"), "{text}");
    // Clear errors for a missing run, a missing split and too few resamples.
    let nowhere = dir.path().join("nowhere");
    let err = eval::run(&options(&nowhere, &split_path, &dir.path().join("e"))).err().ok_or("missing run")?;
    assert!(err.to_string().contains("nowhere"), "{err}");
    let err = eval::run(&options(&run, &nowhere, &dir.path().join("e"))).err().ok_or("missing split")?;
    assert!(err.to_string().contains("nowhere"), "{err}");
    // A damaged checkpoint is skipped with its reason; the others are scored.
    let copy = dir.path().join("copy");
    for model in ["gbt-realistic", "mlp-realistic"] {
        std::fs::create_dir_all(copy.join(model))?;
        for file in ["checkpoint.bin", "model.onnx"] {
            std::fs::copy(run.join(model).join(file), copy.join(model).join(file))?;
        }
    }
    std::fs::write(copy.join("mlp-realistic/checkpoint.bin"), b"CIS490CK garbage")?;
    let partial = eval::run(&options(&copy, &split_path, &dir.path().join("partial")))?;
    assert_eq!(partial.report.models.len(), 1);
    assert_eq!(partial.report.skipped.len(), 1);
    assert!(partial.report.skipped[0].checkpoint.contains("mlp-realistic"), "{:?}", partial.report.skipped);
    assert!(partial.report.comparisons.is_empty());
    let few = EvalOptions { resamples: 10, ..options(&run, &split_path, &dir.path().join("e")) };
    let err = eval::run(&few).err().ok_or("10 resamples accepted")?;
    assert!(err.to_string().contains("--resamples"), "{err}");
    assert!(!dir.path().join("e").join("report.json").exists(), "a failed evaluation wrote a report");
    Ok(())
}
