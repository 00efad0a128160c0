//! The `archive` target: episode archives through
//! `cis490_store::archive::read_archive_from` and the tar layer below it.
//!
//! The first byte picks a [`Mode`]; the rest is the input. Random bytes
//! almost never make a zstd frame, so most modes compress the fuzzer's
//! bytes here (zstd level 1) and let it explore the tar and JSONL layers;
//! they also fix the checksum of each block that looks like a ustar header
//! ([`with_header_checksums`]), which a mutation would break every time;
//! [`Mode::RoundTrip`] writes members described by the bytes with the
//! store's `TarWriter` and checks that every one reads back exactly.
//!
//! Properties, beyond never panicking: the archive file's digest is always
//! reported and right; member keys are top-level names; the maps agree
//! with the tables (a table exists exactly when its member does); every
//! line a table saw is accounted for (a row or exactly one problem);
//! tables keep their caps and stay rectangular; member digests follow one
//! line-counting convention; and a well-formed archive never fails.

use std::io;

use cis490_shared::registry::Source;
use cis490_store::archive::{ArchiveError, EpisodeArchive, MemberDigest, ReadLimits, UnsafeKind, read_archive_from};
use cis490_store::limits::MAX_LABEL_BYTES;
use cis490_store::table::{LabelsTable, LineProblems, SourceTable};
use cis490_store::tar_reader::{TarLimits, TarReader};
use cis490_store::tar_writer::{TarWriter, set_checksum};
use sha2::{Digest, Sha256};

/// What the bytes after the first one are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An archive file as stored (a zstd stream), default limits.
    Zstd,
    /// A tar stream, compressed here, default limits.
    Tar,
    /// A tar stream, compressed here, read under [`tight_limits`] so every
    /// cap is reachable with small inputs.
    TarTight,
    /// A tar stream read by `TarReader` alone (see [`tar_reader`]), under
    /// default caps when `selector / 5` is even, tight ones otherwise.
    TarReader,
    /// Members described by the bytes (see [`round_trip`]), written with
    /// `TarWriter`, compressed and read back.
    RoundTrip,
}

impl Mode {
    /// Every mode, in the order of their selector byte.
    pub const ALL: [Mode; 5] = [Mode::Zstd, Mode::Tar, Mode::TarTight, Mode::TarReader, Mode::RoundTrip];

    /// The mode a selector byte picks.
    pub fn of(selector: u8) -> Mode {
        Mode::ALL[usize::from(selector) % Mode::ALL.len()]
    }

    /// The selector byte of this mode (what seeds start with).
    pub fn selector(self) -> u8 {
        self as u8
    }
}

/// The target: one input, any bytes.
pub fn archive(data: &[u8]) {
    let Some((&selector, payload)) = data.split_first() else { return };
    match Mode::of(selector) {
        Mode::Zstd => {
            read_and_check(payload, &ReadLimits::default(), None);
        }
        Mode::Tar => {
            let tar = with_header_checksums(payload);
            read_and_check(&compress(&tar), &ReadLimits::default(), Some(tar.len()));
        }
        Mode::TarTight => {
            let tar = with_header_checksums(payload);
            read_and_check(&compress(&tar), &tight_limits(), Some(tar.len()));
        }
        Mode::TarReader => {
            let limits = if selector / 5 % 2 == 0 { TarLimits::default() } else { tight_limits().tar };
            tar_reader(&with_header_checksums(payload), limits);
        }
        Mode::RoundTrip => round_trip(payload),
    }
}

/// The input with a right checksum on every 512-byte block that carries
/// the ustar magic at offset 257: a mutated header then still reaches the
/// code behind the checksum check (blocks without the magic, old-style
/// headers, keep whatever checksum the fuzzer wrote).
pub fn with_header_checksums(tar: &[u8]) -> Vec<u8> {
    let mut out = tar.to_vec();
    for block in out.chunks_exact_mut(512) {
        if let Ok(header) = <&mut [u8; 512]>::try_from(block)
            && header[257..262] == *b"ustar"
        {
            set_checksum(header);
        }
    }
    out
}

/// Caps small enough that fuzz-sized inputs reach every one of them.
pub fn tight_limits() -> ReadLimits {
    ReadLimits {
        max_decompressed_bytes: 8 << 10,
        max_zstd_window_log: 20,
        max_line_bytes: 256,
        max_manifest_bytes: 512,
        max_members: 8,
        max_rows_per_member: 16,
        max_label_rows: 8,
        max_span_s: 60,
        tar: TarLimits { max_name_bytes: 64, max_pax_bytes: 512 },
        checksums: false,
    }
}

/// zstd level 1, as the tests of the store compress archives.
pub fn compress(tar: &[u8]) -> Vec<u8> {
    match zstd::bulk::compress(tar, 1) {
        Ok(bytes) => bytes,
        // In-memory compression fails only when allocation does.
        Err(e) => panic!("harness: zstd cannot compress {} bytes: {e}", tar.len()),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads `file` as an archive and checks every property; `decompressed`
/// is the tar stream's length when the harness made the zstd stream.
fn read_and_check(file: &[u8], limits: &ReadLimits, decompressed: Option<usize>) -> Option<EpisodeArchive> {
    let (digest, result) = read_archive_from(file, limits);
    let Some(digest) = digest else { panic!("no file digest for an archive read from memory: {result:?}") };
    assert_eq!(digest.bytes, file.len() as u64, "file digest counts every byte");
    assert_eq!(digest.sha256, sha256_hex(file), "file digest is the sha256 of the file");
    match result {
        Ok(mut episode) => {
            check_episode(&episode, limits, decompressed);
            episode.order_by_wall_clock();
            check_ordered(&episode);
            Some(episode)
        }
        Err(e) => {
            assert!(!e.reason().as_str().is_empty() && !e.to_string().is_empty());
            if let Some(n) = decompressed {
                // The harness's own zstd stream is well formed and small.
                assert!(!matches!(e, ArchiveError::Zstd(_)), "a valid zstd stream failed: {e}");
                if n as u64 <= limits.max_decompressed_bytes {
                    assert!(!matches!(e, ArchiveError::TooLarge { .. }), "{n} bytes are within the cap: {e}");
                }
            }
            None
        }
    }
}

/// A key of `EpisodeArchive::members` must name a file at the top level.
fn is_top_level(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// Lines as every member digest counts them: newlines, plus a final line
/// without one.
pub fn expected_lines(bytes: &[u8]) -> u64 {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    newlines + u64::from(bytes.last().is_some_and(|b| *b != b'\n'))
}

fn check_digest(name: &str, d: &MemberDigest, limits: &ReadLimits) {
    if limits.checksums || name == "manifest.json" {
        assert!(d.sha256.len() == 64 && d.sha256.bytes().all(|c| c.is_ascii_hexdigit()), "{name}: {d:?}");
    } else {
        assert!(d.sha256.is_empty(), "{name}: checksums are off: {d:?}");
    }
    // One convention for every member: an empty member has no line, any
    // other has at least one and at most one per byte.
    assert_eq!(d.bytes == 0, d.lines == 0, "{name}: lines of a member of {} bytes: {d:?}", d.bytes);
    assert!(d.lines <= d.bytes, "{name}: more lines than bytes: {d:?}");
}

fn check_episode(a: &EpisodeArchive, limits: &ReadLimits, decompressed: Option<usize>) {
    assert!(
        a.members.len() + a.unsafe_members.len() <= limits.max_members,
        "{} members + {} unsafe over the cap of {}",
        a.members.len(),
        a.unsafe_members.len(),
        limits.max_members
    );
    for (name, digest) in &a.members {
        assert!(is_top_level(name), "member key {name:?} is not a top-level name");
        check_digest(name, digest, limits);
    }
    if let Some(n) = decompressed {
        let total: u64 = a.members.values().map(|d| d.bytes).sum();
        assert!(total <= n as u64, "members hold {total} bytes of a {n}-byte tar stream");
    }
    for (shown, kind) in &a.unsafe_members {
        assert!(shown.chars().count() <= 201, "{kind:?} member name shown whole: {} chars", shown.chars().count());
    }
    assert_eq!(a.manifest.is_some(), a.members.contains_key("manifest.json"));
    assert_eq!(a.labels.is_some(), a.members.contains_key("labels.jsonl"));
    for source in Source::ALL {
        let member = a.members.get(source.member_name());
        assert_eq!(a.source(source).is_some(), member.is_some(), "{source:?}");
        if let (Some(table), Some(digest)) = (a.source(source), member) {
            assert_eq!(table.source, source);
            check_source_table(table, limits.max_rows_per_member, digest.lines);
        }
    }
    if let (Some(labels), Some(digest)) = (&a.labels, a.members.get("labels.jsonl")) {
        check_labels(labels, limits.max_label_rows, digest.lines);
    }
}

/// Every counter that is not zero has its first occurrence described, and
/// only then.
fn check_problems(p: &LineProblems) {
    let any = p.malformed + p.wrong_type + p.missing_time + p.too_long + p.non_finite + p.over_row_cap > 0;
    assert_eq!(any, p.first.is_some(), "{p:?}");
}

/// A source table's invariants; `member_lines` is its member's line count.
pub fn check_source_table(t: &SourceTable, max_rows: usize, member_lines: u64) {
    let rows = t.rows();
    assert!(rows <= max_rows, "{rows} rows over the cap of {max_rows}");
    assert_eq!(t.t_mono_ns.len(), rows);
    assert_eq!(t.fields.len(), t.source.channels().count());
    assert_eq!(t.columns.len(), t.fields.len());
    assert!(t.columns.iter().all(|c| c.len() == rows), "columns of unequal length");
    let p = &t.problems;
    let accounted = rows as u64 + u64::from(p.malformed + p.wrong_type + p.missing_time + p.over_row_cap);
    assert_eq!(t.lines, accounted, "each line is a row or one problem: {p:?}");
    assert!(t.lines + u64::from(p.too_long) <= member_lines, "{} lines seen of {member_lines}: {p:?}", t.lines);
    check_problems(p);
}

/// A label table's invariants; `member_lines` is its member's line count.
pub fn check_labels(l: &LabelsTable, max_rows: usize, member_lines: u64) {
    assert!(l.rows.len() <= max_rows, "{} label rows over the cap of {max_rows}", l.rows.len());
    let p = &l.problems;
    let accounted = l.rows.len() as u64 + u64::from(p.malformed + p.wrong_type + p.missing_time + p.over_row_cap);
    assert_eq!(l.lines, accounted, "each label line is a row or one problem: {p:?}");
    assert!(l.lines + u64::from(p.too_long) <= member_lines);
    for row in &l.rows {
        assert!(row.label.len() <= MAX_LABEL_BYTES + '…'.len_utf8(), "label of {} bytes kept", row.label.len());
    }
    check_problems(p);
}

/// After `order_by_wall_clock`, every table is strictly ordered and still
/// rectangular, and row ranges stay inside the table.
fn check_ordered(a: &EpisodeArchive) {
    for table in a.sources.iter().flatten() {
        assert!(table.t_wall_ns.windows(2).all(|w| w[0] < w[1]), "not strictly ordered after ordering");
        assert!(table.columns.iter().all(|c| c.len() == table.rows()));
        assert_eq!(table.t_mono_ns.len(), table.rows());
        let (first, last) = (table.t_wall_ns.first().copied(), table.t_wall_ns.last().copied());
        for (start, end) in [(i64::MIN, i64::MAX), (first.unwrap_or(0), last.unwrap_or(0)), (i64::MAX, i64::MIN)] {
            let range = table.rows_between(start, end);
            assert!(range.start <= range.end && range.end <= table.rows(), "{range:?} of {} rows", table.rows());
        }
    }
}

/// `TarReader` alone: headers, extension headers and data reads.
pub fn tar_reader(payload: &[u8], limits: TarLimits) {
    let mut reader = TarReader::new(payload, limits);
    let mut last_offset = 0;
    // A header takes a 512-byte block, so this bounds the loop whatever
    // the reader does.
    for _ in 0..=payload.len() / 512 + 1 {
        match reader.next_entry() {
            Ok(Some(entry)) => {
                let longest_ustar = 155 + 1 + 100;
                assert!(entry.name.len() <= limits.max_name_bytes.max(longest_ustar), "{entry:?}");
                assert!(!entry.name_over_limit || entry.name.is_empty(), "{entry:?}");
                assert!(entry.kind.has_data() || entry.size == 0, "{entry:?}");
                assert_eq!(reader.offset() % 512, 0, "data starts on a block boundary");
                let copied = io::copy(&mut reader.data(), &mut io::sink());
                let offset = reader.offset();
                assert!(offset <= payload.len() as u64 && offset >= last_offset);
                last_offset = offset;
                match copied {
                    Ok(n) => assert_eq!(n, entry.size, "{entry:?}"),
                    Err(e) => {
                        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
                        // The next header cannot be reached any more.
                        assert!(reader.next_entry().is_err(), "a member cut short and the archive goes on");
                        return;
                    }
                }
            }
            Ok(None) => {
                assert!(matches!(reader.next_entry(), Ok(None)), "the end of the archive is final");
                return;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return;
            }
        }
    }
    panic!("more members than 512-byte blocks in {} bytes", payload.len());
}

/// Member names a round trip draws from: the known members, an unknown
/// one, and `./proc.jsonl` (the same key as `proc.jsonl`).
pub const ROUND_TRIP_NAMES: [&str; 8] = [
    "manifest.json",
    "labels.jsonl",
    "proc.jsonl",
    "guest.jsonl",
    "qmp.jsonl",
    "netflow.jsonl",
    "notes.txt",
    "./proc.jsonl",
];

/// The caps of a round trip: default ones, but short lines and few rows
/// and members so that each cap is met.
pub fn round_trip_limits() -> ReadLimits {
    ReadLimits {
        max_line_bytes: 64,
        max_members: 16,
        max_rows_per_member: 8,
        max_label_rows: 4,
        ..ReadLimits::default()
    }
}

/// Encodes members for [`round_trip`]: per member a name selector byte
/// (into [`ROUND_TRIP_NAMES`]), a little-endian u16 length and the bytes.
pub fn encode_members(members: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![Mode::RoundTrip.selector()];
    for (name, content) in members {
        let len = u16::try_from(content.len()).unwrap_or(u16::MAX);
        out.push(*name);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&content[..usize::from(len)]);
    }
    out
}

/// Writes the members the bytes describe (see [`encode_members`]), reads
/// them back and checks each against what was written.
pub fn round_trip(mut rest: &[u8]) {
    let limits = round_trip_limits();
    let mut members: Vec<(&str, &[u8])> = Vec::new();
    while let [selector, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (content, next) = tail.split_at(len);
        members.push((ROUND_TRIP_NAMES[usize::from(*selector) % ROUND_TRIP_NAMES.len()], content));
        rest = next;
        if members.len() == limits.max_members + 4 {
            break;
        }
    }
    let mut writer = TarWriter::new();
    for (name, content) in &members {
        writer.file(name, content, 1);
    }
    let tar = writer.finish();
    let Some(episode) = read_and_check(&compress(&tar), &limits, Some(tar.len())) else {
        panic!("a well-formed archive of {} members did not read", members.len());
    };
    assert_eq!(episode.members_over_limit, members.len() > limits.max_members);
    let read = &members[..members.len().min(limits.max_members)];
    let mut seen = std::collections::BTreeSet::new();
    let mut duplicates = 0;
    for (name, content) in read {
        let key = name.strip_prefix("./").unwrap_or(name);
        if !seen.insert(key) {
            duplicates += 1;
            continue;
        }
        let Some(digest) = episode.members.get(key) else { panic!("member {key:?} was written, not read") };
        let expected =
            MemberDigest { sha256: sha256_hex(content), bytes: content.len() as u64, lines: expected_lines(content) };
        assert_eq!(digest, &expected, "member {key:?} read back differently");
        check_lines_seen(&episode, key, content, &limits);
    }
    assert_eq!(episode.members.len(), seen.len());
    let dups = episode.unsafe_members.iter().filter(|(_, k)| *k == UnsafeKind::Duplicate).count();
    assert_eq!((dups, episode.unsafe_members.len()), (duplicates, duplicates), "{:?}", episode.unsafe_members);
}

/// A JSONL member's table saw exactly its non-blank lines within the line
/// cap, and counted each longer one once.
fn check_lines_seen(episode: &EpisodeArchive, key: &str, content: &[u8], limits: &ReadLimits) {
    let lines_seen = if key == "labels.jsonl" {
        episode.labels.as_ref().map(|l| (l.lines, l.problems.too_long))
    } else {
        Source::ALL
            .into_iter()
            .find(|s| s.member_name() == key)
            .and_then(|s| episode.source(s))
            .map(|t| (t.lines, t.problems.too_long))
    };
    let Some((lines, too_long)) = lines_seen else { return };
    let mut pieces: Vec<&[u8]> = content.split(|b| *b == b'\n').collect();
    if content.last().is_none_or(|b| *b == b'\n') {
        pieces.pop();
    }
    let long = pieces.iter().filter(|p| p.len() > limits.max_line_bytes).count() as u64;
    let parsed = pieces
        .iter()
        .filter(|p| p.len() <= limits.max_line_bytes)
        .filter(|p| !p.strip_suffix(b"\r").unwrap_or(p).iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    assert_eq!((lines, u64::from(too_long)), (parsed, long), "{key}: lines parsed and too long");
}
