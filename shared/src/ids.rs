//! Validated identifiers for hosts and episodes, as the store layout names them.
//!
//! `host_id` matches `[a-z0-9][a-z0-9-]{0,63}` and `episode_id` matches
//! `[A-Za-z0-9][A-Za-z0-9_-]{0,127}` (see the corpus format).

use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not match the host-id pattern.
    #[error("{0:?} is not a host id (expected [a-z0-9][a-z0-9-]{{0,63}})")]
    BadHostId(String),
    /// The string does not match the episode-id pattern.
    #[error("{0:?} is not an episode id (expected [A-Za-z0-9][A-Za-z0-9_-]{{0,127}})")]
    BadEpisodeId(String),
}

/// The id of one physical device that runs VMs, e.g. `lab-pc-03`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostId(String);

/// The id of one recorded episode, e.g. `ep-000123`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EpisodeId(String);

fn is_host_id(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && b.len() <= 64 && ok(&b[0]) && b[1..].iter().all(|c| ok(c) || *c == b'-')
}

fn is_episode_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

impl HostId {
    /// Checks `s` against the host-id pattern.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if is_host_id(&s) { Ok(Self(s)) } else { Err(IdError::BadHostId(s)) }
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EpisodeId {
    /// Checks `s` against the episode-id pattern.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if is_episode_id(&s) { Ok(Self(s)) } else { Err(IdError::BadEpisodeId(s)) }
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_id_impls {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_id_impls!(HostId);
string_id_impls!(EpisodeId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_follow_the_pattern() {
        assert!(HostId::new("lab-pc-03").is_ok());
        assert!(HostId::new("0").is_ok());
        assert!(HostId::new("-lab").is_err());
        assert!(HostId::new("Lab").is_err());
        assert!(HostId::new("").is_err());
        assert!(HostId::new("a".repeat(65)).is_err());
        assert!(HostId::new("a".repeat(64)).is_ok());
    }

    #[test]
    fn episode_ids_follow_the_pattern() {
        assert!(EpisodeId::new("ep-000123").is_ok());
        assert!(EpisodeId::new("Ep_1-x").is_ok());
        assert!(EpisodeId::new("_ep").is_err());
        assert!(EpisodeId::new("ep.1").is_err());
        assert!(EpisodeId::new("a".repeat(129)).is_err());
    }
}
