//! Small, careful sysfs file helpers. Every error names the file and keeps the errno.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a sysfs attribute with as few system calls as possible: open, one read, close.
/// Attributes fit in a page and the kernel returns them whole in the first read;
/// `read_to_string` would add a `statx` and a second read per file, which on a host with a
/// thousand VFs is most of discovery's time.
fn read_small(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut buf = [0u8; 4096];
    let n = file.read(&mut buf)?;
    let mut bytes = buf[..n].to_vec();
    if n == buf.len() {
        file.read_to_end(&mut bytes)?;
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The trimmed content of a file.
pub fn read_trimmed(path: &Path) -> Result<String> {
    read_small(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::io("read", path, e))
}

/// The trimmed content of a file, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match read_small(path) {
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

/// An open directory whose entries are read relative to it (`openat`, `readlinkat`), so the
/// kernel walks the long sysfs path (and its symlinks) once instead of once per attribute.
#[derive(Debug)]
pub struct DirHandle {
    fd: std::os::fd::OwnedFd,
    path: std::path::PathBuf,
}

fn nix_io(errno: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(errno as i32)
}

impl DirHandle {
    /// Opens a directory (following symlinks); `None` when it does not exist.
    pub fn open(path: &Path) -> Result<Option<Self>> {
        use nix::fcntl::OFlag;
        match nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(Self {
                fd,
                path: path.to_owned(),
            })),
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::io("open", path, nix_io(e))),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The trimmed content of entry `name` (a relative path), `None` when absent.
    pub fn read(&self, name: &str) -> Result<Option<String>> {
        use nix::fcntl::OFlag;
        let fd = match nix::fcntl::openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::io("read", self.path.join(name), nix_io(e))),
        };
        let mut file = fs::File::from(fd);
        let mut buf = [0u8; 4096];
        let path = || self.path.join(name);
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("read", path(), e))?;
        let mut bytes = buf[..n].to_vec();
        if n == buf.len() {
            file.read_to_end(&mut bytes)
                .map_err(|e| Error::io("read", path(), e))?;
        }
        String::from_utf8(bytes)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| {
                Error::io(
                    "read",
                    path(),
                    io::Error::new(io::ErrorKind::InvalidData, e),
                )
            })
    }

    /// The last component of symlink `name`'s target, `None` when absent.
    pub fn link_basename(&self, name: &str) -> Result<Option<String>> {
        match nix::fcntl::readlinkat(&self.fd, name) {
            Ok(target) => Ok(Path::new(&target)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())),
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::io("readlink", self.path.join(name), nix_io(e))),
        }
    }

    /// Sorted entry names of subdirectory `name`; empty when absent.
    pub fn list(&self, name: &str) -> Result<Vec<String>> {
        use nix::fcntl::OFlag;
        let mut dir = match nix::dir::Dir::openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(dir) => dir,
            Err(nix::errno::Errno::ENOENT) => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", self.path.join(name), nix_io(e))),
        };
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| Error::io("list", self.path.join(name), nix_io(e)))?;
            let entry_name = entry.file_name().to_string_lossy();
            if entry_name != "." && entry_name != ".." {
                names.push(entry_name.into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}
