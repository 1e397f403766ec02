//! The scaffold every long-running binary of the stack shares (the device plugin, the
//! operator, the config daemon, the webhooks): logging to stderr as text or JSON at a level
//! from a flag (`RUST_LOG` overrides it), colour only on a terminal; a multi-threaded tokio
//! runtime; SIGTERM/SIGINT as the shutdown signal; and one place that logs a fatal error,
//! once, and turns it into the exit status.
//!
//! Behind the `process` feature, so that embedders of the host layer do not pull in an
//! async runtime.

use std::future::Future;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (`2026-12-01T10:00:00Z INFO target: message k=v`).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`), for log
    /// collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

/// An extra tracing layer a binary adds beside the output (the device plugin's watcher of
/// HTTP/2 resets, say), with its own filter.
pub type ExtraLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The level of the logger [`init_logging`] installed, changeable while the program runs
/// (the operator applies its config's `logLevel` through it). Cloning shares the logger.
#[derive(Clone, Default)]
pub struct LogLevel {
    /// The filter's reload handle and the directive in force; `None` when `RUST_LOG` chose
    /// the level or another logger was installed first.
    inner: Option<Arc<(FilterHandle, Mutex<String>)>>,
}

type FilterHandle = tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>;

impl std::fmt::Debug for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLevel")
            .field("current", &self.current())
            .finish()
    }
}

/// Two handles are equal when they change the same logger.
impl PartialEq for LogLevel {
    fn eq(&self, other: &Self) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for LogLevel {}

impl LogLevel {
    /// The directive in force, when this handle can change it.
    pub fn current(&self) -> Option<String> {
        let inner = self.inner.as_ref()?;
        Some(inner.1.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Replaces the level with `directive` (an `EnvFilter` directive, as for
    /// [`init_logging`]). `Ok(true)` when it changed; `Ok(false)` when it was already in
    /// force or the level is not this handle's to change (`RUST_LOG` set, or another
    /// logger installed); an invalid directive is an error naming it, and the level stays.
    pub fn set(&self, directive: &str) -> Result<bool, String> {
        let Some(inner) = &self.inner else {
            return Ok(false);
        };
        let mut current = inner.1.lock().unwrap_or_else(|e| e.into_inner());
        if *current == directive {
            return Ok(false);
        }
        let filter =
            EnvFilter::try_new(directive).map_err(|e| format!("log level {directive:?}: {e}"))?;
        inner
            .0
            .reload(filter)
            .map_err(|e| format!("log level {directive:?}: {e}"))?;
        directive.clone_into(&mut current);
        Ok(true)
    }
}

/// Checks a level directive as a user means it: it must parse as an `EnvFilter`
/// directive, and a part without `=` must be a level (`notalevel` would otherwise be read
/// as a target's name, silencing every other line, the fatal ones included).
pub fn check_level(directive: &str) -> Result<(), String> {
    // The names, and the numbers 0 (off) to 5 (trace) the filter also reads.
    const LEVELS: [&str; 12] = [
        "trace", "debug", "info", "warn", "error", "off", "0", "1", "2", "3", "4", "5",
    ];
    for part in directive
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if !part.contains('=') && !LEVELS.iter().any(|l| part.eq_ignore_ascii_case(l)) {
            return Err(format!(
                "{part:?} is not a level: give one of trace, debug, info, warn, error, off, or target=level"
            ));
        }
    }
    EnvFilter::try_new(directive)
        .map(drop)
        .map_err(|e| format!("{directive:?}: {e}"))
}

/// Installs the global logger: `level` is an `EnvFilter` directive (`info`, `debug`,
/// `sriov=debug,kube=info`), replaced by `RUST_LOG` when that is set and valid. A second
/// call does nothing (the first logger stays). The handle returned changes the level
/// later, unless `RUST_LOG` chose it (an operator's explicit override wins).
pub fn init_logging(level: &str, format: LogFormat, extra: Option<ExtraLayer>) -> LogLevel {
    let from_env = EnvFilter::try_from_default_env().ok();
    let pinned = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(level));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let ansi = std::io::stderr().is_terminal();
    let output: ExtraLayer = match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .with_filter(filter),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        ),
    };
    let mut layers = vec![output];
    layers.extend(extra);
    let installed = tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_ok();
    LogLevel {
        inner: (installed && !pinned).then(|| Arc::new((handle, Mutex::new(level.to_owned())))),
    }
}

/// Resolves when the process gets SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
///
/// The handlers are installed when this is called, not when it is first awaited: a signal
/// that arrives while the program is still starting (before its main loop first waits on
/// this) is not lost. Call it inside the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (Ok(mut only), Err(e)) | (Err(e), Ok(mut only)) => {
                tracing::warn!(error = %e, "cannot watch one of SIGTERM and SIGINT");
                only.recv().await;
            }
            (Err(e), Err(_)) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM or SIGINT; only SIGKILL stops the process");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The shutdown signal handed to a binary's main future.
pub type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `main` on a multi-threaded runtime of `worker_threads` threads and returns the exit
/// status: 0 when it returns `Ok`, 1 (after logging the error once, as `what stopped`)
/// when it fails or the runtime cannot start. `main` gets the shutdown signal, watched
/// from before `main` starts ([`shutdown_signal`]). Logging should be initialised first.
pub fn run<F, Fut, E>(what: &str, worker_threads: usize, main: F) -> i32
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "{what}: cannot start the async runtime");
            return 1;
        }
    };
    let outcome = runtime.block_on(async {
        let shutdown: Shutdown = Box::pin(shutdown_signal());
        main(shutdown).await
    });
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            // The error is the last word of the process: when the level in force would hide
            // it, it goes to stderr as is.
            if tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!(error = %e, "{what} stopped");
            } else {
                eprintln!("{what} stopped: {e}");
            }
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_directives_are_checked_as_meant() {
        assert_eq!(check_level("info"), Ok(()));
        assert_eq!(check_level("warn,sriov_operator=debug"), Ok(()));
        assert_eq!(check_level("DEBUG"), Ok(()));
        assert_eq!(check_level("3"), Ok(()));
        let bare = check_level("notalevel").unwrap_err();
        assert!(bare.contains("\"notalevel\" is not a level"), "{bare}");
        let bad = check_level("foo=bar=baz").unwrap_err();
        assert!(bad.contains("foo=bar=baz"), "{bad}");
    }

    #[test]
    fn log_formats_parse_and_name_the_bad_one() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(
            "yaml".parse::<LogFormat>(),
            Err("log format \"yaml\": expected text or json".to_owned())
        );
    }

    #[test]
    fn run_maps_the_outcome_to_an_exit_status() {
        assert_eq!(run("test", 1, |_| async { Ok::<(), String>(()) }), 0);
        assert_eq!(run("test", 1, |_| async { Err::<(), _>("broken") }), 1);
    }
}
