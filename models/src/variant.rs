//! The two threat models: which channels, and so which features, a model
//! may see.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_sees_the_30_host_side_channels() {
        assert_eq!(Variant::Realistic.channel_indices().len(), 30);
        assert_eq!(Variant::Oracle.channel_indices().len(), 46);
        assert_eq!(Variant::Realistic.summary_indices().len(), 180);
        assert!(Variant::Realistic.channel_names().iter().all(|n| !n.starts_with("guest.")));
        assert_eq!("oracle".parse(), Ok(Variant::Oracle));
    }
}
