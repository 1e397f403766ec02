//! Structured log lines (`key="value"` pairs, as upstream writes them) to stderr or to the
//! configuration's `logFile`; never to stdout, which belongs to the CNI result.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Panic.
    Panic,
    /// Error.
    Error,
    /// Warning.
    Warning,
    /// Info (the default).
    Info,
    /// Debug.
    Debug,
}

impl Level {
    /// Parses upstream's names (case-insensitive); unknown names are `Info`.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "panic" => Self::Panic,
            "error" => Self::Error,
            "warning" => Self::Warning,
            "debug" => Self::Debug,
            _ => Self::Info,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

/// A logger for one invocation.
#[derive(Debug, Clone)]
pub struct Logger {
    level: Level,
    file: Option<String>,
    context: Vec<(&'static str, String)>,
}

/// RFC 3339 UTC time with nanoseconds.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_nanos()
    )
}

fn quote(value: &str) -> String {
    format!("{value:?}")
}

impl Logger {
    /// Logs at `level` and above to stderr, or to `file` when given.
    pub fn new(level: Level, file: Option<String>) -> Self {
        Self {
            level,
            file,
            context: vec![("cniName", "sriov-cni".to_owned())],
        }
    }

    /// Adds a key printed on every line.
    pub fn with(mut self, key: &'static str, value: &str) -> Self {
        self.context.push((key, value.to_owned()));
        self
    }

    /// Changes level and destination (once the configuration is read).
    pub fn configure(&mut self, level: Level, file: Option<String>) {
        self.level = level;
        self.file = file;
    }

    /// The line `log` would write.
    pub fn format(&self, level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
        let mut line = format!(
            "time={} level={} msg={}",
            quote(&timestamp(SystemTime::now())),
            quote(level.as_str()),
            quote(msg)
        );
        for (k, v) in &self.context {
            line.push_str(&format!(" {k}={}", quote(v)));
        }
        for (k, v) in fields {
            line.push_str(&format!(" {k}={}", quote(v)));
        }
        line.push('\n');
        line
    }

    /// Writes a line when `level` is enabled. Logging never fails the plugin.
    pub fn log(&self, level: Level, msg: &str, fields: &[(&str, &str)]) {
        if level > self.level {
            return;
        }
        let line = self.format(level, msg, fields);
        match &self.file {
            Some(path) => {
                if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// Info line.
    pub fn info(&self, msg: &str, fields: &[(&str, &str)]) {
        self.log(Level::Info, msg, fields);
    }

    /// Debug line.
    pub fn debug(&self, msg: &str, fields: &[(&str, &str)]) {
        self.log(Level::Debug, msg, fields);
    }

    /// Error line.
    pub fn error(&self, msg: &str, fields: &[(&str, &str)]) {
        self.log(Level::Error, msg, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_key_value_pairs_with_context() {
        let log = Logger::new(Level::Info, None).with("containerID", "c1");
        let line = log.format(Level::Info, "ADD done", &[("ifname", "net1")]);
        assert!(line.starts_with("time=\""), "{line}");
        assert!(
            line.ends_with(
                "Z\" level=\"info\" msg=\"ADD done\" cniName=\"sriov-cni\" containerID=\"c1\" ifname=\"net1\"\n"
            ),
            "{line}"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20.000000000Z"
        );
        assert_eq!(Level::parse("WARNING"), Level::Warning);
        assert_eq!(Level::parse("verbose"), Level::Info);
    }

    #[test]
    fn a_log_file_receives_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sriov.log");
        let log = Logger::new(Level::Debug, Some(path.to_string_lossy().into_owned()));
        log.debug("step", &[("n", "1")]);
        Logger::new(Level::Info, Some(path.to_string_lossy().into_owned())).debug("hidden", &[]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("msg=\"step\"") && !text.contains("hidden"),
            "{text}"
        );
    }
}
