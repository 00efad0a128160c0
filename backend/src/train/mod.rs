//! Training: models × variants on a split's training side, early stopping
//! on its validation side, schema-hashed checkpoints and ONNX files in
//! `RUN/<model>-<variant>/`.
//!
//! - [`dataset`]: summary and tensor tables from the feature shards.
//!
//! Jobs run on `jobs` worker threads (each network trains on one core; the
//! longest jobs start first). Each neural epoch is a `progress` event
//! (`job` = `train`, `id` = `<model>-<variant>`) with its loss, validation
//! macro F1, learning rate and `history` (every epoch so far: `epoch`,
//! `train_loss`, `val_macro_f1`); the terminal shows one bar over all epochs.

pub mod dataset;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cis490_models::architecture::{Architecture, FitError, FitSettings, TrainedModel, fit};
use cis490_models::checkpoint::{self, CheckpointError, CheckpointHeader, FORMAT_VERSION};
use cis490_models::gbt::Table;
use cis490_models::neural::Arch;
use cis490_models::neural::trainer::EpochReport;
use cis490_models::variant::Variant;
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::Label;
use cis490_shared::registry::schema_hash;
use serde_json::{Map, Value, json};

use self::dataset::FeatureKind;
use crate::atomic_file;
use crate::hub::client::Publish;
use crate::hub::progress_events::ProgressEvents;
use crate::output_dir::StagedDir;
use crate::split::norm::Normalization;
use crate::split::{SplitFile, normalization_path};

/// What to train.
#[derive(Clone)]
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
    /// Hyper-parameters.
    pub settings: FitSettings,
    /// Worker threads (jobs trained at once).
    pub jobs: usize,
    /// Where `progress` events go, if anywhere.
    pub publisher: Option<Arc<dyn Publish>>,
    /// Show a terminal progress bar.
    pub progress: bool,
}

impl std::fmt::Debug for TrainOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainOptions")
            .field("features", &self.features)
            .field("split", &self.split)
            .field("models", &self.models)
            .field("variants", &self.variants)
            .field("out", &self.out)
            .field("jobs", &self.jobs)
            .finish()
    }
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
    /// A model failed to fit.
    #[error("{job}: {source}")]
    Fit {
        /// `<model>-<variant>`.
        job: String,
        /// What failed.
        source: FitError,
    },
    /// A checkpoint is unreadable.
    #[error("{path}: {source}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        source: CheckpointError,
    },
    /// A checkpoint decodes but does not make a model.
    #[error("{path}: {source}")]
    Model {
        /// The file.
        path: String,
        /// What is wrong.
        source: FitError,
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
    /// Epochs run (1 for trees).
    pub epochs: usize,
    /// Wall seconds.
    pub seconds: f64,
    /// The checkpoint written.
    pub checkpoint: PathBuf,
    /// The ONNX file written.
    pub onnx: PathBuf,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let err = |message: String| TrainError::Split { path: path.display().to_string(), message };
    let bytes = crate::store::regular_file::read_regular(path, 256 << 20).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))
}

/// Parses model names, refusing unknown ones and repeats.
pub fn parse_models(names: &[String]) -> Result<Vec<Architecture>, TrainError> {
    let mut out: Vec<Architecture> = Vec::new();
    for name in names {
        let arch: Architecture = name.trim().parse().map_err(TrainError::Options)?;
        if !out.contains(&arch) {
            out.push(arch);
        }
    }
    if out.is_empty() {
        let known: Vec<&str> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
        return Err(TrainError::Options(format!("no models named (known: {})", known.join(", "))));
    }
    Ok(out)
}

/// Relative cost, to start the longest jobs first.
fn cost(arch: Architecture) -> u32 {
    match arch {
        Architecture::Neural(Arch::Transformer) => 6,
        Architecture::Neural(Arch::Lstm) => 5,
        Architecture::Neural(Arch::Gru) => 4,
        Architecture::Neural(Arch::Cnn) => 3,
        Architecture::Gbt => 2,
        Architecture::Neural(Arch::Mlp) => 1,
    }
}

/// Training and validation tables of one variant and feature kind.
struct Sides {
    train: Table,
    val: Table,
}

/// Trains every requested model × variant.
pub fn run(opts: &TrainOptions) -> Result<Vec<Trained>, TrainError> {
    let models = parse_models(&opts.models)?;
    if opts.variants.is_empty() {
        return Err(TrainError::Options("no variants named (realistic, oracle)".into()));
    }
    let split: SplitFile = crate::split::read_split_file(&opts.split)
        .map_err(|e| TrainError::Split { path: opts.split.display().to_string(), message: e.to_string() })?;
    crate::extract::check_features_digest(&opts.features, &split.features_digest)
        .map_err(|message| TrainError::Split { path: opts.split.display().to_string(), message })?;
    let norm: Normalization = read_json(&normalization_path(&opts.split))?;
    let train_ids: BTreeSet<String> = split.train.iter().cloned().collect();
    let val_ids: BTreeSet<String> = split.val.iter().cloned().collect();

    let mut tables: BTreeMap<(Variant, bool), Sides> = BTreeMap::new();
    for variant in &opts.variants {
        for tensors in [false, true] {
            if !models.iter().any(|m| m.reads_tensors() == tensors) {
                continue;
            }
            let kind = if tensors { FeatureKind::Tensor } else { FeatureKind::Summary };
            let train = dataset::windows(&opts.features, &train_ids, *variant, kind)?.table;
            let val = dataset::windows(&opts.features, &val_ids, *variant, kind)?.table;
            if train.rows == 0 || val.rows == 0 {
                return Err(TrainError::Options(format!(
                    "{} variant: no usable training or validation windows",
                    variant.as_str()
                )));
            }
            tables.insert((*variant, tensors), Sides { train, val });
        }
    }

    let mut jobs: Vec<(Architecture, Variant)> =
        opts.variants.iter().flat_map(|v| models.iter().map(move |m| (*m, *v))).collect();
    let order: Vec<(Architecture, Variant)> = {
        let mut sorted = jobs.clone();
        sorted.sort_by_key(|(m, _)| std::cmp::Reverse(cost(*m)));
        sorted
    };
    let total_epochs: u64 = jobs
        .iter()
        .map(|(m, _)| if *m == Architecture::Gbt { 1 } else { opts.settings.neural.max_epochs as u64 })
        .sum();
    let bar = crate::progress::bar(total_epochs, "train", opts.progress);
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<(String, Variant), Result<Trained, TrainError>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, order.len().max(1)) {
            scope.spawn(|| {
                while let Some((arch, variant)) = order.get(next.fetch_add(1, Ordering::SeqCst)).copied() {
                    let sides = &tables[&(variant, arch.reads_tensors())];
                    let result = train_one(opts, &split, &norm, arch, variant, sides, &bar);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert((arch.as_str().to_string(), variant), result);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    jobs.drain(..)
        .map(|(m, v)| {
            results
                .remove(&(m.as_str().to_string(), v))
                .unwrap_or_else(|| Err(TrainError::Options(format!("{}-{} did not run", m.as_str(), v.as_str()))))
        })
        .collect()
}

fn train_one(
    opts: &TrainOptions,
    split: &SplitFile,
    norm: &Normalization,
    arch: Architecture,
    variant: Variant,
    sides: &Sides,
    bar: &indicatif::ProgressBar,
) -> Result<Trained, TrainError> {
    let job = format!("{}-{}", arch.as_str(), variant.as_str());
    let started = Instant::now();
    let channels = variant.channel_indices();
    let summary_indices = variant.summary_indices();
    let names = summary_names();
    let (feature_names, mean, std): (Vec<String>, Vec<f64>, Vec<f64>) = if arch.reads_tensors() {
        (
            variant.channel_names(),
            channels.iter().map(|c| norm.tensor.mean[*c]).collect(),
            channels.iter().map(|c| norm.tensor.std[*c]).collect(),
        )
    } else {
        (
            summary_indices.iter().map(|i| names[*i].clone()).collect(),
            summary_indices.iter().map(|i| norm.summary.mean[*i]).collect(),
            summary_indices.iter().map(|i| norm.summary.std[*i]).collect(),
        )
    };
    let input = arch.input_shape(channels.len(), summary_indices.len());
    let events = ProgressEvents::new(opts.publisher.clone(), "train", &job, "epochs").unthrottled();
    let extra = |report: Option<&EpochReport>| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("model".into(), json!(arch.as_str()));
        m.insert("variant".into(), json!(variant.as_str()));
        if let Some(r) = report {
            m.insert("epoch".into(), json!(r.epoch));
            m.insert("train_loss".into(), json!(r.train_loss));
            m.insert("val_macro_f1".into(), json!(r.val_macro_f1));
            m.insert("lr".into(), json!(r.lr));
        }
        m
    };
    let max_epochs = if arch == Architecture::Gbt { 1 } else { opts.settings.neural.max_epochs };
    events.report(0, max_epochs as u64, "started", extra(None));
    let mut epochs = 0;
    // Every epoch's event carries the curve so far, so a dashboard that
    // connects late (the hub keeps only the latest progress per job) can
    // still draw the whole curve.
    let mut history: Vec<Value> = Vec::new();
    let mut on_epoch = |r: &EpochReport| {
        epochs = r.epoch;
        history.push(json!({"epoch": r.epoch, "train_loss": r.train_loss, "val_macro_f1": r.val_macro_f1}));
        bar.inc(1);
        bar.set_message(format!("{job} {}", r.epoch));
        tracing::info!(
            "{job} epoch {}/{}: loss {:.4}, val macro F1 {:.3}, lr {:.2e}{}",
            r.epoch,
            r.max_epochs,
            r.train_loss,
            r.val_macro_f1,
            r.lr,
            if r.best { " (best)" } else { "" }
        );
        let mut fields = extra(Some(r));
        fields.insert("history".into(), Value::Array(history.clone()));
        events.report(r.epoch as u64, r.max_epochs as u64, &format!("epoch {}", r.epoch), fields);
    };
    let fit_err = |source: FitError| TrainError::Fit { job: job.clone(), source };
    let fitted =
        fit(arch, input, &sides.train, &sides.val, (&mean, &std), &opts.settings, &mut on_epoch).map_err(fit_err)?;
    let skipped_epochs = max_epochs.saturating_sub(epochs.max(1));
    bar.inc(skipped_epochs as u64 + u64::from(arch == Architecture::Gbt));
    let seconds = started.elapsed().as_secs_f64();
    let mut done = extra(None);
    done.insert("val_macro_f1".into(), json!(fitted.val_macro_f1));
    events.report(max_epochs as u64, max_epochs as u64, "done", done);

    let header = CheckpointHeader {
        format_version: FORMAT_VERSION,
        schema_hash: schema_hash(),
        architecture: arch.as_str().to_string(),
        variant,
        channels: variant.channel_names(),
        feature_names,
        norm_mean: mean,
        norm_std: std,
        labels: Label::ALL.iter().map(|l| l.to_string()).collect(),
        config: fitted.config.clone(),
        training: json!({
            "split": opts.split.display().to_string(), "recipe": split.recipe, "split_digest": split.digest(),
            "train_windows": sides.train.rows, "val_windows": sides.val.rows,
            "val_macro_f1": fitted.val_macro_f1, "seconds": seconds, "details": fitted.details,
        }),
        input_shape: input.dims(),
    };
    let dir = opts.out.join(&job);
    let path = dir.join("checkpoint.bin");
    let onnx_path = dir.join("model.onnx");
    let write_err = |path: &Path, message: String| TrainError::Write { path: path.display().to_string(), message };
    let weights = fitted.model.weights_bytes().map_err(fit_err)?;
    let onnx = fitted.model.onnx_bytes(&header).map_err(fit_err)?;
    // Checkpoint and ONNX file are staged and swapped in together: a model
    // folder always holds one training's pair.
    let staged = StagedDir::begin(&dir, "cis490 train", "checkpoint.bin", false, &[&opts.features, &opts.split])
        .map_err(|e| write_err(&dir, e.to_string()))?;
    atomic_file::write_bytes_atomically(&staged.path().join("checkpoint.bin"), &checkpoint::encode(&header, &weights))
        .map_err(|e| write_err(&path, e.to_string()))?;
    atomic_file::write_bytes_atomically(&staged.path().join("model.onnx"), &onnx)
        .map_err(|e| write_err(&onnx_path, e.to_string()))?;
    staged.commit().map_err(|e| write_err(&dir, e.to_string()))?;
    Ok(Trained {
        model: arch.as_str().to_string(),
        variant,
        train_windows: sides.train.rows,
        val_windows: sides.val.rows,
        val_macro_f1: fitted.val_macro_f1,
        epochs: epochs.max(1),
        seconds,
        checkpoint: path,
        onnx: onnx_path,
    })
}

/// The `<model>-<variant>` folders of a training run that hold both a
/// checkpoint and an ONNX file, sorted.
pub fn model_dirs(run: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(run)?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").is_file() && p.join("checkpoint.bin").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Largest checkpoint read (the demo's are under 10 MB).
pub const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;

/// Loads a checkpoint of any architecture, refusing one made for another
/// feature schema.
pub fn load_model(path: &Path) -> Result<(CheckpointHeader, TrainedModel), TrainError> {
    let shown = path.display().to_string();
    let bytes = crate::store::regular_file::read_regular(path, MAX_CHECKPOINT_BYTES)
        .map_err(|e| TrainError::Checkpoint { path: shown.clone(), source: CheckpointError::Corrupt(e.to_string()) })?;
    let (header, weights) =
        checkpoint::decode(&bytes).map_err(|source| TrainError::Checkpoint { path: shown.clone(), source })?;
    let model = TrainedModel::load(&header, weights).map_err(|source| TrainError::Model { path: shown, source })?;
    Ok((header, model))
}
