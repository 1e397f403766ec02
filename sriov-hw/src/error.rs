//! The error type of `sriov-hw`.

use std::io;
use std::path::PathBuf;

/// What went wrong touching the host. Every variant names the operation and the file (or
/// device) involved; I/O errors keep their errno. Each message is complete on its own, the
/// OS error included, and none is exposed again as a `source()`, so a reporter walking the
/// chain prints it once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {}: {error}", path.display())]
    Io {
        /// What was being done: `read`, `write`, `readlink`, `list`, ...
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error (errno), part of the message.
        error: io::Error,
    },
    /// A file held something we cannot use.
    #[error("parse {path}: {content:?} is not {expected}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held (trimmed).
        content: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The backend cannot do this operation (yet).
    #[error("{op} is not supported by this backend: {target}")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// What it was for.
        target: String,
    },
    /// The kernel refused an operation (the fake kernel model reports errors this way).
    #[error("{op} {target}: {errno}")]
    Kernel {
        /// The operation.
        op: &'static str,
        /// Its target.
        target: String,
        /// The errno, as `std::io::Error` renders it.
        errno: io::Error,
    },
    /// A host command (run in the host root) failed.
    #[error("{command}: {outcome}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and the last line of its error output, or why it did not start.
        outcome: String,
    },
    /// A directory given as the host's `/` does not look like one.
    #[error("{} is not a host root: {reason}", path.display())]
    NotAHostRoot {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A PCI device or link does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// `PCI device`, `network interface`, ...
        what: &'static str,
        /// Its address or name.
        name: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            error,
        }
    }

    /// The errno of an I/O error, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Io { error, .. } => error.raw_os_error(),
            Self::Kernel { errno, .. } => errno.raw_os_error(),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of `e` and its sources, as a chain-walking reporter prints them.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            next = cause.source();
        }
        out
    }

    #[test]
    fn a_reported_chain_names_the_os_error_once() {
        let io = Error::io(
            "read",
            "/sys/bus/pci/devices/x/vendor",
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            chain(&io),
            "read /sys/bus/pci/devices/x/vendor: No such file or directory (os error 2)"
        );
        assert_eq!(io.errno(), Some(libc::ENOENT));
        let apply = crate::apply::ApplyError {
            step: "0000:81:00.0: set sriov_numvfs to 4".into(),
            error: io,
            reset: None,
        };
        assert_eq!(
            chain(&apply).matches("os error 2").count(),
            1,
            "{}",
            chain(&apply)
        );
    }
}
