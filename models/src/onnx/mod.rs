//! ONNX export of every model and inference with tract or, for a tree
//! ensemble, the project's own evaluator.
//!
//! - [`proto`]: graph-building helpers over `tract_onnx::pb`;
//! - `trees`: the tree ensemble as one `ai.onnx.ml` node (export, with
//!   `training` only);
//! - [`tree_ensemble`]: the compact evaluator of that node.
//!
//! The neural graphs are written by each architecture (`neural::*`) from its
//! trained weights. [`OnnxRunner`] loads a file once for a fixed batch size
//! (tract needs a concrete batch for the recurrent ops) and runs it many
//! times: a file that is exactly one `TreeEnsembleClassifier` over the
//! input (what cis490 exports for the trees) runs on [`tree_ensemble`],
//! three orders of magnitude faster than tract's operator; anything else on
//! tract. It compiles for wasm32 too, so the browser runs the same code.

pub mod proto;
pub mod tree_ensemble;
#[cfg(feature = "training")]
pub mod trees;

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::NUM_CLASSES;
use tree_ensemble::{Compiled, TreeEnsemble};

/// Export or inference failed.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The XGBoost JSON lacks something the export needs.
    #[error("tree model JSON: {0}")]
    TreeJson(String),
    /// tract could not load or run the model.
    #[error("tract")]
    Tract(#[source] cis490_shared::Cause),
    /// The bytes do not decode as an ONNX model.
    #[error("not an ONNX file")]
    NotOnnx(#[source] prost::DecodeError),
    /// A `TreeEnsembleClassifier` attribute is invalid (hostile or broken
    /// file).
    #[error("TreeEnsembleClassifier attribute {attribute}: {reason}")]
    TreeAttribute {
        /// The attribute (or attributes) at fault.
        attribute: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The input does not have the shape the runner was built for.
    #[error("input has {got} values, the model expects {expected} ({shape:?})")]
    Input {
        /// Values given.
        got: usize,
        /// Values expected.
        expected: usize,
        /// The full input shape.
        shape: Vec<usize>,
    },
}

fn tract_err(e: TractError) -> OnnxError {
    OnnxError::Tract(e.into())
}

/// tract's ONNX loader. The browser's has only the operators cis490's
/// graphs use (`onnx_lean`, vendor/README.md): with tract-nnef's `patch`
/// transform left out too (feature `lean`), the bundle loses the other
/// operators (FFT, ML, quantized, ...), the NNEF registry and rustfft, half
/// its size. Natively every operator, so that tract can run any file (the
/// tree ensemble's parity tests too).
fn registry() -> tract_onnx::Onnx {
    #[cfg(target_arch = "wasm32")]
    return tract_onnx::onnx_lean();
    #[cfg(not(target_arch = "wasm32"))]
    tract_onnx::onnx()
}

/// What runs a model.
#[derive(Debug, Clone)]
enum Engine {
    /// The compact tree-ensemble evaluator.
    Trees(Arc<TreeEnsemble>),
    /// tract's optimized plan.
    Tract(Arc<TypedRunnableModel>),
}

/// An ONNX model loaded for one input shape (batch first), run by the
/// tree-ensemble evaluator when the file is one tree ensemble, by tract
/// otherwise ([`OnnxRunner::engine`] says which).
#[derive(Debug, Clone)]
pub struct OnnxRunner {
    engine: Engine,
    shape: Vec<usize>,
}

impl OnnxRunner {
    /// Loads `bytes` (an ONNX file) for inputs of exactly `shape`: a single
    /// `TreeEnsembleClassifier` over a `batch × features` input runs on
    /// [`tree_ensemble`], anything else on tract. A tree ensemble with an
    /// invalid attribute is an error ([`OnnxError::TreeAttribute`]).
    pub fn new(bytes: &[u8], shape: &[usize]) -> Result<Self, OnnxError> {
        use prost::Message;
        if let ([_, width], Ok(model)) = (shape, tract_onnx::pb::ModelProto::decode(bytes))
            && let Compiled::Trees(trees) = tree_ensemble::compile(&model, *width)?
            && trees.classes() == NUM_CLASSES
        {
            return Ok(Self { engine: Engine::Trees(Arc::new(trees)), shape: shape.to_vec() });
        }
        Self::with_tract(bytes, shape)
    }

    /// Loads `bytes` for inputs of exactly `shape` on tract whatever the
    /// graph (to compare engines, and for the parity tests); in the browser
    /// only graphs of the operators cis490's networks use load
    /// (`registry`).
    pub fn with_tract(bytes: &[u8], shape: &[usize]) -> Result<Self, OnnxError> {
        Self::on_tract(registry(), bytes, shape)
    }

    /// [`OnnxRunner::with_tract`] with the browser's lean registry, natively:
    /// the tests check that it runs every exported network alike.
    #[cfg(all(test, feature = "training"))]
    pub(crate) fn with_lean_tract(bytes: &[u8], shape: &[usize]) -> Result<Self, OnnxError> {
        Self::on_tract(tract_onnx::onnx_lean(), bytes, shape)
    }

    fn on_tract(onnx: tract_onnx::Onnx, bytes: &[u8], shape: &[usize]) -> Result<Self, OnnxError> {
        let plan = onnx
            .with_ignore_value_info(true)
            .model_for_read(&mut &bytes[..])
            .map_err(tract_err)?
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(tract_err)?
            .into_optimized()
            .map_err(tract_err)?
            .into_runnable()
            .map_err(tract_err)?;
        Ok(Self { engine: Engine::Tract(plan), shape: shape.to_vec() })
    }

    /// The input shape the runner was built for.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Which engine runs the model: `"trees"` (the compact tree-ensemble
    /// evaluator) or `"tract"`.
    pub fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Trees(_) => "trees",
            Engine::Tract(_) => "tract",
        }
    }

    /// The compiled tree ensemble when [`OnnxRunner::engine`] is `"trees"`.
    pub fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        match &self.engine {
            Engine::Trees(trees) => Some(trees),
            Engine::Tract(_) => None,
        }
    }

    /// Class probabilities (`batch × 7`, row-major) for `x` laid out as
    /// `shape` (row-major).
    pub fn probabilities(&self, x: &[f32]) -> Result<Vec<f32>, OnnxError> {
        let expected: usize = self.shape.iter().product();
        if x.len() != expected {
            return Err(OnnxError::Input { got: x.len(), expected, shape: self.shape.clone() });
        }
        let plan = match &self.engine {
            Engine::Trees(trees) => return trees.predict(x, self.shape[0]),
            Engine::Tract(plan) => plan,
        };
        let input = tract_onnx::prelude::Tensor::from_shape(&self.shape, x).map_err(tract_err)?;
        let outputs = plan.run(tvec!(input.into_tvalue())).map_err(tract_err)?;
        let probs = outputs.get(1).ok_or_else(|| OnnxError::Tract("no probabilities output".into()))?;
        let view = probs.to_plain_array_view::<f32>().map_err(tract_err)?;
        let out: Vec<f32> = view.iter().copied().collect();
        if out.len() != self.shape[0] * NUM_CLASSES {
            return Err(OnnxError::Tract(format!("probabilities have {} values, not batch × 7", out.len()).into()));
        }
        Ok(out)
    }
}

/// Loads and runs a model once on tract on `x` of shape `shape` (batch first);
/// returns the probabilities (`batch × 7`).
pub fn run_tract(bytes: &[u8], x: &[f32], shape: &[usize]) -> Result<Vec<f32>, OnnxError> {
    OnnxRunner::with_tract(bytes, shape)?.probabilities(x)
}

/// The `metadata_props` of an ONNX file, e.g. to check a model's schema
/// hash before running it.
pub fn metadata(bytes: &[u8]) -> Result<Vec<(String, String)>, OnnxError> {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(bytes).map_err(OnnxError::NotOnnx)?;
    Ok(model.metadata_props.into_iter().map(|p| (p.key, p.value)).collect())
}
