//! Hostile episode archives, built to break the reader: each streams a
//! member of any size through a zstd encoder straight to disk, so a
//! "500 MiB" archive costs the test a few hundred KB of disk and no memory.
//!
//! Every case is one class of attack from the hardening issue (labels full
//! of unknown-label rows, hundreds of MiB of minimal rows, a huge pax path,
//! GNU long name or sparse map, a runaway line in an unlisted member,
//! 200,000 members, a zstd frame asking for a 128 MiB window, a manifest
//! naming thousands of files, a labelled span of days) plus the largest
//! episode the caps still accept. `scale` is the size of the big stream in
//! bytes: tests use tens of MiB, the recorded figures (docs/reliability.md)
//! the full sizes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use cis490_pipeline::store::tar_writer::{MemberType, header_block, padding};
use serde_json::json;

use crate::{EPISODE, HOST, START_WALL_NS};

/// A tar stream compressed on the fly into a file.
pub struct StreamingArchive {
    encoder: zstd::stream::write::Encoder<'static, BufWriter<File>>,
}

impl StreamingArchive {
    /// Starts `path` with the given zstd window log (None: the level's).
    pub fn create(path: &Path, window_log: Option<u32>) -> io::Result<Self> {
        let mut encoder = zstd::stream::write::Encoder::new(BufWriter::new(File::create(path)?), 1)?;
        if let Some(log) = window_log {
            encoder.window_log(log)?;
            encoder.long_distance_matching(true)?;
        }
        Ok(Self { encoder })
    }

    /// Writes a header block.
    pub fn header(&mut self, block: &[u8; 512]) -> io::Result<&mut Self> {
        self.encoder.write_all(block)?;
        Ok(self)
    }

    /// Writes a whole member from bytes.
    pub fn member(&mut self, name: &str, data: &[u8]) -> io::Result<&mut Self> {
        self.header(&header_block(name.as_bytes(), MemberType::File, b"", data.len() as u64, 1))?;
        self.encoder.write_all(data)?;
        self.encoder.write_all(&vec![0u8; padding(data.len() as u64)])?;
        Ok(self)
    }

    /// Writes raw bytes (part of a member's data).
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<&mut Self> {
        self.encoder.write_all(bytes)?;
        Ok(self)
    }

    /// Writes `total` bytes made of `pattern` repeated (cut at `total`).
    pub fn stream(&mut self, pattern: &[u8], total: u64) -> io::Result<&mut Self> {
        let chunk: Vec<u8> = pattern.iter().copied().cycle().take((1 << 20) / pattern.len() * pattern.len()).collect();
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            self.encoder.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        Ok(self)
    }

    /// Writes the zero padding after `size` bytes of data.
    pub fn pad(&mut self, size: u64) -> io::Result<&mut Self> {
        self.raw(&vec![0u8; padding(size)])
    }

    /// Writes `total` bytes of `pattern` repeated, then the block padding.
    pub fn repeated(&mut self, pattern: &[u8], total: u64) -> io::Result<&mut Self> {
        self.stream(pattern, total)?.pad(total)
    }

    /// Ends the tar stream and the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.encoder.write_all(&[0u8; 1024])?;
        self.encoder.finish()?.flush()
    }
}

/// The episode id of an archive path (`<id>.tar.zst`; the fixture's id
/// when the name is not one).
fn episode_of(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.zst"))
        .map_or_else(|| EPISODE.to_string(), str::to_string)
}

/// A valid manifest for the archive at `path` (host: the fixture's) that
/// lists no member (every member is then `unlisted`, which only degrades).
pub fn manifest(path: &Path) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema_version": 1, "episode_id": episode_of(path), "host_id": HOST, "profile": "io-walk",
        "sample_id": "walker", "agent_version": "1.4.0", "started_wall_ns": START_WALL_NS, "files": {},
    }))
    .unwrap_or_default()
}

/// A pax record `"<len> <key>=<value>\n"` whose value is `value_len`
/// bytes: the prefix up to `=` (the caller streams the value and `\n`).
fn pax_prefix(key: &str, value_len: u64) -> String {
    let rest = format!(" {key}=").len() as u64 + value_len + 1;
    let mut len = rest + 1;
    while format!("{len}").len() as u64 + rest != len {
        len += 1;
    }
    format!("{len} {key}=")
}

/// One hostile case: its name, the reason it must get, and how to build it.
pub struct Case {
    /// Short name (also the episode's test name).
    pub name: &'static str,
    /// The status the validator must give.
    pub status: &'static str,
    /// A reason (code or `code:subject`) that must be among the reasons.
    pub reason: &'static str,
    build: fn(&Path, u64) -> io::Result<()>,
}

impl Case {
    /// Writes the archive to `path` with the big stream `scale` bytes long.
    pub fn build(&self, path: &Path, scale: u64) -> io::Result<()> {
        (self.build)(path, scale)
    }
}

fn labels_line(t: i64, label: &str) -> String {
    format!("{{\"t_mono_ns\":{t},\"t_wall_ns\":{},\"label\":\"{label}\"}}\n", START_WALL_NS + t)
}

fn unknown_labels(path: &Path, scale: u64) -> io::Result<()> {
    let line = labels_line(1, &"x".repeat(60_000));
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    let lines = (scale / line.len() as u64).max(1);
    a.header(&header_block(b"labels.jsonl", MemberType::File, b"", lines * line.len() as u64, 1))?;
    a.repeated(line.as_bytes(), lines * line.len() as u64)?;
    a.finish()
}

fn minimal_rows(path: &Path, scale: u64) -> io::Result<()> {
    let line = b"{\"t_mono_ns\":1,\"t_wall_ns\":1}\n";
    let size = scale / line.len() as u64 * line.len() as u64;
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    a.member("labels.jsonl", format!("{}{}", labels_line(0, "benign"), labels_line(60_000_000_000, "end")).as_bytes())?;
    a.header(&header_block(b"proc.jsonl", MemberType::File, b"", size, 1))?;
    a.repeated(line, size)?;
    a.finish()
}

fn long_pax_path(path: &Path, scale: u64) -> io::Result<()> {
    let prefix = pax_prefix("path", scale);
    let size = prefix.len() as u64 + scale + 1;
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    a.header(&header_block(b"pax", MemberType::PaxHeader, b"", size, 1))?;
    a.raw(prefix.as_bytes())?.stream(b"a", scale)?.raw(b"\n")?.pad(size)?;
    a.member("victim.txt", b"x")?;
    a.finish()
}

/// The manifest, then one member `name` of type `kind` holding `scale`
/// bytes of `fill`, then (with `victim`) a small file that an extension
/// header before it would name; zstd with `window_log` when given.
fn big_member(
    path: &Path,
    window_log: Option<u32>,
    (name, kind): (&[u8], MemberType),
    fill: &[u8],
    scale: u64,
    victim: bool,
) -> io::Result<()> {
    let mut a = StreamingArchive::create(path, window_log)?;
    a.member("manifest.json", &manifest(path))?;
    a.header(&header_block(name, kind, b"", scale, 1))?;
    a.repeated(fill, scale)?;
    if victim {
        a.member("victim.txt", b"x")?;
    }
    a.finish()
}

fn long_gnu_name(path: &Path, scale: u64) -> io::Result<()> {
    big_member(path, None, (b"././@LongLink", MemberType::GnuLongName), b"a", scale, true)
}

/// An old GNU sparse member whose map runs over `scale` bytes of
/// extension blocks, each listing 21 empty chunks at increasing offsets
/// (a reader that keeps the map keeps ~40 entries per KiB).
fn long_sparse_map(path: &Path, scale: u64) -> io::Result<()> {
    let octal = |field: &mut [u8], value: u64| field.copy_from_slice(format!("{value:011o}\0").as_bytes());
    let blocks = (scale / 512).max(1);
    let chunks = blocks * 21;
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    let mut header = header_block(b"sparse.bin", MemberType::Sparse, b"", 0, 1);
    header[257..265].copy_from_slice(b"ustar  \0");
    header[482] = 1;
    octal(&mut header[483..495], chunks);
    cis490_pipeline::store::tar_writer::set_checksum(&mut header);
    a.header(&header)?;
    let mut block = [0u8; 512];
    for b in 0..blocks {
        for e in 0..21u64 {
            let at = (e * 24) as usize;
            octal(&mut block[at..at + 12], b * 21 + e + 1);
            octal(&mut block[at + 12..at + 24], 0);
        }
        block[504] = u8::from(b + 1 < blocks);
        a.raw(&block)?;
    }
    a.finish()
}

fn long_unlisted_line(path: &Path, scale: u64) -> io::Result<()> {
    big_member(path, None, (b"notes.txt", MemberType::File), b"y", scale, false)
}

fn many_members(path: &Path, scale: u64) -> io::Result<()> {
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    for i in 0..(scale / 512).max(1) {
        a.header(&header_block(format!("m{i:07}").as_bytes(), MemberType::File, b"", 0, 1))?;
    }
    a.finish()
}

/// A frame that asks for a 128 MiB window (zstd --long=27) and fills it
/// with `scale` bytes of an unlisted member.
fn zstd_window(path: &Path, scale: u64) -> io::Result<()> {
    big_member(path, Some(27), (b"window.bin", MemberType::File), b"0123456789abcdef", scale, false)
}

fn huge_file_list(path: &Path, scale: u64) -> io::Result<()> {
    // As many `files` entries with 2 KB names as fit the 1 MiB manifest cap.
    let entries = (scale.min(900 << 10) / 2_100).max(1);
    let files: serde_json::Map<String, serde_json::Value> = (0..entries)
        .map(|i| (format!("{i}{}", "n".repeat(2_000)), json!({"sha256": "0".repeat(64), "bytes": 1})))
        .collect();
    let mut m: serde_json::Value = serde_json::from_slice(&manifest(path)).unwrap_or_default();
    m["files"] = serde_json::Value::Object(files);
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &serde_json::to_vec(&m).unwrap_or_default())?;
    a.finish()
}

fn long_span(path: &Path, _scale: u64) -> io::Result<()> {
    let ten_days = 10 * 86_400 * 1_000_000_000i64;
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    a.member("labels.jsonl", format!("{}{}", labels_line(0, "benign"), labels_line(ten_days, "end")).as_bytes())?;
    a.finish()
}

/// The largest episode the default caps accept: a labelled span of 6 h
/// with every source at its nominal rate (the worst case for extraction).
fn longest_accepted(path: &Path, _scale: u64) -> io::Result<()> {
    use cis490_shared::registry::Source;
    let span_s: i64 = 6 * 3600;
    let second = 1_000_000_000i64;
    let mut a = StreamingArchive::create(path, None)?;
    a.member("manifest.json", &manifest(path))?;
    let labels = format!(
        "{}{}{}",
        labels_line(0, "benign"),
        labels_line(600 * second, "io-walk"),
        labels_line(span_s * second, "end")
    );
    a.member("labels.jsonl", labels.as_bytes())?;
    for source in Source::ALL {
        let period = source.nominal_period_ns();
        let fields: Vec<&str> = source.channels().map(|c| c.field).collect();
        let mut text = String::new();
        for i in 0..span_s * second / period {
            let t = i * period + 1;
            text.push_str(&format!("{{\"t_mono_ns\":{t},\"t_wall_ns\":{}", START_WALL_NS + t));
            for (k, f) in fields.iter().enumerate() {
                text.push_str(&format!(",\"{f}\":{}", i * (k as i64 + 1)));
            }
            text.push_str("}\n");
        }
        a.member(source.member_name(), text.as_bytes())?;
    }
    a.finish()
}

/// Every hostile case.
pub fn cases() -> Vec<Case> {
    vec![
        Case { name: "unknown-labels", status: "rejected", reason: "label_unknown", build: unknown_labels },
        Case { name: "minimal-rows", status: "rejected", reason: "too_many_rows:proc.jsonl", build: minimal_rows },
        Case { name: "long-pax-path", status: "rejected", reason: "unsafe_member:name_too_long", build: long_pax_path },
        Case { name: "long-gnu-name", status: "rejected", reason: "unsafe_member:name_too_long", build: long_gnu_name },
        Case {
            name: "long-sparse-map",
            status: "rejected",
            reason: "unsafe_member:other_type",
            build: long_sparse_map,
        },
        Case {
            name: "long-unlisted-line",
            status: "rejected",
            reason: "unlisted_member:notes.txt",
            build: long_unlisted_line,
        },
        Case { name: "many-members", status: "rejected", reason: "too_many_members", build: many_members },
        Case { name: "zstd-window", status: "errored", reason: "corrupt_zstd", build: zstd_window },
        Case { name: "huge-file-list", status: "rejected", reason: "more_reasons", build: huge_file_list },
        Case { name: "long-span", status: "rejected", reason: "labels_span_over_limit", build: long_span },
        Case {
            name: "longest-accepted",
            status: "degraded",
            reason: "unlisted_member:proc.jsonl",
            build: longest_accepted,
        },
    ]
}
