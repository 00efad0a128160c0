//! Streaming reader for episode archives (`.tar.zst`).
//!
//! The archive is decompressed and parsed in one pass, never extracted to
//! disk: each member is hashed and, for the known JSONL members, parsed line
//! by line into column tables. Links and other unsafe members are recorded
//! and never followed or read. Every cost is capped by [`ReadLimits`]
//! (decompressed bytes, zstd window, members, names, lines, rows), so a
//! bomb, a runaway line or a forged header costs bounded memory and time,
//! and the work is linear in the archive's size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use cis490_shared::registry::Source;
use cis490_shared::validation::ReasonCode;
use sha2::{Digest, Sha256};

pub use crate::limits::ReadLimits;
use crate::regular_file::open_regular;
use crate::table::{LabelsTable, LineProblems, SourceTable};
use crate::tar_reader::{EntryKind, TarError, TarReader};

/// Longest member name kept for reports (longer names are cut, with `…`).
const SHOWN_NAME_CHARS: usize = 200;

/// Why an archive could not be read at all (the episode is `errored`).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be opened or read.
    #[error("cannot read the archive file")]
    Io(#[source] io::Error),
    /// The zstd stream is truncated or corrupt.
    #[error("zstd stream is truncated or corrupt")]
    Zstd(#[source] io::Error),
    /// The tar stream inside is truncated or corrupt.
    #[error("tar stream is truncated or corrupt")]
    Tar(#[source] TarError),
    /// Decompressing went past the cap.
    #[error("decompressed size is over the limit of {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
}

impl ArchiveError {
    /// The machine-readable reason code of this error.
    pub fn reason(&self) -> ReasonCode {
        match self {
            ArchiveError::Io(_) => ReasonCode::IoError,
            ArchiveError::Zstd(_) => ReasonCode::CorruptZstd,
            ArchiveError::Tar(_) => ReasonCode::CorruptTar,
            ArchiveError::TooLarge { .. } => ReasonCode::DecompressedSizeOverLimit,
        }
    }
}

/// Why a member is unsafe; its content is never read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafeKind {
    /// An absolute path.
    AbsolutePath,
    /// A path with a `..` component.
    ParentDir,
    /// A path below the top level.
    NotTopLevel,
    /// A symbolic or hard link.
    Link,
    /// A device or FIFO.
    Device,
    /// A directory.
    Directory,
    /// Any other non-regular member type.
    OtherType,
    /// A second member with a name already seen.
    Duplicate,
    /// A name (pax `path` or GNU long name) over the cap, left unread.
    NameTooLong,
}

impl UnsafeKind {
    /// The reason suffix used in the acceptance index.
    pub fn as_str(self) -> &'static str {
        match self {
            UnsafeKind::AbsolutePath => "absolute_path",
            UnsafeKind::ParentDir => "parent_dir",
            UnsafeKind::NotTopLevel => "not_top_level",
            UnsafeKind::Link => "link",
            UnsafeKind::Device => "device",
            UnsafeKind::Directory => "directory",
            UnsafeKind::OtherType => "other_type",
            UnsafeKind::Duplicate => "duplicate",
            UnsafeKind::NameTooLong => "name_too_long",
        }
    }
}

/// Checksum and size of one member's uncompressed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDigest {
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Number of lines (newline-terminated or final).
    pub lines: u64,
}

/// What `manifest.json` held.
#[derive(Debug, Clone)]
pub enum ManifestContent {
    /// Valid JSON (not yet checked against the schema).
    Json(serde_json::Value),
    /// Not JSON (or too large): the parser's message.
    NotJson(String),
}

/// Everything read from one archive that could be read.
#[derive(Debug, Default)]
pub struct EpisodeArchive {
    /// The manifest, if the archive has one.
    pub manifest: Option<ManifestContent>,
    /// Every safe regular member by name, manifest included.
    pub members: BTreeMap<String, MemberDigest>,
    /// Unsafe members (name as written, lossily decoded) and why.
    pub unsafe_members: Vec<(String, UnsafeKind)>,
    /// The label timeline, if present.
    pub labels: Option<LabelsTable>,
    /// Telemetry tables, indexed like [`Source::ALL`].
    pub sources: [Option<SourceTable>; 4],
    /// Reading stopped at [`ReadLimits::max_members`]: later members are
    /// unknown.
    pub members_over_limit: bool,
}

impl EpisodeArchive {
    /// Orders every telemetry table strictly on `t_wall_ns`, dropping rows
    /// that do not advance (see [`SourceTable::drop_unordered_rows`]).
    pub fn order_by_wall_clock(&mut self) {
        for table in self.sources.iter_mut().flatten() {
            table.drop_unordered_rows();
        }
    }

    /// The table of one source, if its member was present.
    pub fn source(&self, source: Source) -> Option<&SourceTable> {
        self.sources[source as usize].as_ref()
    }
}

/// The archive file's own checksum and size (compressed bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveFileDigest {
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
}

/// Hashes and counts bytes as they are read.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Caps decompressed bytes and remembers which layer failed.
struct GuardedReader<R> {
    inner: R,
    read: u64,
    limit: u64,
    failure: Option<ArchiveError>,
}

impl<R: Read> Read for GuardedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("archive stream already failed"));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                if self.read > self.limit {
                    self.failure = Some(ArchiveError::TooLarge { limit: self.limit });
                    return Err(io::Error::other("decompressed size over the limit"));
                }
                Ok(n)
            }
            Err(e) => {
                let msg = zstd_message(&e);
                self.failure = Some(ArchiveError::Zstd(io::Error::new(e.kind(), msg.clone())));
                Err(io::Error::new(e.kind(), msg))
            }
        }
    }
}

/// zstd's message, with the window cap named when that is what failed.
fn zstd_message(e: &io::Error) -> String {
    let msg = e.to_string();
    if msg.contains("too much memory") {
        format!("{msg} (the frame's window is over the cap of ReadLimits::max_zstd_window_log)")
    } else {
        msg
    }
}

/// Reads one archive. The file must be a regular file reached without a
/// link (see [`open_regular`]). The file digest is returned whenever the
/// file could be opened, even if its content is unreadable.
pub fn read_archive(
    path: &Path,
    limits: &ReadLimits,
) -> (Option<ArchiveFileDigest>, Result<EpisodeArchive, ArchiveError>) {
    let file: File = match open_regular(path) {
        Ok(f) => f,
        Err(e) => return (None, Err(ArchiveError::Io(e))),
    };
    read_archive_from(file, limits)
}

/// Reads one archive from any byte stream (see [`read_archive`]).
pub fn read_archive_from(
    reader: impl Read,
    limits: &ReadLimits,
) -> (Option<ArchiveFileDigest>, Result<EpisodeArchive, ArchiveError>) {
    let mut hashing = HashingReader { inner: reader, hasher: Sha256::new(), bytes: 0 };
    let result = {
        let decoder = zstd::stream::read::Decoder::new(&mut hashing).and_then(|mut d| {
            d.window_log_max(limits.max_zstd_window_log)?;
            Ok(d)
        });
        match decoder {
            Err(e) => Err(ArchiveError::Zstd(e)),
            Ok(decoder) => {
                let guarded =
                    GuardedReader { inner: decoder, read: 0, limit: limits.max_decompressed_bytes, failure: None };
                let mut tar = TarReader::new(guarded, limits.tar);
                let result = read_members(&mut tar, limits);
                match (tar.into_inner().failure, result) {
                    (Some(failure), _) => Err(failure),
                    (None, r) => r,
                }
            }
        }
    };
    // Hash the rest of the file (after the tar end, or after a failure).
    let digest = match io::copy(&mut hashing, &mut io::sink()) {
        Ok(_) => Some(ArchiveFileDigest { sha256: hex::encode(hashing.hasher.finalize()), bytes: hashing.bytes }),
        Err(e) => return (None, Err(ArchiveError::Io(e))),
    };
    (digest, result)
}

/// A name for reports: lossily decoded and cut to [`SHOWN_NAME_CHARS`].
fn shown_name(name: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(name);
    match lossy.char_indices().nth(SHOWN_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &lossy[..cut]),
        None => lossy.into_owned(),
    }
}

fn classify_member(name: &[u8], kind: EntryKind, name_over_limit: bool) -> Result<String, (String, UnsafeKind)> {
    let trimmed = name.strip_prefix(b"./").unwrap_or(name);
    let unsafe_kind = if name_over_limit {
        Some(UnsafeKind::NameTooLong)
    } else if name.first() == Some(&b'/') {
        Some(UnsafeKind::AbsolutePath)
    } else if trimmed.split(|c| *c == b'/').any(|part| part == b"..") {
        Some(UnsafeKind::ParentDir)
    } else {
        match kind {
            EntryKind::Symlink | EntryKind::HardLink => Some(UnsafeKind::Link),
            EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo => Some(UnsafeKind::Device),
            EntryKind::Directory => Some(UnsafeKind::Directory),
            EntryKind::Sparse | EntryKind::Other(_) => Some(UnsafeKind::OtherType),
            EntryKind::Regular if trimmed.contains(&b'/') || trimmed.is_empty() => Some(UnsafeKind::NotTopLevel),
            EntryKind::Regular => None,
        }
    };
    match unsafe_kind {
        Some(k) => Err((shown_name(name), k)),
        None => Ok(String::from_utf8_lossy(trimmed).into_owned()),
    }
}

fn read_members<R: Read>(tar: &mut TarReader<R>, limits: &ReadLimits) -> Result<EpisodeArchive, ArchiveError> {
    let mut out = EpisodeArchive::default();
    let mut count = 0usize;
    while let Some(entry) = tar.next_entry().map_err(ArchiveError::Tar)? {
        count += 1;
        if count > limits.max_members {
            // Nothing after this is read: the sweep's cost stays bounded.
            out.members_over_limit = true;
            break;
        }
        let name = match classify_member(&entry.name, entry.kind, entry.name_over_limit) {
            Ok(name) => name,
            Err(unsafe_member) => {
                out.unsafe_members.push(unsafe_member);
                continue;
            }
        };
        if out.members.contains_key(&name) {
            out.unsafe_members.push((shown_name(name.as_bytes()), UnsafeKind::Duplicate));
            continue;
        }
        let digest =
            read_member(&name, &mut tar.data(), limits, &mut out).map_err(|e| ArchiveError::Tar(TarError::Io(e)))?;
        out.members.insert(name, digest);
    }
    Ok(out)
}

fn read_member(
    name: &str,
    entry: &mut impl Read,
    limits: &ReadLimits,
    out: &mut EpisodeArchive,
) -> io::Result<MemberDigest> {
    if name == "manifest.json" {
        let mut bytes = Vec::new();
        entry.take(limits.max_manifest_bytes as u64 + 1).read_to_end(&mut bytes)?;
        let mut hasher = Sha256::new();
        hasher.update(&bytes);
        let mut lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        let mut total = bytes.len() as u64;
        let content = if bytes.len() > limits.max_manifest_bytes {
            // Count (and discard) the rest: the episode is errored, so this
            // digest is never compared.
            let rest = digest_only(entry, false)?;
            total += rest.bytes;
            lines += rest.lines;
            ManifestContent::NotJson(format!("larger than {} bytes", limits.max_manifest_bytes))
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => ManifestContent::Json(v),
                Err(e) => ManifestContent::NotJson(e.to_string()),
            }
        };
        // A final line without a newline counts, as in every member's digest
        // (the rest's own count already includes its final line).
        if total == bytes.len() as u64 && bytes.last().is_some_and(|b| *b != b'\n') {
            lines += 1;
        }
        out.manifest = Some(content);
        return Ok(MemberDigest { sha256: hex::encode(hasher.finalize()), bytes: total, lines });
    }
    if name == "labels.jsonl" {
        let mut labels = LabelsTable::with_max_rows(limits.max_label_rows);
        let mut long_lines = LineProblems::default();
        let digest = stream_lines(entry, limits, &mut long_lines, |line, no, _| labels.push_line(line, no))?;
        labels.problems.absorb_long_lines(long_lines);
        out.labels = Some(labels);
        return Ok(digest);
    }
    if let Some(source) = Source::ALL.into_iter().find(|s| s.member_name() == name) {
        let mut table = SourceTable::with_max_rows(source, limits.max_rows_per_member);
        let mut long_lines = LineProblems::default();
        let digest = stream_lines(entry, limits, &mut long_lines, |line, no, _| table.push_line(line, no))?;
        table.problems.absorb_long_lines(long_lines);
        out.sources[source as usize] = Some(table);
        return Ok(digest);
    }
    // Any other member: hashed and its lines counted, nothing buffered.
    digest_only(entry, limits.checksums)
}

/// Reads `reader` to its end in 64 KiB chunks, hashing them unless
/// `checksums` is off and handing each to `on_chunk`; returns the hex
/// sha256 (empty when not hashed) and the number of bytes.
fn read_chunks(mut reader: impl Read, checksums: bool, mut on_chunk: impl FnMut(&[u8])) -> io::Result<(String, u64)> {
    let mut hasher = checksums.then(Sha256::new);
    let mut buf = vec![0u8; 64 << 10];
    let mut bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if let Some(h) = &mut hasher {
            h.update(chunk);
        }
        bytes += n as u64;
        on_chunk(chunk);
    }
    Ok((hasher.map(|h| hex::encode(h.finalize())).unwrap_or_default(), bytes))
}

/// Hashes (unless `checksums` is off) and counts the bytes and lines of a
/// member without keeping any of it: constant memory whatever its lines.
/// Lines are counted as [`stream_lines`] counts them (a final line without
/// a newline counts).
pub fn digest_only(reader: impl Read, checksums: bool) -> io::Result<MemberDigest> {
    let (mut lines, mut last) = (0u64, b'\n');
    let (sha256, bytes) = read_chunks(reader, checksums, |chunk| {
        lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        last = chunk[chunk.len() - 1];
    })?;
    if last != b'\n' {
        lines += 1;
    }
    Ok(MemberDigest { sha256, bytes, lines })
}

/// Streams `reader` line by line (split on `\n`, `\r` trimmed, blank lines
/// skipped), hashing every byte unless `limits.checksums` is off (the
/// digest is then empty). Lines over `limits.max_line_bytes` are reported
/// to `problems` and skipped without being buffered whole.
pub fn stream_lines(
    reader: impl Read,
    limits: &ReadLimits,
    problems: &mut LineProblems,
    mut on_line: impl FnMut(&[u8], u64, &mut LineProblems),
) -> io::Result<MemberDigest> {
    let max_line = limits.max_line_bytes;
    let mut pending: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut line_no = 0u64;
    let mut emit = |line: &[u8], line_no: u64, problems: &mut LineProblems| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            on_line(line, line_no, problems);
        }
    };
    let (sha256, bytes) = read_chunks(reader, limits.checksums, |chunk| {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            line_no += 1;
            let piece = &chunk[start..nl];
            start = nl + 1;
            if skipping {
                skipping = false;
                pending.clear();
                continue;
            }
            if pending.is_empty() {
                if piece.len() > max_line {
                    problems.line_too_long(line_no, piece.len());
                } else {
                    emit(piece, line_no, problems);
                }
            } else {
                pending.extend_from_slice(piece);
                if pending.len() > max_line {
                    problems.line_too_long(line_no, pending.len());
                } else {
                    emit(&pending, line_no, problems);
                }
                pending.clear();
            }
        }
        let rest = &chunk[start..];
        if !skipping {
            pending.extend_from_slice(rest);
            if pending.len() > max_line {
                problems.line_too_long(line_no + 1, pending.len());
                pending.clear();
                skipping = true;
            }
        }
    })?;
    if !pending.is_empty() && !skipping {
        line_no += 1;
        emit(&pending, line_no, problems);
    } else if skipping {
        line_no += 1;
    }
    Ok(MemberDigest { sha256, bytes, lines: line_no })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_without_buffering() -> io::Result<()> {
        let mut text = b"{\"a\":1}\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 200_000));
        text.extend_from_slice(b"\n{\"b\":2}");
        let mut seen = Vec::new();
        let mut problems = LineProblems::default();
        let limits = ReadLimits { max_line_bytes: 1000, ..ReadLimits::default() };
        let d = stream_lines(text.as_slice(), &limits, &mut problems, |l, n, _| seen.push((n, l.to_vec())))?;
        assert_eq!(seen, vec![(1, b"{\"a\":1}".to_vec()), (3, b"{\"b\":2}".to_vec())]);
        assert_eq!(problems.too_long, 1);
        assert_eq!(d.lines, 3);
        assert_eq!(d.bytes, text.len() as u64);
        Ok(())
    }

    #[test]
    fn member_names_are_classified() {
        use EntryKind as E;
        let classify = |n: &[u8], t| classify_member(n, t, false);
        assert_eq!(classify(b"proc.jsonl", E::Regular), Ok("proc.jsonl".to_string()));
        assert_eq!(classify(b"./proc.jsonl", E::Regular), Ok("proc.jsonl".to_string()));
        let kind = |n: &[u8], t| classify(n, t).err().map(|e| e.1);
        assert_eq!(kind(b"/etc/passwd", E::Regular), Some(UnsafeKind::AbsolutePath));
        assert_eq!(kind(b"../x", E::Regular), Some(UnsafeKind::ParentDir));
        assert_eq!(kind(b"a/b", E::Regular), Some(UnsafeKind::NotTopLevel));
        assert_eq!(kind(b"l", E::Symlink), Some(UnsafeKind::Link));
        assert_eq!(kind(b"l", E::HardLink), Some(UnsafeKind::Link));
        assert_eq!(kind(b"d", E::CharDevice), Some(UnsafeKind::Device));
        assert_eq!(kind(b"f", E::Fifo), Some(UnsafeKind::Device));
        assert_eq!(kind(b"d", E::Directory), Some(UnsafeKind::Directory));
        assert_eq!(kind(b"s", E::Sparse), Some(UnsafeKind::OtherType));
        let long = classify_member(b"", E::Regular, true).err().map(|e| e.1);
        assert_eq!(long, Some(UnsafeKind::NameTooLong));
        let shown = shown_name(&[b'a'; 1000]);
        assert_eq!(shown.chars().count(), SHOWN_NAME_CHARS + 1);
    }

    #[test]
    fn other_members_are_counted_not_buffered() -> io::Result<()> {
        let mut text = vec![b'x'; 300_000];
        text.extend_from_slice(b"\nab\n\ncd");
        let d = digest_only(text.as_slice(), true)?;
        assert_eq!((d.bytes, d.lines), (text.len() as u64, 4));
        let mut problems = LineProblems::default();
        let streamed = stream_lines(text.as_slice(), &ReadLimits::default(), &mut problems, |_, _, _| {})?;
        assert_eq!((streamed.lines, streamed.sha256), (d.lines, d.sha256));
        assert_eq!(digest_only(&b""[..], true)?.lines, 0);
        Ok(())
    }
}
