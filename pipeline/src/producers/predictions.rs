//! `prediction` events: every trained model of a run (its `model.onnx`,
//! run by `OnnxRunner` — tract, or the compact evaluator for the trees — on
//! one window at a time, as a live deployment would) on the
//! windows of a replayed episode, with the class probabilities, the
//! prediction, the ground truth and the inference latency.

use std::path::Path;
use std::time::Instant;

use cis490_models::checkpoint::{self, CheckpointHeader};
use cis490_models::kind::header_input;
use cis490_models::onnx::OnnxRunner;
use cis490_models::variant::{Variant, WindowInputs};
use cis490_shared::Cause;
use cis490_shared::argmax::argmax;
use cis490_shared::events::{Number, PredictionEvent};
use cis490_shared::features::{STEP_NS, WINDOW_STEPS};
use cis490_shared::label::Label;
use serde_json::{Map, Value};

use crate::extract::episode::EpisodeWindows;
use crate::run_dir::{MAX_CHECKPOINT_BYTES, MAX_ONNX_BYTES, RunDir};
use crate::store::regular_file::read_regular;

/// A model of a run, loaded for single-window inference.
#[derive(Debug)]
pub struct LiveModel {
    /// Architecture name.
    pub model: String,
    /// Threat model.
    pub variant: Variant,
    /// Which of a window's features the model reads.
    inputs: WindowInputs,
    runner: OnnxRunner,
}

/// A run's models could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load {path}")]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// What is wrong.
    #[source]
    pub source: Cause,
}

/// Loads every `<model>-<variant>/model.onnx` of `run` (its checkpoint
/// header says what it reads; a foreign schema is refused).
pub fn load_run(run: &Path) -> Result<Vec<LiveModel>, LoadError> {
    let err = |path: &Path, source: Cause| LoadError { path: path.display().to_string(), source };
    let models = RunDir::new(run).models().map_err(|e| err(run, e.into()))?;
    if models.is_empty() {
        return Err(err(run, "no <model>-<variant>/model.onnx here (run `cis490 train` first)".into()));
    }
    models
        .iter()
        .map(|model| {
            let ckpt = model.checkpoint();
            let bytes = read_regular(&ckpt, MAX_CHECKPOINT_BYTES).map_err(|e| err(&ckpt, e.into()))?;
            let (header, _): (CheckpointHeader, _) = checkpoint::decode(&bytes).map_err(|e| err(&ckpt, e.into()))?;
            let (_, input) = header_input(&header).map_err(|e| err(&ckpt, e.into()))?;
            let inputs = WindowInputs::for_model(header.variant, &input.dims()).map_err(|e| err(&ckpt, e.into()))?;
            let onnx = model.onnx();
            let model_bytes = read_regular(&onnx, MAX_ONNX_BYTES).map_err(|e| err(&onnx, e.into()))?;
            let runner =
                OnnxRunner::new(&model_bytes, &[&[1][..], &input.dims()].concat()).map_err(|e| err(&onnx, e.into()))?;
            Ok(LiveModel { model: header.architecture.clone(), variant: header.variant, inputs, runner })
        })
        .collect()
}

/// One prediction event per model and kept window of `ep`, each paired
/// with the grid step at the window's end (when a live system would know).
pub fn prediction_events(models: &[LiveModel], ep: &EpisodeWindows, episode_id: &str) -> Vec<(usize, PredictionEvent)> {
    let mut out = Vec::new();
    for (window, features) in ep.windows.iter().zip(&ep.features) {
        let end_step = window.start_step + WINDOW_STEPS;
        let Some(t_s) = Number::from_f64((end_step as i64 * STEP_NS) as f64 / 1e9) else { continue };
        for model in models {
            let x = model.inputs.select(&features.summary, &features.tensor);
            let started = Instant::now();
            let name = || format!("{}-{}", model.model, model.variant.as_str());
            let probs = match model.runner.probabilities(&x) {
                Ok(probs) => probs,
                Err(e) => {
                    tracing::warn!("{}: inference failed on {episode_id}: {}", name(), crate::error_chain(&e));
                    continue;
                }
            };
            let (Some(latency_us), Some(best)) =
                (Number::from_f64(started.elapsed().as_secs_f64() * 1e6), argmax(&probs))
            else {
                tracing::warn!("{}: no probability is a number on {episode_id}", name());
                continue;
            };
            let by_label: Map<String, Value> =
                probs.iter().zip(Label::ALL).map(|(p, label)| (label.to_string(), Value::from(*p))).collect();
            let event = PredictionEvent {
                model: model.model.clone(),
                variant: model.variant.as_str().into(),
                episode_id: episode_id.into(),
                t_s: t_s.clone(),
                probs: by_label,
                predicted: Label::ALL[best].to_string(),
                truth: window.label.to_string(),
                latency_us,
                runtime: "server".into(),
                extra: Map::new(),
            };
            out.push((end_step, event));
        }
    }
    out
}
