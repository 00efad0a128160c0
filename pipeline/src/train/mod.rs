//! Training: models × variants on a split's training side, early stopping
//! on its validation side, schema-hashed checkpoints and ONNX files in
//! `RUN/<model>-<variant>/`.
//!
//! - windows come from the feature shards through their owner,
//!   [`crate::extract::shards::windows`];
//! - [`row_file`]: tensor windows kept on disk while the networks train;
//! - [`devices`]: which device each network trains on (`--device`).
//!
//! Memory: one variant at a time; its summary tables (train and
//! validation) are held once, shared by the trees and the mlp; its tensors
//! go to a file in `RUN/.windows-*/` and are read back a batch at a time.
//! A network's epoch is a class-stratified sample of `--epoch-windows`
//! windows when the training side is larger; the summary tables hold at
//! most `--tree-windows` training windows (a class-stratified sample fixed
//! by the seed), which bounds the trees' memory whatever the corpus size. After each epoch the trainer's
//! state goes to `RUN/.resume/<model>-<variant>.state`, from which
//! `--resume` continues a killed run exactly.
//!
//! Jobs run on `jobs` worker threads (each network trains on one core, or
//! on a GPU of `--device`, one network per device; the longest jobs start
//! first). Each neural epoch is a `progress` event
//! (`job` = `train`, `id` = `<model>-<variant>`) with its loss, validation
//! macro F1, learning rate and `history` (every epoch so far: `epoch`,
//! `train_loss`, `val_macro_f1`); the trees send their boosting rounds
//! when they finish (`history`: each round's validation log-loss, and the
//! macro F1 of the round they predict with). The terminal shows one bar
//! over all epochs.

pub mod devices;
pub mod row_file;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cis490_models::architecture::{FitData, FitError, FitSettings, TrainedModel, fit};
use cis490_models::checkpoint::{self, CheckpointError, CheckpointHeader, FORMAT_VERSION};
use cis490_models::kind::{Arch, Architecture};
use cis490_models::neural::device::{Compute, ComputeDevice, Precision};
use cis490_models::neural::trainer::{BatchProgress, EpochReport, Hooks};
use cis490_models::table::Table;
use cis490_models::variant::Variant;
use cis490_shared::Cause;
use cis490_shared::events::{Number, ProgressEvent};
use cis490_shared::features::stats::summary_names;
use cis490_shared::label::Label;
use cis490_shared::registry::schema_hash;
use serde_json::{Value, json};

use self::devices::DevicePool;
use self::row_file::{RowFile, RowFileWriter, ScratchDir};
use crate::atomic_file;
use crate::extract::shards::windows::{self as dataset, FeatureKind};
use crate::output_dir::{OutputError, StagedDir};
use crate::publish::Publish;
use crate::publish::progress_events::ProgressEvents;
use crate::run_dir::{CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, ModelId, ONNX_FILE, RESUME_DIR, RunDir};
use crate::split::norm::Normalization;
use crate::split::{SplitError, SplitFile};

/// Most epochs of each network by default (early stopping usually ends sooner).
pub const DEFAULT_EPOCHS: usize = 12;

/// Epochs without a better validation macro F1 before a network stops.
pub const DEFAULT_PATIENCE: usize = 3;

/// Windows per network epoch by default: about a minute of the cnn on 2
/// cores; the demo's training sides are smaller, so they train on all.
pub const DEFAULT_EPOCH_WINDOWS: usize = 200_000;

/// Training windows the trees see by default: about 3 GiB for the oracle
/// trees; the lab's corpus has ~1.7 M, the demo ~20 k.
pub const DEFAULT_TREE_WINDOWS: usize = 1_000_000;

/// What to train, from what, into where.
#[derive(Clone)]
pub struct TrainOptions {
    /// The feature folder.
    pub features: PathBuf,
    /// The split file (its `.norm.json` beside it).
    pub split: PathBuf,
    /// Architectures to train.
    pub models: Vec<Architecture>,
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
    /// Most training windows in the summary tables (trees and mlp): a
    /// class-stratified sample when the training side is larger; `None`: all.
    pub max_tree_windows: Option<usize>,
    /// Continue from the states and models an interrupted run left in `out`.
    pub resume: bool,
    /// Set to stop the networks between batches (their last epoch's state stays resumable).
    pub stop: Option<Arc<AtomicBool>>,
    /// Devices the networks train on, one network per device at a time
    /// (empty or `[Cpu]`: every worker on its own CPU core).
    pub devices: Vec<ComputeDevice>,
    /// The networks' training precision (parameters and checkpoints stay f32).
    pub precision: Precision,
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
            .field("devices", &self.devices)
            .field("precision", &self.precision)
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
    #[error("cannot read the features at {path}")]
    Features {
        /// File or folder.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The split file or the feature shards are unreadable (the error
    /// names the file).
    #[error(transparent)]
    Input(#[from] SplitError),
    /// The split does not fit the features, or its normalization is unreadable.
    #[error("cannot use {path}")]
    Split {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// A model failed to fit.
    #[error("training {job} failed")]
    Fit {
        /// `<model>-<variant>`.
        job: String,
        /// What failed.
        source: FitError,
    },
    /// A checkpoint or trainer state cannot be read from disk.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint (or trainer state) is unreadable.
    #[error("cannot load {path}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        source: CheckpointError,
    },
    /// A checkpoint decodes but does not make a model.
    #[error("checkpoint {path} does not make a model")]
    Model {
        /// The file.
        path: String,
        /// What is wrong.
        source: FitError,
    },
    /// A model's output folder cannot be prepared or swapped in.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
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

/// Parses model names, refusing unknown ones and repeats.
pub fn parse_models(names: &[String]) -> Result<Vec<Architecture>, TrainError> {
    let parsed =
        names.iter().map(|name| name.trim().parse().map_err(TrainError::Options)).collect::<Result<Vec<_>, _>>()?;
    unique_models(&parsed)
}

/// `models` without repeats, in order; none is an error.
fn unique_models(models: &[Architecture]) -> Result<Vec<Architecture>, TrainError> {
    let mut out: Vec<Architecture> = Vec::new();
    for arch in models {
        if !out.contains(arch) {
            out.push(*arch);
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

/// Training and validation windows of one variant and feature kind: summary
/// tables in memory (shared by the trees and the mlp), tensors on disk.
enum Sides {
    Tables { train: Arc<Table>, val: Arc<Table> },
    Files { train: RowFile, val: RowFile },
}

impl Sides {
    fn data(&self) -> FitData<'_> {
        match self {
            Sides::Tables { train, val } => FitData::Tables { train, val },
            Sides::Files { train, val } => FitData::Sources { train, val },
        }
    }
}

/// Summary tables of both sides, each allocated once at its exact size;
/// a training side over `--tree-windows` keeps a class-stratified sample
/// of that many windows (in shard order, fixed by the seed).
fn load_tables(opts: &TrainOptions, ids: [&BTreeSet<String>; 2], variant: Variant) -> Result<Sides, TrainError> {
    let classes = dataset::classes(&opts.features, &ids, variant)?;
    let keep: Option<Vec<bool>> = match opts.max_tree_windows {
        Some(cap) if classes[0].len() > cap => {
            let mut order: Vec<usize> = (0..classes[0].len()).collect();
            let mut rng = cis490_shared::rng::Rng::derive(opts.settings.neural.seed, TREE_SAMPLE_STREAM);
            let mut keep = vec![false; classes[0].len()];
            for i in cis490_models::neural::source::epoch_sample(&mut order, &classes[0], cap, &mut rng) {
                keep[i] = true;
            }
            tracing::info!(
                "{} variant: trees and mlp train on {cap} of {} windows (class-stratified, --tree-windows)",
                variant.as_str(),
                classes[0].len()
            );
            Some(keep)
        }
        _ => None,
    };
    let sizes = [keep.as_ref().map_or(classes[0].len(), |k| k.iter().filter(|b| **b).count()), classes[1].len()];
    drop(classes);
    let cols = dataset::row_len(variant, FeatureKind::Summary);
    let mut tables: Vec<Table> = sizes
        .iter()
        .map(|n| Table { x: Vec::with_capacity(n * cols), rows: 0, cols, y: Vec::with_capacity(*n) })
        .collect();
    let mut seen_train = 0;
    dataset::scan(&opts.features, &ids, variant, FeatureKind::Summary, &mut |side, _, class, row| {
        if stopping(opts) {
            return Err(interrupted_while_reading());
        }
        if side == 0 {
            seen_train += 1;
            if keep.as_ref().is_some_and(|k| !k.get(seen_train - 1).copied().unwrap_or(false)) {
                return Ok(());
            }
        }
        let t = &mut tables[side];
        t.x.extend_from_slice(row);
        t.y.push(class);
        t.rows += 1;
        Ok(())
    })?;
    let val = tables.pop().unwrap_or_default();
    let train = tables.pop().unwrap_or_default();
    Ok(Sides::Tables { train: Arc::new(train), val: Arc::new(val) })
}

/// Whether the run was asked to stop (Ctrl-C).
fn stopping(opts: &TrainOptions) -> bool {
    opts.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
}

/// The error of a stop asked for while windows were being read.
fn interrupted_while_reading() -> TrainError {
    TrainError::Options("interrupted while reading the windows".into())
}

/// The generator stream of the trees' training sample.
const TREE_SAMPLE_STREAM: u64 = 0x7ee5;

/// Tensor rows of both sides, written to files in `scratch`.
fn write_tensor_files(
    opts: &TrainOptions,
    ids: [&BTreeSet<String>; 2],
    variant: Variant,
    scratch: &Path,
) -> Result<Sides, TrainError> {
    let len = dataset::row_len(variant, FeatureKind::Tensor);
    let io = |path: &Path, e: std::io::Error| TrainError::Write { path: path.display().to_string(), source: e.into() };
    let mut writers = Vec::new();
    for side in ["train", "val"] {
        let path = scratch.join(format!("{}-{side}.f32", variant.as_str()));
        writers.push((RowFileWriter::create(&path, len).map_err(|e| io(&path, e))?, path));
    }
    dataset::scan(&opts.features, &ids, variant, FeatureKind::Tensor, &mut |side, _, class, row| {
        if stopping(opts) {
            return Err(interrupted_while_reading());
        }
        let (w, path) = &mut writers[side];
        w.push(row, class).map_err(|e| io(path, e))
    })?;
    let mut files = Vec::new();
    for (w, path) in writers {
        files.push(w.finish().map_err(|e| io(&path, e))?);
    }
    let val = files.pop();
    let train = files.pop();
    match (train, val) {
        (Some(train), Some(val)) => Ok(Sides::Files { train, val }),
        _ => Err(TrainError::Options("tensor files were not written".into())),
    }
}

/// Trains every requested model × variant, one variant at a time (only
/// that variant's windows are loaded), its jobs on `jobs` threads.
pub fn run(opts: &TrainOptions) -> Result<Vec<Trained>, TrainError> {
    let models = unique_models(&opts.models)?;
    if opts.variants.is_empty() {
        return Err(TrainError::Options("no variants named (realistic, oracle)".into()));
    }
    let split: SplitFile = crate::split::read_split_file(&opts.split)?;
    crate::extract::check_features_digest(&opts.features, &split.features_digest)
        .map_err(|message| TrainError::Split { path: opts.split.display().to_string(), source: message.into() })?;
    let norm: Normalization = crate::split::read_normalization(&opts.split)
        .map_err(|e| TrainError::Split { path: opts.split.display().to_string(), source: e.into() })?;
    let train_ids: BTreeSet<String> = split.train.iter().cloned().collect();
    let val_ids: BTreeSet<String> = split.val.iter().cloned().collect();
    // A device that is missing or fails to start stops the run here, named,
    // before anything is loaded or trained.
    for device in &opts.devices {
        device.open().map_err(|e| TrainError::Options(format!("--device: {e}")))?;
    }
    let pool = DevicePool::new(&opts.devices);
    let scratch = ScratchDir::create(&opts.out)
        .map_err(|e| TrainError::Write { path: opts.out.display().to_string(), source: e.into() })?;
    let bars = crate::progress::Bars::new(opts.progress);

    let mut results: BTreeMap<(String, Variant), Result<Trained, TrainError>> = BTreeMap::new();
    for variant in &opts.variants {
        if stopping(opts) {
            break; // the models of this variant are reported as not run
        }
        let mut order: Vec<Architecture> = models.clone();
        order.sort_by_key(|m| std::cmp::Reverse(cost(*m)));
        let mut kept = Vec::new();
        if opts.resume {
            order.retain(|m| match kept_model(opts, &split, *m, *variant) {
                Some(t) => {
                    kept.push(t);
                    false
                }
                None => true,
            });
        }
        for (t, curve) in kept {
            tracing::info!("{}-{}: kept (trained on this split with these settings)", t.model, t.variant.as_str());
            publish_kept(opts, &t, curve);
            results.insert((t.model.clone(), *variant), Ok(t));
        }
        if order.is_empty() {
            continue;
        }
        let mut tables: BTreeMap<bool, Sides> = BTreeMap::new();
        let ids = [&train_ids, &val_ids];
        if order.iter().any(|m| !m.reads_tensors()) {
            tables.insert(false, load_tables(opts, ids, *variant)?);
        }
        if order.iter().any(|m| m.reads_tensors()) {
            tables.insert(true, write_tensor_files(opts, ids, *variant, scratch.path())?);
        }
        for sides in tables.values() {
            let data = sides.data();
            if data.train_windows() == 0 || data.val_windows() == 0 {
                return Err(TrainError::Options(format!(
                    "{} variant: no usable training or validation windows",
                    variant.as_str()
                )));
            }
        }
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<(String, Result<Trained, TrainError>)>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..opts.jobs.clamp(1, order.len().max(1)) {
                scope.spawn(|| {
                    while let Some(arch) = order.get(next.fetch_add(1, Ordering::SeqCst)).copied() {
                        let sides = &tables[&arch.reads_tensors()];
                        let result = train_one(opts, &split, &norm, (arch, *variant), sides, &bars, &pool);
                        done.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((arch.as_str().to_string(), result));
                    }
                });
            }
        });
        for (model, result) in done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            results.insert((model, *variant), result);
        }
    }
    drop(scratch);
    let _ = std::fs::remove_dir(RunDir::new(&opts.out).path().join(RESUME_DIR));
    opts.variants
        .iter()
        .flat_map(|v| models.iter().map(move |m| (*m, *v)))
        .map(|(m, v)| {
            results
                .remove(&(m.as_str().to_string(), v))
                .unwrap_or_else(|| Err(TrainError::Options(format!("{}-{} did not run", m.as_str(), v.as_str()))))
        })
        .collect()
}

/// A kept model's final `progress` event, with the curve its checkpoint
/// stored, so a dashboard sees every model of the run, kept ones too.
fn publish_kept(opts: &TrainOptions, t: &Trained, curve: Vec<Value>) {
    let job = format!("{}-{}", t.model, t.variant.as_str());
    let unit = if t.model == Architecture::Gbt.as_str() { "rounds" } else { "epochs" };
    let units = curve.len().max(1) as u64;
    ProgressEvents::new(opts.publisher.clone(), "train", &job, unit).report_with(units, units, "kept", |e| {
        e.extra.insert("model".into(), t.model.clone().into());
        e.extra.insert("variant".into(), t.variant.as_str().into());
        e.epoch = Some(units.into());
        e.val_macro_f1 = Number::from_f64(t.val_macro_f1);
        e.history = Some(curve);
    });
}

/// The curve a checkpoint's training `details` hold, as a `progress`
/// event's `history`: the networks' epochs, or the trees' rounds
/// ([`tree_history`]).
fn stored_curve(arch: Architecture, details: Option<&Value>, val_macro_f1: f64) -> Vec<Value> {
    let list = |key: &str| details.and_then(|d| d.get(key)).and_then(Value::as_array).cloned().unwrap_or_default();
    if arch == Architecture::Gbt {
        return tree_history(&list("val_loss"), val_macro_f1);
    }
    list("history")
        .iter()
        .map(|e| json!({"epoch": e["epoch"], "train_loss": e["train_loss"], "val_macro_f1": e["val_macro_f1"]}))
        .collect()
}

/// With `--resume`: a model folder already holding this job, trained on
/// this split with these settings and no unfinished state beside it, and
/// the curve its checkpoint stored.
fn kept_model(
    opts: &TrainOptions,
    split: &SplitFile,
    arch: Architecture,
    variant: Variant,
) -> Option<(Trained, Vec<Value>)> {
    let run = RunDir::new(&opts.out);
    let id = ModelId::new(arch, variant);
    if run.resume_state(&id.name()).exists() {
        return None;
    }
    // Only the header is needed: the weights are not decoded into a model.
    let bytes = crate::store::regular_file::read_regular(&run.checkpoint(id), MAX_CHECKPOINT_BYTES).ok()?;
    let (header, _) = checkpoint::decode(&bytes).ok()?;
    let settings_match = if arch == Architecture::Gbt {
        serde_json::to_value(&opts.settings.gbt).ok().as_ref() == Some(&header.config)
    } else {
        // A model trained in another precision is trained again; another device is not a reason.
        let precision = header.config.pointer("/compute/precision").and_then(Value::as_str).unwrap_or("f32");
        serde_json::to_value(&opts.settings.neural).ok().as_ref() == header.config.get("trainer")
            && precision == opts.precision.as_str()
    };
    let training = &header.training;
    let same_windows = arch.reads_tensors() || training.get("max_tree_windows") == Some(&json!(opts.max_tree_windows));
    let same = header.variant == variant
        && settings_match
        && same_windows
        && training.get("split_digest").and_then(Value::as_str) == Some(split.digest().as_str());
    let number = |k: &str| training.get(k).and_then(Value::as_f64).unwrap_or_default();
    let curve = stored_curve(arch, training.get("details"), number("val_macro_f1"));
    let trained = same.then(|| Trained {
        model: arch.as_str().to_string(),
        variant,
        train_windows: number("train_windows") as usize,
        val_windows: number("val_windows") as usize,
        val_macro_f1: number("val_macro_f1"),
        epochs: training.get("details").and_then(|d| d.get("history")).and_then(Value::as_array).map_or(1, Vec::len),
        seconds: number("seconds"),
        checkpoint: run.checkpoint(id),
        onnx: run.onnx(id),
    })?;
    Some((trained, curve))
}

/// The trees' curve for a `progress` event's `history`: one entry per
/// boosting round (`epoch` = round, 1-based) with its validation log-loss
/// (`val_loss`), and the model's validation macro F1 on the round the
/// model predicts with (the lowest loss, as early stopping picks it). No
/// rounds recorded: the final score as a one-point curve.
fn tree_history(val_loss: &[Value], val_macro_f1: f64) -> Vec<Value> {
    let losses: Vec<f64> = val_loss.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
    let best =
        losses.iter().enumerate().filter(|(_, l)| l.is_finite()).min_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
    if losses.is_empty() {
        return vec![json!({"epoch": 1, "val_macro_f1": val_macro_f1})];
    }
    losses
        .iter()
        .enumerate()
        .map(|(i, loss)| {
            let mut entry = json!({"epoch": i + 1, "val_loss": loss});
            if Some(i) == best {
                entry["val_macro_f1"] = json!(val_macro_f1);
            }
            entry
        })
        .collect()
}

/// Throughput and time left of a job, for its events and log lines.
struct Pace {
    started: Instant,
}

impl Pace {
    /// Windows per second and seconds left, from `done` of `total` units of `windows_per_unit`.
    fn figures(&self, done: f64, total: f64, windows_per_unit: f64) -> (f64, f64) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let per_s = done / seconds;
        let eta = if per_s > 0.0 { (total - done).max(0.0) / per_s } else { f64::NAN };
        (per_s * windows_per_unit, eta)
    }
}

fn train_one(
    opts: &TrainOptions,
    split: &SplitFile,
    norm: &Normalization,
    (arch, variant): (Architecture, Variant),
    sides: &Sides,
    bars: &crate::progress::Bars,
    pool: &DevicePool,
) -> Result<Trained, TrainError> {
    let job = format!("{}-{}", arch.as_str(), variant.as_str());
    // The trees run on the CPU; a network holds its device until it is done.
    let lease = (arch != Architecture::Gbt).then(|| pool.take());
    let compute =
        Compute { device: lease.as_ref().map_or(ComputeDevice::Cpu, |l| l.device()), precision: opts.precision };
    if !compute.device.is_cpu() || compute.precision != Precision::F32 {
        tracing::info!("{job}: training on {} in {}", compute.device, compute.precision);
    }
    let started = Instant::now();
    let data = sides.data();
    let (train_windows, val_windows) = (data.train_windows(), data.val_windows());
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
    let neural = &opts.settings.neural;
    let epoch_windows = neural.max_windows_per_epoch.unwrap_or(usize::MAX).min(train_windows);
    let (unit, max_units) = if arch == Architecture::Gbt {
        ("rounds", opts.settings.gbt.rounds.max(1))
    } else {
        ("epochs", neural.max_epochs)
    };
    let events = ProgressEvents::new(opts.publisher.clone(), "train", &job, unit);
    let epoch_events = ProgressEvents::new(opts.publisher.clone(), "train", &job, unit).unthrottled();
    // Which model, and the epoch's scores (a NaN score is left out).
    let describe = |event: &mut ProgressEvent, report: Option<&EpochReport>| {
        event.extra.insert("model".into(), arch.as_str().into());
        event.extra.insert("variant".into(), variant.as_str().into());
        if let Some(r) = report {
            event.epoch = Some(r.epoch.into());
            event.train_loss = Number::from_f64(r.train_loss);
            event.val_macro_f1 = Number::from_f64(r.val_macro_f1);
            event.lr = Number::from_f64(r.lr);
        }
    };
    let pace_fields = |event: &mut ProgressEvent, (per_s, eta): (f64, f64)| {
        event.extra.insert("windows_per_s".into(), json!(per_s.round()));
        if eta.is_finite() {
            event.extra.insert("eta_s".into(), json!(eta.round()));
        }
    };
    // The bar counts training windows: epochs × windows per epoch, or
    // boosting rounds × training windows for the trees.
    let bar_total = if arch == Architecture::Gbt {
        (max_units * train_windows) as u64
    } else {
        (neural.max_epochs * epoch_windows) as u64
    };
    let bar = bars.job(&job, bar_total);
    epoch_events.report_with(0, max_units as u64, "started", |e| describe(e, None));
    let pace = Pace { started: Instant::now() };
    let history: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    let history_now = || history.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let mut epochs = 0;
    let mut last_epoch: Option<EpochReport> = None;
    // Every epoch's event carries the curve so far, so a dashboard that
    // connects late (the hub keeps only the latest progress per job) can
    // still draw the whole curve.
    let mut on_epoch = |r: &EpochReport| {
        epochs = r.epoch;
        history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(json!({"epoch": r.epoch, "train_loss": r.train_loss, "val_macro_f1": r.val_macro_f1}));
        bar.set_position((r.epoch * epoch_windows) as u64);
        bar.set_message(format!("{job} epoch {}/{}", r.epoch, r.max_epochs));
        let figures = pace.figures((r.epoch * epoch_windows) as f64, (r.max_epochs * epoch_windows) as f64, 1.0);
        tracing::info!(
            "{job} epoch {}/{}: loss {:.4}, val macro F1 {:.3}, lr {:.2e}, {:.0} windows/s{}",
            r.epoch,
            r.max_epochs,
            r.train_loss,
            r.val_macro_f1,
            r.lr,
            figures.0,
            if r.best { " (best)" } else { "" }
        );
        epoch_events.report_with(r.epoch as u64, r.max_epochs as u64, &format!("epoch {}", r.epoch), |e| {
            describe(e, Some(r));
            e.history = Some(history_now());
            pace_fields(e, figures);
        });
        last_epoch = Some(r.clone());
    };
    let mut on_batch = |b: &BatchProgress| {
        let done = (b.epoch - 1) * b.epoch_windows + b.windows_done;
        bar.set_position(done as u64);
        let figures = pace.figures(done as f64, (b.max_epochs * b.epoch_windows) as f64, 1.0);
        events.report_with((b.epoch - 1) as u64, b.max_epochs as u64, &format!("epoch {}", b.epoch), |e| {
            describe(e, None);
            e.epoch = Some((b.epoch - 1).into());
            e.history = Some(history_now());
            pace_fields(e, figures);
        });
    };
    let last_log = Mutex::new(Instant::now());
    let mut on_round = |round: usize| {
        let done = round + 1;
        bar.set_position((done * train_windows) as u64);
        bar.set_message(format!("{job} round {done}/{max_units}"));
        let figures = pace.figures(done as f64, max_units as f64, train_windows as f64);
        events.report_with(done as u64, max_units as u64, &format!("round {done}"), |e| {
            describe(e, None);
            e.extra.insert("round".into(), done.into());
            pace_fields(e, figures);
        });
        let mut last = last_log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed().as_secs() >= 10 {
            *last = Instant::now();
            tracing::info!("{job} round {done}/{max_units}: {:.0} windows/s, eta {:.0} s", figures.0, figures.1);
        }
        !stopping(opts)
    };
    let state_file = RunDir::new(&opts.out).resume_state(&job);
    let resume_bytes = if opts.resume && state_file.is_file() {
        let bytes = crate::store::regular_file::read_regular(&state_file, MAX_STATE_BYTES)
            .map_err(|source| TrainError::Read { path: state_file.display().to_string(), source })?;
        tracing::info!("{job}: resuming from {}", state_file.display());
        Some(bytes)
    } else {
        None
    };
    let mut save_state = |bytes: &[u8]| -> Result<(), String> {
        if let Some(parent) = state_file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        atomic_file::write_bytes_atomically(&state_file, bytes).map_err(|e| crate::error_chain(&e))
    };
    let hooks = Hooks {
        on_epoch: &mut on_epoch,
        on_batch: Some(&mut on_batch),
        save_state: Some(&mut save_state),
        resume_from: resume_bytes.as_deref(),
        stop: opts.stop.as_deref(),
        compute,
    };
    let fit_err = |source: FitError| match source {
        FitError::Neural(cis490_models::neural::NeuralError::Invalid(m)) if m.starts_with("trainer state") => {
            TrainError::Checkpoint { path: state_file.display().to_string(), source: CheckpointError::Corrupt(m) }
        }
        source => TrainError::Fit { job: job.clone(), source },
    };
    let fitted = fit(arch, input, data, (&mean, &std), &opts.settings, hooks, &mut on_round).map_err(fit_err)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    epoch_events.report_with(max_units as u64, max_units as u64, "done", |e| {
        describe(e, last_epoch.as_ref());
        e.val_macro_f1 = Number::from_f64(fitted.val_macro_f1);
        e.history = Some(if arch == Architecture::Gbt {
            let curve = stored_curve(arch, Some(&fitted.details), fitted.val_macro_f1);
            e.epoch = Some(curve.len().into());
            curve
        } else {
            history_now()
        });
    });

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
            "train_windows": train_windows, "val_windows": val_windows, "epoch_windows": epoch_windows,
            "max_tree_windows": opts.max_tree_windows,
            "val_macro_f1": fitted.val_macro_f1, "seconds": seconds, "details": fitted.details,
        }),
        input_shape: input.dims(),
    };
    let run = RunDir::new(&opts.out);
    let id = ModelId::new(arch, variant);
    let dir = run.model_dir(id);
    let path = run.checkpoint(id);
    let onnx_path = run.onnx(id);
    // The staged file's error names the staging folder: the final path is said instead.
    let write_err = |path: &Path, e: atomic_file::WriteError| TrainError::Write {
        path: path.display().to_string(),
        source: e.source.into(),
    };
    let fit_err = |source: FitError| TrainError::Fit { job: job.clone(), source };
    let weights = fitted.model.weights_bytes().map_err(fit_err)?;
    let onnx = fitted.model.onnx_bytes(&header).map_err(fit_err)?;
    let checkpoint_bytes = checkpoint::encode(&header, &weights)
        .map_err(|e| TrainError::Write { path: path.display().to_string(), source: e.into() })?;
    // Checkpoint and ONNX file are staged and swapped in together: a model
    // folder always holds one training's pair.
    let staged = StagedDir::begin(&dir, "cis490 train", CHECKPOINT_FILE, false, &[&opts.features, &opts.split])?;
    atomic_file::write_bytes_atomically(&staged.path().join(CHECKPOINT_FILE), &checkpoint_bytes)
        .map_err(|e| write_err(&path, e))?;
    atomic_file::write_bytes_atomically(&staged.path().join(ONNX_FILE), &onnx).map_err(|e| write_err(&onnx_path, e))?;
    staged.commit()?;
    // The model is in place: its resumable state is no longer needed.
    let _ = std::fs::remove_file(&state_file);
    Ok(Trained {
        model: arch.as_str().to_string(),
        variant,
        train_windows,
        val_windows,
        val_macro_f1: fitted.val_macro_f1,
        epochs: epochs.max(1),
        seconds,
        checkpoint: path,
        onnx: onnx_path,
    })
}

/// Largest trainer state read for `--resume`: two copies of a network's
/// weights, its AdamW moments and 4 bytes per training window (the demo's
/// are under 1 MB; 77,000 episodes' about 7 MB).
const MAX_STATE_BYTES: u64 = 256 << 20;

/// Loads a checkpoint of any architecture, refusing one made for another
/// feature schema.
pub fn load_model(path: &Path) -> Result<(CheckpointHeader, TrainedModel), TrainError> {
    let shown = path.display().to_string();
    let bytes = crate::store::regular_file::read_regular(path, MAX_CHECKPOINT_BYTES)
        .map_err(|source| TrainError::Read { path: shown.clone(), source })?;
    let (header, weights) =
        checkpoint::decode(&bytes).map_err(|source| TrainError::Checkpoint { path: shown.clone(), source })?;
    let model = TrainedModel::load(&header, weights).map_err(|source| TrainError::Model { path: shown, source })?;
    Ok((header, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each part of a printed chain appears once: the file, what failed,
    /// and the reason under it.
    fn said_once(chain: &str, parts: &[&str]) {
        for part in parts {
            assert_eq!(chain.matches(part).count(), 1, "{part:?} in {chain:?}");
        }
        let mut segments: Vec<&str> = chain.split(": ").collect();
        let all = segments.len();
        segments.sort_unstable();
        segments.dedup();
        assert_eq!(segments.len(), all, "a part is repeated in {chain:?}");
    }

    #[test]
    fn a_printed_chain_says_each_part_once() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        // A missing split file given to training: the file, then the OS's reason.
        let split = dir.path().join("split.json");
        let opts = TrainOptions {
            features: dir.path().join("features"),
            split: split.clone(),
            models: vec![Architecture::Gbt],
            variants: vec![Variant::Realistic],
            out: dir.path().join("run"),
            settings: FitSettings::default(),
            jobs: 1,
            publisher: None,
            progress: false,
            max_tree_windows: None,
            resume: false,
            stop: None,
            devices: Vec::new(),
            precision: Default::default(),
        };
        let err = run(&opts).err().ok_or("a missing split file was accepted")?;
        let chain = crate::error_chain(&err);
        let os = std::fs::File::open(&split).err().ok_or("the split file exists")?.to_string();
        assert_eq!(chain, format!("cannot read {}: {os}", split.display()));
        said_once(&chain, &[&split.display().to_string(), &os, "cannot read"]);

        // An archive cut inside its first tar header: the archive, the
        // layer that failed, and where.
        let archive = dir.path().join("ep-1.tar.zst");
        std::fs::write(&archive, zstd::bulk::compress(b"hello", 3)?)?;
        let err = crate::extract::episode::extract_episode(&archive, &crate::store::archive::ReadLimits::default())
            .err()
            .ok_or("a cut archive was read")?;
        let chain = crate::error_chain(&err);
        let path = archive.display().to_string();
        said_once(&chain, &[&path, "tar stream is truncated or corrupt", "the archive ends inside"]);
        assert!(chain.starts_with(&format!("{path}: tar stream is truncated or corrupt: ")), "{chain}");
        Ok(())
    }

    #[test]
    fn the_trees_curve_has_a_point_per_round_and_their_score_on_the_best() {
        let history = tree_history(&[json!(0.9), json!(0.4), json!(0.5)], 0.8);
        assert_eq!(
            history,
            vec![
                json!({"epoch": 1, "val_loss": 0.9}),
                json!({"epoch": 2, "val_loss": 0.4, "val_macro_f1": 0.8}),
                json!({"epoch": 3, "val_loss": 0.5}),
            ]
        );
        assert_eq!(tree_history(&[], 0.7), vec![json!({"epoch": 1, "val_macro_f1": 0.7})], "at least the final score");
    }

    #[test]
    fn a_checkpoints_stored_curve_reads_as_a_history() {
        let report = json!({"best_epoch": 2, "history": [
            {"epoch": 1, "max_epochs": 3, "train_loss": 0.9, "val_macro_f1": 0.5, "lr": 0.001, "seconds": 1.0, "best": true},
            {"epoch": 2, "max_epochs": 3, "train_loss": 0.5, "val_macro_f1": 0.6, "lr": 0.001, "seconds": 1.0, "best": true},
        ]});
        let curve = stored_curve(Architecture::Neural(Arch::Gru), Some(&report), 0.6);
        assert_eq!(curve[1], json!({"epoch": 2, "train_loss": 0.5, "val_macro_f1": 0.6}));
        let trees = json!({"val_loss": [0.8, 0.6]});
        assert_eq!(stored_curve(Architecture::Gbt, Some(&trees), 0.9).len(), 2);
        assert_eq!(stored_curve(Architecture::Gbt, None, 0.9), vec![json!({"epoch": 1, "val_macro_f1": 0.9})]);
    }
}
