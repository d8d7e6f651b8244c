//! `debug.log` in Bitcoin Core's line format, through tracing.
//!
//! Debug categories are tracing targets (`http`, `rpc`, `zmq`, ...), so
//! `-debug=http` switches on `target: "http"` events at debug level, and a
//! line reads `2026-11-26T15:44:53Z [http] Received a POST request ...` as in
//! Core. Warnings and errors carry `[warning]` and `[error]`.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogConfig;

/// Core's debug categories; each is a tracing target.
pub const CATEGORIES: &[&str] = &[
    "net",
    "tor",
    "mempool",
    "http",
    "bench",
    "zmq",
    "walletdb",
    "rpc",
    "estimatefee",
    "addrman",
    "selectcoins",
    "reindex",
    "cmpctblock",
    "rand",
    "prune",
    "proxy",
    "mempoolrej",
    "libevent",
    "coindb",
    "qt",
    "leveldb",
    "validation",
    "i2p",
    "ipc",
    "lock",
    "blockstorage",
    "txreconciliation",
    "scan",
    "txpackages",
    "kernel",
    "privatebroadcast",
];

/// Formats events as Core's log lines.
struct CoreFormat {
    micros: bool,
    thread_names: bool,
}

/// `2026-11-26T15:44:53Z` (with `.123456` before the `Z` for micros).
fn timestamp(micros: bool) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if micros {
        let _ = write!(s, ".{:06}", now.subsec_micros());
    }
    s.push('Z');
    s
}

impl<S, N> FormatEvent<S, N> for CoreFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let meta = event.metadata();
        write!(writer, "{} ", timestamp(self.micros))?;
        if self.thread_names {
            let thread = std::thread::current();
            write!(writer, "[{}] ", thread.name().unwrap_or("unknown"))?;
        }
        let category = CATEGORIES.contains(&meta.target()).then(|| meta.target());
        match (*meta.level(), category) {
            (Level::ERROR, _) => write!(writer, "[error] ")?,
            (Level::WARN, _) => write!(writer, "[warning] ")?,
            (Level::DEBUG, Some(cat)) => write!(writer, "[{cat}] ")?,
            (Level::TRACE, Some(cat)) => write!(writer, "[{cat}:trace] ")?,
            _ => {}
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Where log lines go: the debug log file and, optionally, standard output.
#[derive(Clone)]
struct Sink {
    file: Option<Arc<Mutex<File>>>,
    console: bool,
}

struct SinkWriter<'a>(&'a Sink);

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // tracing-subscriber hands over one whole line per call.
        if let Some(file) = &self.0.file {
            let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = f.write_all(buf);
        }
        if self.0.console {
            let _ = io::stdout().lock().write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        SinkWriter(self)
    }
}

/// The tracing filter for the given `-debug`/`-debugexclude` values: info
/// for everything, debug for the chosen categories.
///
/// An enabled category logs down to its `-loglevel` (default `debug`, as
/// in Core: trace lines need `-loglevel=trace` or `-loglevel=<cat>:trace`).
#[must_use]
pub fn filter(debug: &[String], exclude: &[String], levels: &Levels) -> Targets {
    let all = debug.iter().any(|d| d.is_empty() || d == "1" || d == "all");
    let none = debug.iter().any(|d| d == "0" || d == "none");
    let mut targets = Targets::new().with_default(LevelFilter::INFO);
    for cat in CATEGORIES {
        let on = !none && (all || debug.iter().any(|d| d == cat)) && !exclude.iter().any(|e| e == cat);
        if on {
            targets = targets.with_target(*cat, levels.of(cat));
        }
    }
    targets
}

/// `-loglevel`: a global level for debug categories and per-category ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels {
    global: Option<LevelFilter>,
    categories: Vec<(String, LevelFilter)>,
}

impl Levels {
    /// The level an enabled category logs down to.
    #[must_use]
    pub fn of(&self, category: &str) -> LevelFilter {
        self.categories
            .iter()
            .rev()
            .find(|(c, _)| c == category)
            .map(|(_, l)| *l)
            .or(self.global)
            .unwrap_or(LevelFilter::DEBUG)
    }

    /// Parses every `-loglevel` value as Core's `SetLoggingLevel` does.
    ///
    /// # Errors
    /// Core's init error text for the first bad value.
    pub fn parse(values: &[String]) -> Result<Self, String> {
        const VALID: &str = "info, debug, trace";
        let level = |name: &str| match name {
            "info" => Some(LevelFilter::INFO),
            "debug" => Some(LevelFilter::DEBUG),
            "trace" => Some(LevelFilter::TRACE),
            _ => None,
        };
        let mut out = Self::default();
        for value in values {
            // as Core: a ':' from the fourth character on makes it per-category
            if value.char_indices().any(|(i, ch)| ch == ':' && i >= 3) {
                let parts: Vec<&str> = value.split(':').collect();
                let parsed = (parts.len() == 2 && CATEGORIES.contains(&parts[0]))
                    .then(|| level(parts[1]))
                    .flatten()
                    .map(|l| (parts[0].to_owned(), l));
                match parsed {
                    Some(pair) => out.categories.push(pair),
                    None => {
                        let mut cats = CATEGORIES.to_vec();
                        cats.sort_unstable();
                        return Err(format!(
                            "Unsupported category-specific logging level -loglevel={value}. Expected -loglevel=<category>:<loglevel>. Valid categories: {}. Valid loglevels: {VALID}.",
                            cats.join(", ")
                        ));
                    }
                }
            } else {
                out.global = Some(level(value).ok_or_else(|| {
                    format!("Unsupported global logging level -loglevel={value}. Valid values: {VALID}.")
                })?);
            }
        }
        Ok(out)
    }
}

/// Categories in `debug`/`exclude` that Core would not recognise.
#[must_use]
pub fn unknown_categories(debug: &[String], exclude: &[String]) -> Vec<String> {
    debug
        .iter()
        .map(|d| ("debug", d))
        .chain(exclude.iter().map(|e| ("debugexclude", e)))
        .filter(|(_, c)| {
            !(c.is_empty() || ["0", "1", "all", "none"].contains(&c.as_str()) || CATEGORIES.contains(&c.as_str()))
        })
        .map(|(opt, c)| format!("Unsupported logging category -{opt}={c}."))
        .collect()
}

/// Core's `RECENT_DEBUG_HISTORY_SIZE`: what `-shrinkdebugfile` keeps.
const RECENT_DEBUG_HISTORY_SIZE: u64 = 10 * 1_000_000;

/// Core's `ShrinkDebugFile`: past 110 % of the history size, keep only the
/// last part of the file.
fn shrink(path: &std::path::Path) -> io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = std::fs::metadata(path)?.len();
    if len <= RECENT_DEBUG_HISTORY_SIZE / 10 * 11 {
        return Ok(());
    }
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(len - RECENT_DEBUG_HISTORY_SIZE))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    std::fs::write(path, tail)
}

/// Run-time control of logging: reopen the file (SIGHUP) and switch debug
/// categories (the `logging` RPC).
pub struct LogHandle {
    file: Option<(std::path::PathBuf, Arc<Mutex<File>>)>,
    filter: reload::Handle<Targets, tracing_subscriber::Registry>,
    categories: Mutex<Vec<String>>,
    levels: Levels,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle").finish_non_exhaustive()
    }
}

impl LogHandle {
    /// Reopens the debug log at its path (after log rotation).
    pub fn reopen(&self) {
        if let Some((path, file)) = &self.file {
            match OpenOptions::new().create(true).append(true).open(path) {
                Ok(new) => *file.lock().unwrap_or_else(PoisonError::into_inner) = new,
                Err(e) => tracing::warn!("Failed to reopen debug log file {}: {e}", path.display()),
            }
        }
    }

    /// Every category with whether it is logged, sorted by name.
    #[must_use]
    pub fn categories(&self) -> Vec<(String, bool)> {
        let on = self.categories.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<&str> = CATEGORIES.to_vec();
        all.sort_unstable();
        all.into_iter().map(|c| (c.to_owned(), on.iter().any(|o| o == c))).collect()
    }

    /// Switches categories on and off (`all`/`1` for every one).
    ///
    /// # Errors
    /// The first unknown category.
    pub fn set(&self, include: &[String], exclude: &[String]) -> Result<(), String> {
        let expand = |names: &[String]| -> Result<Vec<String>, String> {
            let mut out = Vec::new();
            for n in names {
                if n == "all" || n == "1" {
                    out.extend(CATEGORIES.iter().map(|c| (*c).to_owned()));
                } else if CATEGORIES.contains(&n.as_str()) {
                    out.push(n.clone());
                } else {
                    return Err(n.clone());
                }
            }
            Ok(out)
        };
        let inc = expand(include)?;
        let exc = expand(exclude)?;
        let mut on = self.categories.lock().unwrap_or_else(PoisonError::into_inner);
        for c in inc {
            if !on.contains(&c) {
                on.push(c);
            }
        }
        on.retain(|c| !exc.contains(c));
        let _ = self.filter.reload(filter(&on, &[], &self.levels));
        Ok(())
    }
}

/// Opens the log file and installs the global subscriber. Returns the
/// handle for run-time changes, unless a subscriber was already installed.
///
/// # Errors
/// When the debug log cannot be opened.
pub fn init(cfg: &LogConfig, shrink_file: bool) -> io::Result<Option<Arc<LogHandle>>> {
    let file = match &cfg.file {
        Some(path) => {
            if shrink_file && path.exists() {
                let _ = shrink(path);
            }
            Some((path.clone(), Arc::new(Mutex::new(OpenOptions::new().create(true).append(true).open(path)?))))
        }
        None => None,
    };
    let sink = Sink { file: file.as_ref().map(|(_, f)| Arc::clone(f)), console: cfg.console };
    let layer = tracing_subscriber::fmt::layer()
        .event_format(CoreFormat { micros: cfg.micros, thread_names: cfg.thread_names })
        .with_writer(sink);
    let initial = filter(&cfg.debug, &cfg.debug_exclude, &cfg.levels);
    let (reloadable, handle) = reload::Layer::new(initial);
    let enabled: Vec<String> = CATEGORIES
        .iter()
        .filter(|c| {
            let all = cfg.debug.iter().any(|d| d.is_empty() || d == "1" || d == "all");
            let none = cfg.debug.iter().any(|d| d == "0" || d == "none");
            !none && (all || cfg.debug.iter().any(|d| d == *c)) && !cfg.debug_exclude.iter().any(|e| e == *c)
        })
        .map(|c| (*c).to_owned())
        .collect();
    // Installing twice only happens in tests that start two nodes in one
    // process; the first subscriber then keeps logging.
    if tracing_subscriber::registry().with(reloadable).with(layer).try_init().is_err() {
        return Ok(None);
    }
    Ok(Some(Arc::new(LogHandle { file, filter: handle, categories: Mutex::new(enabled), levels: cfg.levels.clone() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_shape() {
        let t = timestamp(false);
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
        assert_eq!(timestamp(true).len(), 27);
    }

    #[test]
    fn categories() {
        assert!(unknown_categories(&["http".into(), "1".into()], &["rand".into()]).is_empty());
        assert_eq!(unknown_categories(&["bogus".into()], &[]), vec!["Unsupported logging category -debug=bogus."]);
    }

    #[test]
    fn loglevel_values() {
        let parse = |v: &[&str]| Levels::parse(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(parse(&[]).unwrap().of("http"), LevelFilter::DEBUG);
        let l = parse(&["trace", "http:info"]).unwrap();
        assert_eq!((l.of("http"), l.of("rpc")), (LevelFilter::INFO, LevelFilter::TRACE));
        assert_eq!(
            parse(&["abc"]).unwrap_err(),
            "Unsupported global logging level -loglevel=abc. Valid values: info, debug, trace."
        );
        for bad in ["net:abc", "net:info:abc", "nope:debug"] {
            assert!(
                parse(&[bad]).unwrap_err().starts_with(&format!("Unsupported category-specific logging level -loglevel={bad}. Expected -loglevel=<category>:<loglevel>. Valid categories: ")),
                "{bad}"
            );
        }
        // a ':' before the fourth character is read as a global level, as in Core
        assert!(parse(&["a:b"]).unwrap_err().starts_with("Unsupported global logging level"));
    }
}
