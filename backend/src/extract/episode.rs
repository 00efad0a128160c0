//! Windows and features of one episode, straight from its archive: the
//! on-demand path that replay and live inference use instead of shards.

use std::path::Path;

use cis490_shared::features::align::{Grid, SourceRows, align};
use cis490_shared::features::stats::{WindowFeatures, window_features};
use cis490_shared::features::window::{Window, windows};
use cis490_shared::label::Label;
use cis490_shared::registry::Source;

use crate::store::archive::{ArchiveError, EpisodeArchive, ReadLimits, read_archive};

/// Why an episode's features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    /// The archive is unreadable.
    #[error("{path}: {source}")]
    Archive {
        /// The archive.
        path: String,
        /// What went wrong.
        source: ArchiveError,
    },
    /// The label timeline is unusable.
    #[error("{path}: labels.jsonl has no usable timeline (validate the store to see why)")]
    Labels {
        /// The archive.
        path: String,
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
/// `t_wall_ns` ([`EpisodeArchive::order_by_wall_clock`]).
pub fn features_of(archive: &EpisodeArchive) -> Option<EpisodeWindows> {
    let (segments, end) = label_segments(archive)?;
    let start = segments.first()?.0;
    let rows: Vec<SourceRows<'_>> = Source::ALL
        .iter()
        .filter_map(|s| archive.source(*s))
        .map(|t| SourceRows { source: t.source, t_wall_ns: &t.t_wall_ns, columns: &t.columns })
        .collect();
    let grid = align(&rows, start, end);
    let w = windows(&segments, end);
    let features = w.windows.iter().map(|win| window_features(&grid, win.start_step)).collect();
    Some(EpisodeWindows {
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

/// Reads an archive and computes its windows. Checksums are not verified
/// (validation did that); the other caps of `limits` apply.
pub fn extract_episode(path: &Path, limits: &ReadLimits) -> Result<EpisodeWindows, EpisodeError> {
    let shown = path.display().to_string();
    let limits = ReadLimits { checksums: false, ..*limits };
    let (_, archive) = read_archive(path, &limits);
    let mut archive = archive.map_err(|source| EpisodeError::Archive { path: shown.clone(), source })?;
    archive.order_by_wall_clock();
    features_of(&archive).ok_or(EpisodeError::Labels { path: shown })
}
