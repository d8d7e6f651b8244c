//! The README's curl example, run as written (with this node's datadir and
//! port substituted): a third-party client speaking bitcoind's JSON-RPC with
//! the cookie.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use ferronode_functional_tests::TestNode;

#[test]
fn readme_curl_example_works() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("curl --user").expect("README has the curl example");
    let block = &readme[start..readme[start..].find("\n```").map(|e| start + e).unwrap()];
    let (command, expected) = block.split_once("\n# ").expect("the example shows its output");
    let mut node = TestNode::start_new(&[]);
    let command = command
        .replace("~/.ferronode", &node.datadir.path().display().to_string())
        .replace("18443", &node.rpc_port.to_string());
    let out = Command::new("sh").arg("-c").arg(&command).output().expect("sh and curl are installed");
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected.trim());
    node.stop_node();
}
