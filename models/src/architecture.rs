//! The six architectures behind one interface: fit on a training table with
//! a validation table for early stopping, predict probabilities, save and
//! load through a checkpoint, describe, export to ONNX.

use crate::checkpoint::CheckpointHeader;
use crate::gbt::{Gbt, GbtConfig, GbtError};
use crate::table::Table;
use std::sync::Arc;

use crate::kind::{Architecture, HeaderMismatch, InputShape, header_input};
use crate::neural::source::WindowSource;
use crate::neural::trainer::{Hooks, TrainConfig, expand_normalization, train};
use crate::neural::{NeuralError, NeuralModel};
use crate::onnx::trees::tree_model_bytes;
use crate::score::{argmax_rows, macro_f1};
use crate::{ClassProbabilities, Classifier, ModelError, NUM_CLASSES};

/// Hyper-parameters of every architecture.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    /// The trees'.
    pub gbt: GbtConfig,
    /// The networks' trainer.
    pub neural: TrainConfig,
}

/// Fitting or loading failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The trees failed.
    #[error(transparent)]
    Gbt(#[from] GbtError),
    /// A network failed.
    #[error(transparent)]
    Neural(#[from] NeuralError),
    /// The checkpoint does not describe a loadable model.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The checkpoint's header does not fit its architecture.
    #[error(transparent)]
    Header(#[from] HeaderMismatch),
    /// The ONNX export failed.
    #[error("ONNX export")]
    Onnx(#[source] crate::onnx::OnnxError),
}

/// A trained model of any architecture.
#[derive(Debug)]
pub enum TrainedModel {
    /// Trees.
    Gbt(Gbt),
    /// A network.
    Neural(NeuralModel),
}

/// What fitting produced.
#[derive(Debug)]
pub struct Fitted {
    /// The model (for networks: the best epoch's weights).
    pub model: TrainedModel,
    /// Validation macro F1 of the returned model.
    pub val_macro_f1: f64,
    /// Architecture configuration, stored in the checkpoint.
    pub config: serde_json::Value,
    /// Training details, stored in the checkpoint: the networks' report
    /// (epochs, `history`); the trees' `val_loss` (validation log-loss per
    /// boosting round).
    pub details: serde_json::Value,
}

/// The windows a model is fitted on.
#[derive(Clone, Copy)]
pub enum FitData<'a> {
    /// Tables in memory (summary features: the trees need these; the mlp
    /// reads them as a source), shared between the jobs that read them.
    Tables {
        /// Training side.
        train: &'a Arc<Table>,
        /// Validation side.
        val: &'a Arc<Table>,
    },
    /// Window sources (the networks; e.g. tensors in a file on disk).
    Sources {
        /// Training side.
        train: &'a dyn WindowSource,
        /// Validation side.
        val: &'a dyn WindowSource,
    },
}

impl FitData<'_> {
    /// Training windows.
    pub fn train_windows(&self) -> usize {
        match self {
            FitData::Tables { train, .. } => train.rows,
            FitData::Sources { train, .. } => train.labels().len(),
        }
    }

    /// Validation windows.
    pub fn val_windows(&self) -> usize {
        match self {
            FitData::Tables { val, .. } => val.rows,
            FitData::Sources { val, .. } => val.labels().len(),
        }
    }
}

/// Fits `arch` on `data`'s training side, early-stopping on its validation
/// side. `norm` is the training split's mean and std per input feature
/// (summary) or per channel (tensors); `hooks` sees each neural epoch and
/// batch (and saves or resumes the trainer's state), `on_round` each
/// boosting round of the trees (returning `false` stops them).
pub fn fit(
    arch: Architecture,
    input: InputShape,
    data: FitData<'_>,
    norm: (&[f64], &[f64]),
    settings: &FitSettings,
    hooks: Hooks<'_>,
    on_round: &mut (dyn FnMut(usize) -> bool + Send),
) -> Result<Fitted, FitError> {
    match (arch, data) {
        (Architecture::Gbt, FitData::Tables { train: train_table, val: val_table }) => {
            let gbt = Gbt::fit_shared(train_table, val_table, &settings.gbt, on_round)?;
            let predicted = argmax_rows(&gbt.predict_proba(val_table)?, NUM_CLASSES);
            Ok(Fitted {
                val_macro_f1: macro_f1(&val_table.y, &predicted, NUM_CLASSES),
                config: serde_json::to_value(&settings.gbt).unwrap_or_default(),
                details: serde_json::json!({"val_loss": gbt.validation_losses()}),
                model: TrainedModel::Gbt(gbt),
            })
        }
        (Architecture::Gbt, FitData::Sources { .. }) => {
            Err(FitError::Checkpoint("the trees are fitted on tables in memory, not on window sources".into()))
        }
        (Architecture::Neural(a), data) => {
            let norm = expand_normalization(input, norm.0, norm.1);
            let (train_windows, val_windows): (&dyn WindowSource, &dyn WindowSource) = match data {
                FitData::Tables { train, val } => (train.as_ref(), val.as_ref()),
                FitData::Sources { train, val } => (train, val),
            };
            let compute = hooks.compute;
            let (model, report) = train(a, input, &settings.neural, norm, train_windows, val_windows, hooks)?;
            Ok(Fitted {
                val_macro_f1: report.best_val_macro_f1,
                config: serde_json::json!({
                    "width": model.width,
                    "trainer": settings.neural,
                    "compute": {"device": compute.device.to_string(), "precision": compute.precision},
                }),
                details: serde_json::to_value(&report).unwrap_or_default(),
                model: TrainedModel::Neural(model),
            })
        }
    }
}

impl TrainedModel {
    /// The model with its network's predictions on `device` (the trees
    /// always predict on the CPU).
    pub fn on_device(self, device: crate::neural::device::ComputeDevice) -> Result<Self, FitError> {
        Ok(match self {
            TrainedModel::Neural(n) => TrainedModel::Neural(n.on_device(device)?),
            gbt @ TrainedModel::Gbt(_) => gbt,
        })
    }

    /// The weights as checkpoint bytes.
    pub fn weights_bytes(&self) -> Result<Vec<u8>, FitError> {
        match self {
            TrainedModel::Gbt(g) => Ok(g.to_bytes()?),
            TrainedModel::Neural(n) => Ok(n.weights_bytes().map_err(NeuralError::Weights)?),
        }
    }

    /// Rebuilds a model from a decoded checkpoint.
    pub fn load(header: &CheckpointHeader, weights: &[u8]) -> Result<Self, FitError> {
        let (arch, input) = header_input(header)?;
        match arch {
            Architecture::Gbt => Ok(TrainedModel::Gbt(Gbt::from_bytes(weights, header.feature_names.len())?)),
            Architecture::Neural(a) => {
                let width = header
                    .config
                    .get("width")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| FitError::Checkpoint("config.width is missing".into()))?;
                let (mean, std) = expand_normalization(input, &header.norm_mean, &header.norm_std);
                Ok(TrainedModel::Neural(NeuralModel::from_bytes(a, input, width as usize, mean, std, weights)?))
            }
        }
    }

    /// The model as an ONNX file with `header`'s facts in `metadata_props`.
    pub fn onnx_bytes(&self, header: &CheckpointHeader) -> Result<Vec<u8>, FitError> {
        let metadata = header.onnx_metadata();
        match self {
            TrainedModel::Gbt(g) => {
                tree_model_bytes(&g.xgboost_json()?, g.input_len(), &metadata).map_err(FitError::Onnx)
            }
            TrainedModel::Neural(n) => Ok(n.onnx_bytes(&metadata).map_err(NeuralError::Weights)?),
        }
    }

    /// Input dimensions after the batch.
    pub fn input_dims(&self) -> Vec<usize> {
        match self {
            TrainedModel::Gbt(g) => vec![g.input_len()],
            TrainedModel::Neural(n) => n.input.dims(),
        }
    }

    fn classifier(&self) -> &dyn Classifier {
        match self {
            TrainedModel::Gbt(g) => g,
            TrainedModel::Neural(n) => n,
        }
    }
}

impl Classifier for TrainedModel {
    fn describe(&self) -> String {
        self.classifier().describe()
    }

    fn input_len(&self) -> usize {
        self.classifier().input_len()
    }

    fn predict_proba(&self, windows: &[&[f32]]) -> Result<Vec<ClassProbabilities>, ModelError> {
        self.classifier().predict_proba(windows)
    }
}
