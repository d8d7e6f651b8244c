//! The README's curl example, run as written (with this node's datadir and
//! port substituted): a third-party client speaking bitcoind's JSON-RPC with
//! the cookie; and the ferronode-cli example, run with the built client.

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

#[test]
fn readme_cli_example_works() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let prefix = "cargo run --release --bin ferronode-cli -- ";
    let start = readme.find(prefix).expect("README has the ferronode-cli example") + prefix.len();
    let (command, rest) = readme[start..].split_once('\n').unwrap();
    let expected = rest.lines().next().and_then(|l| l.strip_prefix("# ")).expect("the example shows its output");
    let mut node = TestNode::start_new(&[]);
    let words: Vec<&str> = command.split_whitespace().collect();
    let out = node.cli().run(&words);
    assert_eq!((out.code, out.stdout.trim()), (Some(0), expected), "{out:?}");
    node.stop_node();
}
