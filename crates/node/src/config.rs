//! The node's typed configuration, parsed once from the command line and
//! `bitcoin.conf`. Each server crate gets its own slice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferronode_httprpc::{AuthConfig, CookieConfig};
use ferronode_httpserver::HttpConfig;

use crate::args::Args;
use crate::options;

/// The regtest RPC port.
pub const REGTEST_RPC_PORT: u16 = 18443;

/// A configuration error, printed as `Error: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What the program should do.
#[derive(Debug)]
pub enum Invocation {
    /// Print this text and exit 0 (`-help`, `-version`).
    Print(String),
    /// Run the node.
    Run(Box<NodeConfig>),
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The debug log file; `None` with `-nodebuglogfile`.
    pub file: Option<PathBuf>,
    /// Also print to standard output (`-printtoconsole`, default on).
    pub console: bool,
    /// Microsecond timestamps.
    pub micros: bool,
    /// Prefix lines with the thread name.
    pub thread_names: bool,
    /// Debug categories switched on (`all` for every one).
    pub debug: Vec<String>,
    /// Debug categories switched off again.
    pub debug_exclude: Vec<String>,
}

/// Everything the node needs, typed.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The base data directory.
    pub datadir: PathBuf,
    /// The chain's directory (`<datadir>/regtest`).
    pub net_dir: PathBuf,
    /// Whether to run the HTTP/RPC server (`-server`).
    pub server: bool,
    /// The HTTP server's slice.
    pub http: HttpConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// Logging.
    pub log: LogConfig,
    /// Accepted options that have no effect yet, to log once.
    pub ignored: Vec<String>,
    /// Warnings found while parsing, to log once logging is up.
    pub warnings: Vec<String>,
}

fn default_datadir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(".ferronode"), |h| PathBuf::from(h).join(".ferronode"))
}

/// Resolves `value` against `base` unless it is absolute.
fn abs(base: &Path, value: &str) -> PathBuf {
    let p = PathBuf::from(value);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// Parses the command line (and the config file it points at).
///
/// # Errors
/// The message to print after `Error: `.
pub fn parse(argv: &[String]) -> Result<Invocation, ConfigError> {
    let specs = options::all();
    let mut args = Args::parse_command_line(argv, &specs, "ferronoded").map_err(ConfigError)?;
    if args.is_set("?") || args.is_set("h") || args.is_set("help") {
        return Ok(Invocation::Print(options::help_text()));
    }
    if args.is_set("version") {
        return Ok(Invocation::Print(format!(
            "ferronode daemon version v{}\nA Bitcoin Core compatible regtest node; see the README for details.\n",
            env!("CARGO_PKG_VERSION")
        )));
    }

    let datadir = match args.get("datadir") {
        Some(d) if !d.is_empty() => {
            let p = PathBuf::from(&d);
            if !p.is_dir() {
                return Err(ConfigError(format!("Specified data directory \"{d}\" does not exist.")));
            }
            p
        }
        _ => default_datadir(),
    };
    let conf_given = args.get("conf").filter(|c| !c.is_empty());
    if !args.is_negated("conf") {
        let conf = conf_given.as_deref().map_or_else(|| datadir.join("bitcoin.conf"), |c| abs(&datadir, c));
        args.read_config_file(&conf, &specs, conf_given.is_some()).map_err(ConfigError)?;
    }

    let chain = select_chain(&args)?;
    if chain != "regtest" {
        return Err(ConfigError(format!(
            "ferronode supports only the regtest chain for now; -chain={chain} is not available"
        )));
    }
    args.set_network(&chain);
    let net_dir = datadir.join(&chain);

    let port = args.get_int("rpcport", i64::from(REGTEST_RPC_PORT));
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ConfigError(format!("Invalid port specified in -rpcport: '{}'", args.get_or("rpcport", ""))))?;
    let mut http = HttpConfig::loopback(port);
    http.workers = usize::try_from(args.get_int("rpcthreads", 16).max(1)).unwrap_or(1);
    http.queue_depth = usize::try_from(args.get_int("rpcworkqueue", 64).max(1)).unwrap_or(1);
    let timeout = args.get_int("rpcservertimeout", 30);
    http.idle_timeout = u64::try_from(timeout).ok().filter(|t| *t > 0).map(Duration::from_secs);

    let cookie = if args.is_negated("rpccookiefile") {
        None
    } else {
        let path = args
            .get("rpccookiefile")
            .filter(|p| !p.is_empty())
            .map_or_else(|| net_dir.join(".cookie"), |p| abs(&net_dir, &p));
        let mode = match args.get("rpccookieperms") {
            None => 0o600,
            Some(v) => ferronode_httprpc::auth::cookie_perms(&v).ok_or_else(|| {
                ConfigError(format!("Invalid -rpccookieperms={v}; must be one of 'owner', 'group', or 'all'."))
            })?,
        };
        Some(CookieConfig { path, mode })
    };
    let auth = AuthConfig {
        user: args.get_or("rpcuser", ""),
        password: args.get_or("rpcpassword", ""),
        rpcauth: args.get_all("rpcauth"),
        cookie,
    };

    let log = LogConfig {
        file: if args.is_negated("debuglogfile") {
            None
        } else {
            Some(abs(
                &net_dir,
                &args.get("debuglogfile").filter(|f| !f.is_empty()).unwrap_or_else(|| "debug.log".into()),
            ))
        },
        console: args.get_bool("printtoconsole", true),
        micros: args.get_bool("logtimemicros", false),
        thread_names: args.get_bool("logthreadnames", false),
        debug: args.get_all("debug"),
        debug_exclude: args.get_all("debugexclude"),
    };

    let ignored = options::IGNORED.iter().filter(|s| args.is_set(s.name)).map(|s| format!("-{}", s.name)).collect();
    Ok(Invocation::Run(Box::new(NodeConfig {
        datadir,
        net_dir,
        server: args.get_bool("server", true),
        http,
        auth,
        log,
        ignored,
        warnings: std::mem::take(&mut args.warnings),
    })))
}

fn select_chain(args: &Args) -> Result<String, ConfigError> {
    let mut picked: Vec<String> = ["regtest", "testnet", "testnet4", "signet"]
        .iter()
        .filter(|n| args.get_bool(n, false))
        .map(|n| if *n == "testnet" { "test".to_owned() } else { (*n).to_owned() })
        .collect();
    if let Some(c) = args.get("chain") {
        picked.push(c);
    }
    match picked.len() {
        // ferronode's default chain is regtest (bitcoind's is main).
        0 => Ok("regtest".to_owned()),
        1 => Ok(picked.remove(0)),
        _ => Err(ConfigError(
            "Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. Can use at most one.".into(),
        )),
    }
}
