//! The validation summary shown by the "Validation" panel, and the pure maths
//! that shapes it for display: the four outcome counts as proportional bar
//! segments, and the rejection/degradation reasons sorted by count.
//!
//! The JSON comes from `GET /api/validation/summary`; a 404 there means no
//! validation has run yet, which [`LoadState::from_response`] maps to
//! [`LoadState::Empty`].

pub use cis490_shared::validation::{Status as Outcome, ValidationSummary};

/// The human label of an outcome.
pub fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted => "Accepted",
        Outcome::Degraded => "Degraded",
        Outcome::Rejected => "Rejected",
        Outcome::Errored => "Errored",
    }
}

/// One segment of the stacked bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Which outcome the segment stands for.
    pub outcome: Outcome,
    /// Episodes with that outcome.
    pub count: u64,
    /// Share of the bar, 0–100.
    pub percent: f64,
}

/// Parses the endpoint's JSON body (missing counts read as zero).
pub fn from_json(text: &str) -> Result<ValidationSummary, serde_json::Error> {
    serde_json::from_str(text)
}

/// The denominator of the bar: `total`, or the sum of the four outcomes
/// if that is larger (so segments never overflow 100 %).
pub fn denominator(summary: &ValidationSummary) -> u64 {
    let sum = Outcome::ALL.iter().fold(0u64, |acc, &o| acc.saturating_add(summary.count(o)));
    sum.max(summary.total)
}

/// The four bar segments with their share of [`denominator`]; all
/// zero-width when nothing was validated.
pub fn segments(summary: &ValidationSummary) -> [Segment; 4] {
    let denominator = denominator(summary);
    Outcome::ALL.map(|outcome| {
        let count = summary.count(outcome);
        let percent = if denominator == 0 { 0.0 } else { count as f64 * 100.0 / denominator as f64 };
        Segment { outcome, count, percent }
    })
}

/// Reasons sorted by count, largest first; ties by name.
pub fn sorted_reasons(summary: &ValidationSummary) -> Vec<(&str, u64)> {
    let mut reasons: Vec<(&str, u64)> = summary.reasons.iter().map(|(name, &count)| (name.as_str(), count)).collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    reasons
}

/// What the Validation panel currently shows.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadState {
    /// The request is in flight.
    Loading,
    /// The server has no validation results (HTTP 404).
    Empty,
    /// A summary arrived and parsed.
    Loaded(ValidationSummary),
    /// The request or the parse failed; the message says why.
    Failed(String),
}

impl LoadState {
    /// Interprets an HTTP status and body from the summary endpoint.
    pub fn from_response(status: u16, body: &str) -> LoadState {
        match status {
            404 => LoadState::Empty,
            200..=299 => match from_json(body) {
                Ok(summary) => LoadState::Loaded(summary),
                Err(err) => LoadState::Failed(format!("unreadable summary: {err}")),
            },
            other => LoadState::Failed(format!("server answered HTTP {other}")),
        }
    }

    /// A short machine-readable name, used as the panel's `data-state`.
    pub fn key(&self) -> &'static str {
        match self {
            LoadState::Loading => "loading",
            LoadState::Empty => "empty",
            LoadState::Loaded(_) => "loaded",
            LoadState::Failed(_) => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"accepted":510,"degraded":60,"rejected":24,"errored":6,"total":600,
        "reasons":{"checksum_mismatch":3,"clock_drift":40,"truncated":21,"bad_header":21}}"#;

    #[test]
    fn parses_and_sorts_reasons() -> Result<(), serde_json::Error> {
        let summary = from_json(SAMPLE)?;
        assert_eq!(summary.accepted, 510);
        assert_eq!(summary.total, 600);
        assert_eq!(
            sorted_reasons(&summary),
            vec![("clock_drift", 40), ("bad_header", 21), ("truncated", 21), ("checksum_mismatch", 3)]
        );
        Ok(())
    }

    #[test]
    fn segments_are_proportional() -> Result<(), serde_json::Error> {
        let summary = from_json(SAMPLE)?;
        let segments = segments(&summary);
        assert!((segments[0].percent - 85.0).abs() < 1e-9);
        assert!((segments[3].percent - 1.0).abs() < 1e-9);
        let sum: f64 = segments.iter().map(|s| s.percent).sum();
        assert!((sum - 100.0).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn empty_and_inconsistent_totals_stay_in_range() {
        let empty = ValidationSummary::default();
        assert!(segments(&empty).iter().all(|s| s.percent == 0.0));
        let short_total = ValidationSummary { accepted: 3, rejected: 1, total: 2, ..ValidationSummary::default() };
        let sum: f64 = segments(&short_total).iter().map(|s| s.percent).sum();
        assert!((sum - 100.0).abs() < 1e-9);
    }

    #[test]
    fn missing_fields_default_to_zero() -> Result<(), serde_json::Error> {
        let summary = from_json(r#"{"accepted":1}"#)?;
        assert_eq!(summary.accepted, 1);
        assert!(summary.reasons.is_empty());
        Ok(())
    }

    #[test]
    fn response_statuses_map_to_states() {
        assert_eq!(LoadState::from_response(404, ""), LoadState::Empty);
        assert_eq!(LoadState::from_response(500, "").key(), "error");
        assert_eq!(LoadState::from_response(200, "not json").key(), "error");
        assert_eq!(LoadState::from_response(200, SAMPLE).key(), "loaded");
    }
}
