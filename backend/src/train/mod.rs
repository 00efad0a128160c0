//! Training: models × variants on a split's training side, early stopping
//! on its validation side, schema-hashed checkpoints in `RUN/<model>-<variant>/`.
//!
//! - [`dataset`]: training tables from the feature shards.
//!
//! Gradient-boosted trees (`gbt`) are built; the neural models, ONNX
//! export and tract inference are still to come.

pub mod dataset;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cis490_models::NUM_CLASSES;
use cis490_models::checkpoint::{self, CheckpointError, CheckpointHeader, FORMAT_VERSION};
use cis490_models::gbt::{Gbt, GbtConfig, GbtError};
use cis490_models::onnx;
use cis490_models::score::{argmax_rows, macro_f1};
use cis490_models::variant::Variant;
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::Label;
use cis490_shared::registry::schema_hash;

use crate::atomic_file;
use crate::split::norm::Normalization;
use crate::split::{SplitFile, normalization_path};

/// Architectures the trainer knows.
pub const MODELS: [&str; 6] = ["gbt", "mlp", "cnn", "gru", "lstm", "transformer"];
/// Architectures built so far.
pub const BUILT: [&str; 1] = ["gbt"];

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The feature folder.
    pub features: PathBuf,
    /// The split file (its `.norm.json` beside it).
    pub split: PathBuf,
    /// Architectures to train.
    pub models: Vec<String>,
    /// Threat models to train each under.
    pub variants: Vec<Variant>,
    /// The run folder to write.
    pub out: PathBuf,
    /// Tree hyper-parameters.
    pub gbt: GbtConfig,
}

/// Training could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// Features unreadable.
    #[error("{path}: {message}")]
    Features {
        /// File or folder.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The split or its normalization is unreadable.
    #[error("{path}: {message}")]
    Split {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Boosting failed.
    #[error(transparent)]
    Gbt(#[from] GbtError),
    /// A checkpoint is unreadable.
    #[error("{path}: {source}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        source: CheckpointError,
    },
    /// Writing failed.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One trained model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trained {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: Variant,
    /// Training windows.
    pub train_windows: usize,
    /// Validation windows.
    pub val_windows: usize,
    /// Validation macro F1.
    pub val_macro_f1: f64,
    /// Wall seconds.
    pub seconds: f64,
    /// The checkpoint written.
    pub checkpoint: PathBuf,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let err = |message: String| TrainError::Split { path: path.display().to_string(), message };
    serde_json::from_slice(&std::fs::read(path).map_err(|e| err(e.to_string()))?).map_err(|e| err(e.to_string()))
}

/// Trains every requested model × variant.
pub fn run(opts: &TrainOptions) -> Result<Vec<Trained>, TrainError> {
    for m in &opts.models {
        if !MODELS.contains(&m.as_str()) {
            return Err(TrainError::Options(format!("unknown model {m:?} (known: {})", MODELS.join(", "))));
        }
        if !BUILT.contains(&m.as_str()) {
            return Err(TrainError::Options(format!("model {m:?} is not built yet (built: {})", BUILT.join(", "))));
        }
    }
    let split: SplitFile = read_json(&opts.split)?;
    if split.schema_hash != schema_hash() {
        return Err(TrainError::Split {
            path: opts.split.display().to_string(),
            message: format!("made for feature schema {}, this build computes {}", split.schema_hash, schema_hash()),
        });
    }
    let norm: Normalization = read_json(&normalization_path(&opts.split))?;
    let train_ids: BTreeSet<String> = split.train.iter().cloned().collect();
    let val_ids: BTreeSet<String> = split.val.iter().cloned().collect();
    let mut trained = Vec::new();
    for variant in &opts.variants {
        let train = dataset::summary_table(&opts.features, &train_ids, *variant)?;
        let val = dataset::summary_table(&opts.features, &val_ids, *variant)?;
        if train.rows == 0 || val.rows == 0 {
            return Err(TrainError::Options(format!(
                "{} variant: no usable training or validation windows",
                variant.as_str()
            )));
        }
        for model in &opts.models {
            let started = Instant::now();
            let gbt = Gbt::fit(&train, &val, &opts.gbt)?;
            let predicted = argmax_rows(&gbt.predict_proba(&val)?, NUM_CLASSES);
            let score = macro_f1(&val.y, &predicted, NUM_CLASSES);
            let seconds = started.elapsed().as_secs_f64();
            let indices = variant.summary_indices();
            let names = summary_names();
            let header = CheckpointHeader {
                format_version: FORMAT_VERSION,
                schema_hash: schema_hash(),
                architecture: model.clone(),
                variant: *variant,
                channels: variant.channel_names(),
                feature_names: indices.iter().map(|i| names[*i].clone()).collect(),
                norm_mean: indices.iter().map(|i| norm.summary.mean[*i]).collect(),
                norm_std: indices.iter().map(|i| norm.summary.std[*i]).collect(),
                labels: Label::ALL.iter().map(|l| l.to_string()).collect(),
                config: serde_json::to_value(&opts.gbt).unwrap_or_default(),
                training: serde_json::json!({
                    "split": opts.split.display().to_string(), "recipe": split.recipe,
                    "train_windows": train.rows, "val_windows": val.rows, "val_macro_f1": score, "seconds": seconds,
                }),
            };
            let dir = opts.out.join(format!("{model}-{}", variant.as_str()));
            let path = dir.join("checkpoint.bin");
            let write_err = |message: String| TrainError::Write { path: path.display().to_string(), message };
            std::fs::create_dir_all(&dir).map_err(|e| write_err(e.to_string()))?;
            atomic_file::write_bytes_atomically(&path, &checkpoint::encode(&header, &gbt.to_bytes()?))
                .map_err(|e| write_err(e.to_string()))?;
            let onnx_path = dir.join("model.onnx");
            let onnx = tree_onnx(&gbt, &header)?;
            atomic_file::write_bytes_atomically(&onnx_path, &onnx)
                .map_err(|e| TrainError::Write { path: onnx_path.display().to_string(), message: e.to_string() })?;
            trained.push(Trained {
                model: model.clone(),
                variant: *variant,
                train_windows: train.rows,
                val_windows: val.rows,
                val_macro_f1: score,
                seconds,
                checkpoint: path,
            });
        }
    }
    Ok(trained)
}

/// The ONNX file of a tree model, with the checkpoint header's facts in
/// `metadata_props` (values are JSON).
pub fn tree_onnx(gbt: &Gbt, header: &CheckpointHeader) -> Result<Vec<u8>, TrainError> {
    let metadata = vec![
        ("schema_hash".to_string(), header.schema_hash.clone()),
        ("architecture".to_string(), header.architecture.clone()),
        ("variant".to_string(), header.variant.as_str().to_string()),
        ("channels".to_string(), json_text(&header.channels)),
        ("feature_names".to_string(), json_text(&header.feature_names)),
        ("labels".to_string(), json_text(&header.labels)),
        ("norm_mean".to_string(), json_text(&header.norm_mean)),
        ("norm_std".to_string(), json_text(&header.norm_std)),
        ("training".to_string(), header.training.to_string()),
    ];
    let tree_json = gbt.xgboost_json()?;
    onnx::tree_model_bytes(&tree_json, header.feature_names.len(), &metadata)
        .map_err(|e| TrainError::Options(format!("ONNX export: {e}")))
}

/// A value as JSON text (for ONNX metadata).
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Loads a tree checkpoint, refusing one made for another feature schema.
pub fn load_gbt(path: &Path) -> Result<(CheckpointHeader, Gbt), TrainError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| TrainError::Checkpoint { path: shown.clone(), source: CheckpointError::Corrupt(e.to_string()) })?;
    let (header, weights) =
        checkpoint::decode(&bytes).map_err(|source| TrainError::Checkpoint { path: shown, source })?;
    let gbt = Gbt::from_bytes(weights, header.feature_names.len())?;
    Ok((header, gbt))
}
