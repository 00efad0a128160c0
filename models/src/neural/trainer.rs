//! The one training loop of the five networks: class-weighted
//! cross-entropy, AdamW, linear warm-up then cosine decay of the learning
//! rate, gradient clipping (per-parameter norm), early stopping on
//! validation macro F1 with patience, and the best-on-validation weights
//! kept. Seeded: initial weights and batch order come from the project's
//! generator and the CPU backend runs single-threaded, so a seed gives the
//! same model bit for bit.

use std::time::Instant;

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use cis490_shared::rng::Rng;

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
    /// Cap on training windows per epoch (a fresh random subset each epoch); `None` uses all.
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

/// Windows and labels: `y.len()` rows of `x.len() / y.len()` raw values.
#[derive(Debug, Clone, Copy)]
pub struct Windows<'a> {
    /// Raw inputs, row-major.
    pub x: &'a [f32],
    /// Class index per row.
    pub y: &'a [u32],
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

fn check(input: InputShape, w: &Windows<'_>, side: &str) -> Result<(), NeuralError> {
    if w.y.is_empty() || w.x.len() != w.y.len() * input.len() {
        return Err(NeuralError::Invalid(format!(
            "{side}: {} values for {} windows of {} inputs",
            w.x.len(),
            w.y.len(),
            input.len()
        )));
    }
    if let Some(c) = w.y.iter().find(|c| **c as usize >= NUM_CLASSES) {
        return Err(NeuralError::Invalid(format!("{side}: class index {c} is out of range")));
    }
    Ok(())
}

fn predict_classes(net: &Net, input: InputShape, x: &[f32], device: &Device) -> Result<Vec<u32>, NeuralError> {
    let len = input.len();
    let mut out = Vec::with_capacity(x.len() / len);
    for rows in x.chunks(512 * len) {
        let n = rows.len() / len;
        let t = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [n, len]), device);
        let logits =
            net.logits(t, input).into_data().try_to_vec::<f32>().map_err(|e| NeuralError::Invalid(format!("{e:?}")))?;
        out.extend(argmax_rows(&logits, NUM_CLASSES));
    }
    Ok(out)
}

/// Trains `arch` on `train` (raw inputs), early-stopping on `val`;
/// `mean`/`std` are per input position (see [`expand_normalization`]).
/// `on_epoch` sees every epoch as it ends.
pub fn train(
    arch: Arch,
    input: InputShape,
    cfg: &TrainConfig,
    (mean, std): (Vec<f32>, Vec<f32>),
    train: Windows<'_>,
    val: Windows<'_>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<(NeuralModel, TrainReport), NeuralError> {
    check(input, &train, "training windows")?;
    check(input, &val, "validation windows")?;
    if mean.len() != input.len() || std.len() != input.len() {
        return Err(NeuralError::Invalid("normalization does not match the input".into()));
    }
    if cfg.batch_size == 0 || cfg.max_epochs == 0 {
        return Err(NeuralError::Invalid("batch size and epochs must be at least 1".into()));
    }
    let started = Instant::now();
    let len = input.len();
    let mut train_x = train.x.to_vec();
    normalize_rows(&mut train_x, &mean, &std);
    let mut val_x = val.x.to_vec();
    normalize_rows(&mut val_x, &mean, &std);

    let width = cfg.width.unwrap_or(arch.default_width());
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let mut rng = Rng::new(cfg.seed);
    let mut net = Net::init(arch, input, width, &mut rng, &device)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.clip_norm)))
        .init();
    let weights = class_weights(train.y);
    let per_epoch = cfg.max_windows_per_epoch.unwrap_or(usize::MAX).min(train.y.len());
    let steps_per_epoch = per_epoch.div_ceil(cfg.batch_size);
    let total_steps = steps_per_epoch * cfg.max_epochs;

    let mut order: Vec<usize> = (0..train.y.len()).collect();
    let mut history = Vec::new();
    let (mut best_f1, mut best_epoch, mut best_weights) = (-1.0, 0, Weights::new());
    let mut step = 0;
    let mut lr = cfg.learning_rate;
    let mut step_seconds = 0.0;
    for epoch in 1..=cfg.max_epochs {
        rng.shuffle(&mut order);
        let mut loss_sum = 0.0;
        for batch in order[..per_epoch].chunks(cfg.batch_size) {
            let step_started = Instant::now();
            let mut x = Vec::with_capacity(batch.len() * len);
            let mut target = vec![0.0f32; batch.len() * NUM_CLASSES];
            let mut weight_sum = 0.0;
            for (row, &i) in batch.iter().enumerate() {
                x.extend_from_slice(&train_x[i * len..(i + 1) * len]);
                let class = train.y[i] as usize;
                target[row * NUM_CLASSES + class] = weights[class];
                weight_sum += weights[class];
            }
            let x = Tensor::<2>::from_data(TensorData::new(x, [batch.len(), len]), &device);
            let target = Tensor::<2>::from_data(TensorData::new(target, [batch.len(), NUM_CLASSES]), &device);
            let log_probs = log_softmax(net.logits(x, input), 1);
            let loss = (log_probs * target).sum().neg() / weight_sum.max(f32::MIN_POSITIVE);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            lr = learning_rate(cfg, step, total_steps);
            net = optim.step(lr, net, grads);
            loss_sum += f64::from(loss.into_scalar::<f32>()) * batch.len() as f64;
            step += 1;
            step_seconds += step_started.elapsed().as_secs_f64();
        }
        let snapshot = net.valid();
        let predicted = predict_classes(&snapshot, input, &val_x, &plain)?;
        let f1 = macro_f1(val.y, &predicted, NUM_CLASSES);
        let improved = f1 > best_f1;
        if improved {
            best_f1 = f1;
            best_epoch = epoch;
            best_weights = snapshot.save();
        }
        let report = EpochReport {
            epoch,
            max_epochs: cfg.max_epochs,
            train_loss: loss_sum / per_epoch as f64,
            val_macro_f1: f1,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            best: improved,
        };
        on_epoch(&report);
        history.push(report);
        if epoch - best_epoch >= cfg.patience && epoch < cfg.max_epochs {
            break;
        }
    }
    let stopped_early = history.len() < cfg.max_epochs;
    let net = Net::load(arch, input, width, &best_weights, &plain)?;
    let model = NeuralModel::new(arch, input, width, mean, std, net);
    let report = TrainReport {
        best_epoch,
        best_val_macro_f1: best_f1,
        history,
        stopped_early,
        seconds_per_step: step_seconds / step.max(1) as f64,
    };
    Ok((model, report))
}
