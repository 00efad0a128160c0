//! Windows and features of one episode, straight from its archive: the
//! on-demand path that replay and live inference use instead of shards.

use std::path::Path;

use cis490_shared::features::align::{Grid, SourceRows, align};
use cis490_shared::features::stats::{WindowFeatures, window_features};
use cis490_shared::features::window::{Window, windows};
use cis490_shared::label::Label;
use cis490_shared::registry::Source;

use crate::source::Source as StoreSource;
use crate::store::archive::{ArchiveError, ArchiveFileDigest, EpisodeArchive, ReadLimits, read_archive};
use crate::validate::index::IndexRow;

/// Why an episode's features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    /// The archive is unreadable (the cause says what failed).
    #[error("{path}")]
    Archive {
        /// The archive.
        path: String,
        /// What went wrong.
        source: ArchiveError,
    },
    /// The label timeline is unusable (the cause says how).
    #[error("{path}")]
    Timeline {
        /// The archive.
        path: String,
        /// What is wrong with it.
        #[source]
        problem: TimelineError,
    },
    /// The archive is not the one the acceptance index describes (it was
    /// replaced or changed after validation).
    #[error(
        "{path}: the archive changed since validation (index: sha256 {indexed}, now: sha256 {found}); validate the store again"
    )]
    Changed {
        /// The archive.
        path: String,
        /// sha256 and size in the index.
        indexed: String,
        /// sha256 and size of the file now.
        found: String,
    },
}

/// Why an archive's timeline gives no features.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    /// No labels, a label that is not a class, or no closing `end`.
    #[error("labels.jsonl has no usable timeline (validate the store to see why)")]
    Unusable,
    /// The labelled span is longer than the limit (it sizes the grid).
    #[error("the labelled span is over the limit of {max_s} s")]
    SpanOverLimit {
        /// The limit in seconds.
        max_s: u64,
    },
}

/// An episode's grid, windows and features.
#[derive(Debug, Clone)]
pub struct EpisodeWindows {
    /// Unix ns of the first label (window 0 starts there).
    pub start_wall_ns: i64,
    /// All 46 channels on the 2 Hz grid.
    pub grid: Grid,
    /// The kept windows.
    pub windows: Vec<Window>,
    /// Features of each kept window.
    pub features: Vec<WindowFeatures>,
    /// Windows dropped for straddling a transition.
    pub dropped: usize,
    /// Which sources were present.
    pub sources_present: [bool; 4],
    /// The label timeline: (start wall ns, label), and the `end` time.
    pub segments: Vec<(i64, Label)>,
    /// Wall-clock time of `end`.
    pub end_wall_ns: i64,
}

impl EpisodeWindows {
    /// The ground-truth label at wall-clock time `t_wall_ns`.
    pub fn label_at(&self, t_wall_ns: i64) -> Option<Label> {
        if t_wall_ns >= self.end_wall_ns {
            return None;
        }
        self.segments.iter().rev().find(|(start, _)| *start <= t_wall_ns).map(|(_, l)| *l)
    }
}

/// The label segments `(start wall ns, label)` and the `end` time.
pub fn label_segments(archive: &EpisodeArchive) -> Option<(Vec<(i64, Label)>, i64)> {
    let rows = &archive.labels.as_ref()?.rows;
    let (end, body) = rows.split_last()?;
    if end.label != "end" {
        return None;
    }
    let segments: Option<Vec<(i64, Label)>> =
        body.iter().map(|r| r.label.parse().ok().map(|l| (r.t_wall_ns, l))).collect();
    Some((segments?, end.t_wall_ns))
}

/// Computes features from an archive whose tables are ordered on
/// `t_wall_ns` ([`EpisodeArchive::order_by_wall_clock`]); the labelled
/// span may be at most `limits.max_span_s` (the grid and the features grow
/// with it).
pub fn features_of(archive: &EpisodeArchive, limits: &ReadLimits) -> Result<EpisodeWindows, TimelineError> {
    let (segments, end) = label_segments(archive).ok_or(TimelineError::Unusable)?;
    let start = segments.first().ok_or(TimelineError::Unusable)?.0;
    let span_ns = i128::from(end) - i128::from(start);
    if span_ns <= 0 {
        return Err(TimelineError::Unusable);
    }
    if span_ns > i128::from(limits.max_span_s) * 1_000_000_000 {
        return Err(TimelineError::SpanOverLimit { max_s: limits.max_span_s });
    }
    let rows: Vec<SourceRows<'_>> = Source::ALL
        .iter()
        .filter_map(|s| archive.source(*s))
        .map(|t| SourceRows { source: t.source, t_wall_ns: &t.t_wall_ns, columns: &t.columns })
        .collect();
    let grid = align(&rows, start, end);
    let w = windows(&segments, end);
    let features = w.windows.iter().map(|win| window_features(&grid, win.start_step)).collect();
    Ok(EpisodeWindows {
        start_wall_ns: start,
        grid,
        windows: w.windows,
        features,
        dropped: w.dropped,
        sources_present: Source::ALL.map(|s| archive.source(s).is_some()),
        segments,
        end_wall_ns: end,
    })
}

/// Reads an archive and computes its windows. Checksums of members are
/// not verified (validation did that); the other caps of `limits` apply.
pub fn extract_episode(path: &Path, limits: &ReadLimits) -> Result<EpisodeWindows, EpisodeError> {
    let shown = path.display().to_string();
    let (_, archive) = named(&shown, read_archive(path, &feature_limits(limits)));
    windows_of(&shown, archive?, limits)
}

/// [`extract_episode`] for the archive at `rel_path` of a store.
pub fn extract_from(source: &StoreSource, rel_path: &str, limits: &ReadLimits) -> Result<EpisodeWindows, EpisodeError> {
    let shown = source.shown(rel_path);
    let (_, archive) = named(&shown, source.read_archive(rel_path, &feature_limits(limits)));
    windows_of(&shown, archive?, limits)
}

/// Like [`extract_episode`] for an episode of the acceptance index: the
/// archive must still be the one validated (same size and sha256 as
/// `entry`), else [`EpisodeError::Changed`] and no features.
pub fn extract_indexed(
    source: &StoreSource,
    rel_path: &str,
    entry: &IndexRow,
    limits: &ReadLimits,
) -> Result<EpisodeWindows, EpisodeError> {
    let shown = source.shown(rel_path);
    let (digest, archive) = named(&shown, source.read_archive(rel_path, &feature_limits(limits)));
    let found = digest.map(|d| (d.sha256, d.bytes));
    let indexed = entry.archive_sha256.clone().zip(entry.archive_bytes);
    if found.is_some() && found != indexed {
        let show =
            |d: Option<(String, u64)>| d.map_or("none".to_string(), |(sha, bytes)| format!("{sha} ({bytes} bytes)"));
        return Err(EpisodeError::Changed { path: shown, indexed: show(indexed), found: show(found) });
    }
    windows_of(&shown, archive?, limits)
}

/// Member checksums are not verified for features (validation did that).
fn feature_limits(limits: &ReadLimits) -> ReadLimits {
    ReadLimits { checksums: false, ..*limits }
}

/// A read archive with its errors naming it.
fn named(
    shown: &str,
    (digest, archive): (Option<ArchiveFileDigest>, Result<EpisodeArchive, ArchiveError>),
) -> (Option<ArchiveFileDigest>, Result<EpisodeArchive, EpisodeError>) {
    (digest, archive.map_err(|source| EpisodeError::Archive { path: shown.to_string(), source }))
}

fn windows_of(shown: &str, mut archive: EpisodeArchive, limits: &ReadLimits) -> Result<EpisodeWindows, EpisodeError> {
    archive.order_by_wall_clock();
    features_of(&archive, limits).map_err(|problem| EpisodeError::Timeline { path: shown.to_string(), problem })
}
