//! The two threat models: which channels, and so which features, a model
//! may see; and [`WindowInputs`], which of a window's features a given
//! model reads, in its input order.

use cis490_shared::features::WINDOW_STEPS;
use cis490_shared::features::stats::STAT_NAMES;
use cis490_shared::registry::{CHANNELS, Channel};

/// A threat model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Host-side channels only (30): the guest agent is the attacker's.
    Realistic,
    /// All 46 channels.
    Oracle,
}

impl Variant {
    /// Both variants.
    pub const ALL: [Variant; 2] = [Variant::Realistic, Variant::Oracle];

    /// The variant's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Realistic => "realistic",
            Variant::Oracle => "oracle",
        }
    }

    /// Registry indices of the channels this variant sees.
    pub fn channel_indices(self) -> Vec<usize> {
        CHANNELS.iter().enumerate().filter(|(_, c)| self == Variant::Oracle || c.realistic()).map(|(i, _)| i).collect()
    }

    /// Names of the channels this variant sees.
    pub fn channel_names(self) -> Vec<String> {
        self.channel_indices().into_iter().map(|i| CHANNELS[i].name()).collect()
    }

    /// Indices into the summary feature vector (channel-major, six
    /// statistics per channel) of the features this variant sees.
    pub fn summary_indices(self) -> Vec<usize> {
        let per = STAT_NAMES.len();
        self.channel_indices().into_iter().flat_map(|c| c * per..(c + 1) * per).collect()
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown variant {s:?} (expected realistic or oracle)"))
    }
}

/// Whether a channel is visible to `variant`.
pub fn sees(variant: Variant, channel: &Channel) -> bool {
    variant == Variant::Oracle || channel.realistic()
}

/// Which of a window's features a model reads, in its input order: the
/// variant's summary columns, or the variant's tensor channels. One
/// definition for the server's live predictions and the browser's runner,
/// so both feed a model exactly the same input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowInputs {
    /// Indices into a window's summary vector (46 channels × 6 statistics).
    Summary(Vec<usize>),
    /// Registry indices of the tensor channels, each 20 steps long.
    TensorChannels(Vec<usize>),
}

impl WindowInputs {
    /// For a model of `variant` whose input (after the batch) is `dims`:
    /// `[features]` reads the summary, `[channels, 20]` the tensor.
    pub fn for_model(variant: Variant, dims: &[usize]) -> Result<WindowInputs, String> {
        match dims {
            [n] if *n == variant.summary_indices().len() => Ok(WindowInputs::Summary(variant.summary_indices())),
            [c, WINDOW_STEPS] if *c == variant.channel_indices().len() => {
                Ok(WindowInputs::TensorChannels(variant.channel_indices()))
            }
            _ => Err(format!("input shape {dims:?} fits neither the {} summary nor its tensor", variant.as_str())),
        }
    }

    /// The model's input from one window's `summary` (channel-major, six
    /// statistics each) and `tensor` (channel-major, 20 steps each).
    pub fn select(&self, summary: &[f32], tensor: &[f32]) -> Vec<f32> {
        match self {
            WindowInputs::TensorChannels(channels) => {
                channels.iter().flat_map(|c| tensor[c * WINDOW_STEPS..(c + 1) * WINDOW_STEPS].iter().copied()).collect()
            }
            WindowInputs::Summary(indices) => indices.iter().map(|i| summary[*i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_inputs_follow_the_model_shape() -> Result<(), String> {
        let summary: Vec<f32> = (0..46 * 6).map(|i| i as f32).collect();
        let tensor: Vec<f32> = (0..46 * 20).map(|i| -(i as f32)).collect();
        let mlp = WindowInputs::for_model(Variant::Realistic, &[180])?;
        assert_eq!(mlp.select(&summary, &tensor).len(), 180);
        let cnn = WindowInputs::for_model(Variant::Oracle, &[46, 20])?;
        assert_eq!(cnn.select(&summary, &tensor), tensor);
        assert!(WindowInputs::for_model(Variant::Realistic, &[46, 20]).is_err());
        assert!(WindowInputs::for_model(Variant::Oracle, &[7]).is_err());
        Ok(())
    }

    #[test]
    fn realistic_sees_the_30_host_side_channels() {
        assert_eq!(Variant::Realistic.channel_indices().len(), 30);
        assert_eq!(Variant::Oracle.channel_indices().len(), 46);
        assert_eq!(Variant::Realistic.summary_indices().len(), 180);
        assert!(Variant::Realistic.channel_names().iter().all(|n| !n.starts_with("guest.")));
        assert_eq!("oracle".parse(), Ok(Variant::Oracle));
    }
}
