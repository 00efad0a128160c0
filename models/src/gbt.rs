//! Gradient-boosted trees on summary features (hessboost, multiclass
//! softprob), with early stopping on the validation log-loss.

use std::num::NonZeroUsize;
use std::sync::Arc;

use hessboost::objective::Multiclass;
use hessboost::prelude::*;

use crate::NUM_CLASSES;
use crate::table::Table;

/// Hyper-parameters of the tree ensemble.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GbtConfig {
    /// Most boosting rounds.
    pub rounds: usize,
    /// Tree depth.
    pub max_depth: usize,
    /// Learning rate.
    pub eta: f64,
    /// Stop after this many rounds without a better validation log-loss.
    pub early_stopping_rounds: usize,
}

impl Default for GbtConfig {
    fn default() -> Self {
        Self { rounds: 300, max_depth: 6, eta: 0.1, early_stopping_rounds: 20 }
    }
}

/// Training or prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum GbtError {
    /// The data has the wrong shape.
    #[error("{0}")]
    Shape(String),
    /// hessboost refused or failed.
    #[error("gradient boosting")]
    Boost(#[source] cis490_shared::Cause),
    /// Stopped on request after `rounds` rounds (trees are not resumable: they start again).
    #[error("interrupted after {rounds} boosting rounds")]
    Interrupted {
        /// Rounds done.
        rounds: usize,
    },
}

fn boost(e: impl Into<cis490_shared::Cause>) -> GbtError {
    GbtError::Boost(e.into())
}

fn check_shape(t: &Table, labels: bool) -> Result<(), GbtError> {
    if t.x.len() != t.rows * t.cols || (labels && t.y.len() != t.rows) {
        return Err(GbtError::Shape(format!(
            "{} values, {} labels for {} rows × {} columns",
            t.x.len(),
            t.y.len(),
            t.rows,
            t.cols
        )));
    }
    Ok(())
}

fn with_labels(m: DMatrix, t: &Table) -> Result<DMatrix, GbtError> {
    let y: Vec<f32> = t.y.iter().map(|c| *c as f32).collect();
    m.with_labels(&y).map_err(boost)
}

/// A copy of `t`'s values as a matrix (prediction inputs).
fn matrix(t: &Table, labels: bool) -> Result<DMatrix, GbtError> {
    check_shape(t, labels)?;
    let m = DMatrix::from_dense(&t.x, t.rows, t.cols).map_err(boost)?;
    if labels { with_labels(m, t) } else { Ok(m) }
}

/// `t`'s values as a labelled matrix read in place (no copy): a training
/// table of the lab's corpus is the largest thing in memory.
struct SharedValues(Arc<Table>);

impl AsRef<[f32]> for SharedValues {
    fn as_ref(&self) -> &[f32] {
        &self.0.x
    }
}

fn shared_matrix(t: &Arc<Table>) -> Result<DMatrix, GbtError> {
    check_shape(t, true)?;
    let m =
        DMatrix::from_dense_shared(Arc::new(SharedValues(Arc::clone(t))), t.rows, t.cols, f32::NAN).map_err(boost)?;
    with_labels(m, t)
}

/// A trained tree ensemble.
#[derive(Debug, Clone)]
pub struct Gbt {
    model: BoostedModel,
    cols: usize,
    /// The validation log-loss after each boosting round of the fit (empty
    /// for a model read from bytes).
    val_loss: Vec<f64>,
}

impl Gbt {
    /// Trains on `train`, stopping early on `val`'s multiclass log-loss.
    pub fn fit(train: &Table, val: &Table, config: &GbtConfig) -> Result<Self, GbtError> {
        Self::fit_shared(&Arc::new(train.clone()), &Arc::new(val.clone()), config, &mut |_| true)
    }

    /// [`Gbt::fit`] over shared tables, read in place; `on_round` sees
    /// each finished boosting round (0-based) and returns `false` to stop
    /// training ([`GbtError::Interrupted`]).
    pub fn fit_shared(
        train: &Arc<Table>,
        val: &Arc<Table>,
        config: &GbtConfig,
        on_round: &mut (dyn FnMut(usize) -> bool + Send),
    ) -> Result<Self, GbtError> {
        let params = TrainingParams::builder()
            .objective(Objective::Softprob(Multiclass::new(NUM_CLASSES).map_err(boost)?))
            .tree_method(TreeMethod::Hist)
            .max_depth(config.max_depth)
            .eta(config.eta)
            .build()
            .map_err(boost)?;
        let dtrain = shared_matrix(train)?;
        let dval = shared_matrix(val)?;
        let patience = NonZeroUsize::new(config.early_stopping_rounds.max(1)).unwrap_or(NonZeroUsize::MIN);
        let mut stopped = None;
        let result = Trainer::new(&params, &dtrain, config.rounds.max(1))
            .eval(&dval, "valid")
            .early_stopping_rounds(patience)
            .on_round(|round| {
                if on_round(round.iteration()) {
                    std::ops::ControlFlow::Continue(())
                } else {
                    stopped = Some(round.iteration() + 1);
                    std::ops::ControlFlow::Break(())
                }
            })
            .train()
            .map_err(boost)?;
        if let Some(rounds) = stopped {
            return Err(GbtError::Interrupted { rounds });
        }
        // The early-stopping metric is the last one recorded on "valid".
        let val_loss = match result.history.metrics().last() {
            Some(metric) => result.history.series("valid", metric).map(Iterator::collect).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Self { model: result.model, cols: train.cols, val_loss })
    }

    /// Class probabilities per row (`rows × 7`, row-major).
    pub fn predict_proba(&self, x: &Table) -> Result<Vec<f32>, GbtError> {
        if x.cols != self.cols {
            return Err(GbtError::Shape(format!("{} features per row, the model expects {}", x.cols, self.cols)));
        }
        let probs = self.model.predict(&matrix(x, false)?, Iterations::Best).map_err(boost)?;
        Ok(probs.as_slice().to_vec())
    }

    /// The model's bytes (hessboost's native format).
    pub fn to_bytes(&self) -> Result<Vec<u8>, GbtError> {
        self.model.encode(ModelFormat::Binary).map_err(boost)
    }

    /// The model in XGBoost's JSON model format (for ONNX export).
    pub fn xgboost_json(&self) -> Result<serde_json::Value, GbtError> {
        let bytes = self.model.encode(ModelFormat::XgboostJson).map_err(boost)?;
        serde_json::from_slice(&bytes).map_err(boost)
    }

    /// Features per input row.
    pub fn input_len(&self) -> usize {
        self.cols
    }

    /// The validation multiclass log-loss after each boosting round of the
    /// fit, in order (empty for a model read with [`Gbt::from_bytes`]).
    pub fn validation_losses(&self) -> &[f64] {
        &self.val_loss
    }

    /// A model from [`Gbt::to_bytes`] for inputs of `cols` features.
    pub fn from_bytes(bytes: &[u8], cols: usize) -> Result<Self, GbtError> {
        Ok(Self { model: BoostedModel::decode(bytes, ModelFormat::Binary).map_err(boost)?, cols, val_loss: Vec::new() })
    }
}

impl crate::Classifier for Gbt {
    fn describe(&self) -> String {
        format!("gbt: hessboost softprob trees over {} summary features", self.cols)
    }

    fn input_len(&self) -> usize {
        self.cols
    }

    fn predict_proba(&self, windows: &[&[f32]]) -> Result<Vec<crate::ClassProbabilities>, crate::ModelError> {
        if let Some(bad) = windows.iter().find(|w| w.len() != self.cols) {
            return Err(crate::ModelError::InputShape { expected: self.cols, got: bad.len() });
        }
        let table = Table { x: windows.concat(), rows: windows.len(), cols: self.cols, y: Vec::new() };
        let flat = Gbt::predict_proba(self, &table).map_err(|e| crate::ModelError::Backend(e.into()))?;
        Ok(flat
            .chunks(NUM_CLASSES)
            .map(|row| {
                let mut p = [0.0; NUM_CLASSES];
                p.copy_from_slice(row);
                p
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Table {
        // Seven well-separated classes on two features.
        let mut t = Table { cols: 2, ..Table::default() };
        for i in 0..140u32 {
            let class = i % 7;
            t.x.extend([class as f32 + (i % 3) as f32 * 0.01, (i % 5) as f32]);
            t.y.push(class);
            t.rows += 1;
        }
        t
    }

    #[test]
    fn it_learns_a_tiny_set_perfectly_and_deterministically() -> Result<(), GbtError> {
        let t = tiny();
        let config = GbtConfig { rounds: 50, max_depth: 3, eta: 0.3, early_stopping_rounds: 10 };
        let model = Gbt::fit(&t, &t, &config)?;
        let probs = model.predict_proba(&t)?;
        for (row, class) in probs.chunks(NUM_CLASSES).zip(&t.y) {
            let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32);
            assert_eq!(best, Some(*class));
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        let losses = model.validation_losses();
        assert!(!losses.is_empty() && losses.len() <= 50, "one validation loss per round: {}", losses.len());
        assert!(losses.last() < losses.first(), "the loss falls on a separable set");
        let again = Gbt::fit(&t, &t, &config)?;
        assert_eq!(model.to_bytes()?, again.to_bytes()?, "same data, same model");
        let reloaded = Gbt::from_bytes(&model.to_bytes()?, 2)?;
        assert_eq!(reloaded.predict_proba(&t)?, probs);
        assert!(Gbt::from_bytes(b"not a model", 2).is_err());
        // The common interface gives the same probabilities.
        use crate::Classifier;
        let rows: Vec<&[f32]> = t.x.chunks(2).collect();
        let via_trait = Classifier::predict_proba(&model, &rows).map_err(boost)?;
        assert_eq!(via_trait.concat(), probs);
        assert!(Classifier::predict_proba(&model, &[&[1.0][..]]).is_err());
        Ok(())
    }
}
