//! A minimal, deterministic POSIX ustar writer.
//!
//! The generator (and tests) need byte-identical archives for a seed, and
//! tests need to write members that safe tar builders refuse (`..`, absolute
//! paths, links, devices). So this writes raw ustar headers itself.

/// The type of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link to the given target.
    Symlink,
    /// A hard link.
    Hardlink,
    /// A character device.
    CharDevice,
    /// A FIFO.
    Fifo,
    /// A pax extended header applying to the next member.
    PaxHeader,
    /// A GNU long-name header (`L`) naming the next member.
    GnuLongName,
    /// An old GNU sparse member (`S`); its data is written as given.
    Sparse,
}

impl MemberType {
    fn flag(self) -> u8 {
        match self {
            MemberType::File => b'0',
            MemberType::Hardlink => b'1',
            MemberType::Symlink => b'2',
            MemberType::CharDevice => b'3',
            MemberType::Directory => b'5',
            MemberType::Fifo => b'6',
            MemberType::PaxHeader => b'x',
            MemberType::GnuLongName => b'L',
            MemberType::Sparse => b'S',
        }
    }

    /// Whether the member's data is written after its header.
    fn has_data(self) -> bool {
        matches!(self, MemberType::File | MemberType::PaxHeader | MemberType::GnuLongName | MemberType::Sparse)
    }
}

/// Builds an uncompressed tar archive in memory.
#[derive(Debug, Default)]
pub struct TarWriter {
    bytes: Vec<u8>,
}

fn put_octal(field: &mut [u8], value: u64) {
    // Width - 1 octal digits, then NUL.
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = text.as_bytes();
    let start = text.len().saturating_sub(digits);
    field[..digits].copy_from_slice(&text[start..]);
    field[digits] = 0;
}

/// A pax extended-header record `"<len> <key>=<value>\n"`, whose length
/// counts itself (the data of a [`MemberType::PaxHeader`] member).
pub fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// Zero bytes after `size` bytes of data, up to the next 512-byte block.
pub fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

/// One ustar header block: name (truncated to 100 bytes), type, link
/// target, data size and mtime, with its checksum. Tests stream hostile
/// members of any size after it.
pub fn header_block(name: &[u8], kind: MemberType, link: &[u8], size: u64, mtime: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    put_octal(&mut h[100..108], 0o644);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], mtime);
    h[156] = kind.flag();
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    set_checksum(&mut h);
    h
}

/// Sets a header's checksum (computed with the checksum field as spaces).
pub fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
}

impl TarWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a regular file.
    pub fn file(&mut self, name: &str, data: &[u8], mtime: u64) -> &mut Self {
        self.member(name.as_bytes(), MemberType::File, b"", data, mtime)
    }

    /// Appends any member with raw name bytes (truncated to 100 bytes).
    pub fn member(&mut self, name: &[u8], kind: MemberType, link: &[u8], data: &[u8], mtime: u64) -> &mut Self {
        let size = if kind.has_data() { data.len() as u64 } else { 0 };
        self.bytes.extend_from_slice(&header_block(name, kind, link, size, mtime));
        if size > 0 {
            self.bytes.extend_from_slice(data);
            self.bytes.extend(std::iter::repeat_n(0u8, padding(size)));
        }
        self
    }

    /// Ends the archive (two zero blocks) and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend(std::iter::repeat_n(0u8, 1024));
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_tar_crate_reads_what_we_write() -> std::io::Result<()> {
        let mut w = TarWriter::new();
        w.file("a.txt", b"hello", 7);
        w.member(b"link", MemberType::Symlink, b"/etc/passwd", b"", 7);
        let bytes = w.finish();
        assert_eq!(bytes.len() % 512, 0);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            seen.push((entry.path()?.display().to_string(), entry.header().entry_type().as_byte(), text));
        }
        assert_eq!(seen[0], ("a.txt".to_string(), b'0', "hello".to_string()));
        assert_eq!(seen[1].1, b'2');
        Ok(())
    }
}
