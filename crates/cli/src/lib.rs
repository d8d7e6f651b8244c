//! ferronode-cli: a command-line JSON-RPC client that behaves like
//! bitcoin-cli, so scripts written for bitcoin-cli work against ferronoded
//! (and against bitcoind).
//!
//! The flow follows bitcoin-cli: options up to the first word that does not
//! start with `-` (the same [`Args`] parser and `bitcoin.conf` rules as the
//! node, from `ferronode-args`, with the client's own option list), then
//! the method and its arguments, converted to JSON by [`convert`]'s table;
//! one HTTP request per call ([`http`]), retried every second with
//! `-rpcwait`; the result printed raw (strings) or as UniValue
//! pretty-prints it ([`json`](mod@json)).
//!
//! It is a crate of its own, next to the node rather than inside it, so that
//! building the client builds none of the server: it depends only on
//! `ferronode-args` (the option and config rules it shares with the node),
//! `ferronode-protocol` (Core's error codes) and `serde_json`/`base64`; no
//! tokio, no database, no libzmq.
//!
//! # Layout
//! - [`options`]: the accepted options and `-help`.
//! - [`convert`]: which parameters are JSON (Core's `vRPCConvertParams`).
//! - [`http`]: the blocking HTTP/1.1 client.
//! - [`json`](mod@json): UniValue's output layout.
//! - `getinfo`: the `-getinfo` summary.

pub mod convert;
mod getinfo;
pub mod http;
pub mod json;
pub mod options;

use std::cell::Cell;
use std::io::{BufRead, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use ferronode_args::{datadir, Args, ConfFile};
use ferronode_protocol::codes::{RPC_IN_WARMUP, RPC_WALLET_NOT_SPECIFIED};
/// Default `-rpcclienttimeout` in seconds.
const DEFAULT_CLIENT_TIMEOUT: i64 = 900;

/// Why a call failed.
#[derive(Debug)]
enum Failure {
    /// The server could not be reached (or was warming up): retried with
    /// `-rpcwait`.
    Transient(String),
    /// Anything else, printed as `error: <message>` with exit code 1.
    Fatal(String),
}

/// How the cookie was looked for, for the 401 message.
#[derive(Debug, Clone, Copy)]
enum Cookie {
    /// `-norpccookiefile`.
    Disabled,
    /// The file could not be read.
    Unreadable,
    /// Read; the server refused it.
    Read,
}

/// The connection settings, from the options and `bitcoin.conf`.
#[derive(Debug)]
struct Client {
    args: Args,
    net_dir: PathBuf,
    conf_path: PathBuf,
    /// `-rpcpassword`, or the line read with `-stdinrpcpass`.
    password: String,
}

/// Runs the client with `argv` (without the program name) and returns the
/// process exit code.
#[must_use]
pub fn run(argv: &[String]) -> u8 {
    let first_word = argv.iter().position(|a| !a.starts_with('-')).unwrap_or(argv.len());
    let (switches, words) = argv.split_at(first_word);
    let mut args = match Args::parse_command_line(switches, options::OPTIONS, "ferronode-cli") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if argv.is_empty() || ["?", "h", "help", "version"].iter().any(|o| args.is_set(o)) {
        if args.is_set("version") {
            out(&options::version_line());
        } else {
            out(&options::help_text());
        }
        if argv.is_empty() {
            eprintln!("Error: too few parameters");
            return 1;
        }
        return 0;
    }
    let datadir = match datadir::locate(&args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let conf = ConfFile::locate(&args, &datadir);
    if let Err(e) = conf.read_into(&mut args, options::OPTIONS) {
        let prefix = "Error reading configuration file: ";
        eprintln!("{prefix}{}", e.strip_prefix(prefix).unwrap_or(&e));
        return 1;
    }
    let chain = match ferronode_args::select_chain(&args) {
        Ok(c) if c == "regtest" => c,
        Ok(c) => {
            eprintln!("Error: ferronode supports only the regtest chain for now; -chain={c} is not available");
            return 1;
        }
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    args.set_network(&chain);
    let password = args.get_or("rpcpassword", "");
    let mut client = Client { net_dir: datadir.join(&chain), conf_path: conf.path, args, password };
    let (text, code) = match client.command_line_rpc(words) {
        Ok(outcome) => outcome,
        Err(Failure::Transient(m) | Failure::Fatal(m)) => (format!("error: {m}"), 1),
    };
    if !text.is_empty() {
        if code == 0 {
            out(&format!("{text}\n"));
        } else {
            eprintln!("{text}");
        }
    }
    code
}

/// Writes to standard output; a closed pipe (`ferronode-cli help | head`)
/// is not an error worth a panic.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// One line from standard input without its `\n`, `None` at EOF.
fn stdin_line(stdin: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match stdin.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            if line.ends_with('\n') {
                line.pop();
            }
            Some(line)
        }
    }
}

/// Reads one secret line; on a terminal, with a prompt and echo off.
fn read_secret(stdin: &mut impl BufRead, prompt: &str, option: &str) -> Result<String, Failure> {
    let terminal = std::io::stdin().is_terminal();
    if terminal {
        // `stty` works on the terminal it inherits as standard input.
        let _ = std::process::Command::new("stty").arg("-echo").status();
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let line = stdin_line(stdin);
    if terminal {
        let _ = std::process::Command::new("stty").arg("echo").status();
        println!();
    }
    line.ok_or_else(|| Failure::Fatal(format!("-{option} specified but failed to read from standard input")))
}

/// `%XX` for every byte but the URI-unreserved ones (libevent's
/// `evhttp_uriencode`).
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The JSON-RPC request bitcoin-cli sends: version 2.0, id 1.
fn request_text(method: &str, params_text: &str, id: usize) -> String {
    format!(r#"{{"method":{},"params":{params_text},"id":{id},"jsonrpc":"2.0"}}"#, Value::String(method.to_owned()))
}

fn expected(v: &Value, want: &str) -> Failure {
    Failure::Fatal(format!(
        "JSON value of type {} is not of expected type {want}",
        ferronode_protocol::json_type_name(v)
    ))
}

/// The result printed for a reply: nothing for null, a string as is, any
/// other value pretty-printed.
fn result_text(result: &Value) -> String {
    match result {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => json::pretty(other),
    }
}

/// The text and exit code for an error member.
fn error_text(error: &Value) -> Result<(String, u8), Failure> {
    let mut text = String::new();
    if let Value::Object(e) = error {
        let code = e.get("code").unwrap_or(&Value::Null);
        if !code.is_null() {
            text = format!("error code: {}\n", json::scalar_text(code));
        }
        if let Some(Value::String(m)) = e.get("message") {
            text.push_str("error message:\n");
            text.push_str(m);
        }
        if code.as_i64() == Some(i64::from(RPC_WALLET_NOT_SPECIFIED)) {
            text.push_str(" Or for the CLI, specify the \"-rpcwallet=<walletname>\" option before the command");
            text.push_str(" (run \"ferronode-cli -h\" for help or \"ferronode-cli listwallets\" to see which wallets are currently loaded).");
        }
    }
    let code = error.get("code").unwrap_or(&Value::Null);
    let Value::Number(n) = code else { return Err(expected(code, "number")) };
    let n = n
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| Failure::Fatal("JSON integer out of range".to_owned()))?;
    if !error.is_object() {
        text = format!("error: {error}");
    }
    // bitcoin-cli returns abs(code) from main; the shell sees its low byte.
    Ok((text, n.unsigned_abs().to_le_bytes()[0]))
}

impl Client {
    fn command_line_rpc(&mut self, words: &[String]) -> Result<(String, u8), Failure> {
        let mut words = words.to_vec();
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        if self.args.get_bool("stdinrpcpass", false) {
            self.password = read_secret(&mut stdin, "RPC password> ", "stdinrpcpass")?;
        }
        if self.args.get_bool("stdinwalletpassphrase", false) {
            if !words.first().is_some_and(|w| w.starts_with("walletpassphrase")) {
                return Err(Failure::Fatal(
                    "-stdinwalletpassphrase is only applicable for walletpassphrase(change)".to_owned(),
                ));
            }
            let pass = read_secret(&mut stdin, "Wallet passphrase> ", "stdinwalletpassphrase")?;
            words.insert(1, pass);
        }
        if self.args.get_bool("stdin", false) {
            while let Some(line) = stdin_line(&mut stdin) {
                words.push(line);
            }
            if std::io::stdin().is_terminal() {
                println!();
            }
        }
        let wallet = (self.args.is_set("rpcwallet") && !self.args.is_negated("rpcwallet"))
            .then(|| self.args.get_or("rpcwallet", ""));

        let commands: Vec<String> = ["addrinfo", "generate", "getinfo"]
            .iter()
            .filter(|c| self.args.is_set(c))
            .map(|c| format!("-{c}"))
            .collect();
        if commands.len() > 1 {
            return Err(Failure::Fatal(format!("Only one of {} may be specified.", commands.join(", "))));
        }
        if self.args.get_bool("generate", false) {
            return self.generate(words, wallet.as_deref());
        }
        if self.args.get_bool("addrinfo", false) {
            if !words.is_empty() {
                return Err(Failure::Fatal("-addrinfo takes no arguments".to_owned()));
            }
            let reply =
                self.connect_and_call(&request_text("getnodeaddresses", "[0]", 1), wallet.as_deref(), &addrinfo)?;
            return match reply.get("error").filter(|e| !e.is_null()) {
                Some(error) => error_text(error),
                None => Ok((result_text(reply.get("result").unwrap_or(&Value::Null)), 0)),
            };
        }
        if self.args.get_bool("getinfo", false) {
            if !words.is_empty() {
                return Err(Failure::Fatal("-getinfo takes no arguments".to_owned()));
            }
            let reply = self.connect_and_call(&getinfo::request(), wallet.as_deref(), &getinfo::process)?;
            if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
                return error_text(error);
            }
            let mut result = reply.get("result").cloned().unwrap_or(Value::Null);
            if wallet.is_none() {
                self.wallet_balances(&mut result)?;
            }
            let color = self.args.get_or("color", "auto");
            let colors = match color.as_str() {
                "always" => true,
                "never" => false,
                "auto" => std::io::stdout().is_terminal(),
                _ => {
                    return Err(Failure::Fatal(
                        "Invalid value for -color option. Valid values: always, auto, never.".to_owned(),
                    ))
                }
            };
            return Ok((getinfo::format(&result, colors).map_err(Failure::Fatal)?, 0));
        }

        let Some((method, params)) = words.split_first() else {
            return Err(Failure::Fatal("too few parameters (need at least command)".to_owned()));
        };
        let params_text = if self.args.get_bool("named", false) {
            convert::object_text(&convert::named(method, params).map_err(|e| Failure::Fatal(e.to_string()))?)
        } else {
            convert::positional(method, params).map_err(|e| Failure::Fatal(e.to_string()))?.to_string()
        };
        let reply = self.connect_and_call(&request_text(method, &params_text, 1), wallet.as_deref(), &single_reply)?;
        match reply.get("error").filter(|e| !e.is_null()) {
            Some(error) => error_text(error),
            None => Ok((result_text(reply.get("result").unwrap_or(&Value::Null)), 0)),
        }
    }

    /// `-generate [nblocks [maxtries]]`: `getnewaddress`, then
    /// `generatetoaddress` to it; prints the address and the block hashes.
    fn generate(&self, words: Vec<String>, wallet: Option<&str>) -> Result<(String, u8), Failure> {
        let reply = self.connect_and_call(&request_text("getnewaddress", "[]", 1), wallet, &single_reply)?;
        if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
            return error_text(error);
        }
        let address = reply.get("result").unwrap_or(&Value::Null);
        let Value::String(address) = address else { return Err(expected(address, "string")) };
        let words = generate_args(address, words)?;
        let params = convert::positional("generatetoaddress", &words).map_err(|e| Failure::Fatal(e.to_string()))?;
        let summary = |reply: Value| -> Result<Value, Failure> {
            let reply = single_reply(reply)?;
            // As bitcoin-cli: an error from generatetoaddress shows as null blocks.
            let blocks = reply.get("result").cloned().unwrap_or(Value::Null);
            Ok(ok_reply(json!({ "address": address, "blocks": blocks })))
        };
        let reply =
            self.connect_and_call(&request_text("generatetoaddress", &params.to_string(), 1), wallet, &summary)?;
        Ok((result_text(reply.get("result").unwrap_or(&Value::Null)), 0))
    }

    /// `-getinfo` without `-rpcwallet`: with more than one wallet loaded,
    /// each wallet's trusted balance under `balances`.
    fn wallet_balances(&self, result: &mut Value) -> Result<(), Failure> {
        let list = self.connect_and_call(&request_text("listwallets", "[]", 1), None, &single_reply)?;
        if list.get("error").is_some_and(|e| !e.is_null()) {
            return Ok(());
        }
        let wallets: Vec<String> = match list.get("result") {
            Some(Value::Array(w)) => w.iter().map(json::scalar_text).collect(),
            _ => return Ok(()),
        };
        if wallets.len() <= 1 {
            return Ok(());
        }
        let mut balances = serde_json::Map::new();
        for name in wallets {
            let reply = self.connect_and_call(&request_text("getbalances", "[]", 1), Some(&name), &single_reply)?;
            let trusted = reply.pointer("/result/mine/trusted").cloned().unwrap_or(Value::Null);
            balances.insert(name, trusted);
        }
        if let Value::Object(r) = result {
            r.insert("balances".to_owned(), Value::Object(balances));
        }
        Ok(())
    }

    /// One call, retried every second while the server is unreachable or
    /// warming up when `-rpcwait` is set (until `-rpcwaittimeout`, if
    /// positive).
    fn connect_and_call(
        &self,
        body: &str,
        wallet: Option<&str>,
        process: &dyn Fn(Value) -> Result<Value, Failure>,
    ) -> Result<Value, Failure> {
        let wait = self.args.get_bool("rpcwait", false);
        let timeout = self.args.get_int("rpcwaittimeout", 0);
        let deadline = Instant::now() + Duration::from_secs(u64::try_from(timeout.max(0)).unwrap_or(0));
        let path = wallet.map_or_else(|| "/".to_owned(), |w| format!("/wallet/{}", uri_encode(w)));
        loop {
            let outcome = self.call_rpc(body, &path).and_then(process).and_then(|reply| {
                let warming = reply.pointer("/error/code").and_then(Value::as_i64) == Some(i64::from(RPC_IN_WARMUP));
                if wait && warming {
                    Err(Failure::Transient("server in warmup".to_owned()))
                } else {
                    Ok(reply)
                }
            });
            match outcome {
                Err(Failure::Transient(m)) => {
                    if wait && (timeout <= 0 || Instant::now() < deadline) {
                        std::thread::sleep(Duration::from_secs(1));
                    } else {
                        return Err(Failure::Fatal(format!("timeout on transient error: {m}")));
                    }
                }
                other => return other,
            }
        }
    }

    /// Where to connect: `-rpcconnect` (with an optional port), overridden
    /// by `-rpcport`.
    fn endpoint(&self) -> Result<(String, u16), Failure> {
        let connect = self.args.get_or("rpcconnect", "127.0.0.1");
        let (host, connect_port) = ferronode_args::split_host_port(&connect, 0)
            .ok_or_else(|| Failure::Fatal(format!("Invalid port provided in -rpcconnect: {connect}")))?;
        let mut port = if connect_port == 0 { ferronode_args::REGTEST_RPC_PORT } else { connect_port };
        if let Some(raw) = self.args.get("rpcport") {
            port = Some(raw.as_str())
                .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|r| r.parse::<u16>().ok())
                .filter(|p| *p != 0)
                .ok_or_else(|| Failure::Fatal(format!("Invalid port provided in -rpcport: {raw}")))?;
            if connect_port != 0 {
                eprintln!("Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport {port}");
            }
        }
        Ok((host, port))
    }

    /// The cookie file, `None` with `-norpccookiefile`.
    fn cookie_path(&self) -> Option<PathBuf> {
        if self.args.is_negated("rpccookiefile") {
            return None;
        }
        let name = self.args.get("rpccookiefile").filter(|p| !p.is_empty()).unwrap_or_else(|| ".cookie".to_owned());
        Some(datadir::abs(&self.net_dir, &name))
    }

    fn call_rpc(&self, body: &str, path: &str) -> Result<Value, Failure> {
        let (host, port) = self.endpoint()?;
        let seconds = self.args.get_int("rpcclienttimeout", DEFAULT_CLIENT_TIMEOUT);
        let timeout = u64::try_from(seconds).ok().filter(|s| *s > 0).map(Duration::from_secs);
        let cookie = Cell::new(None);
        let credentials = || {
            let user_pass = if self.password.is_empty() {
                let (state, text) = match self.cookie_path() {
                    None => (Cookie::Disabled, String::new()),
                    Some(p) => match std::fs::read_to_string(p) {
                        Ok(t) => (Cookie::Read, t.lines().next().unwrap_or("").to_owned()),
                        Err(_) => (Cookie::Unreadable, String::new()),
                    },
                };
                cookie.set(Some(state));
                text
            } else {
                format!("{}:{}", self.args.get_or("rpcuser", ""), self.password)
            };
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
        };
        let request = http::Request { host: &host, port, path, body: &format!("{body}\n"), timeout };
        let reply = http::post(&request, credentials).map_err(|f| {
            Failure::Transient(format!(
                "Could not connect to the server {host}:{port}{}\n\n\
                 Make sure the ferronoded server is running and that you are connecting to the correct RPC port.\n\
                 Use \"ferronode-cli -help\" for more info.",
                f.detail()
            ))
        })?;
        match reply.status {
            401 => {
                let why = match cookie.get() {
                    None => "Incorrect rpcuser or rpcpassword were specified.",
                    Some(Cookie::Unreadable) => "Failed to read cookie file and no rpcpassword was specified.",
                    Some(Cookie::Disabled) => {
                        "Cookie file was disabled via -norpccookiefile and no rpcpassword was specified."
                    }
                    Some(Cookie::Read) => "Cookie file credentials were invalid and no rpcpassword was specified.",
                };
                return Err(Failure::Fatal(format!(
                    "Authorization failed: {why} Configuration file: ({})",
                    self.conf_path.display()
                )));
            }
            503 => return Err(Failure::Fatal(format!("Server response: {}", reply.body))),
            s if s >= 400 && ![400, 404, 500].contains(&s) => {
                return Err(Failure::Fatal(format!("server returned HTTP error {s}")));
            }
            _ => {}
        }
        if reply.body.is_empty() {
            return Err(Failure::Fatal("no response from server".to_owned()));
        }
        serde_json::from_str(&reply.body).map_err(|_| Failure::Fatal("couldn't parse reply from server".to_owned()))
    }
}

/// `generatetoaddress`'s words for `-generate`: nblocks (default 1, not 0),
/// the address, then maxtries if given.
fn generate_args(address: &str, mut words: Vec<String>) -> Result<Vec<String>, Failure> {
    if words.len() > 2 {
        return Err(Failure::Fatal("too many arguments (maximum 2 for nblocks and maxtries)".to_owned()));
    }
    match words.first().map(String::as_str) {
        None => words.push("1".to_owned()),
        Some("0") => return Err(Failure::Fatal(
            "the first argument (number of blocks to generate, default: 1) must be an integer value greater than zero"
                .to_owned(),
        )),
        Some(_) => {}
    }
    words.insert(1, address.to_owned());
    Ok(words)
}

/// The networks `getnodeaddresses` reports, in Core's order; `-addrinfo`
/// counts all but the first and the last.
const NETWORKS: [&str; 7] = ["not_publicly_routable", "ipv4", "ipv6", "onion", "i2p", "cjdns", "internal"];

/// `-addrinfo`: the addresses the node knows, counted per network.
fn addrinfo(reply: Value) -> Result<Value, Failure> {
    let reply = single_reply(reply)?;
    if reply.get("error").is_some_and(|e| !e.is_null()) {
        return Ok(reply);
    }
    let nodes = reply.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
    if nodes.first().is_some_and(|n| n.get("network").is_none_or(Value::is_null)) {
        return Err(Failure::Fatal("-addrinfo requires the server to be running Bitcoin Core v21.0 and up".to_owned()));
    }
    let mut counts = [0u64; NETWORKS.len()];
    for node in &nodes {
        let network = node.get("network").and_then(Value::as_str).unwrap_or("");
        if let Some(i) = NETWORKS.iter().position(|n| *n == network) {
            counts[i] += 1;
        }
    }
    let mut known = serde_json::Map::new();
    for i in 1..NETWORKS.len() - 1 {
        known.insert(NETWORKS[i].to_owned(), json!(counts[i]));
    }
    known.insert("total".to_owned(), json!(counts[1..NETWORKS.len() - 1].iter().sum::<u64>()));
    Ok(ok_reply(json!({ "addresses_known": known })))
}

/// A single call's reply must be a non-empty object.
fn single_reply(reply: Value) -> Result<Value, Failure> {
    match &reply {
        Value::Object(m) if m.is_empty() => {
            Err(Failure::Fatal("expected reply to have result, error and id properties".to_owned()))
        }
        Value::Object(_) => Ok(reply),
        other => Err(expected(other, "object")),
    }
}

/// A JSON-RPC reply object carrying `result`.
fn ok_reply(result: Value) -> Value {
    json!({ "result": result, "error": null, "id": 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_like_bitcoin_cli() {
        let (text, code) = error_text(&json!({"code": -32601, "message": "Method not found"})).unwrap();
        assert_eq!(text, "error code: -32601\nerror message:\nMethod not found");
        assert_eq!(code, (32601 & 0xff) as u8);
        let (text, code) = error_text(&json!({"code": -8, "message": "x"})).unwrap();
        assert_eq!((text.as_str(), code), ("error code: -8\nerror message:\nx", 8));
        assert!(error_text(&json!({"code": -19, "message": "m"})).unwrap().0.contains("-rpcwallet=<walletname>"));
        assert!(
            matches!(error_text(&json!("oops")), Err(Failure::Fatal(m)) if m == "JSON value of type null is not of expected type number")
        );
    }

    #[test]
    fn results_print_like_bitcoin_cli() {
        assert_eq!(result_text(&Value::Null), "");
        assert_eq!(result_text(&json!("abc")), "abc");
        assert_eq!(result_text(&json!(5)), "5");
        assert_eq!(result_text(&json!({"a": []})), "{\n  \"a\": [\n  ]\n}");
    }

    #[test]
    fn generate_and_addrinfo_like_bitcoin_cli() {
        let w = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(generate_args("a", w(&[])).unwrap(), w(&["1", "a"]));
        assert_eq!(generate_args("a", w(&["4", "1000"])).unwrap(), w(&["4", "a", "1000"]));
        assert!(matches!(generate_args("a", w(&["0"])), Err(Failure::Fatal(m)) if m.contains("greater than zero")));
        assert!(matches!(generate_args("a", w(&["1", "2", "3"])), Err(Failure::Fatal(m)) if m.starts_with("too many")));
        let reply = json!({"result": [{"network": "ipv4"}, {"network": "ipv4"}, {"network": "onion"},
                                      {"network": "internal"}], "error": null, "id": 1});
        assert_eq!(
            addrinfo(reply).unwrap()["result"],
            json!({"addresses_known": {"ipv4": 2, "ipv6": 0, "onion": 1, "i2p": 0, "cjdns": 0, "total": 3}})
        );
    }

    #[test]
    fn wallet_names_are_uri_encoded() {
        assert_eq!(uri_encode("w 1/é~"), "w%201%2F%C3%A9~");
    }
}
