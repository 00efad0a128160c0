//! Episode statuses, validation reasons (code and subject) and the
//! validation summary shown by the dashboard.

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

/// `text` cut to `max` bytes on a character boundary, with `…` when cut
/// (how the validator bounds every text it keeps from an archive).
pub fn capped_text(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// The code of a validation reason: what is wrong, as `docs/validation.md`
/// lists it (with the status each implies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReasonCode {
    /// `io_error`.
    IoError,
    /// `corrupt_zstd`.
    CorruptZstd,
    /// `corrupt_tar`.
    CorruptTar,
    /// `decompressed_size_over_limit`.
    DecompressedSizeOverLimit,
    /// `manifest_missing`.
    ManifestMissing,
    /// `manifest_not_json`.
    ManifestNotJson,
    /// `internal_error`.
    InternalError,
    /// `unsupported_schema_version`.
    UnsupportedSchemaVersion,
    /// `manifest_field_missing`.
    ManifestFieldMissing,
    /// `manifest_field_mistyped`.
    ManifestFieldMistyped,
    /// `unknown_profile`.
    UnknownProfile,
    /// `episode_id_mismatch`.
    EpisodeIdMismatch,
    /// `host_id_mismatch`.
    HostIdMismatch,
    /// `unsafe_member`.
    UnsafeMember,
    /// `too_many_members`.
    TooManyMembers,
    /// `too_many_rows`.
    TooManyRows,
    /// `labels_span_over_limit`.
    LabelsSpanOverLimit,
    /// `manifest_field_too_long`.
    ManifestFieldTooLong,
    /// `more_reasons`.
    MoreReasons,
    /// `file_missing`.
    FileMissing,
    /// `checksum_mismatch`.
    ChecksumMismatch,
    /// `labels_missing`.
    LabelsMissing,
    /// `labels_empty`.
    LabelsEmpty,
    /// `label_unknown`.
    LabelUnknown,
    /// `labels_not_increasing`.
    LabelsNotIncreasing,
    /// `labels_no_end`.
    LabelsNoEnd,
    /// `label_disagrees_with_profile`.
    LabelDisagreesWithProfile,
    /// `source_missing`.
    SourceMissing,
    /// `row_gate`.
    RowGate,
    /// `malformed_row`.
    MalformedRow,
    /// `wrong_type`.
    WrongType,
    /// `line_too_long`.
    LineTooLong,
    /// `gap_over_5s`.
    GapOver5s,
    /// `non_finite`.
    NonFinite,
    /// `duplicate_timestamps`.
    DuplicateTimestamps,
    /// `out_of_order`.
    OutOfOrder,
    /// `unlisted_member`.
    UnlistedMember,
    /// `row_count_mismatch`.
    RowCountMismatch,
}

impl ReasonCode {
    /// Every code, in the order `docs/validation.md` lists them.
    pub const ALL: [ReasonCode; 38] = [
        ReasonCode::IoError,
        ReasonCode::CorruptZstd,
        ReasonCode::CorruptTar,
        ReasonCode::DecompressedSizeOverLimit,
        ReasonCode::ManifestMissing,
        ReasonCode::ManifestNotJson,
        ReasonCode::InternalError,
        ReasonCode::UnsupportedSchemaVersion,
        ReasonCode::ManifestFieldMissing,
        ReasonCode::ManifestFieldMistyped,
        ReasonCode::UnknownProfile,
        ReasonCode::EpisodeIdMismatch,
        ReasonCode::HostIdMismatch,
        ReasonCode::UnsafeMember,
        ReasonCode::TooManyMembers,
        ReasonCode::TooManyRows,
        ReasonCode::LabelsSpanOverLimit,
        ReasonCode::ManifestFieldTooLong,
        ReasonCode::MoreReasons,
        ReasonCode::FileMissing,
        ReasonCode::ChecksumMismatch,
        ReasonCode::LabelsMissing,
        ReasonCode::LabelsEmpty,
        ReasonCode::LabelUnknown,
        ReasonCode::LabelsNotIncreasing,
        ReasonCode::LabelsNoEnd,
        ReasonCode::LabelDisagreesWithProfile,
        ReasonCode::SourceMissing,
        ReasonCode::RowGate,
        ReasonCode::MalformedRow,
        ReasonCode::WrongType,
        ReasonCode::LineTooLong,
        ReasonCode::GapOver5s,
        ReasonCode::NonFinite,
        ReasonCode::DuplicateTimestamps,
        ReasonCode::OutOfOrder,
        ReasonCode::UnlistedMember,
        ReasonCode::RowCountMismatch,
    ];

    /// The code as written in the acceptance index.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::IoError => "io_error",
            ReasonCode::CorruptZstd => "corrupt_zstd",
            ReasonCode::CorruptTar => "corrupt_tar",
            ReasonCode::DecompressedSizeOverLimit => "decompressed_size_over_limit",
            ReasonCode::ManifestMissing => "manifest_missing",
            ReasonCode::ManifestNotJson => "manifest_not_json",
            ReasonCode::InternalError => "internal_error",
            ReasonCode::UnsupportedSchemaVersion => "unsupported_schema_version",
            ReasonCode::ManifestFieldMissing => "manifest_field_missing",
            ReasonCode::ManifestFieldMistyped => "manifest_field_mistyped",
            ReasonCode::UnknownProfile => "unknown_profile",
            ReasonCode::EpisodeIdMismatch => "episode_id_mismatch",
            ReasonCode::HostIdMismatch => "host_id_mismatch",
            ReasonCode::UnsafeMember => "unsafe_member",
            ReasonCode::TooManyMembers => "too_many_members",
            ReasonCode::TooManyRows => "too_many_rows",
            ReasonCode::LabelsSpanOverLimit => "labels_span_over_limit",
            ReasonCode::ManifestFieldTooLong => "manifest_field_too_long",
            ReasonCode::MoreReasons => "more_reasons",
            ReasonCode::FileMissing => "file_missing",
            ReasonCode::ChecksumMismatch => "checksum_mismatch",
            ReasonCode::LabelsMissing => "labels_missing",
            ReasonCode::LabelsEmpty => "labels_empty",
            ReasonCode::LabelUnknown => "label_unknown",
            ReasonCode::LabelsNotIncreasing => "labels_not_increasing",
            ReasonCode::LabelsNoEnd => "labels_no_end",
            ReasonCode::LabelDisagreesWithProfile => "label_disagrees_with_profile",
            ReasonCode::SourceMissing => "source_missing",
            ReasonCode::RowGate => "row_gate",
            ReasonCode::MalformedRow => "malformed_row",
            ReasonCode::WrongType => "wrong_type",
            ReasonCode::LineTooLong => "line_too_long",
            ReasonCode::GapOver5s => "gap_over_5s",
            ReasonCode::NonFinite => "non_finite",
            ReasonCode::DuplicateTimestamps => "duplicate_timestamps",
            ReasonCode::OutOfOrder => "out_of_order",
            ReasonCode::UnlistedMember => "unlisted_member",
            ReasonCode::RowCountMismatch => "row_count_mismatch",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReasonCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReasonCode::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a reason code (docs/validation.md lists them)"))
    }
}

/// Why an episode is not accepted: a code and, for most codes, what it is
/// about (a member, a source, a manifest field, a count). Written to the
/// index as `code` or `code:subject`, e.g. `row_gate:guest`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reason {
    /// What is wrong.
    pub code: ReasonCode,
    /// What it is about, when the code names something.
    pub subject: Option<String>,
}

impl Reason {
    /// A reason without a subject.
    pub fn new(code: ReasonCode) -> Self {
        Self { code, subject: None }
    }

    /// A reason about `subject`.
    pub fn about(code: ReasonCode, subject: impl Into<String>) -> Self {
        Self { code, subject: Some(subject.into()) }
    }

    /// The reason with its written form cut to `max` bytes (on a character
    /// boundary, with `…` when cut): only the subject is ever cut, since
    /// every code is far shorter than any cap used.
    pub fn capped(self, max: usize) -> Self {
        let room = max.saturating_sub(self.code.as_str().len() + 1);
        Self { code: self.code, subject: self.subject.map(|subject| capped_text(subject, room)) }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Some(subject) => write!(f, "{}:{subject}", self.code),
            None => f.write_str(self.code.as_str()),
        }
    }
}

impl std::str::FromStr for Reason {
    type Err = String;

    /// `code` or `code:subject` (the subject may itself hold `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((code, subject)) => Ok(Self::about(code.parse()?, subject)),
            None => Ok(Self::new(s.parse()?)),
        }
    }
}

/// File name of the sweep summary ([`ValidationSummary`]) inside the
/// validation output folder.
pub const SUMMARY_FILE: &str = "validation_summary.json";

/// Counts of one validation sweep, written beside the acceptance index as
/// [`SUMMARY_FILE`] and served to the dashboard.
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
    pub fn record(&mut self, status: Status, reasons: &[Reason]) {
        match status {
            Status::Accepted => self.accepted += 1,
            Status::Degraded => self.degraded += 1,
            Status::Rejected => self.rejected += 1,
            Status::Errored => self.errored += 1,
        }
        self.total += 1;
        let mut codes: Vec<ReasonCode> = reasons.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            *self.reasons.entry(code.as_str().to_string()).or_default() += 1;
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
        s.record(
            Status::Degraded,
            &[Reason::about(ReasonCode::RowGate, "guest"), Reason::about(ReasonCode::RowGate, "netflow")],
        );
        s.record(Status::Accepted, &[]);
        assert_eq!(s.total, 2);
        assert_eq!(s.reasons.get("row_gate"), Some(&1));
    }

    #[test]
    fn reasons_round_trip_through_their_written_form() {
        for code in ReasonCode::ALL {
            assert_eq!(code.as_str().parse::<ReasonCode>(), Ok(code));
            let bare = Reason::new(code);
            assert_eq!(bare.to_string().parse::<Reason>(), Ok(bare));
        }
        let about = Reason::about(ReasonCode::ChecksumMismatch, "proc.jsonl");
        assert_eq!(about.to_string(), "checksum_mismatch:proc.jsonl");
        assert_eq!("checksum_mismatch:proc.jsonl".parse::<Reason>(), Ok(about));
        assert_eq!(
            "manifest_field_mistyped:files.a:b".parse::<Reason>().map(|r| r.subject),
            Ok(Some("files.a:b".to_string())),
            "a subject may hold colons"
        );
        assert!("no_such_code".parse::<Reason>().is_err());
        assert!("no_such_code:x".parse::<Reason>().is_err());
    }

    #[test]
    fn a_capped_reason_cuts_only_its_subject_on_a_character_boundary() {
        let long = Reason::about(ReasonCode::UnlistedMember, "é".repeat(200));
        let capped = long.clone().capped(160).to_string();
        assert!(capped.len() <= 160 + '…'.len_utf8(), "{}", capped.len());
        assert!(capped.starts_with("unlisted_member:é") && capped.ends_with('…'));
        let short = Reason::about(ReasonCode::RowGate, "guest");
        assert_eq!(short.clone().capped(160), short);
    }
}
