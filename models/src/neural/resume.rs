//! The trainer's whole state after an epoch, as bytes: enough to continue
//! a run exactly where it stopped (current and best weights, the AdamW
//! moments, the generator's state, the running window order, the history).
//!
//! Layout: `CIS490-TRAINER-STATE\n`, a little-endian `u64` length and a
//! JSON header (scalars, history and the run's identity: architecture,
//! input, width, trainer settings and training-set size), then five
//! length-prefixed blobs: parameter ids in traversal order, current
//! weights, optimizer record (burnpack), best weights, window order
//! (`u32` each). A state saved for another run is refused by name.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::trainer::{EpochReport, TrainConfig};
use super::weights::Weights;
use super::{Arch, InputShape, Net, NeuralError};

const MAGIC: &[u8] = b"CIS490-TRAINER-STATE\n";

/// Largest header accepted (the history of a few thousand epochs).
const MAX_HEADER: u64 = 16 << 20;

/// Where a training run stands after its last completed epoch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Seconds spent in steps.
    pub step_seconds: f64,
    /// Wall seconds of the earlier runs (a resumed run adds its own).
    pub seconds_before: f64,
    /// Best validation macro F1 so far.
    pub best_f1: f64,
    /// Its epoch.
    pub best_epoch: usize,
    /// Every epoch so far.
    pub history: Vec<EpochReport>,
    /// The batch-order generator's state.
    pub rng_state: u64,
    /// The best epoch's weights ([`Weights`] bytes).
    #[serde(skip)]
    pub best_weights: Vec<u8>,
    /// The running order of training windows (shuffled in place each covering epoch).
    #[serde(skip)]
    pub order: Vec<usize>,
    #[serde(skip)]
    net: Vec<u8>,
    #[serde(skip)]
    param_ids: Vec<u64>,
    #[serde(skip)]
    optimizer: Vec<u8>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct Identity {
    arch: Arch,
    input: InputShape,
    width: usize,
    config: serde_json::Value,
    train_windows: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    identity: Identity,
    state: TrainerState,
}

struct IdCollector(Vec<u64>);

impl ModuleVisitor for IdCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

struct IdSetter<'a> {
    ids: &'a [u64],
    next: usize,
}

impl ModuleMapper for IdSetter<'_> {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(id) = self.ids.get(self.next) {
            param.id = ParamId::from(*id);
        }
        self.next += 1;
        param
    }
}

fn identity(arch: Arch, input: InputShape, width: usize, cfg: &TrainConfig, n: usize) -> Identity {
    Identity { arch, input, width, config: serde_json::to_value(cfg).unwrap_or_default(), train_windows: n }
}

fn invalid(what: impl std::fmt::Display) -> NeuralError {
    NeuralError::Invalid(format!("trainer state: {what}"))
}

impl TrainerState {
    /// The state before the first epoch.
    pub fn fresh(lr: f64) -> Self {
        Self {
            epoch: 0,
            step: 0,
            lr,
            step_seconds: 0.0,
            seconds_before: 0.0,
            best_f1: -1.0,
            best_epoch: 0,
            history: Vec::new(),
            rng_state: 0,
            best_weights: Vec::new(),
            order: Vec::new(),
            net: Vec::new(),
            param_ids: Vec::new(),
            optimizer: Vec::new(),
        }
    }

    /// The state as bytes, with the current `net` and `optim`.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        net: &Net,
        optim: &ModuleOptimizer,
        arch: Arch,
        input: InputShape,
        width: usize,
        cfg: &TrainConfig,
        train_windows: usize,
    ) -> Result<Vec<u8>, NeuralError> {
        let header = Header { identity: identity(arch, input, width, cfg, train_windows), state: self.clone() };
        let json = serde_json::to_vec(&header).map_err(invalid)?;
        let mut ids = IdCollector(Vec::new());
        net.visit(&mut ids);
        let optimizer = optim.into_bytes().map_err(|e| invalid(format!("{e:?}")))?;
        let order: Vec<u8> = self
            .order
            .iter()
            .map(|i| u32::try_from(*i).map_err(|_| invalid("more than 2^32 training windows")))
            .collect::<Result<Vec<u32>, _>>()?
            .into_iter()
            .flat_map(u32::to_le_bytes)
            .collect();
        let blobs: [&[u8]; 6] = [
            &json,
            &ids.0.iter().flat_map(|i| i.to_le_bytes()).collect::<Vec<u8>>(),
            &net.save()?.to_bytes(),
            &optimizer,
            &self.best_weights,
            &order,
        ];
        let mut out = MAGIC.to_vec();
        for blob in blobs {
            out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
            out.extend_from_slice(blob);
        }
        Ok(out)
    }

    /// Reads a state saved by [`TrainerState::encode`] for this very run
    /// (same architecture, input, width, settings and training set size).
    pub fn decode(
        bytes: &[u8],
        arch: Arch,
        input: InputShape,
        width: usize,
        cfg: &TrainConfig,
        train_windows: usize,
    ) -> Result<Self, NeuralError> {
        let mut rest = bytes.strip_prefix(MAGIC).ok_or_else(|| invalid("not a cis490 trainer state"))?;
        let mut blob = |limit: u64| -> Result<&[u8], NeuralError> {
            let (len, tail) = rest.split_first_chunk::<8>().ok_or_else(|| invalid("truncated"))?;
            let len = u64::from_le_bytes(*len);
            if len > limit || len > tail.len() as u64 {
                return Err(invalid("truncated or oversized part"));
            }
            let (part, tail) = tail.split_at(len as usize);
            rest = tail;
            Ok(part)
        };
        let header: Header = serde_json::from_slice(blob(MAX_HEADER)?).map_err(invalid)?;
        if header.identity != identity(arch, input, width, cfg, train_windows) {
            return Err(invalid(
                "saved for another run (model, input, width, trainer settings or training set differ): \
                 start afresh without --resume",
            ));
        }
        let mut state = header.state;
        state.param_ids =
            blob(u64::MAX)?.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
        state.net = blob(u64::MAX)?.to_vec();
        state.optimizer = blob(u64::MAX)?.to_vec();
        state.best_weights = blob(u64::MAX)?.to_vec();
        state.order = blob(u64::MAX)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()) as usize)
            .collect();
        if state.order.len() != train_windows || state.order.iter().any(|i| *i >= train_windows) {
            return Err(invalid("window order does not fit the training set"));
        }
        if state.epoch == 0 || state.history.len() != state.epoch || state.best_weights.is_empty() {
            return Err(invalid("no completed epoch"));
        }
        Ok(state)
    }

    /// The saved network (weights and parameter ids, on `device`) and
    /// the saved optimizer state loaded into `optim`.
    pub fn restore(
        &self,
        (arch, input, width): (Arch, InputShape, usize),
        optim: ModuleOptimizer,
        device: &Device,
    ) -> Result<(Net, ModuleOptimizer), NeuralError> {
        let net = Net::load(arch, input, width, &Weights::from_bytes(&self.net)?, device)?;
        let mut ids = IdCollector(Vec::new());
        net.visit(&mut ids);
        if ids.0.len() != self.param_ids.len() {
            return Err(invalid("parameter count differs"));
        }
        let net = net.map(&mut IdSetter { ids: &self.param_ids, next: 0 });
        let optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(self.optimizer.clone()))
            .map_err(|e| invalid(format!("optimizer: {e:?}")))?;
        Ok((net, optim))
    }
}
