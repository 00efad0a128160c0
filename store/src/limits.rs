//! The caps on what one archive may cost, in one place.
//!
//! Every archive is hostile until read. These caps bound the memory and the
//! work that any single archive can take in the validator, the extractor
//! and replay, whatever its bytes say; `docs/reliability.md` lists them
//! with the measured cost of the worst archives. Going over a cap never
//! stops a sweep: the archive is reported (`errored` or `rejected`, with a
//! reason naming the cap) and the sweep goes on.

use crate::tar_reader::TarLimits;

/// Caps applied while reading one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most decompressed bytes (tar stream) read from one archive
    /// (`decompressed_size_over_limit`, errored).
    pub max_decompressed_bytes: u64,
    /// Largest zstd window accepted, as a power of two (the decoder's
    /// buffer); a frame asking for more is `corrupt_zstd`.
    pub max_zstd_window_log: u32,
    /// Longest accepted line in a JSONL member (`line_too_long`, rejected).
    pub max_line_bytes: usize,
    /// Largest accepted `manifest.json` (`manifest_not_json`, errored).
    pub max_manifest_bytes: usize,
    /// Most members (headers of files, links, ...) read from one archive
    /// (`too_many_members`, rejected; the rest is not read).
    pub max_members: usize,
    /// Most rows kept per telemetry member (`too_many_rows:<member>`,
    /// rejected; further lines are counted, not parsed).
    pub max_rows_per_member: usize,
    /// Most rows kept from `labels.jsonl` (`too_many_rows:labels.jsonl`).
    pub max_label_rows: usize,
    /// Longest labelled span (first label to `end`) in seconds
    /// (`labels_span_over_limit`, rejected): it sizes the feature grid.
    pub max_span_s: u64,
    /// Caps on tar headers (member names, pax headers).
    pub tar: TarLimits,
    /// Compute the sha256 of every member (validation needs them;
    /// extraction of already validated episodes skips them). The archive
    /// file's own sha256 is always computed.
    pub checksums: bool,
}

/// Longest label text kept (longer labels are unknown anyway).
pub const MAX_LABEL_BYTES: usize = 64;

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 512 << 20,
            max_zstd_window_log: 25,
            max_line_bytes: 64 << 10,
            max_manifest_bytes: 1 << 20,
            max_members: 256,
            max_rows_per_member: 50_000,
            max_label_rows: 4_096,
            max_span_s: 6 * 3600,
            tar: TarLimits::default(),
            checksums: true,
        }
    }
}
