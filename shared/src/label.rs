//! The seven window classes: `benign` and the six attack-like profiles.

use std::fmt;
use std::str::FromStr;

/// One of the six attack-like behaviour profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// Sustained CPU use (miners).
    CpuSaturate,
    /// Port scans and connection attempts.
    ScanAndDial,
    /// Walking and rewriting the file system.
    IoWalk,
    /// Mostly idle with periodic command-and-control bursts.
    BurstyC2,
    /// Slow exfiltration that hides under benign noise.
    LowAndSlow,
    /// An interactive reverse shell living in the guest.
    ShellResident,
}

impl Profile {
    /// All six profiles in their canonical order.
    pub const ALL: [Profile; 6] = [
        Profile::CpuSaturate,
        Profile::ScanAndDial,
        Profile::IoWalk,
        Profile::BurstyC2,
        Profile::LowAndSlow,
        Profile::ShellResident,
    ];

    /// The profile's name as written in manifests and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::CpuSaturate => "cpu-saturate",
            Profile::ScanAndDial => "scan-and-dial",
            Profile::IoWalk => "io-walk",
            Profile::BurstyC2 => "bursty-c2",
            Profile::LowAndSlow => "low-and-slow",
            Profile::ShellResident => "shell-resident",
        }
    }
}

/// A window class: benign activity or one of the six profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// Benign activity.
    Benign,
    /// An attack-like profile.
    Attack(Profile),
}

impl Label {
    /// All seven classes, benign first, in the order models index them.
    pub const ALL: [Label; 7] = [
        Label::Benign,
        Label::Attack(Profile::CpuSaturate),
        Label::Attack(Profile::ScanAndDial),
        Label::Attack(Profile::IoWalk),
        Label::Attack(Profile::BurstyC2),
        Label::Attack(Profile::LowAndSlow),
        Label::Attack(Profile::ShellResident),
    ];

    /// The label as written in `labels.jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Benign => "benign",
            Label::Attack(p) => p.as_str(),
        }
    }

    /// The class index used by models (position in [`Label::ALL`]).
    pub fn index(self) -> usize {
        match self {
            Label::Benign => 0,
            Label::Attack(p) => 1 + p as usize,
        }
    }
}

/// The text is not a known label or profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown label {0:?} (expected benign or one of the six profiles)")]
pub struct UnknownLabel(pub String);

impl FromStr for Profile {
    type Err = UnknownLabel;
    fn from_str(s: &str) -> Result<Self, UnknownLabel> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownLabel(s.to_string()))
    }
}

impl FromStr for Label {
    type Err = UnknownLabel;
    fn from_str(s: &str) -> Result<Self, UnknownLabel> {
        if s == "benign" { Ok(Label::Benign) } else { s.parse().map(Label::Attack) }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_text_and_index() {
        for (i, l) in Label::ALL.into_iter().enumerate() {
            assert_eq!(l.as_str().parse::<Label>(), Ok(l));
            assert_eq!(l.index(), i);
        }
        assert!("end".parse::<Label>().is_err());
        assert!("Benign".parse::<Label>().is_err());
    }
}
