//! The one training loop of the five networks: class-weighted
//! cross-entropy, AdamW, linear warm-up then cosine decay of the learning
//! rate, gradient clipping (per-parameter norm), early stopping on
//! validation macro F1 with patience, and the best-on-validation weights
//! kept. Seeded: initial weights and batch order come from the project's
//! generator and the CPU backend runs single-threaded, so a seed gives the
//! same model bit for bit on the CPU. On a GPU ([`Compute`]) the same seed
//! gives the same initial weights and batches; sums may be reordered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::FloatDType;
use burn::tensor::activation::log_softmax;
use cis490_shared::rng::Rng;

use super::device::{Compute, Precision};
use super::resume::TrainerState;
use super::source::{WindowSource, epoch_sample};
use super::weights::Weights;
use super::{Arch, InputShape, Net, NeuralError, NeuralModel, normalize_rows};
use crate::NUM_CLASSES;
use crate::score::{argmax_rows, macro_f1};

/// Hyper-parameters of a training run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Most epochs.
    pub max_epochs: usize,
    /// Epochs without a better validation macro F1 before stopping.
    pub patience: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Warm-up length as a fraction of all steps.
    pub warmup_fraction: f64,
    /// Final learning rate as a fraction of the peak.
    pub final_lr_fraction: f64,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Largest gradient norm per parameter tensor.
    pub clip_norm: f32,
    /// Width; `None` takes the architecture's default.
    pub width: Option<usize>,
    /// Seed of weights and batch order.
    pub seed: u64,
    /// Training windows per epoch: a fresh class-stratified sample each
    /// epoch when the training side is larger; `None` uses all.
    pub max_windows_per_epoch: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            max_epochs: 12,
            patience: 3,
            batch_size: 64,
            learning_rate: 2e-3,
            warmup_fraction: 0.05,
            final_lr_fraction: 0.05,
            weight_decay: 1e-4,
            clip_norm: 1.0,
            width: None,
            seed: 490,
            max_windows_per_epoch: None,
        }
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Most epochs.
    pub max_epochs: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation macro F1 after the epoch.
    pub val_macro_f1: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Seconds since training started.
    pub seconds: f64,
    /// Whether this epoch's weights are the best so far.
    pub best: bool,
}

/// What a whole run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrainReport {
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Its validation macro F1.
    pub best_val_macro_f1: f64,
    /// Every epoch.
    pub history: Vec<EpochReport>,
    /// Whether patience ran out before the last epoch.
    pub stopped_early: bool,
    /// Mean seconds per optimizer step.
    pub seconds_per_step: f64,
}

/// Inverse-frequency class weights, `n / (classes_present · n_c)`; 0 for absent classes.
pub fn class_weights(y: &[u32]) -> [f32; NUM_CLASSES] {
    let mut counts = [0usize; NUM_CLASSES];
    for &c in y {
        if let Some(n) = counts.get_mut(c as usize) {
            *n += 1;
        }
    }
    let present = counts.iter().filter(|n| **n > 0).count().max(1);
    let mut w = [0.0; NUM_CLASSES];
    for (w, n) in w.iter_mut().zip(counts) {
        if n > 0 {
            *w = y.len() as f32 / (present * n) as f32;
        }
    }
    w
}

/// Learning rate at `step` of `total`: linear warm-up, then cosine decay.
pub fn learning_rate(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warmup = ((total as f64 * cfg.warmup_fraction) as usize).max(1);
    if step < warmup {
        return cfg.learning_rate * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    let floor = cfg.learning_rate * cfg.final_lr_fraction;
    floor + 0.5 * (cfg.learning_rate - floor) * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

/// Per-position mean and std from per-channel statistics (sequences) or as
/// given (features), as f32.
pub fn expand_normalization(input: InputShape, mean: &[f64], std: &[f64]) -> (Vec<f32>, Vec<f32>) {
    let repeat = match input {
        InputShape::Features(_) => 1,
        InputShape::Sequence { steps, .. } => steps,
    };
    let expand = |v: &[f64]| v.iter().flat_map(|x| std::iter::repeat_n(*x as f32, repeat)).collect();
    (expand(mean), expand(std))
}

/// Where a run in progress is in its epoch, after each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// Most epochs.
    pub max_epochs: usize,
    /// Training windows done in this epoch.
    pub windows_done: usize,
    /// Training windows per epoch.
    pub epoch_windows: usize,
    /// Seconds of this epoch so far.
    pub epoch_seconds: f64,
}

/// Persists a trainer state; an error stops the run with that error.
pub type SaveState<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), String>;

/// What a training run reports, how it is resumed or stopped, and where it
/// computes.
pub struct Hooks<'a> {
    /// Each epoch as it ends.
    pub on_epoch: &'a mut dyn FnMut(&EpochReport),
    /// After each batch.
    pub on_batch: Option<&'a mut dyn FnMut(&BatchProgress)>,
    /// Gets the whole trainer state after each completed epoch (for a
    /// later resume); an error stops the run with that error.
    pub save_state: Option<SaveState<'a>>,
    /// A state from `save_state` to continue from.
    pub resume_from: Option<&'a [u8]>,
    /// Set to stop between batches (the last saved state stays resumable).
    pub stop: Option<&'a AtomicBool>,
    /// The device and the training steps' precision (the CPU in f32 by default).
    pub compute: Compute,
}

impl<'a> Hooks<'a> {
    /// Only an epoch callback.
    pub fn epochs(on_epoch: &'a mut dyn FnMut(&EpochReport)) -> Self {
        Self { on_epoch, on_batch: None, save_state: None, resume_from: None, stop: None, compute: Compute::default() }
    }
}

fn check(input: InputShape, w: &dyn WindowSource, side: &str) -> Result<(), NeuralError> {
    if w.labels().is_empty() || w.row_len() != input.len() {
        return Err(NeuralError::Invalid(format!(
            "{side}: {} windows of {} inputs, the model takes {}",
            w.labels().len(),
            w.row_len(),
            input.len()
        )));
    }
    if let Some(c) = w.labels().iter().find(|c| **c as usize >= NUM_CLASSES) {
        return Err(NeuralError::Invalid(format!("{side}: class index {c} is out of range")));
    }
    Ok(())
}

/// The optimizer of every run: AdamW with per-parameter gradient clipping.
pub fn optimizer(cfg: &TrainConfig) -> burn::optim::ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.clip_norm)))
        .init()
}

/// One training batch: normalized rows and class-weighted one-hot targets.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// `rows × input` normalized inputs, row-major.
    pub x: &'a [f32],
    /// `rows × NUM_CLASSES`: the row's class weight at its class, else 0.
    pub target: &'a [f32],
    /// Sum of the rows' class weights.
    pub weight_sum: f32,
    /// Rows.
    pub rows: usize,
}

/// The class-weighted cross-entropy of `net` on `batch`, the forward pass
/// in `dtype` (inputs cast at the entry, parameters in each layer) and the
/// loss in f32.
pub fn batch_loss(net: &Net, input: InputShape, batch: &Batch<'_>, dtype: FloatDType, device: &Device) -> Tensor<1> {
    let xt = Tensor::<2>::from_data(TensorData::new(batch.x.to_vec(), [batch.rows, input.len()]), device).cast(dtype);
    let tt = Tensor::<2>::from_data(TensorData::new(batch.target.to_vec(), [batch.rows, NUM_CLASSES]), device);
    let log_probs = log_softmax(net.logits(xt, input).cast(FloatDType::F32), 1);
    (log_probs * tt).sum().neg() / batch.weight_sum.max(f32::MIN_POSITIVE)
}

/// One optimizer step of `net` on `batch` at learning rate `lr`, the
/// forward pass in `precision`: the updated network and the step's loss
/// (computed before the update).
pub fn train_step(
    net: Net,
    optim: &mut burn::optim::ModuleOptimizer,
    lr: f64,
    (input, batch): (InputShape, &Batch<'_>),
    precision: Precision,
    device: &Device,
) -> (Net, Tensor<1>) {
    let loss = batch_loss(&net, input, batch, precision.float_dtype(), device);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    (optim.step(lr, net, grads), loss)
}

/// Rows predicted per forward pass on the validation side.
const PREDICT_ROWS: usize = 512;

fn predict_classes(
    net: &Net,
    input: InputShape,
    source: &dyn WindowSource,
    (mean, std): (&[f32], &[f32]),
    device: &Device,
) -> Result<Vec<u32>, NeuralError> {
    let len = input.len();
    let n = source.labels().len();
    let mut out = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(PREDICT_ROWS * len);
    for start in (0..n).step_by(PREDICT_ROWS) {
        let count = PREDICT_ROWS.min(n - start);
        rows.clear();
        source.read_range(start, count, &mut rows).map_err(NeuralError::Invalid)?;
        normalize_rows(&mut rows, mean, std);
        let t = Tensor::<2>::from_data(TensorData::new(rows.clone(), [count, len]), device);
        let logits =
            net.logits(t, input).into_data().try_to_vec::<f32>().map_err(|e| NeuralError::Invalid(format!("{e:?}")))?;
        out.extend(argmax_rows(&logits, NUM_CLASSES));
    }
    Ok(out)
}

/// Trains `arch` on `train` (raw inputs), early-stopping on `val`;
/// `mean`/`std` are per input position (see [`expand_normalization`]).
/// Batches are read from the sources one at a time and normalized as they
/// are read, so memory does not grow with the sets. `hooks` sees every
/// epoch and batch, and can save the state after each epoch and resume
/// from one: a resumed run ends exactly as an uninterrupted one.
pub fn train(
    arch: Arch,
    input: InputShape,
    cfg: &TrainConfig,
    (mean, std): (Vec<f32>, Vec<f32>),
    train: &dyn WindowSource,
    val: &dyn WindowSource,
    hooks: Hooks<'_>,
) -> Result<(NeuralModel, TrainReport), NeuralError> {
    check(input, train, "training windows")?;
    check(input, val, "validation windows")?;
    if mean.len() != input.len() || std.len() != input.len() {
        return Err(NeuralError::Invalid("normalization does not match the input".into()));
    }
    if cfg.batch_size == 0 || cfg.max_epochs == 0 || cfg.max_windows_per_epoch == Some(0) {
        return Err(NeuralError::Invalid("batch size, epochs and windows per epoch must be at least 1".into()));
    }
    let Hooks { on_epoch, mut on_batch, mut save_state, resume_from, stop, compute } = hooks;
    let started = Instant::now();
    let len = input.len();
    let labels = train.labels();
    let width = cfg.width.unwrap_or(arch.default_width());
    let plain = compute.device.open()?;
    let device = plain.clone().autodiff();
    let mut rng = Rng::new(cfg.seed);
    let mut net = Net::init(arch, input, width, &mut rng, &device)?;
    let mut optim = optimizer(cfg);
    let weights = class_weights(labels);
    let per_epoch = cfg.max_windows_per_epoch.unwrap_or(usize::MAX).min(labels.len());
    let steps_per_epoch = per_epoch.div_ceil(cfg.batch_size);
    let total_steps = steps_per_epoch * cfg.max_epochs;

    let mut order: Vec<usize> = (0..labels.len()).collect();
    let mut state = TrainerState::fresh(cfg.learning_rate);
    if let Some(bytes) = resume_from {
        let resumed = TrainerState::decode(bytes, arch, input, width, cfg, labels.len())?;
        (net, optim) = resumed.restore((arch, input, width), optim, &device)?;
        rng = Rng::from_state(resumed.rng_state);
        order = resumed.order.clone();
        // The restored epochs are reported again, so a watcher has the whole curve.
        for report in &resumed.history {
            on_epoch(report);
        }
        state = resumed;
    }
    let (mut x, mut target) = (Vec::with_capacity(cfg.batch_size * len), Vec::new());
    for epoch in state.epoch + 1..=cfg.max_epochs {
        let epoch_started = Instant::now();
        let chosen = epoch_sample(&mut order, labels, per_epoch, &mut rng);
        let mut loss_sum = 0.0;
        let mut done = 0;
        for batch in chosen.chunks(cfg.batch_size) {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                return Err(NeuralError::Interrupted { epochs_done: epoch - 1 });
            }
            let step_started = Instant::now();
            x.clear();
            train.read_rows(batch, &mut x).map_err(NeuralError::Invalid)?;
            normalize_rows(&mut x, &mean, &std);
            target.clear();
            target.resize(batch.len() * NUM_CLASSES, 0.0f32);
            let mut weight_sum = 0.0;
            for (row, &i) in batch.iter().enumerate() {
                let class = labels[i] as usize;
                target[row * NUM_CLASSES + class] = weights[class];
                weight_sum += weights[class];
            }
            let batch_rows = Batch { x: &x, target: &target, weight_sum, rows: batch.len() };
            state.lr = learning_rate(cfg, state.step, total_steps);
            let loss;
            (net, loss) = train_step(net, &mut optim, state.lr, (input, &batch_rows), compute.precision, &device);
            loss_sum += f64::from(loss.into_scalar::<f32>()) * batch.len() as f64;
            state.step += 1;
            state.step_seconds += step_started.elapsed().as_secs_f64();
            done += batch.len();
            if let Some(on_batch) = on_batch.as_mut() {
                on_batch(&BatchProgress {
                    epoch,
                    max_epochs: cfg.max_epochs,
                    windows_done: done,
                    epoch_windows: per_epoch,
                    epoch_seconds: epoch_started.elapsed().as_secs_f64(),
                });
            }
        }
        let snapshot = net.valid();
        let predicted = predict_classes(&snapshot, input, val, (&mean, &std), &plain)?;
        let f1 = macro_f1(val.labels(), &predicted, NUM_CLASSES);
        let improved = f1 > state.best_f1;
        if improved {
            state.best_f1 = f1;
            state.best_epoch = epoch;
            state.best_weights = snapshot.save()?.to_bytes();
        }
        let report = EpochReport {
            epoch,
            max_epochs: cfg.max_epochs,
            train_loss: loss_sum / per_epoch as f64,
            val_macro_f1: f1,
            lr: state.lr,
            seconds: state.seconds_before + started.elapsed().as_secs_f64(),
            best: improved,
        };
        on_epoch(&report);
        state.history.push(report);
        state.epoch = epoch;
        let stopping = epoch - state.best_epoch >= cfg.patience && epoch < cfg.max_epochs;
        if let Some(save) = save_state.as_mut()
            && epoch < cfg.max_epochs
            && !stopping
        {
            let mut saved = state.clone();
            saved.rng_state = rng.state();
            saved.order.clone_from(&order);
            saved.seconds_before += started.elapsed().as_secs_f64();
            let bytes = saved.encode(&net, &optim, arch, input, width, cfg, labels.len())?;
            save(&bytes).map_err(NeuralError::Invalid)?;
        }
        if stopping {
            break;
        }
    }
    let stopped_early = state.history.len() < cfg.max_epochs;
    // The kept model lives on the CPU whatever trained it: checkpoints are f32.
    let best = Weights::from_bytes(&state.best_weights)?;
    let net = Net::load(arch, input, width, &best, &Device::flex())?;
    let model = NeuralModel::new(arch, input, width, mean, std, net);
    let report = TrainReport {
        best_epoch: state.best_epoch,
        best_val_macro_f1: state.best_f1,
        history: state.history,
        stopped_early,
        seconds_per_step: state.step_seconds / state.step.max(1) as f64,
    };
    Ok((model, report))
}
