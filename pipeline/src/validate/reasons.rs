//! Reasons an episode is not accepted, each with the status it implies.
//!
//! A reason ([`Reason`]: a [`ReasonCode`] and an optional subject) is
//! written to the index as `code` or `code:subject`, e.g.
//! `checksum_mismatch:proc.jsonl` or `row_gate:guest`. The full list and
//! what each means is in `docs/validation.md`.

use std::collections::HashSet;

use cis490_shared::validation::{Reason, ReasonCode, Status};

/// Most reasons kept per episode; the rest are counted in a final
/// `more_reasons:<N>`.
pub const MAX_REASONS: usize = 32;
/// Longest reason kept, in bytes (a longer subject is cut, with `…`).
pub const MAX_REASON_BYTES: usize = 160;
/// Most details kept per episode; the rest are counted in a final `+N more`.
pub const MAX_DETAILS: usize = 16;
/// Longest detail kept, in bytes.
pub const MAX_DETAIL_BYTES: usize = 240;

/// `text` cut to `max` bytes on a character boundary, with `…` when cut.
pub use cis490_shared::validation::capped_text as capped;

/// The reasons found for one episode, with their implied status.
///
/// Bounded whatever the archive holds: reasons are deduplicated in
/// constant time, at most [`MAX_REASONS`] (each at most
/// [`MAX_REASON_BYTES`]) and [`MAX_DETAILS`] details are kept, and what is
/// left out is counted, so one hostile archive cannot grow its index row
/// (or make judging it quadratic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    found: Vec<(Status, Reason)>,
    seen: HashSet<Reason>,
    worst: Option<Status>,
    more_reasons: u64,
    details: Vec<String>,
    more_details: u64,
}

impl Findings {
    /// Records a reason with the status it implies.
    pub fn add(&mut self, status: Status, reason: Reason) {
        let reason = reason.capped(MAX_REASON_BYTES);
        self.worst = self.worst.max(Some(status));
        if self.seen.contains(&reason) {
            return;
        }
        if self.found.len() < MAX_REASONS {
            self.seen.insert(reason.clone());
            self.found.push((status, reason));
        } else if self.seen.len() < 4 * MAX_REASONS {
            // Remember a few more so repeats are not counted twice; past
            // that, the count is an upper bound.
            self.seen.insert(reason);
            self.more_reasons += 1;
        } else {
            self.more_reasons += 1;
        }
    }

    /// Records a reason and a human-readable detail.
    pub fn add_with_detail(&mut self, status: Status, reason: Reason, detail: impl Into<String>) {
        self.add(status, reason);
        self.detail(detail);
    }

    /// Records a human-readable detail.
    pub fn detail(&mut self, detail: impl Into<String>) {
        if self.details.len() < MAX_DETAILS {
            self.details.push(capped(detail.into(), MAX_DETAIL_BYTES));
        } else {
            self.more_details += 1;
        }
    }

    /// Records an `errored` reason.
    pub fn errored(&mut self, reason: Reason) {
        self.add(Status::Errored, reason);
    }

    /// Records a `rejected` reason.
    pub fn rejected(&mut self, reason: Reason) {
        self.add(Status::Rejected, reason);
    }

    /// Records a `degraded` reason.
    pub fn degraded(&mut self, reason: Reason) {
        self.add(Status::Degraded, reason);
    }

    /// The episode's status: the worst implied by any reason (also those
    /// past the cap).
    pub fn status(&self) -> Status {
        self.worst.unwrap_or(Status::Accepted)
    }

    /// The reasons, in the order found; past [`MAX_REASONS`], a final
    /// `more_reasons:<N>` counts the rest.
    pub fn reasons(&self) -> Vec<Reason> {
        let mut out: Vec<Reason> = self.found.iter().map(|(_, r)| r.clone()).collect();
        if self.more_reasons > 0 {
            out.push(Reason::about(ReasonCode::MoreReasons, self.more_reasons.to_string()));
        }
        out
    }

    /// The details, `; `-separated; past [`MAX_DETAILS`], a final `+N more`.
    pub fn details(&self) -> String {
        let mut out = self.details.join("; ");
        if self.more_details > 0 {
            out.push_str(&format!("; +{} more", self.more_details));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_reason() {
        let mut f = Findings::default();
        assert_eq!(f.status(), Status::Accepted);
        f.degraded(Reason::about(ReasonCode::RowGate, "guest"));
        assert_eq!(f.status(), Status::Degraded);
        f.rejected(Reason::new(ReasonCode::LabelsNoEnd));
        f.degraded(Reason::about(ReasonCode::RowGate, "guest"));
        assert_eq!(f.status(), Status::Rejected);
        let written: Vec<String> = f.reasons().iter().map(ToString::to_string).collect();
        assert_eq!(written, ["row_gate:guest", "labels_no_end"]);
    }

    #[test]
    fn a_flood_of_reasons_and_details_is_capped_and_counted() {
        let mut f = Findings::default();
        for i in 0..200_000 {
            f.add_with_detail(
                Status::Degraded,
                Reason::about(ReasonCode::UnlistedMember, format!("m{i}")),
                format!("member m{i}"),
            );
        }
        f.add(Status::Errored, Reason::new(ReasonCode::CorruptTar));
        let reasons = f.reasons();
        assert_eq!(reasons.len(), MAX_REASONS + 1);
        assert_eq!(reasons.last().map(ToString::to_string).as_deref(), Some("more_reasons:199969"));
        assert_eq!(f.status(), Status::Errored, "a reason past the cap still sets the status");
        assert!(f.details().ends_with("; +199984 more"), "{}", f.details());
        let long = f.clone();
        let mut g = Findings::default();
        g.rejected(Reason::about(ReasonCode::FileMissing, "n".repeat(10_000)));
        assert_eq!(g.reasons()[0].to_string().len(), MAX_REASON_BYTES + '…'.len_utf8());
        assert_ne!(long, g);
    }
}
