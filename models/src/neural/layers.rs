//! The building blocks of the five networks, written once for training
//! (burn), saving ([`Weights`]) and ONNX export ([`GraphBuilder`]): a dense
//! layer, a 1D convolution and layer normalization. Weights are drawn from
//! the project's seeded generator, never from the backend's, so a seed fixes
//! a model whatever else runs on the device.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;
use cis490_shared::rng::Rng;

use super::device::value_like;
use super::weights::{Weights, WeightsError};
use crate::onnx::proto::{GraphBuilder, float, int, ints};

/// `n` values uniform in `[-bound, bound)`.
pub fn uniform(rng: &mut Rng, n: usize, bound: f64) -> Vec<f32> {
    (0..n).map(|_| rng.range(-bound, bound) as f32).collect()
}

/// A trainable parameter from row-major values.
pub fn param<const D: usize>(values: Vec<f32>, dims: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(values, dims), device)
}

/// A parameter's values, row-major (an unreadable tensor is an error,
/// never an empty vector).
pub fn values<const D: usize>(p: &Param<Tensor<D>>) -> Result<Vec<f32>, WeightsError> {
    p.val().into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| WeightsError::Unreadable(Box::new(e)))
}

/// Loads a parameter of shape `dims` named `name`.
pub fn load<const D: usize>(
    w: &Weights,
    name: &str,
    dims: [usize; D],
    device: &Device,
) -> Result<Param<Tensor<D>>, WeightsError> {
    Ok(param(w.get(name, &dims)?.values.clone(), dims, device))
}

/// `y = x · W + b`, `W` stored `[inputs, outputs]`.
#[derive(Module, Debug)]
pub struct Dense {
    /// `[inputs, outputs]`.
    pub weight: Param<Tensor<2>>,
    /// `[outputs]`.
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// PyTorch's default initialisation: uniform in ±1/√inputs.
    pub fn init(rng: &mut Rng, inputs: usize, outputs: usize, device: &Device) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        Self {
            weight: param(uniform(rng, inputs * outputs, bound), [inputs, outputs], device),
            bias: param(uniform(rng, outputs, bound), [outputs], device),
        }
    }

    fn dims(&self) -> [usize; 2] {
        self.weight.val().dims()
    }

    /// On `[batch, inputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let (weight, bias) = (value_like(&self.weight, &x), value_like(&self.bias, &x));
        x.matmul(weight) + bias.unsqueeze::<2>()
    }

    /// On `[batch, steps, inputs]`.
    pub fn forward3(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, i] = x.dims();
        let [_, o] = self.dims();
        self.forward(x.reshape([b * t, i])).reshape([b, t, o])
    }

    /// Saves as `<prefix>.weight` and `<prefix>.bias`.
    pub fn save(&self, prefix: &str, w: &mut Weights) -> Result<(), WeightsError> {
        let [i, o] = self.dims();
        w.insert(format!("{prefix}.weight"), vec![i, o], values(&self.weight)?);
        w.insert(format!("{prefix}.bias"), vec![o], values(&self.bias)?);
        Ok(())
    }

    /// Loads what [`Dense::save`] wrote.
    pub fn load(
        w: &Weights,
        prefix: &str,
        inputs: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: load(w, &format!("{prefix}.weight"), [inputs, outputs], device)?,
            bias: load(w, &format!("{prefix}.bias"), [outputs], device)?,
        })
    }

    /// The layer as `MatMul` + `Add` (any leading dimensions).
    pub fn onnx(&self, g: &mut GraphBuilder, prefix: &str, x: &str) -> Result<String, WeightsError> {
        let [i, o] = self.dims();
        Ok(g.dense(x, prefix, (&[i, o], values(&self.weight)?), values(&self.bias)?))
    }
}

/// A 1D convolution over time with "same" padding (odd kernel), stride 1.
#[derive(Module, Debug)]
pub struct Conv1d {
    /// `[out_channels, in_channels, kernel]`.
    pub weight: Param<Tensor<3>>,
    /// `[out_channels]`.
    pub bias: Param<Tensor<1>>,
}

impl Conv1d {
    /// Uniform in ±1/√(in_channels · kernel), as PyTorch does.
    pub fn init(rng: &mut Rng, inputs: usize, outputs: usize, kernel: usize, device: &Device) -> Self {
        let bound = 1.0 / ((inputs * kernel) as f64).sqrt();
        Self {
            weight: param(uniform(rng, outputs * inputs * kernel, bound), [outputs, inputs, kernel], device),
            bias: param(uniform(rng, outputs, bound), [outputs], device),
        }
    }

    fn dims(&self) -> [usize; 3] {
        self.weight.val().dims()
    }

    /// On `[batch, in_channels, steps]` → `[batch, out_channels, steps]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [_, _, k] = self.dims();
        let (weight, bias) = (value_like(&self.weight, &x), value_like(&self.bias, &x));
        conv1d(x, weight, Some(bias), ConvOptions::new([1], [k / 2], [1], 1))
    }

    /// Saves as `<prefix>.weight` and `<prefix>.bias`.
    pub fn save(&self, prefix: &str, w: &mut Weights) -> Result<(), WeightsError> {
        let [o, i, k] = self.dims();
        w.insert(format!("{prefix}.weight"), vec![o, i, k], values(&self.weight)?);
        w.insert(format!("{prefix}.bias"), vec![o], values(&self.bias)?);
        Ok(())
    }

    /// Loads what [`Conv1d::save`] wrote.
    pub fn load(
        w: &Weights,
        prefix: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: load(w, &format!("{prefix}.weight"), [outputs, inputs, kernel], device)?,
            bias: load(w, &format!("{prefix}.bias"), [outputs], device)?,
        })
    }

    /// The layer as one ONNX `Conv` node.
    pub fn onnx(&self, g: &mut GraphBuilder, prefix: &str, x: &str) -> Result<String, WeightsError> {
        let [o, i, k] = self.dims();
        let weight = g.weight(&format!("{prefix}.weight"), &[o, i, k], values(&self.weight)?);
        let bias = g.weight(&format!("{prefix}.bias"), &[o], values(&self.bias)?);
        let pad = (k / 2) as i64;
        Ok(g.node(
            "Conv",
            &[x, &weight, &bias],
            vec![ints("kernel_shape", vec![k as i64]), ints("pads", vec![pad, pad]), ints("strides", vec![1])],
        ))
    }
}

/// Layer normalization over the last dimension (ε = 1e-5).
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// Scale, `[features]`.
    pub gamma: Param<Tensor<1>>,
    /// Shift, `[features]`.
    pub beta: Param<Tensor<1>>,
}

/// The ε of [`LayerNorm`].
pub const LAYER_NORM_EPSILON: f32 = 1e-5;

impl LayerNorm {
    /// γ = 1, β = 0.
    pub fn init(features: usize, device: &Device) -> Self {
        Self {
            gamma: param(vec![1.0; features], [features], device),
            beta: param(vec![0.0; features], [features], device),
        }
    }

    /// On `[batch, steps, features]`; computed in f32 whatever the input's
    /// type (a half-precision variance loses too much), returned in it.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = x.cast(burn::tensor::FloatDType::F32);
        let mean = x.clone().mean_dim(2);
        let centred = x - mean;
        let var = centred.clone().square().mean_dim(2);
        let normed = centred / (var + LAYER_NORM_EPSILON).sqrt();
        (normed * self.gamma.val().unsqueeze::<3>() + self.beta.val().unsqueeze::<3>()).cast(dtype)
    }

    /// Saves as `<prefix>.gamma` and `<prefix>.beta`.
    pub fn save(&self, prefix: &str, w: &mut Weights) -> Result<(), WeightsError> {
        let n = self.gamma.val().dims()[0];
        w.insert(format!("{prefix}.gamma"), vec![n], values(&self.gamma)?);
        w.insert(format!("{prefix}.beta"), vec![n], values(&self.beta)?);
        Ok(())
    }

    /// Loads what [`LayerNorm::save`] wrote.
    pub fn load(w: &Weights, prefix: &str, features: usize, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            gamma: load(w, &format!("{prefix}.gamma"), [features], device)?,
            beta: load(w, &format!("{prefix}.beta"), [features], device)?,
        })
    }

    /// One ONNX `LayerNormalization` node (opset 17).
    pub fn onnx(&self, g: &mut GraphBuilder, prefix: &str, x: &str) -> Result<String, WeightsError> {
        let n = self.gamma.val().dims()[0];
        let gamma = g.weight(&format!("{prefix}.gamma"), &[n], values(&self.gamma)?);
        let beta = g.weight(&format!("{prefix}.beta"), &[n], values(&self.beta)?);
        Ok(g.node(
            "LayerNormalization",
            &[x, &gamma, &beta],
            vec![int("axis", -1), float("epsilon", LAYER_NORM_EPSILON)],
        ))
    }
}
