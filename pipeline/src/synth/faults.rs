//! Faults the generator injects so every validation reason of the corpus
//! format occurs, at a chosen rate and in a mix like the real corpus
//! (about 85 % accepted, 10 % degraded, 5 % rejected, a few errored).
//!
//! Each [`Fault`] knows the status the validator must give the episode, so
//! tests can check the validator against the generator's plan.

use cis490_shared::registry::Source;
use cis490_shared::validation::Status;

use super::rng::Rng;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// A secondary source's member is absent (and not listed).
    SourceMissing(Source),
    /// 40 % of a source's rows are dropped.
    RowGate(Source),
    /// 8 s of proc rows are missing.
    Gap,
    /// A few qmp rows are written twice.
    DuplicateTimestamps,
    /// Python-style `NaN` values in guest rows.
    NonFinite,
    /// An extra member not listed in the manifest.
    UnlistedMember,
    /// proc.jsonl changed after its checksum was taken.
    ChecksumMismatch,
    /// netflow.jsonl is listed but absent.
    FileMissing,
    /// A label row goes back in time.
    LabelsNotIncreasing,
    /// The closing `end` row is missing.
    LabelsNoEnd,
    /// A label that is not one of the seven.
    LabelUnknown,
    /// labels.jsonl is empty.
    LabelsEmpty,
    /// proc.jsonl is absent.
    ProcMissing,
    /// A proc value is a string.
    WrongType,
    /// Bytes that are not UTF-8 inside a guest row.
    NonUtf8,
    /// `schema_version` is 2.
    UnsupportedSchemaVersion,
    /// `agent_version` is missing from the manifest.
    ManifestFieldMissing,
    /// The manifest's `episode_id` disagrees with the file name.
    EpisodeIdMismatch,
    /// A member named `../escape.txt`.
    ParentDirMember,
    /// A symbolic-link member.
    SymlinkMember,
    /// The archive is cut short.
    TruncatedZstd,
    /// The archive is not zstd at all.
    CorruptZstd,
    /// Valid zstd around bytes that are not tar.
    CorruptTar,
    /// No manifest.json.
    ManifestMissing,
    /// manifest.json is not JSON.
    ManifestNotJson,
}

/// Every fault kind, in a fixed order.
pub const ALL_FAULTS: [Fault; 30] = [
    Fault::SourceMissing(Source::Guest),
    Fault::SourceMissing(Source::Qmp),
    Fault::SourceMissing(Source::Netflow),
    Fault::RowGate(Source::Guest),
    Fault::RowGate(Source::Netflow),
    Fault::RowGate(Source::Qmp),
    Fault::Gap,
    Fault::DuplicateTimestamps,
    Fault::NonFinite,
    Fault::UnlistedMember,
    Fault::ChecksumMismatch,
    Fault::FileMissing,
    Fault::LabelsNotIncreasing,
    Fault::LabelsNoEnd,
    Fault::LabelUnknown,
    Fault::LabelsEmpty,
    Fault::ProcMissing,
    Fault::RowGate(Source::Proc),
    Fault::WrongType,
    Fault::NonUtf8,
    Fault::UnsupportedSchemaVersion,
    Fault::ManifestFieldMissing,
    Fault::EpisodeIdMismatch,
    Fault::ParentDirMember,
    Fault::SymlinkMember,
    Fault::TruncatedZstd,
    Fault::CorruptZstd,
    Fault::CorruptTar,
    Fault::ManifestMissing,
    Fault::ManifestNotJson,
];

impl Fault {
    /// The status the validator must give an episode with this fault.
    pub fn expected_status(self) -> Status {
        match self {
            Fault::SourceMissing(_)
            | Fault::Gap
            | Fault::DuplicateTimestamps
            | Fault::NonFinite
            | Fault::UnlistedMember => Status::Degraded,
            Fault::RowGate(Source::Proc) => Status::Rejected,
            Fault::RowGate(_) => Status::Degraded,
            Fault::TruncatedZstd
            | Fault::CorruptZstd
            | Fault::CorruptTar
            | Fault::ManifestMissing
            | Fault::ManifestNotJson => Status::Errored,
            _ => Status::Rejected,
        }
    }

    /// The reason code the validator must report (the part before `:`).
    pub fn expected_reason(self) -> &'static str {
        match self {
            Fault::SourceMissing(_) | Fault::ProcMissing => "source_missing",
            Fault::RowGate(_) => "row_gate",
            Fault::Gap => "gap_over_5s",
            Fault::DuplicateTimestamps => "duplicate_timestamps",
            Fault::NonFinite => "non_finite",
            Fault::UnlistedMember => "unlisted_member",
            Fault::ChecksumMismatch => "checksum_mismatch",
            Fault::FileMissing => "file_missing",
            Fault::LabelsNotIncreasing => "labels_not_increasing",
            Fault::LabelsNoEnd => "labels_no_end",
            Fault::LabelUnknown => "label_unknown",
            Fault::LabelsEmpty => "labels_empty",
            Fault::WrongType => "wrong_type",
            Fault::NonUtf8 => "malformed_row",
            Fault::UnsupportedSchemaVersion => "unsupported_schema_version",
            Fault::ManifestFieldMissing => "manifest_field_missing",
            Fault::EpisodeIdMismatch => "episode_id_mismatch",
            Fault::ParentDirMember | Fault::SymlinkMember => "unsafe_member",
            Fault::TruncatedZstd | Fault::CorruptZstd => "corrupt_zstd",
            Fault::CorruptTar => "corrupt_tar",
            Fault::ManifestMissing => "manifest_missing",
            Fault::ManifestNotJson => "manifest_not_json",
        }
    }
}

/// Share of faulty episodes per status, like the real corpus.
fn status_weight(s: Status) -> f64 {
    match s {
        Status::Degraded => 0.64,
        Status::Rejected => 0.31,
        _ => 0.05,
    }
}

/// Assigns faults to `episodes` episodes at `rate`: `Some(fault)` for the
/// faulty ones. When there are at least as many faulty episodes as fault
/// kinds, every kind occurs at least once; the rest follow the real mix.
pub fn assign(episodes: usize, rate: f64, rng: &mut Rng) -> Vec<Option<Fault>> {
    let faulty = ((episodes as f64) * rate.clamp(0.0, 1.0)).round() as usize;
    let mut deck: Vec<Fault> = Vec::with_capacity(faulty);
    let per_kind = |f: Fault| {
        let same = ALL_FAULTS.iter().filter(|g| g.expected_status() == f.expected_status()).count();
        status_weight(f.expected_status()) / same as f64
    };
    if faulty >= ALL_FAULTS.len() {
        // Per status first (each kind at least once), then evenly per kind.
        let kinds = |s: Status| ALL_FAULTS.iter().filter(|f| f.expected_status() == s).count();
        let target = |s: Status| kinds(s).max((faulty as f64 * status_weight(s)).round() as usize);
        let errored = target(Status::Errored);
        let rejected = target(Status::Rejected);
        let degraded = faulty.saturating_sub(errored + rejected).max(kinds(Status::Degraded));
        for (status, total) in [(Status::Degraded, degraded), (Status::Rejected, rejected), (Status::Errored, errored)]
        {
            let of_status: Vec<Fault> = ALL_FAULTS.into_iter().filter(|f| f.expected_status() == status).collect();
            for (i, f) in of_status.iter().enumerate() {
                let n = total / of_status.len() + usize::from(i < total % of_status.len());
                deck.extend(std::iter::repeat_n(*f, n));
            }
        }
    } else {
        for _ in 0..faulty {
            let mut x = rng.unit();
            let mut chosen = ALL_FAULTS[0];
            for f in ALL_FAULTS {
                x -= per_kind(f);
                chosen = f;
                if x < 0.0 {
                    break;
                }
            }
            deck.push(chosen);
        }
    }
    let mut slots: Vec<Option<Fault>> = deck.into_iter().map(Some).collect();
    slots.resize(episodes, None);
    rng.shuffle(&mut slots);
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_occurs_and_the_mix_is_like_the_real_corpus() {
        let slots = assign(600, 0.16, &mut Rng::new(1));
        assert_eq!(slots.len(), 600);
        for f in ALL_FAULTS {
            assert!(slots.contains(&Some(f)), "{f:?} missing");
        }
        let count = |s: Status| slots.iter().flatten().filter(|f| f.expected_status() == s).count();
        assert_eq!(slots.iter().flatten().count(), 96);
        assert!((50..=70).contains(&count(Status::Degraded)), "{}", count(Status::Degraded));
        assert!((24..=36).contains(&count(Status::Rejected)));
        assert!((3..=8).contains(&count(Status::Errored)));
        assert_eq!(assign(10, 0.0, &mut Rng::new(1)).iter().flatten().count(), 0);
    }
}
