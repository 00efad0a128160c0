//! Training end to end: a split's trees train, their checkpoints load,
//! and checkpoints made for another schema or damaged are refused clearly.

use cis490_backend::split::recipes::Recipe;
use cis490_backend::split::{self, SplitOptions};
use cis490_backend::train::{self, TrainOptions};
use cis490_models::checkpoint::{self, CheckpointError};
use cis490_models::gbt::GbtConfig;
use cis490_models::variant::Variant;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn options(dir: &std::path::Path, models: &[&str]) -> Result<TrainOptions, Box<dyn std::error::Error>> {
    let features = cis490_tests::extracted_store(dir, 60, 41, 0.1)?;
    let split_path = dir.join("split.json");
    split::run(&SplitOptions {
        features: features.clone(),
        recipe: Recipe::Time,
        test_hosts: Vec::new(),
        seed: 3,
        val_share: 0.2,
        out: split_path.clone(),
    })?;
    Ok(TrainOptions {
        features,
        split: split_path,
        models: models.iter().map(|m| m.to_string()).collect(),
        variants: vec![Variant::Realistic, Variant::Oracle],
        out: dir.join("run"),
        gbt: GbtConfig { rounds: 40, ..GbtConfig::default() },
    })
}

#[test]
fn trees_train_under_both_threat_models_and_their_checkpoints_load() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt"])?;
    let trained = train::run(&opts)?;
    assert_eq!(trained.len(), 2);
    for t in &trained {
        assert!(t.val_macro_f1 > 0.5, "{} {}: {}", t.model, t.variant.as_str(), t.val_macro_f1);
        let (header, model) = train::load_gbt(&t.checkpoint)?;
        assert_eq!(header.variant, t.variant);
        assert_eq!(header.feature_names.len(), t.variant.summary_indices().len());
        assert_eq!(header.labels.len(), 7);
        assert_eq!(header.norm_mean.len(), header.feature_names.len());
        let x = cis490_models::gbt::Table {
            x: vec![0.0; header.feature_names.len()],
            rows: 1,
            cols: header.feature_names.len(),
            y: vec![0],
        };
        assert_eq!(model.predict_proba(&x)?.len(), 7);
    }
    // Deterministic: training again writes the same checkpoint bytes.
    let first = std::fs::read(&trained[0].checkpoint)?;
    let again = train::run(&TrainOptions { variants: vec![Variant::Realistic], ..opts })?;
    let second = std::fs::read(&again[0].checkpoint)?;
    let weights = |b: &[u8]| checkpoint::decode(b).map(|(_, w)| w.to_vec());
    assert_eq!(weights(&first)?, weights(&second)?);
    Ok(())
}

#[test]
fn foreign_or_damaged_checkpoints_are_refused_by_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt"])?;
    let trained = train::run(&TrainOptions { variants: vec![Variant::Realistic], ..opts })?;
    let path = &trained[0].checkpoint;
    let bytes = std::fs::read(path)?;
    let (mut header, weights) = checkpoint::decode(&bytes)?;
    header.schema_hash = "f".repeat(64);
    std::fs::write(path, checkpoint::encode(&header, weights))?;
    let err = train::load_gbt(path).err().ok_or("a foreign schema loaded")?.to_string();
    assert!(err.contains(&"f".repeat(64)) && err.contains(&cis490_shared::registry::schema_hash()), "{err}");
    std::fs::write(path, &bytes[..bytes.len() / 3])?;
    let err = train::load_gbt(path).err().ok_or("a truncated checkpoint loaded")?;
    assert!(
        matches!(
            &err,
            train::TrainError::Checkpoint { source: CheckpointError::Corrupt(_), .. } | train::TrainError::Gbt(_)
        ),
        "{err}"
    );
    std::fs::write(path, b"hello")?;
    assert!(train::load_gbt(path).err().map(|e| e.to_string()).unwrap_or_default().contains("not a cis490 checkpoint"));
    Ok(())
}

#[test]
fn unknown_and_unbuilt_models_are_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt"])?;
    let err = train::run(&TrainOptions { models: vec!["forest".into()], ..opts.clone() }).err().ok_or("accepted")?;
    assert!(err.to_string().contains("forest"));
    let err = train::run(&TrainOptions { models: vec!["cnn".into()], ..opts }).err().ok_or("accepted")?;
    assert!(err.to_string().contains("not built yet"));
    Ok(())
}

/// Every exported `model.onnx` runs in tract with the native model's
/// probabilities (within 1e-4) on the split's validation windows, and
/// carries the checkpoint's facts in its metadata.
#[test]
fn exported_onnx_agrees_with_the_native_trees_in_tract() -> TestResult {
    use prost::Message;
    let dir = tempfile::tempdir()?;
    let opts = options(dir.path(), &["gbt"])?;
    let trained = train::run(&opts)?;
    let split: cis490_backend::split::SplitFile = serde_json::from_slice(&std::fs::read(&opts.split)?)?;
    let val_ids = split.val.iter().cloned().collect();
    for t in &trained {
        let (header, model) = train::load_gbt(&t.checkpoint)?;
        let onnx_path = t.checkpoint.with_file_name("model.onnx");
        let bytes = std::fs::read(&onnx_path)?;
        let table = cis490_backend::train::dataset::summary_table(&opts.features, &val_ids, t.variant)?;
        assert!(table.rows > 10);
        let native = model.predict_proba(&table)?;
        let via_tract = cis490_models::onnx::run_tract(&bytes, &table.x, table.rows, table.cols)?;
        let worst = native.iter().zip(&via_tract).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{}: largest difference {worst}", onnx_path.display());
        let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice())?;
        let meta: std::collections::BTreeMap<_, _> =
            proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
        assert_eq!(meta.get("schema_hash"), Some(&header.schema_hash));
        assert_eq!(meta.get("variant").map(String::as_str), Some(t.variant.as_str()));
    }
    Ok(())
}
