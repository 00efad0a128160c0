//! `transformer`: a small pre-norm encoder over the 20 steps: a linear
//! embedding of the channels plus a learned positional encoding, two layers
//! of multi-head self-attention (4 heads) and a ReLU feed-forward block
//! (2× width), a final layer norm, mean pooling over steps, a linear head.
//!
//! Exported with plain ONNX ops (MatMul, Reshape, Transpose, Softmax,
//! LayerNormalization), so no attention operator is needed.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use cis490_shared::rng::Rng;

use super::layers::{Dense, LayerNorm, load, param, values};
use super::weights::{Weights, WeightsError};
use crate::NUM_CLASSES;
use crate::onnx::proto::{GraphBuilder, int, ints};

/// Attention heads.
pub const HEADS: usize = 4;
/// Encoder layers.
pub const LAYERS: usize = 2;

/// One pre-norm encoder layer.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    norm1: LayerNorm,
    query: Dense,
    key: Dense,
    value: Dense,
    out: Dense,
    norm2: LayerNorm,
    ff1: Dense,
    ff2: Dense,
}

impl EncoderLayer {
    fn init(rng: &mut Rng, d: usize, device: &Device) -> Self {
        Self {
            norm1: LayerNorm::init(d, device),
            query: Dense::init(rng, d, d, device),
            key: Dense::init(rng, d, d, device),
            value: Dense::init(rng, d, d, device),
            out: Dense::init(rng, d, d, device),
            norm2: LayerNorm::init(d, device),
            ff1: Dense::init(rng, d, 2 * d, device),
            ff2: Dense::init(rng, 2 * d, d, device),
        }
    }

    fn heads(x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, HEADS, d / HEADS]).swap_dims(1, 2)
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let h = self.norm1.forward(x.clone());
        let q = Self::heads(self.query.forward3(h.clone()));
        let k = Self::heads(self.key.forward3(h.clone()));
        let v = Self::heads(self.value.forward3(h));
        let scale = 1.0 / ((d / HEADS) as f32).sqrt();
        let attention = softmax(q.matmul(k.swap_dims(2, 3)) * scale, 3);
        let context = attention.matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        let x = x + self.out.forward3(context);
        let h = self.norm2.forward(x.clone());
        x + self.ff2.forward3(relu(self.ff1.forward3(h)))
    }

    fn save(&self, prefix: &str, w: &mut Weights) -> Result<(), WeightsError> {
        self.norm1.save(&format!("{prefix}.norm1"), w)?;
        self.query.save(&format!("{prefix}.query"), w)?;
        self.key.save(&format!("{prefix}.key"), w)?;
        self.value.save(&format!("{prefix}.value"), w)?;
        self.out.save(&format!("{prefix}.out"), w)?;
        self.norm2.save(&format!("{prefix}.norm2"), w)?;
        self.ff1.save(&format!("{prefix}.ff1"), w)?;
        self.ff2.save(&format!("{prefix}.ff2"), w)
    }

    fn load(w: &Weights, prefix: &str, d: usize, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            norm1: LayerNorm::load(w, &format!("{prefix}.norm1"), d, device)?,
            query: Dense::load(w, &format!("{prefix}.query"), d, d, device)?,
            key: Dense::load(w, &format!("{prefix}.key"), d, d, device)?,
            value: Dense::load(w, &format!("{prefix}.value"), d, d, device)?,
            out: Dense::load(w, &format!("{prefix}.out"), d, d, device)?,
            norm2: LayerNorm::load(w, &format!("{prefix}.norm2"), d, device)?,
            ff1: Dense::load(w, &format!("{prefix}.ff1"), d, 2 * d, device)?,
            ff2: Dense::load(w, &format!("{prefix}.ff2"), 2 * d, d, device)?,
        })
    }

    fn onnx(
        &self,
        g: &mut GraphBuilder,
        prefix: &str,
        x: &str,
        steps: usize,
        d: usize,
    ) -> Result<String, WeightsError> {
        let (t, hd) = (steps as i64, (d / HEADS) as i64);
        let h = self.norm1.onnx(g, &format!("{prefix}.norm1"), x)?;
        let split = |g: &mut GraphBuilder, layer: &Dense, name: &str, perm: &[i64]| {
            let y = layer.onnx(g, &format!("{prefix}.{name}"), &h)?;
            let y = g.reshape(&y, &[0, t, HEADS as i64, hd]);
            Ok::<_, WeightsError>(g.transpose(&y, perm))
        };
        let q = split(g, &self.query, "query", &[0, 2, 1, 3])?;
        let k_t = split(g, &self.key, "key", &[0, 2, 3, 1])?;
        let v = split(g, &self.value, "value", &[0, 2, 1, 3])?;
        let scores = g.node("MatMul", &[&q, &k_t], vec![]);
        let scale = g.weight("scale", &[], vec![1.0 / (hd as f32).sqrt()]);
        let scores = g.node("Mul", &[&scores, &scale], vec![]);
        let attention = g.node("Softmax", &[&scores], vec![int("axis", -1)]);
        let context = g.node("MatMul", &[&attention, &v], vec![]);
        let context = g.transpose(&context, &[0, 2, 1, 3]);
        let context = g.reshape(&context, &[0, t, d as i64]);
        let attended = self.out.onnx(g, &format!("{prefix}.out"), &context)?;
        let x = g.node("Add", &[x, &attended], vec![]);
        let h = self.norm2.onnx(g, &format!("{prefix}.norm2"), &x)?;
        let h = self.ff1.onnx(g, &format!("{prefix}.ff1"), &h)?;
        let h = g.node("Relu", &[&h], vec![]);
        let h = self.ff2.onnx(g, &format!("{prefix}.ff2"), &h)?;
        Ok(g.node("Add", &[&x, &h], vec![]))
    }
}

/// The encoder.
#[derive(Module, Debug)]
pub struct Transformer {
    embed: Dense,
    /// Learned positional encoding, `[steps, width]`.
    position: Param<Tensor<2>>,
    layers: Vec<EncoderLayer>,
    norm: LayerNorm,
    head: Dense,
}

impl Transformer {
    /// Fresh weights for `channels` × `steps` inputs; `width` must divide by [`HEADS`].
    pub fn init(rng: &mut Rng, channels: usize, steps: usize, width: usize, device: &Device) -> Self {
        let position = (0..steps * width).map(|_| (0.02 * rng.normal()) as f32).collect();
        Self {
            embed: Dense::init(rng, channels, width, device),
            position: param(position, [steps, width], device),
            layers: (0..LAYERS).map(|_| EncoderLayer::init(rng, width, device)).collect(),
            norm: LayerNorm::init(width, device),
            head: Dense::init(rng, width, NUM_CLASSES, device),
        }
    }

    /// Logits for `[batch, channels, steps]`.
    pub fn logits(&self, x: Tensor<3>) -> Tensor<2> {
        let embedded = self.embed.forward3(x.swap_dims(1, 2));
        let position = super::device::value_like(&self.position, &embedded);
        let mut h = embedded + position.unsqueeze::<3>();
        for layer in &self.layers {
            h = layer.forward(h);
        }
        let h = self.norm.forward(h);
        let [b, _, d] = h.dims();
        self.head.forward(h.mean_dim(1).reshape([b, d]))
    }

    /// Saves every parameter.
    pub fn save(&self, w: &mut Weights) -> Result<(), WeightsError> {
        self.embed.save("embed", w)?;
        let [t, d] = self.position.val().dims();
        w.insert("position", vec![t, d], values(&self.position)?);
        for (i, layer) in self.layers.iter().enumerate() {
            layer.save(&format!("layer{i}"), w)?;
        }
        self.norm.save("norm", w)?;
        self.head.save("head", w)
    }

    /// Loads what [`Transformer::save`] wrote.
    pub fn load(
        w: &Weights,
        channels: usize,
        steps: usize,
        width: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            embed: Dense::load(w, "embed", channels, width, device)?,
            position: load(w, "position", [steps, width], device)?,
            layers: (0..LAYERS)
                .map(|i| EncoderLayer::load(w, &format!("layer{i}"), width, device))
                .collect::<Result<_, _>>()?,
            norm: LayerNorm::load(w, "norm", width, device)?,
            head: Dense::load(w, "head", width, NUM_CLASSES, device)?,
        })
    }

    /// The network as ONNX nodes on `x` (`[batch, channels, steps]`); returns the logits.
    pub fn onnx(&self, g: &mut GraphBuilder, x: &str) -> Result<String, WeightsError> {
        let [steps, d] = self.position.val().dims();
        let seq = g.transpose(x, &[0, 2, 1]);
        let h = self.embed.onnx(g, "embed", &seq)?;
        let position = g.weight("position", &[steps, d], values(&self.position)?);
        let mut h = g.node("Add", &[&h, &position], vec![]);
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.onnx(g, &format!("layer{i}"), &h, steps, d)?;
        }
        let h = self.norm.onnx(g, "norm", &h)?;
        let pooled = g.node("ReduceMean", &[&h], vec![ints("axes", vec![1]), int("keepdims", 0)]);
        self.head.onnx(g, "head", &pooled)
    }
}
