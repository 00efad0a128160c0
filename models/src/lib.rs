//! The classifiers of cis490.
//!
//! - [`kind`]: the architecture names and input shapes a checkpoint
//!   describes;
//! - `architecture`: the six architectures behind one interface
//!   (fit, predict, save/load, describe, ONNX), with `training` only;
//! - [`variant`]: the realistic and oracle threat models (which features);
//! - [`checkpoint`]: schema-hashed checkpoints;
//! - `gbt`: gradient-boosted trees (hessboost), with `training` only;
//! - `neural`: the five burn networks and their trainer, with `training`
//!   only;
//! - [`table`]: rows of summary features with their classes;
//! - [`onnx`]: ONNX graph building and tract inference (also in wasm32);
//! - [`confusion`]: confusion matrices and the F1 conventions;
//! - [`score`]: validation macro F1.
//!
//! The `training` feature (on in the full `cis490` binary, off in the
//! browser and the Raspberry Pi edge build) brings the trainers and their
//! libraries (burn, hessboost); without it the crate loads checkpoints'
//! headers and runs ONNX files, nothing more.

#[cfg(feature = "training")]
pub mod architecture;
pub mod checkpoint;
pub mod confusion;
#[cfg(feature = "training")]
pub mod gbt;
pub mod kind;
#[cfg(feature = "training")]
pub mod neural;
pub mod onnx;
pub mod score;
pub mod table;
pub mod variant;

use cis490_shared::label::Label;

/// Number of window classes (benign and the six profiles).
pub const NUM_CLASSES: usize = Label::ALL.len();

/// Class probabilities of one window, indexed like [`Label::ALL`].
pub type ClassProbabilities = [f32; NUM_CLASSES];

/// Errors common to all classifiers.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The input has the wrong number of features.
    #[error("input has {got} features per window, the model expects {expected}")]
    InputShape {
        /// What the model expects.
        expected: usize,
        /// What it was given.
        got: usize,
    },
    /// The model's own library failed.
    #[error(transparent)]
    Backend(cis490_shared::Cause),
}

/// What every trained classifier can do.
pub trait Classifier {
    /// A one-line description (architecture, variant, size).
    fn describe(&self) -> String;
    /// Number of input features per window (flattened).
    fn input_len(&self) -> usize;
    /// Class probabilities for a batch of windows, each `input_len()` long.
    fn predict_proba(&self, windows: &[&[f32]]) -> Result<Vec<ClassProbabilities>, ModelError>;
}

/// The most probable class of one window ([`cis490_shared::argmax`]: the
/// lowest class wins a tie, NaN never wins; a window without any number
/// is called benign, class 0).
pub fn argmax(probs: &ClassProbabilities) -> Label {
    Label::ALL[cis490_shared::argmax::argmax(probs).unwrap_or(0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_picks_the_most_probable_class() {
        let mut p = [0.0; NUM_CLASSES];
        p[3] = 0.9;
        p[1] = 0.1;
        assert_eq!(argmax(&p), Label::ALL[3]);
        assert_eq!(argmax(&[0.0; NUM_CLASSES]), Label::Benign);
        p[5] = 0.9;
        assert_eq!(argmax(&p), Label::ALL[3], "a tie goes to the lowest class");
        assert_eq!(argmax(&[f32::NAN; NUM_CLASSES]), Label::Benign);
    }
}
