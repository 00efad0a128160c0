//! `cnn`: two 1D convolutions over time (kernel 5, "same" padding, ReLU),
//! global average pooling over the 20 steps, a linear head.

use burn::prelude::*;
use burn::tensor::activation::relu;
use cis490_shared::rng::Rng;

use super::layers::{Conv1d, Dense};
use super::weights::{Weights, WeightsError};
use crate::NUM_CLASSES;
use crate::onnx::proto::{GraphBuilder, int, ints};

/// Kernel width of both convolutions (steps).
pub const KERNEL: usize = 5;

/// The convolutional network.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv1d,
    conv2: Conv1d,
    head: Dense,
}

impl Cnn {
    /// Fresh weights for `channels` input channels.
    pub fn init(rng: &mut Rng, channels: usize, width: usize, device: &Device) -> Self {
        Self {
            conv1: Conv1d::init(rng, channels, width, KERNEL, device),
            conv2: Conv1d::init(rng, width, width, KERNEL, device),
            head: Dense::init(rng, width, NUM_CLASSES, device),
        }
    }

    /// Logits for `[batch, channels, steps]`.
    pub fn logits(&self, x: Tensor<3>) -> Tensor<2> {
        let h = relu(self.conv1.forward(x));
        let h = relu(self.conv2.forward(h));
        let [b, w, _] = h.dims();
        self.head.forward(h.mean_dim(2).reshape([b, w]))
    }

    /// Saves every parameter.
    pub fn save(&self, w: &mut Weights) -> Result<(), WeightsError> {
        self.conv1.save("conv1", w)?;
        self.conv2.save("conv2", w)?;
        self.head.save("head", w)
    }

    /// Loads what [`Cnn::save`] wrote.
    pub fn load(w: &Weights, channels: usize, width: usize, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            conv1: Conv1d::load(w, "conv1", channels, width, KERNEL, device)?,
            conv2: Conv1d::load(w, "conv2", width, width, KERNEL, device)?,
            head: Dense::load(w, "head", width, NUM_CLASSES, device)?,
        })
    }

    /// The network as ONNX nodes on `x` (`[batch, channels, steps]`); returns the logits.
    pub fn onnx(&self, g: &mut GraphBuilder, x: &str) -> Result<String, WeightsError> {
        let h = self.conv1.onnx(g, "conv1", x)?;
        let h = g.node("Relu", &[&h], vec![]);
        let h = self.conv2.onnx(g, "conv2", &h)?;
        let h = g.node("Relu", &[&h], vec![]);
        let pooled = g.node("ReduceMean", &[&h], vec![ints("axes", vec![2]), int("keepdims", 0)]);
        self.head.onnx(g, "head", &pooled)
    }
}
