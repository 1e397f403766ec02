//! Small, careful sysfs file helpers. Every error names the file and keeps the errno.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// The trimmed content of a file.
pub fn read_trimmed(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::io("read", path, e))
}

/// The trimmed content of a file, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// A file holding a decimal integer.
pub fn read_number<T: std::str::FromStr>(path: &Path, expected: &'static str) -> Result<T> {
    let text = read_trimmed(path)?;
    text.parse().map_err(|_| Error::Parse {
        path: path.to_owned(),
        content: text,
        expected,
    })
}

/// A hex ID file such as `vendor` (`0x8086`), as 4 lower-case hex digits without `0x`.
pub fn read_hex_id(path: &Path) -> Result<String> {
    let text = read_trimmed(path)?;
    let digits = text.strip_prefix("0x").unwrap_or(&text).to_lowercase();
    if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(digits)
    } else {
        Err(Error::Parse {
            path: path.to_owned(),
            content: text,
            expected: "a 16-bit hex ID like 0x8086",
        })
    }
}

/// The last component of a symlink's target (`driver` → `ice`), or `None` when the link
/// does not exist.
pub fn link_basename(path: &Path) -> Result<Option<String>> {
    match fs::read_link(path) {
        Ok(target) => Ok(target.file_name().map(|n| n.to_string_lossy().into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("readlink", path, e)),
    }
}

/// Sorted entry names of a directory; empty when it does not exist.
pub fn list_dir(path: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", path, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", path, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Writes `value` to a sysfs attribute (no trailing newline needed; the kernel accepts
/// both).
pub fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|e| Error::io("write", path, e))
}
