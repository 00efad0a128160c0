//! Episode statuses and the validation summary shown by the dashboard.

use std::collections::BTreeMap;
use std::fmt;

/// The one status every validated episode gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Usable as is.
    Accepted,
    /// Usable with caveats (a secondary source missing, gaps, duplicates, ...).
    Degraded,
    /// Readable but unusable.
    Rejected,
    /// The archive could not be read.
    Errored,
}

impl Status {
    /// All statuses from best to worst.
    pub const ALL: [Status; 4] = [Status::Accepted, Status::Degraded, Status::Rejected, Status::Errored];

    /// The status as written in the acceptance index.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Degraded => "degraded",
            Status::Rejected => "rejected",
            Status::Errored => "errored",
        }
    }
}

impl Status {
    /// Whether episodes with this status are used for features and training
    /// (accepted, and degraded with its caveats).
    pub fn is_usable(self) -> bool {
        matches!(self, Status::Accepted | Status::Degraded)
    }

    /// Position in [`Status::ALL`] (for per-status counters).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An episode nothing has judged yet counts as errored: a row that misses
/// its judgement must never pass as usable.
impl Default for Status {
    fn default() -> Self {
        Status::Errored
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a status (accepted, degraded, rejected or errored)"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of one validation sweep, written beside the acceptance index as
/// `validation_summary.json` and served to the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ValidationSummary {
    /// Episodes accepted.
    pub accepted: u64,
    /// Episodes degraded.
    pub degraded: u64,
    /// Episodes rejected.
    pub rejected: u64,
    /// Episodes errored.
    pub errored: u64,
    /// All episodes judged.
    pub total: u64,
    /// How many episodes carry each reason code (the part before `:`).
    #[serde(default)]
    pub reasons: BTreeMap<String, u64>,
    /// Paths in the store that are not episodes and were skipped (the
    /// first 1,000, then `+N more`).
    #[serde(default)]
    pub skipped_paths: Vec<String>,
    /// The store that was validated, as given on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// sha256 (hex) of the `validation_v1.parquet` written with this
    /// summary: later stages check that an index and its summary belong
    /// to the same sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_sha256: Option<String>,
    /// Rows in that index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_rows: Option<u64>,
}

impl ValidationSummary {
    /// Counts one episode's status and reasons.
    pub fn record(&mut self, status: Status, reasons: &[String]) {
        match status {
            Status::Accepted => self.accepted += 1,
            Status::Degraded => self.degraded += 1,
            Status::Rejected => self.rejected += 1,
            Status::Errored => self.errored += 1,
        }
        self.total += 1;
        let mut codes: Vec<&str> = reasons.iter().map(|r| r.split(':').next().unwrap_or(r)).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            *self.reasons.entry(code.to_string()).or_default() += 1;
        }
    }

    /// The count of one status.
    pub fn count(&self, status: Status) -> u64 {
        match status {
            Status::Accepted => self.accepted,
            Status::Degraded => self.degraded,
            Status::Rejected => self.rejected,
            Status::Errored => self.errored,
        }
    }

    /// The one-line summary, e.g.
    /// `64,798 accepted + 8,154 degraded + 3,701 rejected + 7 errored across 76,660 episodes`.
    pub fn line(&self) -> String {
        format!(
            "{} accepted + {} degraded + {} rejected + {} errored across {} episodes",
            thousands(self.accepted),
            thousands(self.degraded),
            thousands(self.rejected),
            thousands(self.errored),
            thousands(self.total)
        )
    }
}

/// Formats a count with `,` between thousands.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_matches_the_spec_format() {
        let s = ValidationSummary {
            accepted: 64_798,
            degraded: 8_154,
            rejected: 3_701,
            errored: 7,
            total: 76_660,
            ..Default::default()
        };
        assert_eq!(s.line(), "64,798 accepted + 8,154 degraded + 3,701 rejected + 7 errored across 76,660 episodes");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn record_counts_reason_codes_once_per_episode() {
        let mut s = ValidationSummary::default();
        s.record(Status::Degraded, &["row_gate:guest".into(), "row_gate:netflow".into()]);
        s.record(Status::Accepted, &[]);
        assert_eq!(s.total, 2);
        assert_eq!(s.reasons.get("row_gate"), Some(&1));
    }
}
