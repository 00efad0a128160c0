//! `mlp`: a multilayer perceptron on the summary features
//! (features → width → width/2 → 7, ReLU).

use burn::prelude::*;
use burn::tensor::activation::relu;
use cis490_shared::rng::Rng;

use super::layers::Dense;
use super::weights::{Weights, WeightsError};
use crate::NUM_CLASSES;
use crate::onnx::proto::GraphBuilder;

/// The perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden1: Dense,
    hidden2: Dense,
    head: Dense,
}

impl Mlp {
    /// Fresh weights for `features` inputs.
    pub fn init(rng: &mut Rng, features: usize, width: usize, device: &Device) -> Self {
        Self {
            hidden1: Dense::init(rng, features, width, device),
            hidden2: Dense::init(rng, width, width / 2, device),
            head: Dense::init(rng, width / 2, NUM_CLASSES, device),
        }
    }

    /// Logits for `[batch, features]`.
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.hidden1.forward(x));
        let h = relu(self.hidden2.forward(h));
        self.head.forward(h)
    }

    /// Saves every parameter.
    pub fn save(&self, w: &mut Weights) -> Result<(), WeightsError> {
        self.hidden1.save("hidden1", w)?;
        self.hidden2.save("hidden2", w)?;
        self.head.save("head", w)
    }

    /// Loads what [`Mlp::save`] wrote.
    pub fn load(w: &Weights, features: usize, width: usize, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            hidden1: Dense::load(w, "hidden1", features, width, device)?,
            hidden2: Dense::load(w, "hidden2", width, width / 2, device)?,
            head: Dense::load(w, "head", width / 2, NUM_CLASSES, device)?,
        })
    }

    /// The network as ONNX nodes on `x` (`[batch, features]`); returns the logits.
    pub fn onnx(&self, g: &mut GraphBuilder, x: &str) -> Result<String, WeightsError> {
        let h = self.hidden1.onnx(g, "hidden1", x)?;
        let h = g.node("Relu", &[&h], vec![]);
        let h = self.hidden2.onnx(g, "hidden2", &h)?;
        let h = g.node("Relu", &[&h], vec![]);
        self.head.onnx(g, "head", &h)
    }
}
