//! Opening input files safely: never through a symbolic link, never
//! blocking on a FIFO or a device, and only regular files.
//!
//! A store is written by many agents and read while it changes: a path that
//! was an archive when the store was listed may be a FIFO (an open would
//! block for ever), a device, a folder or a link by the time it is read.
//! [`open_regular`] opens with `O_NOFOLLOW | O_NONBLOCK`, checks the opened
//! file (not the path, so there is no race between check and use) and
//! refuses anything that is not a regular file with an error that says what
//! it is.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What kind of file a type is, for error messages.
fn describe(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if, and only if, it is a regular file reached
/// without following a link in its last component. The error's message
/// says why (e.g. `is a FIFO, not a regular file`).
pub fn open_regular(path: &Path) -> io::Result<File> {
    let opened =
        OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a symbolic link (links are not followed)"));
        }
        Err(e) => return Err(e),
    };
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {}, not a regular file", describe(file_type)),
        ));
    }
    Ok(file)
}

/// Reads a whole regular file of at most `max_bytes` (see [`open_regular`]).
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("is larger than {max_bytes} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_folders_are_refused_without_blocking() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.tar.zst");
        std::fs::write(&file, b"x")?;
        assert!(open_regular(&file).is_ok());
        let link = dir.path().join("link.tar.zst");
        std::os::unix::fs::symlink(&file, &link)?;
        let err = open_regular(&link).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("is a symbolic link (links are not followed)"));
        let fifo = dir.path().join("fifo.tar.zst");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
        assert!(made.success());
        let err = open_regular(&fifo).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("is a FIFO, not a regular file"));
        let err = open_regular(dir.path()).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("is a folder, not a regular file"));
        assert!(read_regular(&file, 0).is_err());
        assert_eq!(read_regular(&file, 1)?, b"x");
        Ok(())
    }
}
