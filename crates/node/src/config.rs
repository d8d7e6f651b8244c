//! The node's typed configuration, parsed once from the command line and
//! `bitcoin.conf`. Each server crate gets its own slice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferronode_httprpc::{AuthConfig, CookieConfig};
use ferronode_httpserver::HttpConfig;

use ferronode_args::datadir::abs;
use ferronode_args::{datadir, select_chain, split_host_port, Args, ConfFile, REGTEST_RPC_PORT};

use crate::options;

/// A configuration error, printed as `Error: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<ferronode_args::Error> for ConfigError {
    fn from(e: ferronode_args::Error) -> Self {
        Self(e.to_string())
    }
}

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
    /// `-loglevel`.
    pub levels: crate::logging::Levels,
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
    /// `-rpcallowip` values, parsed at AppInitServers as in Core.
    pub rpcallowip: Vec<String>,
    /// `-rpcdoccheck`: results checked against their documented shape.
    pub rpc_doc_check: bool,
    /// An invalid `-rpccookieperms` value, reported at AppInitServers.
    pub bad_cookie_perms: Option<String>,
    /// `-cjdnsreachable`: RFC4193 `fc00::/8` may not be allowed then.
    pub cjdns_reachable: bool,
    /// `-txindex`.
    pub txindex: bool,
    /// `-blockfilterindex`: the basic filter index (the only filter type).
    pub blockfilterindex: bool,
    /// `-minrelaytxfee` in satoshis per 1000 vbytes.
    pub min_relay_fee: Option<u64>,
    /// `-rest`: serve the REST interface (default off).
    pub rest: bool,
    /// `-persistmempool` (default on): `mempool.dat` written at shutdown
    /// and read at start.
    pub persist_mempool: bool,
    /// `-persistmempoolv1`: write the version 1 format (no obfuscation key).
    pub persist_mempool_v1: bool,
    /// The `-zmqpub<topic>=<address>` notifiers, in Core's order.
    pub zmq: Vec<ferronode_zmq_notify::NotifierSpec>,
    /// `-maxmempool` in bytes (default 300 MB).
    pub max_mempool_bytes: u64,
    /// `-mempoolexpiry` in seconds (default 336 hours).
    pub mempool_expiry_secs: u64,
    /// `-shrinkdebugfile` (default: on unless debug categories are on).
    pub shrink_debug_file: bool,
    /// The PID file (`-pid`), `None` with `-nopid`.
    pub pid_file: Option<PathBuf>,
    /// The settings file (`-settings`), `None` with `-nosettings`.
    pub settings_file: Option<PathBuf>,
    /// `-startupnotify` commands.
    pub startupnotify: Vec<String>,
    /// `-shutdownnotify` commands.
    pub shutdownnotify: Vec<String>,
    /// `-uacomment` values.
    pub uacomment: Vec<String>,
    /// The P2P layer's slice.
    pub p2p: ferronode_net::NetConfig,
    /// Accepted options that have no effect yet, to log once.
    pub ignored: Vec<String>,
    /// Warnings found while parsing, to log once logging is up.
    pub warnings: Vec<String>,
}

impl NodeConfig {
    /// The node's user agent for `getnetworkinfo`, BIP14 style.
    #[must_use]
    pub fn identity(&self) -> crate::rpc::NodeIdentity {
        let comments =
            if self.uacomment.is_empty() { String::new() } else { format!("({})", self.uacomment.join("; ")) };
        crate::rpc::NodeIdentity { subversion: format!("/ferronode:{}{comments}/", env!("CARGO_PKG_VERSION")) }
    }
}

/// The BIP14 user agent with `-uacomment`s.
fn uacomment_agent(uacomment: &[String]) -> String {
    let comments = if uacomment.is_empty() { String::new() } else { format!("({})", uacomment.join("; ")) };
    format!("/ferronode:{}{comments}/", env!("CARGO_PKG_VERSION"))
}

/// `-port`, `-bind`, `-listen`, `-connect`, `-addnode`, `-maxconnections`,
/// `-peertimeout`, with Core's parameter interactions: `-bind` implies
/// `-listen=1`, `-connect` (even `-connect=0`) implies `-listen=0` unless
/// `-listen` or `-bind` says otherwise.
fn p2p_config(args: &Args, user_agent: &str) -> Result<ferronode_net::NetConfig, ConfigError> {
    let port = match args.get("port") {
        None => ferronode_net::DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ConfigError(format!("Invalid port specified in -port: '{p}'")))?,
    };
    let mut binds = Vec::new();
    for value in args.get_all("bind") {
        if value.ends_with("=onion") {
            continue; // Tor is not supported: the onion bind is ignored
        }
        let parsed = split_host_port(&value, port)
            .and_then(|(host, p)| host.parse::<std::net::IpAddr>().ok().map(|ip| std::net::SocketAddr::new(ip, p)));
        binds.push(parsed.ok_or_else(|| ConfigError(format!("Cannot resolve -bind address: '{value}'")))?);
    }
    let explicit_bind = !binds.is_empty();
    if binds.is_empty() {
        binds.push(std::net::SocketAddr::from(([0, 0, 0, 0], port)));
        binds.push(std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)));
    }
    let listen_default = explicit_bind || !args.is_set("connect");
    let connect: Vec<String> = args.get_all("connect").into_iter().filter(|c| c != "0" && !c.is_empty()).collect();
    let timeout = args.get_int("peertimeout", 60);
    if timeout <= 0 {
        return Err(ConfigError("peertimeout must be a positive integer.".into()));
    }
    Ok(ferronode_net::NetConfig {
        listen: args.get_bool("listen", listen_default),
        binds,
        explicit_bind,
        connect,
        addnode: args.get_all("addnode"),
        max_connections: usize::try_from(args.get_int("maxconnections", 125).max(0)).unwrap_or(125),
        peer_timeout: Duration::from_secs(timeout.unsigned_abs()),
        user_agent: user_agent.to_owned(),
    })
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

    let datadir = datadir::locate(&args)?;
    ConfFile::locate(&args, &datadir).read_into(&mut args, &specs).map_err(ConfigError)?;

    let chain = select_chain(&args)?;
    if chain != "regtest" {
        return Err(ConfigError(format!(
            "ferronode supports only the regtest chain for now; -chain={chain} is not available"
        )));
    }
    args.set_network(&chain);
    let net_dir = datadir.join(&chain);

    let port = match args.get("rpcport") {
        None => REGTEST_RPC_PORT,
        Some(p) => Some(p.as_str())
            .filter(|p| !p.starts_with('+'))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| ConfigError(format!("Invalid port specified in -rpcport: '{p}'")))?,
    };
    let mut http = HttpConfig::loopback(port);
    let mut warnings = std::mem::take(&mut args.warnings);
    apply_bind_rules(&args, port, &mut http, &net_dir, &mut warnings)?;
    if args.is_set("rpcmaxconnections") {
        http.max_connections = usize::try_from(args.get_int("rpcmaxconnections", 0).max(1)).unwrap_or(1);
    }
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
        // An invalid value fails AppInitServers, as in Core (see bad_cookie_perms).
        let mode = args.get("rpccookieperms").and_then(|v| ferronode_httprpc::auth::cookie_perms(&v)).unwrap_or(0o600);
        Some(CookieConfig { path, mode })
    };
    let auth = AuthConfig {
        user: args.get_or("rpcuser", ""),
        password: args.get_or("rpcpassword", ""),
        rpcauth: args.get_all("rpcauth"),
        cookie,
        rpcwhitelist: args.get_all("rpcwhitelist"),
        rpcwhitelistdefault: args.is_set("rpcwhitelistdefault").then(|| args.get_bool("rpcwhitelistdefault", false)),
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
        levels: crate::logging::Levels::parse(&args.get_all("loglevel")).map_err(ConfigError)?,
    };
    if let Some(unknown) = crate::logging::unknown_categories(&log.debug, &log.debug_exclude).into_iter().next() {
        return Err(ConfigError(unknown));
    }

    let ignored = options::IGNORED.iter().filter(|s| args.is_set(s.name)).map(|s| format!("-{}", s.name)).collect();
    let min_relay_fee = match args.get("minrelaytxfee") {
        None => None,
        Some(v) => Some(
            parse_btc(&v).ok_or_else(|| ConfigError(format!("Invalid amount for -minrelaytxfee=<amount>: '{v}'")))?,
        ),
    };
    for topic in ferronode_zmq_notify::Topic::ALL {
        let option = topic.option();
        if let Some(bad) =
            args.get_all(&option).into_iter().find(|v| !ferronode_zmq_notify::address_passes_init_check(v))
        {
            return Err(ConfigError(format!("Invalid port specified in -{option}: '{bad}'")));
        }
    }
    let zmq = ferronode_zmq_notify::specs_from_options(
        |option| args.get_all(option),
        |option| args.is_set(option).then(|| args.get_int(option, i64::from(ferronode_zmq_notify::DEFAULT_HWM))),
    );
    // Core checks this when it builds the mempool: at least 40 clusters of
    // the largest size (101,000 vbytes each), rounded up to whole MB.
    let max_mempool_mb = args.get_int("maxmempool", 300);
    if max_mempool_mb < 0 || (max_mempool_mb > 0 && max_mempool_mb.saturating_mul(1_000_000) < 101_000 * 40) {
        return Err(ConfigError("-maxmempool must be at least 5 MB".into()));
    }
    let pid_file = (!args.is_negated("pid"))
        .then(|| abs(&net_dir, &args.get("pid").filter(|p| !p.is_empty()).unwrap_or_else(|| "ferronoded.pid".into())));
    let settings_file = (!args.is_negated("settings")).then(|| {
        abs(&net_dir, &args.get("settings").filter(|p| !p.is_empty()).unwrap_or_else(|| "settings.json".into()))
    });
    // Core's: "" and "1" enable every filter type, "0" none, otherwise each
    // value must name a type (only "basic" exists)
    let blockfilterindex = match args.get("blockfilterindex").as_deref() {
        None | Some("0") => false,
        Some("" | "1") => true,
        Some(_) => {
            if let Some(bad) = args.get_all("blockfilterindex").iter().find(|v| *v != "basic") {
                return Err(ConfigError(format!("Unknown -blockfilterindex value {bad}.")));
            }
            true
        }
    };
    let p2p = p2p_config(&args, &uacomment_agent(&args.get_all("uacomment")))?;
    Ok(Invocation::Run(Box::new(NodeConfig {
        p2p,
        datadir,
        net_dir,
        server: args.get_bool("server", true),
        http,
        auth,
        log,
        rpcallowip: args.get_all("rpcallowip"),
        rpc_doc_check: args.get_bool("rpcdoccheck", false),
        bad_cookie_perms: args
            .get("rpccookieperms")
            .filter(|v| !args.is_negated("rpccookiefile") && ferronode_httprpc::auth::cookie_perms(v).is_none()),
        cjdns_reachable: args.get_bool("cjdnsreachable", false),
        txindex: args.get_bool("txindex", false),
        blockfilterindex,
        min_relay_fee,
        rest: args.get_bool("rest", false),
        persist_mempool: args.get_bool("persistmempool", true),
        persist_mempool_v1: args.get_bool("persistmempoolv1", false),
        zmq,
        max_mempool_bytes: max_mempool_mb.unsigned_abs().saturating_mul(1_000_000),
        mempool_expiry_secs: args
            .get("mempoolexpiry")
            .map_or(336, |v| v.trim().parse::<i64>().unwrap_or(0))
            .max(0)
            .unsigned_abs()
            .saturating_mul(3600),
        shrink_debug_file: args.get_bool("shrinkdebugfile", args.get_all("debug").is_empty()),
        pid_file,
        settings_file,
        startupnotify: args.get_all("startupnotify"),
        shutdownnotify: args.get_all("shutdownnotify"),
        uacomment: args.get_all("uacomment"),
        ignored,
        warnings,
    })))
}

/// Core's rule for `-rpcbind` and `-rpcallowip`: without both, only
/// loopback is bound. `unix:<path>` entries are always honoured (they are
/// local by nature).
fn apply_bind_rules(
    args: &Args,
    port: u16,
    http: &mut HttpConfig,
    net_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let allow = args.get_all("rpcallowip");
    let mut tcp = Vec::new();
    for value in args.get_all("rpcbind") {
        if let Some(path) = value.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(ConfigError(format!("Invalid port specified in -rpcbind: '{value}'")));
            }
            http.unix.push(ferronode_httpserver::UnixBind { path: abs(net_dir, path), mode: 0o600 });
            continue;
        }
        let hp = split_host_port(&value, port)
            .ok_or_else(|| ConfigError(format!("Invalid port specified in -rpcbind: '{value}'")))?;
        tcp.push(hp);
    }
    if allow.is_empty() || tcp.is_empty() {
        if !allow.is_empty() {
            warnings.push("Option -rpcallowip was specified without -rpcbind; this doesn't usually make sense".into());
        }
        if !tcp.is_empty() {
            warnings.push(
                "Option -rpcbind was ignored because -rpcallowip was not specified, refusing to allow everyone to connect"
                    .into(),
            );
        }
        return Ok(());
    }
    http.bind.clear();
    for (host, p) in tcp {
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => http.bind.push(std::net::SocketAddr::new(ip, p)),
            Err(_) => warnings.push(format!("Could not bind RPC on address {host} port {p}: Address lookup failed.")),
        }
    }
    Ok(())
}

/// An amount in BTC (`0.00001`) as satoshis.
fn parse_btc(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 8
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || (int.is_empty() && frac.is_empty())
    {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u64 = format!("{frac:0<8}").parse().ok()?;
    whole.checked_mul(100_000_000)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_options_and_their_interactions() {
        let c = run(&[]).unwrap().p2p;
        assert!(c.listen && !c.explicit_bind);
        assert_eq!(c.binds, vec!["0.0.0.0:18444".parse().unwrap(), "[::]:18444".parse().unwrap()]);
        assert_eq!((c.max_connections, c.peer_timeout), (125, Duration::from_secs(60)));
        assert!(c.user_agent.starts_with("/ferronode:"));
        // -connect implies -listen=0, even -connect=0; -bind implies -listen=1
        let c = run(&["-connect=127.0.0.1:1"]).unwrap().p2p;
        assert!(!c.listen);
        assert_eq!(c.connect, vec!["127.0.0.1:1".to_owned()]);
        let c = run(&["-connect=0"]).unwrap().p2p;
        assert!(!c.listen && c.connect.is_empty());
        let c = run(&["-connect=0", "-bind=127.0.0.1", "-port=5000"]).unwrap().p2p;
        assert!(c.listen && c.explicit_bind);
        assert_eq!(c.binds, vec!["127.0.0.1:5000".parse().unwrap()]);
        let c = run(&["-connect=0", "-listen=1"]).unwrap().p2p;
        assert!(c.listen);
        let c = run(&["-bind=[::1]:7000", "-bind=127.0.0.1:9000=onion"]).unwrap().p2p;
        assert_eq!(c.binds, vec!["[::1]:7000".parse().unwrap()]);
        let c = run(&["-addnode=a:1", "-addnode=b", "-maxconnections=3", "-peertimeout=5"]).unwrap().p2p;
        assert_eq!(c.addnode, vec!["a:1".to_owned(), "b".to_owned()]);
        assert_eq!((c.max_connections, c.peer_timeout), (3, Duration::from_secs(5)));
        assert_eq!(run(&["-port=0"]).unwrap_err().0, "Invalid port specified in -port: '0'");
        assert_eq!(run(&["-bind=nohost"]).unwrap_err().0, "Cannot resolve -bind address: 'nohost'");
        assert_eq!(run(&["-peertimeout=-1"]).unwrap_err().0, "peertimeout must be a positive integer.");
        assert!(run(&["-listen=0"]).unwrap().ignored.is_empty(), "P2P options are acted on");
    }

    #[test]
    fn rpcdoccheck_is_acted_on() {
        let c = run(&["-rpcdoccheck"]).unwrap();
        assert!(c.rpc_doc_check && c.ignored.is_empty());
        assert!(!run(&[]).unwrap().rpc_doc_check);
    }

    fn run(argv: &[&str]) -> Result<NodeConfig, ConfigError> {
        let dir = std::env::temp_dir().join(format!("ferronode-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut a: Vec<String> = vec![format!("-datadir={}", dir.display())];
        a.extend(argv.iter().map(|s| (*s).to_owned()));
        match parse(&a)? {
            Invocation::Run(c) => Ok(*c),
            Invocation::Print(_) => panic!("unexpected print"),
        }
    }

    #[test]
    fn bind_rules() {
        let c = run(&["-rpcport=1234"]).unwrap();
        assert_eq!(c.http.bind.len(), 2);
        assert!(c.http.bind.iter().all(|a| a.ip().is_loopback() && a.port() == 1234));
        let c = run(&["-rpcbind=10.0.0.1"]).unwrap();
        assert!(c.http.bind.iter().all(|a| a.ip().is_loopback()));
        assert!(c.warnings.iter().any(|w| w.starts_with("Option -rpcbind was ignored")));
        let c = run(&["-rpcallowip=10.0.0.0/8"]).unwrap();
        assert!(c.warnings.iter().any(|w| w.starts_with("Option -rpcallowip was specified without -rpcbind")));
        let c = run(&["-rpcallowip=10.0.0.0/8", "-rpcbind=10.0.0.1", "-rpcbind=[::1]:99"]).unwrap();
        assert_eq!(c.http.bind, vec!["10.0.0.1:18443".parse().unwrap(), "[::1]:99".parse().unwrap()]);
        let c = run(&["-rpcbind=unix:rpc.sock"]).unwrap();
        assert_eq!(c.http.unix.len(), 1);
        assert!(c.http.unix[0].path.ends_with("regtest/rpc.sock"));
        assert_eq!(
            run(&["-rpcbind=127.0.0.1:x", "-rpcallowip=1.2.3.4"]).unwrap_err().0,
            "Invalid port specified in -rpcbind: '127.0.0.1:x'"
        );
        assert_eq!(run(&["-rpcport=+5"]).unwrap_err().0, "Invalid port specified in -rpcport: '+5'");
        assert_eq!(run(&["-rpcport=0"]).unwrap_err().0, "Invalid port specified in -rpcport: '0'");
    }
}
