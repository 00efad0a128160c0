//! The dashboard's in-browser model runner. The browser scene sends a
//! model's `model.onnx` and then one window at a time (the 46 channels × 20
//! steps of the replay, with which cells were observed); the runner
//! computes the model's inputs exactly as the server does
//! (`cis490_shared::features::stats::window_features`, then
//! `cis490_models::variant::WindowInputs`, the same selection the server's
//! live predictions use) and runs it with `OnnxRunner` (tract, or for the
//! tree ensemble the project's compact evaluator). The ONNX file's
//! metadata (`architecture`, `variant`, `input_shape`) says how to feed it.
//!
//! [`WindowModel`] is plain Rust, unit-tested natively; on wasm32 the
//! `Runner` wrapper exports it to JavaScript (`runner-worker.js`).

use std::str::FromStr;

use cis490_models::onnx::{self, OnnxRunner};
use cis490_models::variant::{Variant, WindowInputs};
use cis490_shared::error_chain;
use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::features::align::Grid;
use cis490_shared::features::stats::window_features;
use cis490_shared::registry::CHANNELS;

/// Values in one window: 46 channels × 20 steps.
pub const WINDOW_CELLS: usize = 46 * WINDOW_STEPS;

/// A loaded model and how to turn a window into its input.
#[derive(Debug)]
pub struct WindowModel {
    runner: OnnxRunner,
    inputs: WindowInputs,
    /// `<architecture>-<variant>`, from the file's metadata.
    pub name: String,
}

fn meta<'a>(props: &'a [(String, String)], key: &str) -> Result<&'a str, String> {
    props
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("model.onnx has no {key:?} metadata"))
}

impl WindowModel {
    /// Loads an ONNX file written by `cis490 train`.
    pub fn load(bytes: &[u8]) -> Result<WindowModel, String> {
        let props = onnx::metadata(bytes).map_err(|e| error_chain(&e))?;
        let architecture = meta(&props, "architecture")?;
        let variant = Variant::from_str(meta(&props, "variant")?)?;
        let dims: Vec<usize> =
            serde_json::from_str(meta(&props, "input_shape")?).map_err(|e| format!("input_shape metadata: {e}"))?;
        let inputs = WindowInputs::for_model(variant, &dims).map_err(|e| format!("model.onnx: {e}"))?;
        let runner = OnnxRunner::new(bytes, &[&[1][..], &dims].concat()).map_err(|e| error_chain(&e))?;
        Ok(WindowModel { runner, inputs, name: format!("{architecture}-{}", variant.as_str()) })
    }

    /// The model's input for one window: `values` and `observed` are
    /// channel-major 46 × 20 (`values[c * 20 + k]`, registry order), filled
    /// cells carrying the last observed value as on the server's grid.
    pub fn input(&self, values: &[f32], observed: &[u8]) -> Result<Vec<f32>, String> {
        if values.len() != WINDOW_CELLS || observed.len() != WINDOW_CELLS {
            return Err(format!(
                "a window is {} channels × {WINDOW_STEPS} steps = {WINDOW_CELLS} values, got {} values and {} flags",
                CHANNELS.len(),
                values.len(),
                observed.len()
            ));
        }
        let grid = Grid {
            start_wall_ns: 0,
            steps: WINDOW_STEPS,
            values: values.to_vec(),
            present: observed.iter().map(|o| *o != 0).collect(),
        };
        let features = window_features(&grid, 0);
        Ok(self.inputs.select(&features.summary, &features.tensor))
    }

    /// Class probabilities (label order) for one window.
    pub fn run(&self, values: &[f32], observed: &[u8]) -> Result<Vec<f32>, String> {
        let x = self.input(values, observed)?;
        self.runner.probabilities(&x).map_err(|e| error_chain(&e))
    }
}

#[cfg(target_arch = "wasm32")]
mod exported {
    //! The JavaScript face of [`WindowModel`].

    use wasm_bindgen::prelude::*;

    use super::WindowModel;

    /// A model loaded in the worker.
    #[wasm_bindgen]
    pub struct Runner(WindowModel);

    #[wasm_bindgen]
    impl Runner {
        /// Loads a `model.onnx`; throws with the reason when it cannot.
        #[wasm_bindgen(constructor)]
        pub fn new(bytes: &[u8]) -> Result<Runner, JsError> {
            WindowModel::load(bytes).map(Runner).map_err(|e| JsError::new(&e))
        }

        /// `<architecture>-<variant>`.
        pub fn name(&self) -> String {
            self.0.name.clone()
        }

        /// Class probabilities for one 46 × 20 window.
        pub fn run(&self, values: &[f32], observed: &[u8]) -> Result<Vec<f32>, JsError> {
            self.0.run(values, observed).map_err(|e| JsError::new(&e))
        }
    }
}
