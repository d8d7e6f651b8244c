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
    assert!(help.starts_with("== Blockchain ==\ngetblockcount\n\n== Control ==\n"), "{help}");
    assert!(help.contains("\nstop\n") && help.contains("help ( \"command\" )"));
    assert!(!help.contains("sleep"), "hidden commands stay out of the listing");
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
