//! Every option ferronoded accepts, as data.

use ferronode_args::{options_help, OptionSpec};

const fn opt(name: &'static str, category: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec { name, help, network_only: false, category }
}

const fn net_opt(name: &'static str, category: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec { name, help, network_only: true, category }
}

const GENERAL: &str = "Options";
const CHAIN: &str = "Chain selection options";
const DEBUG: &str = "Debugging/Testing options";
const RPC: &str = "RPC server options";
const CONN: &str = "Connection options";
const ZMQ: &str = "ZeroMQ notification options";

/// Options that ferronoded implements.
pub const OPTIONS: &[OptionSpec] = &[
    opt("?", GENERAL, "Print this help message and exit"),
    opt("h", GENERAL, ""),
    opt("help", GENERAL, ""),
    opt("version", GENERAL, "Print version and exit"),
    opt("blockfilterindex", GENERAL, "-blockfilterindex=<type>  Maintain an index of compact filters by block (default: 0, values: basic). If <type> is not supplied or if <type> = 1, indexes for all known types are enabled."),
    opt("txindex", GENERAL, "Maintain a full transaction index, used by the getrawtransaction rpc call (default: 0)"),
    opt("uacomment", GENERAL, "-uacomment=<cmt>  Append comment to the user agent string"),
    opt("conf", GENERAL, "-conf=<file>  Specify path to read-only configuration file. Relative paths will be prefixed by datadir location (only useable from command line, not configuration file) (default: bitcoin.conf)"),
    opt("datadir", GENERAL, "-datadir=<dir>  Specify data directory (default: ~/.ferronode)"),
    opt("includeconf", GENERAL, "-includeconf=<file>  Specify additional configuration file, relative to the -datadir path (only useable from configuration file, not command line)"),
    opt("maxmempool", GENERAL, "-maxmempool=<n>  Keep the transaction memory pool below <n> megabytes (default: 300)"),
    opt("mempoolexpiry", GENERAL, "-mempoolexpiry=<n>  Do not keep transactions in the mempool longer than <n> hours (default: 336)"),
    opt("persistmempool", GENERAL, "-persistmempool  Whether to save the mempool on shutdown and load on restart (default: 1)"),
    opt("persistmempoolv1", GENERAL, "-persistmempoolv1  Whether a mempool.dat file created by -persistmempool or the savemempool RPC will be written in the legacy format (version 1) or the current format (version 2). This temporary option will be removed in the future. (default: 0)"),
    opt("rest", RPC, "-rest  Accept public REST requests (default: 0)"),
    opt("minrelaytxfee", GENERAL, "-minrelaytxfee=<amt>  Fees (in BTC/kvB) smaller than this are considered zero fee for relaying, mining and transaction creation (default: 0.000001)"),
    opt("pid", GENERAL, "-pid=<file>  Specify pid file. Relative paths will be prefixed by a net-specific datadir location. (default: ferronoded.pid)"),
    opt("settings", GENERAL, "-settings=<file>  Specify path to dynamic settings data file. Can be disabled with -nosettings. (default: settings.json)"),
    opt("shutdownnotify", GENERAL, "-shutdownnotify=<cmd>  Execute command immediately before beginning shutdown"),
    opt("startupnotify", GENERAL, "-startupnotify=<cmd>  Execute command on startup"),
    opt("chain", CHAIN, "-chain=<chain>  Use the chain <chain> (default: regtest). ferronode supports only regtest for now"),
    opt("regtest", CHAIN, "Enter regression test mode (the default and, for now, only chain)"),
    opt("testnet", CHAIN, "Use the testnet3 chain (not supported yet)"),
    opt("testnet4", CHAIN, "Use the testnet4 chain (not supported yet)"),
    opt("signet", CHAIN, "Use the signet chain (not supported yet)"),
    opt("debug", DEBUG, "-debug=<category>  Log debugging information for a category (http, rpc, ...). -debug or -debug=1 logs every category"),
    opt("debugexclude", DEBUG, "-debugexclude=<category>  Exclude debugging information for a category"),
    opt("loglevel", DEBUG, "-loglevel=<level>|<category>:<level>  Set the global or per-category severity level for logging categories enabled with the -debug configuration option or the logging RPC. Possible values are info, debug, trace (default=debug). The following levels are always logged: error, warning, info. If <category>:<level> is supplied, the setting will override the global one and may be specified multiple times to set multiple category-specific levels."),
    opt("debuglogfile", DEBUG, "-debuglogfile=<file>  Specify location of debug log file (default: debug.log). Relative paths will be prefixed by a net-specific datadir location. Pass -nodebuglogfile to disable writing the log to a file"),
    opt("logtimemicros", DEBUG, "Add microsecond precision to debug timestamps (default: 0)"),
    opt("logthreadnames", DEBUG, "Prepend debug output with name of the originating thread (default: 0)"),
    opt("shrinkdebugfile", DEBUG, "Shrink debug.log file on client startup (default: 1 when no -debug)"),
    opt("printtoconsole", DEBUG, "Send trace/debug info to console (default: 1)"),
    opt("server", RPC, "Accept command line and JSON-RPC commands (default: 1)"),
    opt("rpcallowip", RPC, "-rpcallowip=<ip>  Allow JSON-RPC connections from specified source. Valid values for <ip> are a single IP (e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0), a network/CIDR (e.g. 1.2.3.4/24), all ipv4 (0.0.0.0/0), or all ipv6 (::/0). This option can be specified multiple times"),
    opt("rpcauth", RPC, "-rpcauth=<userpw>  Username and HMAC-SHA-256 hashed password for JSON-RPC connections, as <USERNAME>:<SALT>$<HASH>. Can be specified multiple times"),
    net_opt("rpcbind", RPC, "-rpcbind=<addr>[:port]  Bind to given address to listen for JSON-RPC connections. Ignored unless -rpcallowip is also passed. Use [host]:port notation for IPv6; unix:<path> listens on a Unix domain socket (mode 0600). Can be specified multiple times (default: 127.0.0.1 and ::1)"),
    opt("rpccookiefile", RPC, "-rpccookiefile=<loc>  Location of the auth cookie. Relative paths will be prefixed by a net-specific datadir location. (default: data dir)"),
    opt("rpccookieperms", RPC, "-rpccookieperms=<readable-by>  Set permissions on the RPC auth cookie file so that it is readable by [owner|group|all] (default: owner)"),
    opt("rpcmaxconnections", RPC, "-rpcmaxconnections=<n>  Most HTTP connections open at once; more are answered 503 and closed (default: sized to the file-descriptor limit)"),
    opt("rpcpassword", RPC, "-rpcpassword=<pw>  Password for JSON-RPC connections"),
    net_opt("rpcport", RPC, "-rpcport=<port>  Listen for JSON-RPC connections on <port> (default: 18443)"),
    // debug-only in Core, so not in -help
    opt("rpcdoccheck", DEBUG, ""),
    opt("rpcservertimeout", RPC, "-rpcservertimeout=<n>  Timeout during HTTP requests (default: 30)"),
    opt("rpcthreads", RPC, "-rpcthreads=<n>  Set the number of threads to service RPC calls (default: 16)"),
    opt("rpcuser", RPC, "-rpcuser=<user>  Username for JSON-RPC connections"),
    opt("rpcwhitelist", RPC, "-rpcwhitelist=<whitelist>  Set a whitelist to filter incoming RPC calls for a specific user. The field <whitelist> comes in the format: <USERNAME>:<rpc 1>,<rpc 2>,...,<rpc n>. If multiple whitelists are set for a given user, they are set-intersected"),
    opt("rpcwhitelistdefault", RPC, "Sets default behavior for rpc whitelisting. Unless rpcwhitelistdefault is set to 0, if any -rpcwhitelist is set, the rpc server acts as if all rpc users are subject to empty-unless-otherwise-specified whitelists"),
    opt("rpcworkqueue", RPC, "-rpcworkqueue=<n>  Set the maximum depth of the work queue to service RPC calls (default: 64)"),
    opt("addnode", CONN, "-addnode=<ip>  Add a node to connect to and attempt to keep the connection open (see the addnode RPC help for more info). This option can be specified multiple times to add multiple nodes"),
    net_opt("bind", CONN, "-bind=<addr>[:<port>]  Bind to given address and always listen on it (default: 0.0.0.0 and [::]). Use [host]:port notation for IPv6"),
    net_opt("connect", CONN, "-connect=<ip>  Connect only to the specified node; -noconnect disables automatic connections. This option can be specified multiple times to connect to multiple nodes"),
    opt("listen", CONN, "-listen  Accept connections from outside (default: 1 if no -connect)"),
    opt("maxconnections", CONN, "-maxconnections=<n>  Maintain at most <n> automatic connections to peers (default: 125)"),
    opt("peertimeout", CONN, "-peertimeout=<n>  Specify a p2p connection timeout delay in seconds. After connecting to a peer, wait this amount of time before considering disconnection based on inactivity (minimum: 1, default: 60)"),
    net_opt("port", CONN, "-port=<port>  Listen for connections on <port> (default: 18444)"),
    opt("zmqpubhashblock", ZMQ, "-zmqpubhashblock=<address>  Enable publish hash block in <address>"),
    opt("zmqpubhashtx", ZMQ, "-zmqpubhashtx=<address>  Enable publish hash transaction in <address>"),
    opt("zmqpubrawblock", ZMQ, "-zmqpubrawblock=<address>  Enable publish raw block in <address>"),
    opt("zmqpubrawtx", ZMQ, "-zmqpubrawtx=<address>  Enable publish raw transaction in <address>"),
    opt("zmqpubsequence", ZMQ, "-zmqpubsequence=<address>  Enable publish hash block and tx sequence in <address>"),
    opt("zmqpubhashblockhwm", ZMQ, "-zmqpubhashblockhwm=<n>  Set publish hash block outbound message high water mark (default: 1000)"),
    opt("zmqpubhashtxhwm", ZMQ, "-zmqpubhashtxhwm=<n>  Set publish hash transaction outbound message high water mark (default: 1000)"),
    opt("zmqpubrawblockhwm", ZMQ, "-zmqpubrawblockhwm=<n>  Set publish raw block outbound message high water mark (default: 1000)"),
    opt("zmqpubrawtxhwm", ZMQ, "-zmqpubrawtxhwm=<n>  Set publish raw transaction outbound message high water mark (default: 1000)"),
    opt("zmqpubsequencehwm", ZMQ, "-zmqpubsequencehwm=<n>  Set publish hash sequence message high water mark (default: 1000)"),
];

/// Options a bitcoind user or harness may pass that ferronode accepts but
/// does not act on yet. Each one that is set is logged once at startup; the
/// list is in docs/compat.md.
pub const IGNORED: &[OptionSpec] = &[
    opt("acceptnonstdtxn", DEBUG, ""),
    opt("allowignoredconf", GENERAL, ""),
    opt("assumevalid", GENERAL, ""),
    opt("blocksdir", GENERAL, ""),
    opt("blocksonly", GENERAL, ""),
    opt("capturemessages", DEBUG, ""),
    opt("checkblocks", DEBUG, ""),
    opt("cjdnsreachable", CONN, ""),
    opt("checklevel", DEBUG, ""),
    opt("daemon", GENERAL, ""),
    opt("daemonwait", GENERAL, ""),
    opt("dbcache", GENERAL, ""),
    opt("deprecatedrpc", RPC, ""),
    opt("disablewallet", GENERAL, ""),
    opt("discover", CONN, ""),
    opt("dnsseed", CONN, ""),
    opt("fallbackfee", GENERAL, ""),
    opt("fixedseeds", CONN, ""),
    opt("keypool", GENERAL, ""),
    opt("listenonion", CONN, ""),
    opt("logratelimit", DEBUG, ""),
    opt("logsourcelocations", DEBUG, ""),
    opt("natpmp", CONN, ""),
    opt("onion", CONN, ""),
    opt("par", GENERAL, ""),
    opt("peerbloomfilters", CONN, ""),
    opt("prevoutfetchthreads", GENERAL, ""),
    opt("proxy", CONN, ""),
    opt("prune", GENERAL, ""),
    opt("reindex", GENERAL, ""),
    opt("seednode", CONN, ""),
    opt("stopatheight", DEBUG, ""),
    opt("test", DEBUG, ""),
    opt("unsafesqlitesync", DEBUG, ""),
    opt("upnp", CONN, ""),
    opt("v2transport", CONN, ""),
    net_opt("wallet", GENERAL, ""),
    net_opt("walletdir", GENERAL, ""),
    opt("whitebind", CONN, ""),
    opt("whitelist", CONN, ""),
];

/// Every accepted option: implemented and ignored ones.
#[must_use]
pub fn all() -> Vec<OptionSpec> {
    OPTIONS.iter().chain(IGNORED).copied().collect()
}

/// The text of `-help`.
#[must_use]
pub fn help_text() -> String {
    let mut out = format!(
        "ferronode daemon version v{}\n\nUsage:  ferronoded [options]                     Start ferronode\n",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(&options_help(OPTIONS));
    out
}
