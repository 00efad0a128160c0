//! A streaming reader of tar archives (POSIX ustar and pax, GNU) whose
//! memory and work are bounded whatever the archive holds.
//!
//! Episode archives are hostile until read: a general-purpose tar library
//! buffers a GNU long name or a pax header whole (hundreds of MiB for a
//! forged one) and materializes a sparse map of any length. This reader
//! keeps at most one 512-byte header, one pax header of
//! [`TarLimits::max_pax_bytes`] and one name of [`TarLimits::max_name_bytes`]
//! at a time, skips everything else in fixed-size steps, and does a constant
//! amount of work per 512-byte block, so reading an archive is linear in its
//! size and needs O(1) memory beyond the caps.
//!
//! What it understands: ustar names with their `prefix`, pax `x` headers
//! (`path`, `size`, `GNU.sparse.*`), GNU `L` long names, base-256 sizes,
//! header checksums (unsigned or signed sums), and the end-of-archive zero
//! block (or a clean end of stream). Global pax headers (`g`), GNU long link
//! names (`K`) and the extension blocks of old GNU sparse members are
//! skipped. A name over the cap is not read: the member is reported with
//! [`Entry::name_over_limit`] so the caller can reject it.

use std::io::{self, Read};

/// Caps applied while reading headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarLimits {
    /// Longest member name kept (pax `path` or GNU long name), in bytes.
    pub max_name_bytes: usize,
    /// Largest pax extended header parsed, in bytes.
    pub max_pax_bytes: usize,
}

impl Default for TarLimits {
    fn default() -> Self {
        Self { max_name_bytes: 4096, max_pax_bytes: 64 << 10 }
    }
}

/// The type of a member, from its header's type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular (or contiguous) file.
    Regular,
    /// A hard link.
    HardLink,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A directory.
    Directory,
    /// A FIFO.
    Fifo,
    /// A sparse file (GNU `S`, or pax `GNU.sparse.*`).
    Sparse,
    /// Any other type flag.
    Other(u8),
}

impl EntryKind {
    fn from_flag(flag: u8) -> Self {
        match flag {
            b'0' | b'\0' | b'7' => EntryKind::Regular,
            b'1' => EntryKind::HardLink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::CharDevice,
            b'4' => EntryKind::BlockDevice,
            b'5' => EntryKind::Directory,
            b'6' => EntryKind::Fifo,
            b'S' => EntryKind::Sparse,
            other => EntryKind::Other(other),
        }
    }

    /// Whether members of this type carry data blocks (POSIX: links,
    /// devices, directories and FIFOs carry none, whatever `size` says).
    pub fn has_data(self) -> bool {
        !matches!(
            self,
            EntryKind::HardLink
                | EntryKind::Symlink
                | EntryKind::CharDevice
                | EntryKind::BlockDevice
                | EntryKind::Directory
                | EntryKind::Fifo
        )
    }
}

/// One member's header, extension headers applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as written (empty when it was over the cap).
    pub name: Vec<u8>,
    /// Its type.
    pub kind: EntryKind,
    /// Bytes of data that follow the header.
    pub size: u64,
    /// The name (a pax `path` or GNU long name, or the pax header holding
    /// it) was over [`TarLimits`] and was skipped unread.
    pub name_over_limit: bool,
}

/// Why the archive cannot be read further.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The underlying stream failed (e.g. corrupt compression).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A header is not valid.
    #[error("header at byte {offset}: {what}")]
    Header {
        /// Offset of the header in the tar stream.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The stream ends inside a header or a member's data.
    #[error("the archive ends inside {what} at byte {offset}")]
    Truncated {
        /// Offset where the stream ended.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
}

const BLOCK: usize = 512;

/// Reads a tar stream member by member.
#[derive(Debug)]
pub struct TarReader<R> {
    inner: R,
    limits: TarLimits,
    /// Bytes consumed from `inner`.
    offset: u64,
    /// Data bytes of the current member not yet read.
    remaining: u64,
    /// Padding after the current member's data.
    padding: u64,
    /// The end-of-archive block was seen.
    ended: bool,
}

/// Extension headers seen before a member.
#[derive(Debug, Default)]
struct Pending {
    path: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    size: Option<u64>,
    sparse: bool,
    name_over_limit: bool,
}

fn padding_of(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

impl<R: Read> TarReader<R> {
    /// A reader of the tar stream `inner`.
    pub fn new(inner: R, limits: TarLimits) -> Self {
        Self { inner, limits, offset: 0, remaining: 0, padding: 0, ended: false }
    }

    /// The underlying stream, positioned after what was read.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Bytes of the tar stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Fills `buf` whole; `Ok(false)` when the stream ended before any byte.
    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<bool, TarError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(TarError::Truncated { offset: self.offset, what }),
                Ok(n) => {
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Io(e)),
            }
        }
        Ok(true)
    }

    /// Reads and drops `n` bytes in fixed-size steps.
    fn skip(&mut self, mut n: u64, what: &'static str) -> Result<(), TarError> {
        let mut scratch = [0u8; 8192];
        while n > 0 {
            let step = n.min(scratch.len() as u64) as usize;
            if !self.fill(&mut scratch[..step], what)? {
                return Err(TarError::Truncated { offset: self.offset, what });
            }
            n -= step as u64;
        }
        Ok(())
    }

    /// Reads an extension header's data when it fits `cap`, else skips it
    /// (`None`). The padding after it is consumed either way.
    fn extension_data(&mut self, size: u64, cap: usize) -> Result<Option<Vec<u8>>, TarError> {
        let data = if size <= cap as u64 {
            let mut data = vec![0u8; size as usize];
            if size > 0 && !self.fill(&mut data, "an extension header")? {
                return Err(TarError::Truncated { offset: self.offset, what: "an extension header" });
            }
            Some(data)
        } else {
            self.skip(size, "an extension header")?;
            None
        };
        self.skip(padding_of(size), "padding")?;
        Ok(data)
    }

    /// The next member, after skipping what is left of the current one;
    /// `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.ended {
            return Ok(None);
        }
        // Saturating: a base-256 size near u64::MAX must end in `Truncated`,
        // not wrap to a short skip that reads member data as headers.
        let rest = self.remaining.saturating_add(self.padding);
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest, "a member's data")?;
        let mut pending = Pending::default();
        let mut header = [0u8; BLOCK];
        loop {
            let at = self.offset;
            if !self.fill(&mut header, "a header")? {
                // A stream that stops at a block boundary ends the archive.
                self.ended = true;
                return Ok(None);
            }
            if header.iter().all(|b| *b == 0) {
                self.ended = true;
                return Ok(None);
            }
            check_checksum(&header).map_err(|what| TarError::Header { offset: at, what })?;
            let size = parse_number(&header[124..136]).map_err(|what| TarError::Header { offset: at, what })?;
            match header[156] {
                b'x' => {
                    match self.extension_data(size, self.limits.max_pax_bytes)? {
                        Some(data) => parse_pax(&data, &mut pending, &self.limits)
                            .map_err(|what| TarError::Header { offset: at, what })?,
                        None => pending.name_over_limit = true,
                    }
                    continue;
                }
                b'g' | b'K' => {
                    self.skip(size.saturating_add(padding_of(size)), "an extension header")?;
                    continue;
                }
                b'L' => {
                    match self.extension_data(size, self.limits.max_name_bytes)? {
                        Some(mut data) => {
                            while data.last() == Some(&0) {
                                data.pop();
                            }
                            pending.long_name = Some(data);
                        }
                        None => pending.name_over_limit = true,
                    }
                    continue;
                }
                _ => {}
            }
            let mut kind = EntryKind::from_flag(header[156]);
            if kind == EntryKind::Sparse && header[482] != 0 {
                // Old GNU sparse: extension blocks of sparse map entries
                // follow the header, each flagging whether another follows.
                let mut block = [0u8; BLOCK];
                loop {
                    if !self.fill(&mut block, "a sparse map")? {
                        return Err(TarError::Truncated { offset: self.offset, what: "a sparse map" });
                    }
                    if block[504] == 0 {
                        break;
                    }
                }
            }
            if pending.sparse {
                kind = EntryKind::Sparse;
            }
            let size = pending.size.unwrap_or(size);
            let name = if pending.name_over_limit {
                Vec::new()
            } else if let Some(path) = pending.path.take() {
                path
            } else if let Some(long) = pending.long_name.take() {
                long
            } else {
                ustar_name(&header)
            };
            let data = if kind.has_data() { size } else { 0 };
            self.remaining = data;
            self.padding = padding_of(data);
            return Ok(Some(Entry { name, kind, size: data, name_over_limit: pending.name_over_limit }));
        }
    }

    /// The current member's data (what [`TarReader::next_entry`] returned last).
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { reader: self }
    }
}

/// The data of the current member, read from the stream as it goes.
#[derive(Debug)]
pub struct EntryData<'a, R> {
    reader: &'a mut TarReader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = &mut *self.reader;
        if r.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(r.remaining).unwrap_or(usize::MAX));
        let n = r.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the archive ends inside a member's data at byte {}", r.offset),
            ));
        }
        r.remaining -= n as u64;
        r.offset += n as u64;
        Ok(n)
    }
}

/// The ustar name: `prefix/name` for POSIX ustar, `name` otherwise.
fn ustar_name(header: &[u8; BLOCK]) -> Vec<u8> {
    let field = |b: &[u8]| b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())].to_vec();
    let name = field(&header[0..100]);
    let posix = &header[257..263] == b"ustar\0";
    let prefix = if posix { field(&header[345..500]) } else { Vec::new() };
    if prefix.is_empty() {
        name
    } else {
        let mut full = prefix;
        full.push(b'/');
        full.extend_from_slice(&name);
        full
    }
}

/// An octal number (leading spaces, ended by NUL or space) or a positive
/// base-256 number (first byte `0x80`).
fn parse_number(field: &[u8]) -> Result<u64, &'static str> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        if first != 0x80 {
            return Err("negative or malformed base-256 number");
        }
        let mut v: u64 = 0;
        for b in &field[1..] {
            if v > u64::MAX >> 8 {
                return Err("number too large");
            }
            v = (v << 8) | u64::from(*b);
        }
        return Ok(v);
    }
    let digits = field.iter().skip_while(|b| **b == b' ').take_while(|b| !matches!(b, 0 | b' '));
    let mut v: u64 = 0;
    for b in digits {
        if !(b'0'..=b'7').contains(b) {
            return Err("numeric field is not octal");
        }
        v = v.checked_mul(8).and_then(|v| v.checked_add(u64::from(b - b'0'))).ok_or("number too large")?;
    }
    Ok(v)
}

fn check_checksum(header: &[u8; BLOCK]) -> Result<(), &'static str> {
    let stored = parse_number(&header[148..156]).map_err(|_| "checksum field is not octal")?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed) {
        Ok(())
    } else {
        Err("header checksum mismatch")
    }
}

/// Parses pax records (`"<len> <key>=<value>\n"`) into `pending`.
fn parse_pax(mut data: &[u8], pending: &mut Pending, limits: &TarLimits) -> Result<(), &'static str> {
    const MALFORMED: &str = "malformed pax extended header";
    while !data.is_empty() {
        if data.iter().all(|b| *b == 0) {
            break;
        }
        let space = data.iter().position(|b| *b == b' ').ok_or(MALFORMED)?;
        let len: usize = std::str::from_utf8(&data[..space]).ok().and_then(|s| s.parse().ok()).ok_or(MALFORMED)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(MALFORMED);
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|b| *b == b'=').ok_or(MALFORMED)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => {
                if value.len() > limits.max_name_bytes {
                    pending.name_over_limit = true;
                } else {
                    pending.path = Some(value.to_vec());
                }
            }
            b"size" => {
                let size = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()).ok_or(MALFORMED)?;
                pending.size = Some(size);
            }
            _ if key.starts_with(b"GNU.sparse.") => pending.sparse = true,
            _ => {}
        }
        data = &data[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar_writer::{MemberType, TarWriter, pax_record};

    fn entries(bytes: &[u8], limits: TarLimits) -> Result<Vec<(Entry, Vec<u8>)>, TarError> {
        let mut r = TarReader::new(bytes, limits);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            let mut data = Vec::new();
            r.data().read_to_end(&mut data)?;
            out.push((e, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_what_the_writer_writes() -> Result<(), TarError> {
        let mut w = TarWriter::new();
        w.file("a.txt", b"hello", 1);
        w.member(b"l", MemberType::Symlink, b"/etc/passwd", b"", 1);
        w.file("b.txt", &[7u8; 1000], 1);
        let got = entries(&w.finish(), TarLimits::default())?;
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].0.name.as_slice(), got[0].0.kind, got[0].1.as_slice()),
            (&b"a.txt"[..], EntryKind::Regular, &b"hello"[..])
        );
        assert_eq!(got[1].0.kind, EntryKind::Symlink);
        assert_eq!(got[2].1, vec![7u8; 1000]);
        Ok(())
    }

    #[test]
    fn agrees_with_the_tar_crate_on_pax_gnu_and_ustar_prefixes() -> Result<(), Box<dyn std::error::Error>> {
        // Archives written by the tar crate's own builder: a long name (GNU
        // `L` header), a pax path, a ustar prefix.
        let long = "d/".repeat(80) + "f.txt";
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        builder.append_data(&mut h, &long, &b"abc"[..])?;
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        builder.append_pax_extensions([("path", "pax/name.jsonl".as_bytes())])?;
        builder.append_data(&mut h, "short", &b"xy"[..])?;
        let mut h = tar::Header::new_ustar();
        h.set_path("p".repeat(120) + "/name")?;
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append(&h, &b""[..])?;
        let bytes = builder.into_inner()?;
        let mut theirs = Vec::new();
        for e in tar::Archive::new(bytes.as_slice()).entries()? {
            theirs.push(e?.path_bytes().into_owned());
        }
        let ours: Vec<Vec<u8>> = entries(&bytes, TarLimits::default())?.into_iter().map(|(e, _)| e.name).collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours[0], long.as_bytes());
        assert_eq!(ours[1], b"pax/name.jsonl");
        Ok(())
    }

    #[test]
    fn names_over_the_cap_are_skipped_unread() -> Result<(), TarError> {
        let limits = TarLimits { max_name_bytes: 64, max_pax_bytes: 256 };
        let mut w = TarWriter::new();
        w.member(b"././@LongLink", MemberType::GnuLongName, b"", &[b'a'; 100], 1);
        w.file("x", b"1", 1);
        let pax = pax_record("path", &"b".repeat(300));
        w.member(b"pax", MemberType::PaxHeader, b"", pax.as_bytes(), 1);
        w.file("y", b"2", 1);
        w.file("z", b"3", 1);
        let got = entries(&w.finish(), limits)?;
        let names: Vec<(Vec<u8>, bool)> = got.iter().map(|(e, _)| (e.name.clone(), e.name_over_limit)).collect();
        assert_eq!(names, [(vec![], true), (vec![], true), (b"z".to_vec(), false)]);
        Ok(())
    }

    #[test]
    fn a_long_sparse_map_is_skipped_block_by_block() -> Result<(), TarError> {
        let mut w = TarWriter::new();
        w.member(b"sparse", MemberType::Sparse, b"", b"data", 1);
        let mut bytes = w.finish();
        // Mark the sparse header extended and insert three extension blocks.
        bytes[482] = 1;
        fix_checksum(&mut bytes[..512]);
        let mut ext = vec![0u8; 3 * 512];
        ext[504] = 1;
        ext[512 + 504] = 1;
        bytes.splice(512..512, ext);
        let got = entries(&bytes, TarLimits::default())?;
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0.kind, got[0].1.as_slice()), (EntryKind::Sparse, &b"data"[..]));
        Ok(())
    }

    fn fix_checksum(h: &mut [u8]) {
        if let Ok(block) = <&mut [u8; 512]>::try_from(&mut h[..512]) {
            crate::tar_writer::set_checksum(block);
        }
    }

    #[test]
    fn corrupt_and_truncated_streams_are_errors() {
        let mut w = TarWriter::new();
        w.file("a", &[1u8; 600], 1);
        let bytes = w.finish();
        let mut bad = bytes.clone();
        bad[0] = b'b';
        assert!(matches!(
            entries(&bad, TarLimits::default()),
            Err(TarError::Header { what: "header checksum mismatch", .. })
        ));
        assert!(matches!(
            entries(&bytes[..700], TarLimits::default()),
            Err(TarError::Io(_) | TarError::Truncated { .. })
        ));
        assert!(matches!(entries(&bytes[..100], TarLimits::default()), Err(TarError::Truncated { .. })));
        // A stream that stops at a block boundary after a whole member ends cleanly.
        assert!(entries(&bytes[..512 + 1024], TarLimits::default()).is_ok_and(|e| e.len() == 1));
    }

    #[test]
    fn numbers_octal_and_base_256() {
        assert_eq!(parse_number(b"0000644\0"), Ok(0o644));
        assert_eq!(parse_number(b"   17 \0\0"), Ok(0o17));
        assert_eq!(parse_number(b"\0\0\0\0"), Ok(0));
        assert!(parse_number(b"00009\0").is_err());
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[11] = 5;
        big[10] = 1;
        assert_eq!(parse_number(&big), Ok(261));
        assert!(parse_number(&[0xff; 12]).is_err());
        assert!(parse_number(b"7777777777777777777777777").is_err());
    }

    #[test]
    fn links_and_devices_carry_no_data_whatever_their_size_says() -> Result<(), TarError> {
        let mut w = TarWriter::new();
        w.member(b"dev", MemberType::CharDevice, b"", b"", 1);
        w.file("after", b"ok", 1);
        let mut bytes = w.finish();
        // Claim 1024 bytes on the device: POSIX says none follow.
        bytes[124..136].copy_from_slice(b"00000002000\0");
        fix_checksum(&mut bytes[..512]);
        let got = entries(&bytes, TarLimits::default())?;
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, b"ok");
        Ok(())
    }
}
