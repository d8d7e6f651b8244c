//! The first commands and the reply shapes of both JSON-RPC versions.

#![allow(clippy::unwrap_used)]

use ferronode_functional_tests::TestNode;
use serde_json::json;

#[test]
fn control_commands_and_versions() {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let mut c = node.connect();

    let r = c.post_json(&cookie, r#"{"jsonrpc":"2.0","id":"a","method":"getblockcount"}"#).unwrap();
    assert_eq!((r.status, r.text()), (200, "{\"jsonrpc\":\"2.0\",\"result\":0,\"id\":\"a\"}\n".to_owned()));
    // a notification runs but gets no body
    let r = c.post_json(&cookie, r#"{"jsonrpc":"2.0","method":"getblockcount"}"#).unwrap();
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    // legacy unknown method → 404, 2.0 → 200
    let r = c.post_json(&cookie, r#"{"id":1,"method":"nope"}"#).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1}));
    let r = c.post_json(&cookie, r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#).unwrap();
    assert_eq!(r.status, 200);
    // invalid JSON
    let r = c.post_json(&cookie, "{nope").unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}\n");

    let help = node.rpc("help", json!([]));
    let help = help.as_str().unwrap();
    assert!(help.starts_with("== Blockchain ==\n"), "{help}");
    assert!(help.contains("\ngetblockcount\n") && help.contains("\n\n== Control ==\n"), "{help}");
    assert!(help.contains("\nstop\n") && help.contains("help ( \"command\" )"));
    for hidden in ["sleep", "echo", "setmocktime", "gethttpmetrics"] {
        assert!(!help.contains(hidden), "hidden command {hidden} stays out of the listing");
    }
    assert_eq!(node.rpc("help", json!(["nope"])), json!("help: unknown command: nope"));

    let info = node.rpc("getrpcinfo", json!([]));
    assert_eq!(info["active_commands"][0]["method"], "getrpcinfo");
    assert!(info["active_commands"][0]["duration"].is_u64());
    assert_eq!(info["logpath"], json!(node.debug_log_path().display().to_string()));
    assert!(node.rpc("uptime", json!([])).is_u64());

    // named parameters, and the hidden `wait` of stop
    let r = c.post_json(&cookie, r#"{"jsonrpc":"2.0","id":2,"method":"stop","params":{"wait":10}}"#).unwrap();
    assert_eq!(r.json(), json!({"jsonrpc":"2.0","result":"ferronode stopping","id":2}));
    node.wait_until_stopped(std::time::Duration::from_secs(5), false);
}

#[test]
fn init_errors() {
    let mut node = TestNode::new(&[]);
    node.assert_start_raises_init_error(
        &["-bogus"],
        "Error: Error parsing command line arguments: Invalid parameter -bogus",
    );
    node.assert_start_raises_init_error(&["-rpcport=70000"], "Error: Invalid port specified in -rpcport: '70000'");
    node.assert_start_raises_init_error(
        &["-chain=main"],
        "Error: ferronode supports only the regtest chain for now; -chain=main is not available",
    );
    // the port is taken by another node
    let mut other = TestNode::start_new(&[]);
    let taken = format!("-rpcport={}", other.rpc_port);
    node.assert_start_raises_init_error(&[&taken], "Error: Unable to start HTTP server. See debug log for details.");
    other.stop_node();
}

#[test]
fn bind_and_allowip_options() {
    let mut node = TestNode::new(&[]);
    node.assert_start_raises_init_error(
        &["-rpcallowip=not-a-subnet"],
        "Error: Invalid -rpcallowip subnet specification: not-a-subnet. Valid values are a single IP (e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0), a network/CIDR (e.g. 1.2.3.4/24), all ipv4 (0.0.0.0/0), or all ipv6 (::/0). RFC4193 is allowed only if -cjdnsreachable=0.\nError: Unable to start HTTP server. See debug log for details.",
    );
    for addr in ["127.0.0.1:notaport", "[::1]:notaport", "127.0.0.1:0", "127.0.0.1:65536"] {
        node.assert_start_raises_init_error(
            &["-rpcallowip=127.0.0.1", &format!("-rpcbind={addr}")],
            &format!("Error: Invalid port specified in -rpcbind: '{addr}'"),
        );
    }
    // one of the two without the other: loopback only, with Core's warnings
    node.start(&["-rpcbind=127.0.0.2"]);
    node.wait_for_rpc_connection();
    let log = node.debug_log();
    assert!(log.contains("[warning] Option -rpcbind was ignored because -rpcallowip was not specified, refusing to allow everyone to connect"));
    assert!(log.contains(&format!("Binding RPC on address ::1 port {}", node.rpc_port)));
    node.stop_node();
    node.start(&["-rpcallowip=10.0.0.0/8"]);
    node.wait_for_rpc_connection();
    assert!(node
        .debug_log()
        .contains("[warning] Option -rpcallowip was specified without -rpcbind; this doesn't usually make sense"));
    node.stop_node();
    // both: bind exactly what was asked (here a second loopback address)
    node.start(&["-rpcallowip=127.0.0.0/8", "-rpcbind=127.0.0.1"]);
    node.wait_for_rpc_connection();
    assert!(node.debug_log().contains(&format!("Binding RPC on address 127.0.0.1 port {}", node.rpc_port)));
    node.stop_node();
}

#[test]
fn unix_socket_rpc() {
    use std::io::{Read as _, Write as _};
    let mut node = TestNode::start_new(&["-rpcbind=unix:rpc.sock"]);
    let path = node.net_dir().join("rpc.sock");
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount"}"#;
    let auth = ferronode_functional_tests::http::basic_auth(&node.cookie());
    write!(
        s,
        "POST / HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("{\"jsonrpc\":\"2.0\",\"result\":0,\"id\":1}\n"));
    node.stop_node();
    assert!(!path.exists());
}

#[test]
fn http_metrics_are_reported() {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let idle: Vec<_> = (0..3)
        .map(|_| {
            let mut c = node.connect();
            assert_eq!(c.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
            c
        })
        .collect();
    let m = node.rpc("gethttpmetrics", json!([]));
    assert!(m["open_connections"].as_u64().unwrap() >= 4, "{m}");
    assert_eq!(m["running"], json!(1), "only gethttpmetrics itself runs");
    assert_eq!(m["queued"], json!(0));
    assert!(m["accepted"].as_u64().unwrap() >= 4);
    drop(idle);
    node.stop_node();
}
