//! Which model a checkpoint describes: the six architecture names, the
//! five networks among them, the shape of one input window, and the check
//! that a checkpoint header's shape fits its architecture. Always built
//! (also for wasm32 and the edge binary, which run models but never train
//! them); fitting lives in [`crate::architecture`] behind the `training`
//! feature.

use cis490_shared::features::WINDOW_STEPS;

use crate::checkpoint::CheckpointHeader;

/// An architecture name: `gbt` or one of the five networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Gradient-boosted trees on summary features.
    Gbt,
    /// A neural network.
    Neural(Arch),
}

impl Architecture {
    /// All six, in the order runs and reports list them
    /// ([`cis490_shared::evaluation::MODEL_ORDER`], tested).
    pub const ALL: [Architecture; 6] = [
        Architecture::Gbt,
        Architecture::Neural(Arch::Mlp),
        Architecture::Neural(Arch::Cnn),
        Architecture::Neural(Arch::Gru),
        Architecture::Neural(Arch::Lstm),
        Architecture::Neural(Arch::Transformer),
    ];

    /// The name used on the command line, in run folders and checkpoints.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Gbt => "gbt",
            Architecture::Neural(a) => a.as_str(),
        }
    }

    /// Whether it reads the channel × time tensor (else summary features).
    pub fn reads_tensors(self) -> bool {
        matches!(self, Architecture::Neural(a) if a.reads_tensors())
    }

    /// The input shape for a variant with `channels` channels and
    /// `features` summary features.
    pub fn input_shape(self, channels: usize, features: usize) -> InputShape {
        if self.reads_tensors() {
            InputShape::Sequence { channels, steps: WINDOW_STEPS }
        } else {
            InputShape::Features(features)
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Architecture::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
            format!("unknown model {s:?} (known: {})", known.join(", "))
        })
    }
}

/// The neural architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Perceptron on summary features.
    Mlp,
    /// 1D convolutions over time.
    Cnn,
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
    /// Small self-attention encoder.
    Transformer,
}

impl Arch {
    /// All five.
    pub const ALL: [Arch; 5] = [Arch::Mlp, Arch::Cnn, Arch::Gru, Arch::Lstm, Arch::Transformer];

    /// The name used on the command line and in run folders.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Mlp => "mlp",
            Arch::Cnn => "cnn",
            Arch::Gru => "gru",
            Arch::Lstm => "lstm",
            Arch::Transformer => "transformer",
        }
    }

    /// Whether it reads the channel × time tensor (else summary features).
    pub fn reads_tensors(self) -> bool {
        self != Arch::Mlp
    }

    /// The default width (hidden units, filters or model dimension).
    pub fn default_width(self) -> usize {
        match self {
            Arch::Mlp => 128,
            Arch::Cnn => 32,
            Arch::Gru | Arch::Lstm => 64,
            Arch::Transformer => 32,
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Arch::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| format!("{s:?} is not a neural architecture"))
    }
}

/// The shape of one input window (without the batch dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputShape {
    /// A vector of summary features.
    Features(usize),
    /// Channels × steps, channel-major.
    Sequence {
        /// Channels.
        channels: usize,
        /// Time steps.
        steps: usize,
    },
}

impl InputShape {
    /// Values per window.
    pub fn len(self) -> usize {
        match self {
            InputShape::Features(n) => n,
            InputShape::Sequence { channels, steps } => channels * steps,
        }
    }

    /// True for an empty input (never for a real model).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The dimensions after the batch.
    pub fn dims(self) -> Vec<usize> {
        match self {
            InputShape::Features(n) => vec![n],
            InputShape::Sequence { channels, steps } => vec![channels, steps],
        }
    }
}

/// A checkpoint header whose architecture or input shape is not one cis490
/// can load.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint: {0}")]
pub struct HeaderMismatch(pub String);

/// The architecture and input shape a checkpoint header describes,
/// refusing a header whose `input_shape` contradicts its channels.
pub fn header_input(header: &CheckpointHeader) -> Result<(Architecture, InputShape), HeaderMismatch> {
    let arch: Architecture = header.architecture.parse().map_err(HeaderMismatch)?;
    let input = arch.input_shape(header.channels.len(), header.feature_names.len());
    if !header.input_shape.is_empty() && header.input_shape != input.dims() {
        return Err(HeaderMismatch(format!(
            "input shape {:?} does not fit a {} model on {} channels",
            header.input_shape,
            arch.as_str(),
            header.channels.len()
        )));
    }
    Ok((arch, input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Variant;
    use cis490_shared::evaluation::{MODEL_ORDER, VARIANT_ORDER};

    #[test]
    fn runs_list_models_in_the_report_order() {
        assert_eq!(Architecture::ALL.map(Architecture::as_str), MODEL_ORDER);
        assert_eq!(Variant::ALL.map(Variant::as_str), VARIANT_ORDER);
    }
}
