//! Our wire bytes checked by an independent implementation: a Python
//! script using python-bitcoinlib's message classes connects to ferronoded,
//! does the handshake, pings, asks for headers from genesis and for the tip
//! block, and checks every answer (`tests/interop/p2p_python.py`); then a
//! block mined by RPC must be announced to it by `inv` (it never sent
//! `sendheaders`) and served without witnesses for `MSG_BLOCK`.
//!
//! Locally the test is skipped, with a message, when python3 or the
//! `bitcoin` module is missing; in CI (`CI=true`) it must run, and
//! `.ci/run` installs python-bitcoinlib.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use ferronode_functional_tests::TestNode;
use serde_json::json;

fn python_bitcoinlib_available() -> bool {
    Command::new("python3").args(["-c", "import bitcoin.messages"]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn python_bitcoinlib_handshake_headers_and_block() {
    if !python_bitcoinlib_available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but python3 with python-bitcoinlib is missing (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED interop_python: python3 with python-bitcoinlib is not installed (pip install python-bitcoinlib)"
        );
        return;
    }
    let mut node = TestNode::start_new(&[]);
    let addr = ferronode_functional_tests::op_true::address().to_string();
    let hashes = node.rpc("generatetoaddress", json!([25, addr]));
    let tip = hashes[24].as_str().unwrap().to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/p2p_python.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(node.p2p_port.to_string())
        .arg(&tip)
        .arg("25")
        .arg(node.rpc_port.to_string())
        .arg(node.cookie())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the node saw a complete peer and is still fine
    assert_eq!(node.rpc("getblockcount", json!([])), json!(26));
    // the block has a witness (the coinbase's reserved value), so the
    // script's "no witness in a MSG_BLOCK reply" check means something
    let best = node.rpc("getbestblockhash", json!([]));
    let coinbase = &node.rpc("getblock", json!([best, 2]))["tx"][0];
    assert!(coinbase["vin"][0]["txinwitness"].is_array(), "{coinbase}");
    node.stop_node();
}
