//! The options ferronode-cli accepts (bitcoin-cli's list), as data.

use ferronode_args::OptionSpec;

const fn opt(name: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec { name, help, network_only: false, category: GENERAL }
}

const GENERAL: &str = "Options";
const CHAIN: &str = "Chain selection options";

/// Every option; those with an empty help text are accepted but not shown.
pub const OPTIONS: &[OptionSpec] = &[
    opt("?", "Print this help message and exit"),
    opt("h", ""),
    opt("help", ""),
    opt("version", "Print version and exit"),
    opt("color", "-color=<when>  Color setting for CLI output (default: auto). Valid values: always, auto (add color codes when standard output is connected to a terminal), never. Only applies to the output of -getinfo."),
    opt("conf", "-conf=<file>  Specify configuration file. Relative paths will be prefixed by datadir location. (default: bitcoin.conf)"),
    opt("datadir", "-datadir=<dir>  Specify data directory (default: ~/.ferronode)"),
    opt("includeconf", ""),
    opt("addrinfo", "Get the number of addresses known to the node, per network and total, after filtering for quality and recency. The total number of addresses known to the node may be higher."),
    opt("generate", "Generate blocks, equivalent to RPC getnewaddress followed by RPC generatetoaddress. Optional positional integer arguments are number of blocks to generate (default: 1) and maximum iterations to try (default: 1000000), equivalent to RPC generatetoaddress nblocks and maxtries arguments. Example: ferronode-cli -generate 4 1000"),
    opt("getinfo", "Get general information from the remote server. Note that unlike server-side RPC calls, the output of -getinfo is the result of multiple non-atomic requests. Some entries in the output may represent results from different states (e.g. wallet balance may be as of a different block from the chain state reported)"),
    opt("named", "Pass named instead of positional arguments (default: false)"),
    opt("rpcclienttimeout", "-rpcclienttimeout=<n>  Timeout in seconds during HTTP requests, or 0 for no timeout. (default: 900)"),
    opt("rpcconnect", "-rpcconnect=<ip>  Send commands to node running on <ip> (default: 127.0.0.1)"),
    opt("rpccookiefile", "-rpccookiefile=<loc>  Location of the auth cookie. Relative paths will be prefixed by a net-specific datadir location. (default: data dir)"),
    opt("rpcpassword", "-rpcpassword=<pw>  Password for JSON-RPC connections"),
    OptionSpec {
        name: "rpcport",
        help: "-rpcport=<port>  Connect to JSON-RPC on <port> (default: 18443)",
        network_only: true,
        category: GENERAL,
    },
    opt("rpcuser", "-rpcuser=<user>  Username for JSON-RPC connections"),
    opt("rpcwait", "Wait for RPC server to start"),
    opt("rpcwaittimeout", "-rpcwaittimeout=<n>  Timeout in seconds to wait for the RPC server to start, or 0 for no timeout. (default: 0)"),
    opt("rpcwallet", "-rpcwallet=<walletname>  Send RPC for non-default wallet on RPC server (needs to exactly match corresponding -wallet option passed to the node). This changes the RPC endpoint used, e.g. http://127.0.0.1:18443/wallet/<walletname>"),
    opt("stdin", "Read extra arguments from standard input, one per line until EOF/Ctrl-D (recommended for sensitive information such as passphrases). When combined with -stdinrpcpass, the first line from standard input is used for the RPC password."),
    opt("stdinrpcpass", "Read RPC password from standard input as a single line. When combined with -stdin, the first line from standard input is used for the RPC password. When combined with -stdinwalletpassphrase, -stdinrpcpass consumes the first line, and -stdinwalletpassphrase consumes the second."),
    opt("stdinwalletpassphrase", "Read wallet passphrase from standard input as a single line. When combined with -stdin, the first line from standard input is used for the wallet passphrase."),
    OptionSpec { name: "chain", help: "-chain=<chain>  Use the chain <chain> (default: regtest). ferronode supports only regtest for now", network_only: false, category: CHAIN },
    OptionSpec { name: "regtest", help: "Enter regression test mode (the default and, for now, only chain)", network_only: false, category: CHAIN },
    OptionSpec { name: "testnet", help: "Use the testnet3 chain (not supported yet)", network_only: false, category: CHAIN },
    OptionSpec { name: "testnet4", help: "Use the testnet4 chain (not supported yet)", network_only: false, category: CHAIN },
    OptionSpec { name: "signet", help: "Use the signet chain (not supported yet)", network_only: false, category: CHAIN },
];

/// The first line of `-help` and `-version`.
#[must_use]
pub fn version_line() -> String {
    format!("ferronode RPC client version v{}\n", env!("CARGO_PKG_VERSION"))
}

/// The text of `-help`.
#[must_use]
pub fn help_text() -> String {
    let mut out = version_line();
    out.push_str(
        "\nUsage:  ferronode-cli [options] <command> [params]  Send command to ferronode\n\
         or:     ferronode-cli [options] -named <command> [name=value]...  Send command to ferronode (with named arguments)\n\
         or:     ferronode-cli [options] help                List commands\n\
         or:     ferronode-cli [options] help <command>      Get help for a command\n",
    );
    out.push_str(&ferronode_args::options_help(OPTIONS));
    out
}
