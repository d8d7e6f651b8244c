//! ferronode-cli against a real node, shaped like Core's
//! interface_bitcoin_cli.py: every RPC the other functional tests use, run
//! through the client and compared with the direct JSON-RPC result; the
//! output layout; the connection options and `bitcoin.conf`; `-named`,
//! `-stdin`, `-stdinrpcpass`; `-getinfo`; and the error paths (bad
//! credentials, node down with and without `-rpcwait`, a full work queue,
//! timeouts, replies that are not JSON).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::str::FromStr as _;
use std::thread;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, OutPoint, TxOut, Txid};
use ferronode_functional_tests::{free_port, op_true, CliOutput, TempDir, TestNode, TestNodeCli};
use serde_json::{json, Value};

/// The text bitcoin-cli prints on stdout for a successful `result`.
fn expected_stdout(result: &Value) -> Option<String> {
    match result {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(format!("{s}\n")),
        _ => None,
    }
}

/// Asserts that `out` is what bitcoin-cli prints for `direct`: nothing for
/// null, strings raw, anything else as JSON equal to it (numbers digit for
/// digit) and pretty-printed with two-space indentation.
fn assert_prints(out: &CliOutput, direct: &Value, what: &str) {
    assert_eq!(out.code, Some(0), "{what}: {out:?}");
    assert_eq!(out.stderr, "", "{what}");
    if let Some(text) = expected_stdout(direct) {
        assert_eq!(out.stdout, text, "{what}");
        return;
    }
    let parsed: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", out.stdout));
    assert_eq!(&parsed, direct, "{what}");
    assert!(out.stdout.ends_with('\n'), "{what}");
    if direct.is_object() || direct.is_array() {
        let second = out.stdout.lines().nth(1).unwrap_or("");
        assert!(second.starts_with("  ") || second == "]" || second == "}", "{what}: not indented: {}", out.stdout);
    }
}

/// The words a call becomes on the command line (strings bare, everything
/// else as JSON text), as Core's TestNodeCLI passes them.
fn words(method: &str, params: &Value) -> Vec<String> {
    let word = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match params {
        Value::Array(a) => std::iter::once(method.to_owned()).chain(a.iter().map(word)).collect(),
        Value::Object(m) => ["-named".to_owned(), method.to_owned()]
            .into_iter()
            .chain(m.iter().map(|(k, v)| format!("{k}={}", word(v))))
            .collect(),
        _ => unreachable!("params are an array or an object"),
    }
}

fn run(cli: &TestNodeCli, method: &str, params: &Value) -> CliOutput {
    let w = words(method, params);
    cli.run(&w.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Calls `method` directly and through the client; both must agree.
fn same(node: &TestNode, method: &str, params: Value) {
    let direct = node.rpc(method, params.clone());
    let out = run(&node.cli(), method, &params);
    assert_prints(&out, &direct, &format!("{method} {params}"));
}

fn coinbase(node: &TestNode, height: u64) -> Txid {
    let hash = node.rpc("getblockhash", json!([height]));
    Txid::from_str(node.rpc("getblock", json!([hash, 1]))["tx"][0].as_str().unwrap()).unwrap()
}

fn op_true_out(sats: u64) -> TxOut {
    TxOut { value: Amount::from_sat(sats), script_pubkey: op_true::address().script_pubkey() }
}

#[test]
fn every_rpc_through_the_cli_matches_the_direct_call() {
    let zmq = format!("-zmqpubhashblock=tcp://127.0.0.1:{}", ferronode_functional_tests::free_port());
    let mut node = TestNode::start_new(&["-blockfilterindex", &zmq]);
    let cli = node.cli();
    let addr = op_true::address().to_string();

    // mining through the client returns the hashes the chain then has
    let mined = cli.call("generatetoaddress", &json!([101, addr])).unwrap();
    assert_eq!(mined.as_array().unwrap().len(), 101);
    assert_eq!(mined[100], node.rpc("getbestblockhash", json!([])));
    assert_eq!(mined[4], node.rpc("getblockhash", json!([5])));
    let named = cli.call("generatetoaddress", &json!({"nblocks": 1, "address": addr, "maxtries": 1000})).unwrap();
    assert_eq!(named[0], node.rpc("getbestblockhash", json!([])));

    // an unconfirmed parent and child
    let parent = op_true::spend(OutPoint { txid: coinbase(&node, 1), vout: 0 }, vec![op_true_out(49_9999_0000)]);
    let parent_id = cli.call("sendrawtransaction", &json!([serialize_hex(&parent)])).unwrap();
    assert_eq!(parent_id, json!(parent.compute_txid().to_string()));
    let child = op_true::spend(OutPoint { txid: parent.compute_txid(), vout: 0 }, vec![op_true_out(49_9998_0000)]);
    let child_id = node.rpc("sendrawtransaction", json!([serialize_hex(&child)]));
    let spare = op_true::spend(OutPoint { txid: coinbase(&node, 2), vout: 0 }, vec![op_true_out(49_9999_0000)]);

    let h5 = node.rpc("getblockhash", json!([5]));
    let h2 = node.rpc("getblockhash", json!([2]));
    let tip = node.rpc("getbestblockhash", json!([]));
    let cb2 = coinbase(&node, 2).to_string();
    let height = node.rpc("getblockcount", json!([]));
    let table = [
        ("getblockcount", json!([])),
        ("getbestblockhash", json!([])),
        ("getblockhash", json!([5])),
        ("getblock", json!([h5])),
        ("getblock", json!([h5, 0])),
        ("getblock", json!([h5, 2])),
        ("getblock", json!({"blockhash": h5, "verbosity": 0})),
        ("getblockheader", json!([h5])),
        ("getblockheader", json!([h5, false])),
        ("getblockheader", json!({"blockhash": h5, "verbose": true})),
        ("getblockchaininfo", json!([])),
        ("getchaintips", json!([])),
        ("getdifficulty", json!([])),
        ("getdeploymentinfo", json!([])),
        ("getdeploymentinfo", json!([h5])),
        ("getmempoolinfo", json!([])),
        ("getrawmempool", json!([])),
        ("getrawmempool", json!([true])),
        ("getrawmempool", json!([false, true])),
        ("getmempoolentry", json!([parent_id])),
        ("getmempoolancestors", json!([child_id])),
        ("getmempoolancestors", json!([child_id, true])),
        ("getmempooldescendants", json!([parent_id])),
        ("getmempooldescendants", json!([parent_id, true])),
        ("gettxout", json!([parent_id, 0])),
        ("gettxout", json!([cb2, 0])),
        ("gettxout", json!([coinbase(&node, 1).to_string(), 0, false])),
        ("gettxoutsetinfo", json!([])),
        ("getrawtransaction", json!([parent_id])),
        ("getrawtransaction", json!([parent_id, 1])),
        ("getrawtransaction", json!([cb2, 2, h2])),
        ("decoderawtransaction", json!([serialize_hex(&parent)])),
        ("decoderawtransaction", json!([serialize_hex(&parent), true])),
        ("decodescript", json!(["51"])),
        ("decodescript", json!(["0020ab"])),
        ("testmempoolaccept", json!([[serialize_hex(&spare)]])),
        ("testmempoolaccept", json!([[serialize_hex(&spare)], 0.1])),
        ("getindexinfo", json!([])),
        ("getnetworkinfo", json!([])),
        ("help", json!([])),
        ("help", json!(["getblock"])),
        ("help", json!(["nosuchcommand"])),
        ("echo", json!(["a", "1", "true"])),
        ("echojson", json!([1, [1, 2], {"k": true}, null, 1.50000000])),
        ("waitforblock", json!([tip])),
        ("waitforblock", json!([tip, 10])),
        ("waitforblockheight", json!([height])),
        ("waitforblockheight", json!([1, 10])),
        ("waitfornewblock", json!([1])),
        ("logging", json!([])),
        ("logging", json!([["http"], []])),
        ("syncwithvalidationinterfacequeue", json!([])),
        ("setmocktime", json!([0])),
        ("sleep", json!([1])),
        ("savemempool", json!([])),
        ("getblockfilter", json!([h5])),
        ("getblockfilter", json!([h5, "basic"])),
        ("getzmqnotifications", json!([])),
        ("getzmqstats", json!([])),
    ];
    for (method, params) in table {
        same(&node, method, params);
    }

    // results that change from one call to the next
    let up = cli.call("uptime", &json!([])).unwrap().as_u64().unwrap();
    assert!(up.abs_diff(node.rpc("uptime", json!([])).as_u64().unwrap()) <= 2);
    let info = cli.call("getrpcinfo", &json!([])).unwrap();
    assert_eq!(info["logpath"], node.rpc("getrpcinfo", json!([]))["logpath"]);
    assert_eq!(info["active_commands"][0]["method"], json!("getrpcinfo"));
    let metrics = cli.call("gethttpmetrics", &json!([])).unwrap();
    let direct = node.rpc("gethttpmetrics", json!([]));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&metrics), keys(&direct));

    // chain changes through the client
    let block = cli.call("generateblock", &json!([addr, [parent_id]])).unwrap();
    assert_eq!(block["hash"], node.rpc("getbestblockhash", json!([])));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([child_id]));
    let desc_block = cli.call("generatetodescriptor", &json!([1, format!("addr({addr})")])).unwrap();
    assert_eq!(desc_block[0], node.rpc("getbestblockhash", json!([])));
    let best = desc_block[0].clone();
    let hex = node.rpc("getblock", json!([best, 0]));
    assert_eq!(run(&cli, "invalidateblock", &json!([best])).stdout, "");
    assert_ne!(node.rpc("getbestblockhash", json!([])), best);
    assert_eq!(run(&cli, "reconsiderblock", &json!([best])).stdout, "");
    assert_eq!(node.rpc("getbestblockhash", json!([])), best);
    same(&node, "submitblock", json!([hex]));
    // a long poll through the client returns the block mined meanwhile
    let waiter = {
        let cli = cli.clone();
        thread::spawn(move || cli.call("waitfornewblock", &json!([])).unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.rpc("getrpcinfo", json!([]))["active_commands"].as_array().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the long poll never started");
        thread::sleep(Duration::from_millis(10));
    }
    let new = node.rpc("generatetoaddress", json!([1, addr]));
    assert_eq!(waiter.join().unwrap()["hash"], new[0]);

    // and stop
    assert_eq!(run(&cli, "stop", &json!([])).stdout, "ferronode stopping\n");
    node.wait_until_stopped(Duration::from_secs(60), false);
}

#[test]
fn output_and_error_layout() {
    let node = TestNode::start_new(&[]);
    let cli = node.cli();
    assert_eq!(cli.run(&["getblockcount"]).stdout, "0\n");
    // an empty array is written over two lines, as UniValue does
    assert_eq!(cli.run(&["getrawmempool"]).stdout, "[\n]\n");
    let info = cli.run(&["getblockchaininfo"]).stdout;
    assert!(info.starts_with("{\n  \"chain\": \"regtest\",\n  \"blocks\": 0,\n"), "{info}");
    assert!(info.contains("\n  \"warnings\": [\n  ]\n}\n"), "{info}");
    assert!(cli.run(&["getnetworkinfo"]).stdout.contains("\n  \"relayfee\": 0.00001000,\n"));
    // null prints nothing
    let out = cli.run(&["syncwithvalidationinterfacequeue"]);
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Some(0), "", ""));

    // RPC errors: code and message on stderr, exit code |code| (mod 256)
    let out = cli.run(&["getblockhash", "5"]);
    assert_eq!(out.stderr, "error code: -8\nerror message:\nBlock height out of range\n");
    assert_eq!((out.code, out.stdout.as_str()), (Some(8), ""));
    let out = cli.run(&["nosuchmethod"]);
    assert_eq!(out.stderr, "error code: -32601\nerror message:\nMethod not found\n");
    assert_eq!(out.code, Some(32601 % 256));
    assert_eq!(cli.call("getblockhash", &json!([5])).unwrap_err().code, -8);
    // a JSON parameter that is not JSON is refused before sending
    let out = cli.run(&["getblockhash", "five"]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(1), "error: Error parsing JSON: five\n"));
    let out = node.cli().option("-rpcport=1").run(&[]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(1), "error: too few parameters (need at least command)\n"));

    // -named: name=value, positional words under args, later names win
    assert_eq!(cli.run(&["-named", "echo", "arg0=a", "arg1=b", "arg0=c"]).stdout, "[\n  \"c\",\n  \"b\"\n]\n");
    assert_eq!(cli.run(&["-named", "echojson", "7", "arg1=[1]"]).stdout, "[\n  7,\n  [\n    1\n  ]\n]\n");
    assert_eq!(
        cli.run(&["-named", "getblockhash", "height=0"]).stdout,
        format!("{}\n", node.rpc("getblockhash", json!([0])).as_str().unwrap())
    );
    let out = cli.run(&["-named", "getblockhash", "height=zero"]);
    assert_eq!(out.stderr, "error: Error parsing JSON: zero\n");
    // a string containing '=' passes positionally
    assert_eq!(cli.run(&["echo", "a=b"]).stdout, "[\n  \"a=b\"\n]\n");

    // -stdin: one argument per line, after those on the command line
    let out = node.cli().option("-stdin").input("two\nthree=3\n").run(&["echo", "one"]);
    assert_eq!(out.stdout, "[\n  \"one\",\n  \"two\",\n  \"three=3\"\n]\n");
    let out = node.cli().option("-stdin").input("5\n").run(&["getblockhash"]);
    assert_eq!(out.stderr, "error code: -8\nerror message:\nBlock height out of range\n");
    // -stdinrpcpass: the first line is the password, the rest goes to -stdin
    let cookie = node.cookie();
    let (user, pass) = cookie.split_once(':').unwrap();
    let out = node
        .cli()
        .option(&format!("-rpcuser={user}"))
        .option("-stdinrpcpass")
        .option("-stdin")
        .input(&format!("{pass}\nx\n"))
        .run(&["echo"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "[\n  \"x\"\n]\n"));
    let out = node.cli().option(&format!("-rpcuser={user}")).option("-stdinrpcpass").run(&["getblockcount"]);
    assert_eq!(out.stderr, "error: -stdinrpcpass specified but failed to read from standard input\n");
}

/// Writes `text` to a config file in a fresh directory and returns it.
fn conf_dir(text: &str) -> TempDir {
    let dir = TempDir::new("cliconf");
    std::fs::write(dir.path().join("bitcoin.conf"), text).unwrap();
    dir
}

#[test]
fn connection_options_and_config() {
    let node = TestNode::start_new(&[]);
    let port = node.rpc_port;
    let (user, pass) = node.cookie().split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())).unwrap();
    let bare = |args: &[&str], words: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(words);
        TestNodeCli::bare().run(&all)
    };

    // rpcport and credentials from the [regtest] section of bitcoin.conf
    let dir =
        conf_dir(&format!("regtest=1\nrpcport=1\n[regtest]\nrpcport={port}\nrpcuser={user}\nrpcpassword={pass}\n"));
    let datadir = format!("-datadir={}", dir.path().display());
    let out = bare(&[&datadir], &["getblockcount"]);
    assert_eq!(out.stdout, "0\n", "{out:?}");
    // -conf (relative to the datadir) and -regtest / -chain=regtest
    std::fs::rename(dir.path().join("bitcoin.conf"), dir.path().join("other.conf")).unwrap();
    assert_eq!(bare(&[&datadir, "-conf=other.conf", "-regtest"], &["getblockcount"]).stdout, "0\n");
    // regtest=1 in the file and -chain on the command line are two choices, as in Core
    let out = bare(&[&datadir, "-conf=other.conf", "-chain=regtest"], &["getblockcount"]);
    assert!(out.stderr.starts_with("Error: Invalid combination of -regtest, -signet, -testnet"), "{out:?}");
    assert_eq!(bare(&[&datadir, "-conf=other.conf", "-noregtest", "-chain=regtest"], &["getblockcount"]).stdout, "0\n");
    let out = bare(&[&datadir, "-conf=missing.conf"], &["getblockcount"]);
    assert!(out.stderr.starts_with("Error reading configuration file: "), "{out:?}");
    let out = bare(&[&datadir, "-chain=main"], &["getblockcount"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Error: ferronode supports only the regtest chain"), "{out:?}");
    // the command line beats the file
    let out = bare(&[&datadir, "-conf=other.conf", "-rpcpassword=wrong"], &["getblockcount"]);
    assert_eq!(
        out.stderr,
        format!(
            "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified. Configuration file: ({})\n",
            dir.path().join("other.conf").display()
        )
    );
    assert_eq!(out.code, Some(1));

    // -rpcconnect with a port; -rpcport wins over it, with a warning
    let node_dir = format!("-datadir={}", node.datadir.path().display());
    assert_eq!(bare(&[&node_dir, &format!("-rpcconnect=127.0.0.1:{port}")], &["getblockcount"]).stdout, "0\n");
    let out = bare(&[&node_dir, "-rpcconnect=127.0.0.1:1", &format!("-rpcport={port}")], &["getblockcount"]);
    assert_eq!(out.stdout, "0\n");
    assert_eq!(
        out.stderr,
        format!("Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport {port}\n")
    );
    let out = bare(&[&node_dir, "-rpcconnect=127.0.0.1:x"], &["getblockcount"]);
    assert_eq!(out.stderr, "error: Invalid port provided in -rpcconnect: 127.0.0.1:x\n");
    let out = bare(&[&node_dir, "-rpcport=0"], &["getblockcount"]);
    assert_eq!(out.stderr, "error: Invalid port provided in -rpcport: 0\n");

    // the cookie: from the datadir, from -rpccookiefile (relative to the
    // chain directory), disabled, missing
    std::fs::copy(node.net_dir().join(".cookie"), node.net_dir().join("copy.cookie")).unwrap();
    assert_eq!(node.cli().option("-rpccookiefile=copy.cookie").run(&["getblockcount"]).stdout, "0\n");
    let out = node.cli().option("-norpccookiefile").run(&["getblockcount"]);
    assert!(out.stderr.starts_with("error: Authorization failed: Cookie file was disabled via -norpccookiefile"));
    let out = node.cli().option("-rpccookiefile=nothere").run(&["getblockcount"]);
    assert!(out.stderr.starts_with("error: Authorization failed: Failed to read cookie file and no rpcpassword"));
    std::fs::write(node.net_dir().join("bad.cookie"), "__cookie__:nope").unwrap();
    let out = node.cli().option("-rpccookiefile=bad.cookie").run(&["getblockcount"]);
    assert!(out.stderr.starts_with("error: Authorization failed: Cookie file credentials were invalid"));
    let out = node.cli().option(&format!("-rpcuser={user}")).option("-rpcpassword=wrong").run(&["getblockcount"]);
    assert!(out.stderr.starts_with("error: Authorization failed: Incorrect rpcuser or rpcpassword"), "{out:?}");

    // bad options and datadir
    let out = bare(&["-nosuchoption"], &["getblockcount"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (Some(1), "Error parsing command line arguments: Invalid parameter -nosuchoption\n")
    );
    let out = bare(&["-datadir=/nonexistent/ferronode"], &["getblockcount"]);
    assert_eq!(out.stderr, "Error: Specified data directory \"/nonexistent/ferronode\" does not exist.\n");
    // options after the command are its arguments
    assert_eq!(node.cli().run(&["echo", "-rpcport=1"]).stdout, "[\n  \"-rpcport=1\"\n]\n");
}

/// A 200 reply carrying `body` (leaked: fake servers take static replies).
fn reply_200(body: &str) -> &'static str {
    Box::leak(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .into_boxed_str(),
    )
}

/// A client for a fake server on 127.0.0.2.
fn fake_cli(dir: &TempDir, port: u16) -> TestNodeCli {
    TestNodeCli::new(dir.path(), port).option("-rpcconnect=127.0.0.2")
}

/// A one-shot HTTP server: returns the port and a handle that yields the
/// request it received. `reply` is written back unless empty; then the
/// connection is held open for `hold`.
fn fake_server(reply: &'static str, hold: Duration) -> (u16, thread::JoinHandle<String>) {
    let (port, handle) = fake_server_seq(vec![reply], hold);
    (port, thread::spawn(move || handle.join().unwrap().remove(0)))
}

/// Like [`fake_server`] for consecutive connections, one reply each.
fn fake_server_seq(replies: Vec<&'static str>, hold: Duration) -> (u16, thread::JoinHandle<Vec<String>>) {
    // 127.0.0.2, so that no other test's client can reach it by chance
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut requests = Vec::new();
        for reply in replies {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            head.push_str(&String::from_utf8(body).unwrap());
            if !reply.is_empty() {
                reader.get_mut().write_all(reply.as_bytes()).unwrap();
            }
            thread::sleep(hold);
            requests.push(head);
        }
        requests
    });
    (port, handle)
}

fn body_of(request: &str) -> Value {
    serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[test]
fn request_shape_wallet_path_and_odd_replies() {
    let dir = TempDir::new("clifake");
    let ok = reply_200(r#"{"result":7,"error":null,"id":1}"#);
    let (port, server) = fake_server(ok, Duration::ZERO);
    let cli = fake_cli(&dir, port).option("-rpcuser=u").option("-rpcpassword=p");
    let out = cli.clone().option("-rpcwallet=my wallet/é").run(&["getblockhash", "3", "x"]);
    assert_eq!(out.stdout, "7\n");
    let request = server.join().unwrap();
    assert!(request.starts_with("POST /wallet/my%20wallet%2F%C3%A9 HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("Authorization: Basic dTpw\r\n"), "{request}");
    assert!(request.contains("Content-Type: application/json\r\n"), "{request}");
    assert!(request.contains("Connection: close\r\n"), "{request}");
    assert_eq!(body_of(&request), json!({"method": "getblockhash", "params": [3, "x"], "id": 1, "jsonrpc": "2.0"}));

    // -named with positional words and an explicit args=
    let (port, server) = fake_server(ok, Duration::ZERO);
    let cli2 = fake_cli(&dir, port).option("-rpcuser=u").option("-rpcpassword=p");
    cli2.run(&["-named", "getblock", "verbosity=2", "blockhash=00", "extra"]);
    let request = server.join().unwrap();
    assert!(
        request
            .trim_end()
            .ends_with(r#""params":{"verbosity":2,"blockhash":"00","args":["extra"]},"id":1,"jsonrpc":"2.0"}"#),
        "{request}"
    );

    // a reply that is not JSON, other HTTP errors, an empty 404
    for (reply, expected) in [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "error: couldn't parse reply from server\n"),
        ("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "error: server returned HTTP error 403\n"),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "error: no response from server\n"),
        (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 25\r\n\r\nWork queue depth exceeded",
            "error: Server response: Work queue depth exceeded\n",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            "error: expected reply to have result, error and id properties\n",
        ),
    ] {
        let (port, server) = fake_server(reply, Duration::ZERO);
        let out = fake_cli(&dir, port).option("-rpcpassword=p").run(&["getblockcount"]);
        assert_eq!((out.code, out.stderr.as_str()), (Some(1), expected));
        server.join().unwrap();
    }

    // -stdinwalletpassphrase: the line goes in as the first parameter
    let (port, server) = fake_server(ok, Duration::ZERO);
    let out = fake_cli(&dir, port)
        .option("-rpcpassword=p")
        .option("-stdinwalletpassphrase")
        .input("secret words\n")
        .run(&["walletpassphrase", "60"]);
    assert_eq!(out.stdout, "7\n");
    assert_eq!(body_of(&server.join().unwrap())["params"], json!(["secret words", 60]));
    let out = fake_cli(&dir, port).option("-stdinwalletpassphrase").input("x\n").run(&["getblockcount"]);
    assert_eq!(out.stderr, "error: -stdinwalletpassphrase is only applicable for walletpassphrase(change)\n");

    // warmup: an error for the caller without -rpcwait, retried with it
    let warmup = reply_200(r#"{"result":null,"error":{"code":-28,"message":"Loading blocks..."},"id":1}"#);
    let (port, server) = fake_server(warmup, Duration::ZERO);
    let out = fake_cli(&dir, port).option("-rpcpassword=p").run(&["getblockcount"]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(28), "error code: -28\nerror message:\nLoading blocks...\n"));
    server.join().unwrap();
    let (port, server) = fake_server_seq(vec![warmup, ok], Duration::ZERO);
    let started = Instant::now();
    let out = fake_cli(&dir, port).option("-rpcpassword=p").option("-rpcwait").run(&["getblockcount"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "7\n"));
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after a second");
    assert_eq!(server.join().unwrap().len(), 2);

    // -generate: getnewaddress, then generatetoaddress to it
    let address = reply_200(r#"{"result":"bcrt1qxyz","error":null,"id":1}"#);
    let blocks = reply_200(r#"{"result":["h1","h2"],"error":null,"id":1}"#);
    let (port, server) = fake_server_seq(vec![address, blocks], Duration::ZERO);
    let out = fake_cli(&dir, port).option("-rpcpassword=p").option("-rpcwallet=w").run(&["-generate", "2", "50"]);
    assert_eq!(
        out.stdout, "{\n  \"address\": \"bcrt1qxyz\",\n  \"blocks\": [\n    \"h1\",\n    \"h2\"\n  ]\n}\n",
        "{out:?}"
    );
    let requests = server.join().unwrap();
    assert!(requests[1].starts_with("POST /wallet/w "));
    assert_eq!(body_of(&requests[0])["method"], json!("getnewaddress"));
    assert_eq!(body_of(&requests[1])["params"], json!([2, "bcrt1qxyz", 50]));

    // a server that accepts but never answers: -rpcclienttimeout
    let (port, server) = fake_server("", Duration::from_secs(4));
    let started = Instant::now();
    let out = fake_cli(&dir, port).option("-rpcpassword=p").option("-rpcclienttimeout=1").run(&["getblockcount"]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        out.stderr,
        format!("error: timeout on transient error: Could not connect to the server 127.0.0.2:{port} (error code 0 - \"timeout reached\")\n\nMake sure the ferronoded server is running and that you are connecting to the correct RPC port.\nUse \"ferronode-cli -help\" for more info.\n")
    );
    server.join().unwrap();
}

#[test]
fn node_down_rpcwait_and_full_work_queue() {
    // down, without -rpcwait: bitcoin-cli's message and exit code 1
    let dir = TempDir::new("clidown");
    let port = free_port();
    let cli = TestNodeCli::new(dir.path(), port).option("-rpcpassword=p");
    let out = cli.run(&["getblockcount"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!("error: timeout on transient error: Could not connect to the server 127.0.0.1:{port}\n\nMake sure the ferronoded server is running and that you are connecting to the correct RPC port.\nUse \"ferronode-cli -help\" for more info.\n")
    );
    // with -rpcwait and a timeout: gives up after about that long
    let started = Instant::now();
    let out = cli.clone().option("-rpcwait").option("-rpcwaittimeout=2").run(&["getblockcount"]);
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(out.stderr.starts_with("error: timeout on transient error: Could not connect to the server"));

    // with -rpcwait: waits for a node that starts later (credentials from
    // the shared bitcoin.conf, as Core's framework writes them)
    let mut node = TestNode::new(&[]);
    node.append_to_config("rpcuser=cliwait\nrpcpassword=secret");
    let waiting = {
        let cli = node.cli().option("-rpcwait");
        thread::spawn(move || cli.run(&["getblockcount"]))
    };
    thread::sleep(Duration::from_millis(1500));
    node.start(&[]);
    node.wait_for_rpc_with(Some("cliwait:secret"));
    let out = waiting.join().unwrap();
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Some(0), "0\n", ""));
    drop(node);

    // a full work queue: one worker busy, one request queued, the next 503
    let node = TestNode::start_new(&["-rpcthreads=1", "-rpcworkqueue=1"]);
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let cli = node.cli();
            // generous gaps and long polls, so that a loaded machine still
            // has both in place before the third request
            let h = thread::spawn(move || cli.run(&["waitfornewblock", "10000"]));
            thread::sleep(Duration::from_millis(1500));
            h
        })
        .collect();
    let out = node.cli().run(&["getblockcount"]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(1), "error: Server response: Work queue depth exceeded\n"));
    for h in busy {
        assert_eq!(h.join().unwrap().code, Some(0));
    }
}

#[test]
fn getinfo_help_and_version() {
    let node = TestNode::start_new(&[]);
    node.rpc("generatetoaddress", json!([2, op_true::address().to_string()]));
    let chain = node.rpc("getblockchaininfo", json!([]));
    let net = node.rpc("getnetworkinfo", json!([]));
    let out = node.cli().run(&["-getinfo"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let expected = format!(
        "Chain: regtest\nBlocks: 2\nHeaders: 2\nVerification progress: 100.0000%\nDifficulty: {}\n\n\
         Network: in 0, out 0, total 0\nVersion: {}\nTime offset (s): 0\nProxies: n/a\n\
         Min tx relay fee rate (BTC/kvB): {}\n\nWarnings: (none)\n",
        chain["difficulty"], net["version"], net["relayfee"]
    );
    assert_eq!(out.stdout, expected);
    let coloured = node.cli().option("-getinfo").option("-color=always").run(&[]).stdout;
    assert!(coloured.starts_with("\x1B[34mChain: regtest\x1B[0m\n"), "{coloured:?}");
    assert_eq!(node.cli().option("-color=never").run(&["-getinfo"]).stdout, expected);
    let out = node.cli().option("-color=sometimes").run(&["-getinfo"]);
    assert_eq!(out.stderr, "error: Invalid value for -color option. Valid values: always, auto, never.\n");
    let out = node.cli().option("-getinfo").run(&["extra"]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(1), "error: -getinfo takes no arguments\n"));

    // -generate and -addrinfo need a wallet and getnodeaddresses, which
    // ferronoded does not have: the node's error is shown as bitcoin-cli would
    for command in ["-generate", "-addrinfo"] {
        let out = node.cli().run(&[command]);
        assert_eq!(out.stderr, "error code: -32601\nerror message:\nMethod not found\n", "{command}");
    }
    let out = node.cli().option("-addrinfo").run(&["x"]);
    assert_eq!(out.stderr, "error: -addrinfo takes no arguments\n");
    let out = node.cli().option("-getinfo").run(&["-generate"]);
    assert_eq!(out.stderr, "error: Only one of -generate, -getinfo may be specified.\n");

    let out = node.cli().run(&["-version"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "ferronode RPC client version v0.1.0\n"));
    let out = node.cli().run(&["-help"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("Usage:  ferronode-cli [options] <command> [params]"));
    for option in
        ["-rpcconnect=<ip>", "-rpcwait\n", "-named\n", "-stdinrpcpass\n", "-getinfo\n", "-rpcwallet=<walletname>"]
    {
        assert!(out.stdout.contains(option), "{option} missing from -help");
    }
    let none = TestNodeCli::bare().run(&[]);
    assert_eq!((none.code, none.stderr.as_str()), (Some(1), "Error: too few parameters\n"));
    assert!(none.stdout.starts_with("ferronode RPC client version"));
}

/// The network RPCs the P2P tests use, through the client, with two nodes
/// connected (fields that move between two calls, like byte counters and
/// ping times, are left out of the comparison).
#[test]
fn p2p_rpcs_through_the_cli() {
    let a = TestNode::start_new(&[]);
    let b = TestNode::start_new(&[]);
    let cli = a.cli();
    let target = format!("127.0.0.1:{}", b.p2p_port);
    assert_eq!(run(&cli, "addnode", &json!([target, "add"])).stdout, "");
    ferronode_functional_tests::wait_until(Duration::from_secs(30), "the nodes connect", || {
        a.rpc("getconnectioncount", json!([])) == json!(1) && b.rpc("getconnectioncount", json!([])) == json!(1)
    });
    same(&a, "getconnectioncount", json!([]));
    let stable = |peers: &Value| -> Vec<Value> {
        peers
            .as_array()
            .unwrap()
            .iter()
            .map(|p| json!([p["id"], p["addr"], p["subver"], p["inbound"], p["connection_type"], p["version"]]))
            .collect()
    };
    let through = cli.call("getpeerinfo", &json!([])).unwrap();
    assert_eq!(stable(&through), stable(&a.rpc("getpeerinfo", json!([]))));
    let added = cli.call("getaddednodeinfo", &json!([])).unwrap();
    assert_eq!(added[0]["addednode"], json!(target));
    assert_eq!(added, a.rpc("getaddednodeinfo", json!([])));
    let totals = cli.call("getnettotals", &json!([])).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&totals), keys(&a.rpc("getnettotals", json!([]))));
    assert_eq!(run(&cli, "ping", &json!([])).stdout, "");
    assert_eq!(cli.call("setnetworkactive", &json!([false])).unwrap(), a.rpc("setnetworkactive", json!([false])));
    assert_eq!(cli.call("setnetworkactive", &json!([true])).unwrap(), json!(true));
    // an error: the same code and message both ways
    let direct = a.try_rpc("disconnectnode", json!(["", 999])).unwrap().unwrap_err();
    let via = cli.call("disconnectnode", &json!(["", 999])).unwrap_err();
    assert_eq!((via.code, via.message), (direct.code, direct.message));
    assert_eq!(run(&cli, "addnode", &json!([target, "remove"])).stdout, "");
    assert_eq!(a.rpc("getaddednodeinfo", json!([])), json!([]));
}
