//! Training end to end: all six architectures train under both threat
//! models on a small extracted store, their checkpoints load, their ONNX
//! files run in tract (and onnxruntime) with the native probabilities,
//! training is deterministic, and foreign or damaged checkpoints are
//! refused clearly.

use std::path::Path;

use cis490_models::Classifier;
use cis490_models::checkpoint::{self, CheckpointError};
use cis490_models::variant::Variant;
use cis490_pipeline::extract::shards::windows::{self as dataset, FeatureKind};
use cis490_pipeline::train::{self, TrainOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn options(dir: &Path, models: &[&str]) -> Result<TrainOptions, Box<dyn std::error::Error>> {
    let (features, split_path, _) = cis490_tests::small_time_split(dir)?;
    Ok(cis490_tests::quick_train_options(features, split_path, dir.join("run"), models)?)
}

fn val_ids(opts: &TrainOptions) -> Result<std::collections::BTreeSet<String>, Box<dyn std::error::Error>> {
    let split = cis490_pipeline::split::read_split_file(&opts.split)?;
    Ok(split.val.iter().cloned().collect())
}

/// Every model × variant trains and loads; every exported `model.onnx`
/// runs in tract with the native model's probabilities (within 1e-4) on the
/// split's validation windows, the trees' also on the compact evaluator
/// (within 1e-5), and carries the checkpoint's facts; then
/// onnxruntime opens every file and agrees with tract
/// (`tests/python/check_onnx.py`, when `CIS490_PYTHON` is set).
#[test]
fn all_six_architectures_train_export_and_agree_in_tract_and_onnxruntime() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt", "mlp", "cnn", "gru", "lstm", "transformer"])?;
    let trained = train::run(&opts)?;
    assert_eq!(trained.len(), 12);
    let val = val_ids(&opts)?;
    for t in &trained {
        let name = format!("{}-{}", t.model, t.variant.as_str());
        assert!(t.val_macro_f1 > 0.3, "{name}: validation macro F1 {}", t.val_macro_f1);
        let (header, model) = train::load_model(&t.checkpoint)?;
        assert_eq!(header.variant, t.variant);
        assert_eq!(header.labels.len(), 7);
        assert_eq!(header.norm_mean.len(), header.feature_names.len());
        assert_eq!(header.channels.len(), t.variant.channel_indices().len());
        let kind = if t.model == "gbt" || t.model == "mlp" { FeatureKind::Summary } else { FeatureKind::Tensor };
        let table = dataset::windows(&opts.features, &val, t.variant, kind)?.table;
        assert!(table.rows > 10);
        let rows: Vec<&[f32]> = table.x.chunks(table.cols).collect();
        let native: Vec<f32> = model.predict_proba(&rows)?.into_iter().flatten().collect();
        let bytes = std::fs::read(&t.onnx)?;
        let mut shape = vec![table.rows];
        shape.extend(model.input_dims());
        let via_tract = cis490_models::onnx::run_tract(&bytes, &table.x, &shape)?;
        assert_eq!(native.len(), via_tract.len());
        let worst = native.iter().zip(&via_tract).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{name}: tract differs from the native model by {worst}");
        // What the replay, the bench and the browser run: the trees on the compact evaluator.
        let runner = cis490_models::onnx::OnnxRunner::new(&bytes, &shape)?;
        assert_eq!(runner.engine(), if t.model == "gbt" { "trees" } else { "tract" }, "{name}");
        if runner.engine() == "trees" {
            let by_trees = runner.probabilities(&table.x)?;
            let worst = native.iter().zip(&by_trees).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 1e-5, "{name}: the tree evaluator differs from hessboost by {worst}");
        }
        let meta: std::collections::BTreeMap<_, _> = cis490_models::onnx::metadata(&bytes)?.into_iter().collect();
        assert_eq!(meta.get("schema_hash"), Some(&header.schema_hash));
        assert_eq!(meta.get("architecture"), Some(&t.model));
        assert_eq!(meta.get("variant").map(String::as_str), Some(t.variant.as_str()));
        // Inputs and tract's answer for the onnxruntime check.
        let model_dir = t.onnx.parent().ok_or("no model folder")?;
        std::fs::write(model_dir.join("inputs.bin"), table.x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())?;
        std::fs::write(model_dir.join("inputs.json"), serde_json::json!({ "shape": shape }).to_string())?;
        std::fs::write(
            model_dir.join("tract.bin"),
            via_tract.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
        )?;
    }
    let Some(python) = cis490_tests::peer_python("onnxruntime check", "onnxruntime") else {
        return Ok(());
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/check_onnx.py");
    let result = std::process::Command::new(python).arg(script).arg(&opts.out).output()?;
    assert!(
        result.status.success(),
        "check_onnx.py failed:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&result.stdout).lines().filter(|l| l.contains(" ok,")).count(), 12);
    Ok(())
}

/// Training again with the same seed writes the same weights, for trees and networks.
#[test]
fn training_is_deterministic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = TrainOptions { variants: vec![Variant::Realistic], ..options(dir.path(), &["gbt", "gru"])? };
    let first = train::run(&opts)?;
    let again = train::run(&TrainOptions { out: dir.path().join("again"), ..opts })?;
    let weights = |p: &Path| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        Ok(checkpoint::decode(&std::fs::read(p)?)?.1.to_vec())
    };
    // The ONNX graphs are identical too (metadata holds the training time, so compare graphs).
    let graph = |p: &Path| -> Result<Option<tract_onnx::pb::GraphProto>, Box<dyn std::error::Error>> {
        use prost::Message;
        Ok(tract_onnx::pb::ModelProto::decode(std::fs::read(p)?.as_slice())?.graph)
    };
    assert_eq!(first.len(), 2);
    for (a, b) in first.iter().zip(&again) {
        assert!(weights(&a.checkpoint)? == weights(&b.checkpoint)?, "{} weights changed between runs", a.model);
        assert!(graph(&a.onnx)? == graph(&b.onnx)?, "{} ONNX graph changed between runs", a.model);
    }
    Ok(())
}

#[test]
fn foreign_or_damaged_checkpoints_are_refused_by_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = TrainOptions { variants: vec![Variant::Realistic], ..options(dir.path(), &["gbt", "cnn"])? };
    for t in train::run(&opts)? {
        let path = &t.checkpoint;
        let bytes = std::fs::read(path)?;
        let (mut header, weights) = checkpoint::decode(&bytes)?;
        header.schema_hash = "f".repeat(64);
        std::fs::write(path, checkpoint::encode(&header, weights)?)?;
        let err = cis490_shared::error_chain(&train::load_model(path).err().ok_or("a foreign schema loaded")?);
        assert!(err.contains(&"f".repeat(64)) && err.contains(&cis490_shared::registry::schema_hash()), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        std::fs::write(path, &bytes[..bytes.len() - 9])?;
        let err = train::load_model(path).err().ok_or("a truncated checkpoint loaded")?;
        assert!(
            matches!(
                &err,
                train::TrainError::Checkpoint { source: CheckpointError::Corrupt(_), .. }
                    | train::TrainError::Model { .. }
            ),
            "{err}"
        );
        std::fs::write(path, b"hello")?;
        let err = train::load_model(path).err().map(|e| cis490_shared::error_chain(&e)).unwrap_or_default();
        assert!(err.contains("not a cis490 checkpoint"), "{err}");
    }
    Ok(())
}

#[test]
fn unknown_models_and_variants_are_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt"])?;
    let err = train::parse_models(&["forest".into()]).err().ok_or("accepted")?;
    assert!(err.to_string().contains("forest") && err.to_string().contains("transformer"), "{err}");
    let err = train::run(&TrainOptions { models: vec![], ..opts.clone() }).err().ok_or("accepted")?;
    assert!(err.to_string().contains("no models"), "{err}");
    let err = train::run(&TrainOptions { variants: vec![], ..opts }).err().ok_or("accepted")?;
    assert!(err.to_string().contains("variants"), "{err}");
    Ok(())
}

/// `replay --models RUN`: every model of a run predicts every kept window
/// of a replayed episode; the events give every label a probability and
/// agree with the checkpoint's native model.
#[test]
fn a_runs_models_predict_replayed_windows() -> TestResult {
    use cis490_pipeline::extract::episode::extract_episode;
    use cis490_pipeline::producers::predictions::{load_run, prediction_events};
    use cis490_pipeline::store::archive::ReadLimits;
    let dir = tempfile::tempdir()?;
    let mut opts = TrainOptions { variants: vec![Variant::Realistic], ..options(dir.path(), &["gbt", "cnn"])? };
    opts.settings.neural.max_epochs = 1;
    let trained = train::run(&opts)?;
    let models = load_run(&opts.out)?;
    assert_eq!(models.len(), 2);
    let index = cis490_pipeline::validate::index::read_index(&dir.path().join("validation/validation_v1.parquet"))?;
    let row =
        index.iter().find(|r| r.status == cis490_shared::validation::Status::Accepted).ok_or("no accepted episode")?;
    let episode = extract_episode(&dir.path().join("store").join(&row.path), &ReadLimits::default())?;
    let events = prediction_events(&models, &episode, row.episode_id.as_str());
    assert_eq!(events.len(), episode.windows.len() * 2);
    let (_, gbt) = train::load_model(&trained[0].checkpoint)?;
    let first_summary: Vec<f32> =
        Variant::Realistic.summary_indices().iter().map(|i| episode.features[0].summary[*i]).collect();
    let native = gbt.predict_proba(&[&first_summary])?[0];
    for (step, event) in &events {
        let total: f64 = event.probabilities().map(|(_, p)| p).sum();
        assert_eq!(event.probabilities().count(), 7, "{event:?}");
        assert!((total - 1.0).abs() < 1e-4, "{event:?}");
        assert!(event.latency_us.as_f64() > 0.0);
        assert_eq!(event.t_s.as_f64(), *step as f64 * 0.5);
    }
    let (_, first) = events.iter().find(|(_, e)| e.model == "gbt").ok_or("no gbt event")?;
    let benign = first.probability("benign").ok_or("no benign probability")?;
    assert!((benign - f64::from(native[0])).abs() < 1e-4, "tract {benign} vs native {}", native[0]);
    Ok(())
}

/// The weights and the curve (loss, validation F1, learning rate per
/// epoch) of a checkpoint: what an interrupted and resumed run must share
/// with an uninterrupted one (wall times differ).
fn weights_and_curve(path: &Path) -> Result<(Vec<u8>, Vec<serde_json::Value>), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let (header, weights) = checkpoint::decode(&bytes)?;
    let history = header.training["details"]["history"].as_array().cloned().unwrap_or_default();
    let curve =
        history.iter().map(|e| serde_json::json!([e["epoch"], e["train_loss"], e["val_macro_f1"], e["lr"]])).collect();
    Ok((weights.to_vec(), curve))
}

/// A run stopped during a network's third epoch and resumed with
/// `resume` ends with the very model an uninterrupted run of the same seed
/// trains; the trees it finished before the stop are kept, not retrained;
/// a state left by another run is refused by name.
#[test]
fn an_interrupted_run_resumes_to_the_same_models() -> TestResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir()?;
    let mut opts =
        TrainOptions { variants: vec![Variant::Realistic], jobs: 1, ..options(dir.path(), &["gbt", "mlp"])? };
    // Many short epochs: an mlp epoch of 300 windows takes milliseconds, so
    // with few of them the run could end before the watcher below (which
    // polls every 2 ms, on a loaded 2-core machine) sees epoch 2 and stops it.
    opts.settings.neural.max_epochs = 40;
    opts.settings.neural.patience = 40;
    opts.settings.neural.max_windows_per_epoch = Some(300);
    let whole = train::run(&TrainOptions { out: dir.path().join("whole"), ..opts.clone() })?;

    // Stop the mlp once its second epoch's state is on disk.
    let stop = Arc::new(AtomicBool::new(false));
    let state = cis490_pipeline::run_dir::RunDir::new(&opts.out).resume_state("mlp-realistic");
    let watcher = {
        let (stop, state) = (Arc::clone(&stop), state.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while started.elapsed().as_secs() < 120 {
                let epochs = std::fs::read(&state).ok().map(|b| b.windows(9).filter(|w| w == b"\"epoch\":2").count());
                if epochs.is_some_and(|n| n > 0) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let interrupted = train::run(&TrainOptions { stop: Some(Arc::clone(&stop)), ..opts.clone() });
    let _ = watcher.join();
    let err = cis490_shared::error_chain(&interrupted.err().ok_or("the run was not interrupted")?);
    assert!(err.contains("mlp-realistic") && err.contains("interrupted"), "{err}");
    assert!(state.is_file(), "the state stays for --resume");
    let gbt_checkpoint = opts.out.join("gbt-realistic").join("checkpoint.bin");
    let gbt_before = std::fs::metadata(&gbt_checkpoint)?.modified()?;

    let resumed = train::run(&TrainOptions { resume: true, ..opts.clone() })?;
    assert_eq!(resumed.len(), 2);
    assert_eq!(std::fs::metadata(&gbt_checkpoint)?.modified()?, gbt_before, "finished trees are kept");
    assert!(!state.exists(), "a finished model's state is removed");
    for (a, b) in whole.iter().zip(&resumed) {
        assert_eq!(weights_and_curve(&a.checkpoint)?, weights_and_curve(&b.checkpoint)?, "{}", a.model);
    }

    // A state from another run (other settings) is refused, naming the file.
    std::fs::create_dir_all(state.parent().ok_or("no parent")?)?;
    std::fs::write(&state, b"CIS490-TRAINER-STATE\n\x05\0\0\0\0\0\0\0{}")?;
    let refused = train::run(&TrainOptions { resume: true, ..opts.clone() }).err().ok_or("accepted")?.to_string();
    assert!(refused.contains("mlp-realistic.state"), "{refused}");
    // Without --resume the state is ignored and overwritten.
    train::run(&TrainOptions { models: train::parse_models(&["mlp".into()])?, ..opts })?;
    Ok(())
}

/// Half-precision steps keep f32 weights: the checkpoints load, record the
/// precision, and their ONNX files agree with the native model; a resume
/// in another precision trains again; a GPU the build lacks is refused
/// before anything is trained, naming the feature.
#[test]
fn half_precision_training_keeps_f32_checkpoints() -> TestResult {
    use cis490_models::neural::device::{ComputeDevice, Precision};
    let dir = tempfile::tempdir()?;
    let opts = TrainOptions {
        variants: vec![Variant::Realistic],
        precision: Precision::Bf16,
        ..options(dir.path(), &["mlp", "gru"])?
    };
    let val = val_ids(&opts)?;
    for t in train::run(&opts)? {
        let (header, model) = train::load_model(&t.checkpoint)?;
        assert_eq!(header.config.pointer("/compute/precision"), Some(&serde_json::json!("bf16")), "{}", t.model);
        assert!(t.val_macro_f1 > 0.3, "{}: validation macro F1 {}", t.model, t.val_macro_f1);
        let kind = if t.model == "mlp" { FeatureKind::Summary } else { FeatureKind::Tensor };
        let table = dataset::windows(&opts.features, &val, t.variant, kind)?.table;
        let rows: Vec<&[f32]> = table.x.chunks(table.cols).collect();
        let native: Vec<f32> = model.predict_proba(&rows)?.into_iter().flatten().collect();
        let mut shape = vec![table.rows];
        shape.extend(model.input_dims());
        let via_tract = cis490_models::onnx::run_tract(&std::fs::read(&t.onnx)?, &table.x, &shape)?;
        let worst = native.iter().zip(&via_tract).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{}: tract differs from the native model by {worst}", t.model);
    }
    // Resumed in f32, the bf16 models are not kept.
    for t in train::run(&TrainOptions { resume: true, precision: Precision::F32, ..opts.clone() })? {
        let (header, _) = train::load_model(&t.checkpoint)?;
        assert_eq!(header.config.pointer("/compute/precision"), Some(&serde_json::json!("f32")), "{}", t.model);
    }
    if !ComputeDevice::Cuda(0).compiled_in() {
        let refused = train::run(&TrainOptions { devices: vec![ComputeDevice::Cuda(0)], ..opts })
            .err()
            .ok_or("accepted a device the build lacks")?
            .to_string();
        assert!(refused.contains("cuda:0") && refused.contains("gpu-cuda"), "{refused}");
    }
    Ok(())
}
