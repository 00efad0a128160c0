//! Reasons an episode is not accepted, each with the status it implies.
//!
//! A reason is written to the index as `code` or `code:subject`, e.g.
//! `checksum_mismatch:proc.jsonl` or `row_gate:guest`. The full list and
//! what each means is in `docs/validation.md`.

use cis490_shared::validation::Status;

/// The reasons found for one episode, worst status first on request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    found: Vec<(Status, String)>,
    /// Human-readable detail per reason, e.g. `proc.jsonl line 4: ...`.
    pub details: Vec<String>,
}

impl Findings {
    /// Records a reason with the status it implies.
    pub fn add(&mut self, status: Status, reason: impl Into<String>) {
        let reason = reason.into();
        if !self.found.iter().any(|(_, r)| *r == reason) {
            self.found.push((status, reason));
        }
    }

    /// Records a reason and a human-readable detail.
    pub fn add_with_detail(&mut self, status: Status, reason: impl Into<String>, detail: impl Into<String>) {
        self.add(status, reason);
        self.details.push(detail.into());
    }

    /// Records an `errored` reason.
    pub fn errored(&mut self, reason: impl Into<String>) {
        self.add(Status::Errored, reason);
    }

    /// Records a `rejected` reason.
    pub fn rejected(&mut self, reason: impl Into<String>) {
        self.add(Status::Rejected, reason);
    }

    /// Records a `degraded` reason.
    pub fn degraded(&mut self, reason: impl Into<String>) {
        self.add(Status::Degraded, reason);
    }

    /// The episode's status: the worst implied by any reason.
    pub fn status(&self) -> Status {
        self.found.iter().map(|(s, _)| *s).max().unwrap_or(Status::Accepted)
    }

    /// The reasons, in the order found.
    pub fn reasons(&self) -> Vec<String> {
        self.found.iter().map(|(_, r)| r.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_reason() {
        let mut f = Findings::default();
        assert_eq!(f.status(), Status::Accepted);
        f.degraded("row_gate:guest");
        assert_eq!(f.status(), Status::Degraded);
        f.rejected("labels_no_end");
        f.degraded("row_gate:guest");
        assert_eq!(f.status(), Status::Rejected);
        assert_eq!(f.reasons(), ["row_gate:guest", "labels_no_end"]);
    }
}
