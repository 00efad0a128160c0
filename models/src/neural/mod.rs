//! The five neural architectures, trained with burn (on the CPU's `flex`
//! backend by default, or a GPU: [`device`]) and exported to ONNX from
//! their weights.
//!
//! - [`layers`]: dense, 1D convolution and layer norm blocks;
//! - [`mlp`], [`cnn`], [`recurrent`] (GRU and LSTM), [`transformer`];
//! - [`trainer`]: the one training loop they share;
//! - [`device`]: where they train and predict, and in what precision;
//! - [`probe`]: what a device computes (against the CPU) and how fast;
//! - [`source`]: where training windows come from, and epoch sampling;
//! - [`resume`]: the trainer's state after an epoch, to continue a run;
//! - [`weights`]: named tensors, the checkpoint's weight format.
//!
//! Inputs are normalized with the training split's statistics
//! ([`normalize`]: z-score, missing → 0, clipped to ±[`CLIP`]); the ONNX
//! graphs start with the same normalization, so they take raw features.

pub mod cnn;
pub mod device;
pub mod layers;
pub mod mlp;
pub mod probe;
pub mod recurrent;
pub mod resume;
pub mod source;
pub mod trainer;
pub mod transformer;
pub mod weights;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use cis490_shared::rng::Rng;

use self::cnn::Cnn;
use self::mlp::Mlp;
use self::recurrent::{Cell, Recurrent};
use self::transformer::Transformer;
use self::weights::{Weights, WeightsError};
use crate::kind::{Arch, InputShape};
use crate::onnx::proto::GraphBuilder;
use crate::{ClassProbabilities, Classifier, ModelError, NUM_CLASSES};

/// Normalized inputs are clipped to ±`CLIP` standard deviations.
pub const CLIP: f32 = 10.0;

/// Errors of the neural models.
#[derive(Debug, thiserror::Error)]
pub enum NeuralError {
    /// Unusable options or data.
    #[error("{0}")]
    Invalid(String),
    /// Weights unusable.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// Stopped on request; the state saved after the last completed epoch resumes it.
    #[error("interrupted after {epochs_done} completed epochs")]
    Interrupted {
        /// Epochs completed (and saved) before the stop.
        epochs_done: usize,
    },
}

/// One of the five networks.
#[derive(Module, Debug)]
pub enum Net {
    /// See [`mlp`].
    Mlp(Mlp),
    /// See [`cnn`].
    Cnn(Cnn),
    /// See [`recurrent`] (GRU or LSTM).
    Recurrent(Recurrent),
    /// See [`transformer`].
    Transformer(Transformer),
}

fn sequence(input: InputShape) -> Result<(usize, usize), NeuralError> {
    match input {
        InputShape::Sequence { channels, steps } => Ok((channels, steps)),
        InputShape::Features(_) => Err(NeuralError::Invalid("this architecture reads channel × time tensors".into())),
    }
}

impl Net {
    /// Fresh weights drawn from `rng`.
    pub fn init(
        arch: Arch,
        input: InputShape,
        width: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self, NeuralError> {
        check_width(arch, width)?;
        Ok(match (arch, input) {
            (Arch::Mlp, InputShape::Features(n)) => Net::Mlp(Mlp::init(rng, n, width, device)),
            (Arch::Mlp, _) => return Err(NeuralError::Invalid("mlp reads summary features".into())),
            (Arch::Cnn, i) => Net::Cnn(Cnn::init(rng, sequence(i)?.0, width, device)),
            (Arch::Gru, i) => Net::Recurrent(Recurrent::init(rng, Cell::Gru, sequence(i)?.0, width, device)),
            (Arch::Lstm, i) => Net::Recurrent(Recurrent::init(rng, Cell::Lstm, sequence(i)?.0, width, device)),
            (Arch::Transformer, i) => {
                let (c, t) = sequence(i)?;
                Net::Transformer(Transformer::init(rng, c, t, width, device))
            }
        })
    }

    /// Loads saved weights.
    pub fn load(
        arch: Arch,
        input: InputShape,
        width: usize,
        w: &Weights,
        device: &Device,
    ) -> Result<Self, NeuralError> {
        check_width(arch, width)?;
        Ok(match (arch, input) {
            (Arch::Mlp, InputShape::Features(n)) => Net::Mlp(Mlp::load(w, n, width, device)?),
            (Arch::Mlp, _) => return Err(NeuralError::Invalid("mlp reads summary features".into())),
            (Arch::Cnn, i) => Net::Cnn(Cnn::load(w, sequence(i)?.0, width, device)?),
            (Arch::Gru, i) => Net::Recurrent(Recurrent::load(w, Cell::Gru, sequence(i)?.0, width, device)?),
            (Arch::Lstm, i) => Net::Recurrent(Recurrent::load(w, Cell::Lstm, sequence(i)?.0, width, device)?),
            (Arch::Transformer, i) => {
                let (c, t) = sequence(i)?;
                Net::Transformer(Transformer::load(w, c, t, width, device)?)
            }
        })
    }

    /// Logits for a batch of normalized windows, `[batch, input.len()]`.
    pub fn logits(&self, x: Tensor<2>, input: InputShape) -> Tensor<2> {
        let [b, _] = x.dims();
        let as_sequence = |x: Tensor<2>| match input {
            InputShape::Sequence { channels, steps } => x.reshape([b, channels, steps]),
            InputShape::Features(n) => x.reshape([b, 1, n]),
        };
        match self {
            Net::Mlp(m) => m.logits(x),
            Net::Cnn(m) => m.logits(as_sequence(x)),
            Net::Recurrent(m) => m.logits(as_sequence(x)),
            Net::Transformer(m) => m.logits(as_sequence(x)),
        }
    }

    /// Every parameter by name.
    pub fn save(&self) -> Result<Weights, WeightsError> {
        let mut w = Weights::new();
        match self {
            Net::Mlp(m) => m.save(&mut w)?,
            Net::Cnn(m) => m.save(&mut w)?,
            Net::Recurrent(m) => m.save(&mut w)?,
            Net::Transformer(m) => m.save(&mut w)?,
        }
        Ok(w)
    }

    /// The network's ONNX nodes on a normalized input; returns the logits.
    pub fn onnx(&self, g: &mut GraphBuilder, x: &str) -> Result<String, WeightsError> {
        match self {
            Net::Mlp(m) => m.onnx(g, x),
            Net::Cnn(m) => m.onnx(g, x),
            Net::Recurrent(m) => m.onnx(g, x),
            Net::Transformer(m) => m.onnx(g, x),
        }
    }
}

fn check_width(arch: Arch, width: usize) -> Result<(), NeuralError> {
    if width < 4 || (arch == Arch::Transformer && !width.is_multiple_of(transformer::HEADS)) {
        return Err(NeuralError::Invalid(format!(
            "{} width {width} is unusable (at least 4; the transformer's must divide by {})",
            arch.as_str(),
            transformer::HEADS
        )));
    }
    Ok(())
}

/// Normalizes one value: z-score, missing (NaN) → 0, clipped to ±[`CLIP`].
pub fn normalize(x: f32, mean: f32, std: f32) -> f32 {
    let z = (x - mean) / std;
    if z.is_nan() { 0.0 } else { z.clamp(-CLIP, CLIP) }
}

/// Normalizes `rows` windows in place; `mean`/`std` have one value per input position.
pub fn normalize_rows(x: &mut [f32], mean: &[f32], std: &[f32]) {
    for row in x.chunks_mut(mean.len()) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
            *v = normalize(*v, *m, *s);
        }
    }
}

/// A trained network ready for inference on the CPU.
#[derive(Debug)]
pub struct NeuralModel {
    /// Architecture.
    pub arch: Arch,
    /// Input shape.
    pub input: InputShape,
    /// Width it was built with.
    pub width: usize,
    /// Mean per input position (training split).
    pub mean: Vec<f32>,
    /// Standard deviation per input position.
    pub std: Vec<f32>,
    net: Net,
    device: Device,
}

impl NeuralModel {
    /// Wraps a network on the plain (non-autodiff) CPU device.
    pub fn new(arch: Arch, input: InputShape, width: usize, mean: Vec<f32>, std: Vec<f32>, net: Net) -> Self {
        Self { arch, input, width, mean, std, net, device: Device::flex() }
    }

    /// Loads weights written by [`NeuralModel::weights_bytes`].
    pub fn from_bytes(
        arch: Arch,
        input: InputShape,
        width: usize,
        mean: Vec<f32>,
        std: Vec<f32>,
        bytes: &[u8],
    ) -> Result<Self, NeuralError> {
        if mean.len() != input.len() || std.len() != input.len() {
            return Err(NeuralError::Invalid(format!(
                "normalization has {} means and {} stds for {} inputs",
                mean.len(),
                std.len(),
                input.len()
            )));
        }
        let device = Device::flex();
        let net = Net::load(arch, input, width, &Weights::from_bytes(bytes)?, &device)?;
        Ok(Self { arch, input, width, mean, std, net, device })
    }

    /// The same model on `device` (predictions then run there, in f32);
    /// a device that is missing or fails to start is an error naming it.
    pub fn on_device(self, device: device::ComputeDevice) -> Result<Self, NeuralError> {
        if device.is_cpu() {
            return Ok(self);
        }
        let target = device.open()?;
        let net = Net::load(self.arch, self.input, self.width, &self.net.save()?, &target)?;
        Ok(Self { net, device: target, ..self })
    }

    /// The weights as checkpoint bytes.
    pub fn weights_bytes(&self) -> Result<Vec<u8>, WeightsError> {
        Ok(self.net.save()?.to_bytes())
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.net.num_params()
    }

    /// The network itself.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The model as an ONNX file taking raw inputs `(batch, …input dims)`:
    /// normalization nodes, the network, softmax and arg-max.
    pub fn onnx_bytes(&self, metadata: &[(String, String)]) -> Result<Vec<u8>, WeightsError> {
        let mut g = GraphBuilder::new();
        let dims = self.input.dims();
        let mean = g.weight("norm.mean", &dims, self.mean.clone());
        let std = g.weight("norm.std", &dims, self.std.clone());
        let centred = g.node("Sub", &["input", &mean], vec![]);
        let z = g.node("Div", &[&centred, &std], vec![]);
        let missing = g.node("IsNaN", &[&z], vec![]);
        let zero = g.weight("zero", &[], vec![0.0]);
        let filled = g.node("Where", &[&missing, &zero, &z], vec![]);
        let lo = g.weight("clip.min", &[], vec![-CLIP]);
        let hi = g.weight("clip.max", &[], vec![CLIP]);
        let x = g.node("Clip", &[&filled, &lo, &hi], vec![]);
        let logits = self.net.onnx(&mut g, &x)?;
        g.classify(&logits);
        Ok(g.into_model_bytes(&dims, metadata, false))
    }
}

impl Classifier for NeuralModel {
    fn describe(&self) -> String {
        format!(
            "{} (width {}, {} parameters, input {:?})",
            self.arch.as_str(),
            self.width,
            self.parameter_count(),
            self.input
        )
    }

    fn input_len(&self) -> usize {
        self.input.len()
    }

    fn predict_proba(&self, windows: &[&[f32]]) -> Result<Vec<ClassProbabilities>, ModelError> {
        let len = self.input.len();
        let mut out = Vec::with_capacity(windows.len());
        for batch in windows.chunks(256) {
            let mut x = Vec::with_capacity(batch.len() * len);
            for w in batch {
                if w.len() != len {
                    return Err(ModelError::InputShape { expected: len, got: w.len() });
                }
                x.extend_from_slice(w);
            }
            normalize_rows(&mut x, &self.mean, &self.std);
            let probs = self.probabilities(x, batch.len())?;
            out.extend(probs.chunks_exact(NUM_CLASSES).map(|p| {
                let mut row = [0.0; NUM_CLASSES];
                row.copy_from_slice(p);
                row
            }));
        }
        Ok(out)
    }
}

impl NeuralModel {
    /// Softmax probabilities for already-normalized rows.
    fn probabilities(&self, x: Vec<f32>, rows: usize) -> Result<Vec<f32>, ModelError> {
        let x = Tensor::<2>::from_data(TensorData::new(x, [rows, self.input.len()]), &self.device);
        let probs = softmax(self.net.logits(x, self.input), 1);
        probs.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| ModelError::Backend(format!("{e:?}").into()))
    }
}

#[cfg(test)]
mod tests;
