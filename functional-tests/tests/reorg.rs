//! Reorganisations through `submitblock`, and Core's abort-node scenario:
//! a reorg that cannot disconnect a block (its undo data is gone) is a
//! fatal error, the node exits with 1 within seconds, and does not start
//! again on the damaged state.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ferronode_functional_tests::TestNode;
use serde_json::{json, Value};

const ADDR_A: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";
const ADDR_B: &str = "bcrt1qjqmxmkpmxt80xz4y3746zgt0q3u3ferr34acd5";

fn raw_blocks(node: &TestNode, heights: std::ops::RangeInclusive<u64>) -> Vec<Value> {
    heights.map(|h| node.rpc("getblock", json!([node.rpc("getblockhash", json!([h])), 0]))).collect()
}

#[test]
fn longer_branch_takes_over() {
    let mut a = TestNode::start_new(&[]);
    let mut b = TestNode::start_new(&[]);
    let a_hashes = a.rpc("generatetoaddress", json!([3, ADDR_A]));
    b.rpc("generatetoaddress", json!([4, ADDR_B]));
    let blocks = raw_blocks(&b, 1..=4);
    for blk in &blocks[..3] {
        assert_eq!(a.rpc("submitblock", json!([blk])), json!("inconclusive"), "a side branch without more work");
    }
    assert_eq!(a.rpc("getbestblockhash", json!([])), a_hashes[2]);
    assert_eq!(a.rpc("submitblock", json!([blocks[3]])), json!(null));
    assert_eq!(a.rpc("getbestblockhash", json!([])), b.rpc("getbestblockhash", json!([])));
    // the coins are B's now: four coinbases, none of A's
    let utxo = a.rpc("gettxoutsetinfo", json!([]));
    assert_eq!(utxo["txouts"], json!(4));
    let a_cb = a.rpc("getblock", json!([a_hashes[0], 1]))["tx"][0].clone();
    assert_eq!(a.rpc("gettxout", json!([a_cb, 0])), json!(null));
    let tips = a.rpc("getchaintips", json!([]));
    assert_eq!(tips[0]["status"], json!("active"));
    assert_eq!(tips[0]["height"], json!(4));
    assert_eq!(tips[1], json!({"height": 3, "hash": a_hashes[2], "branchlen": 3, "status": "valid-fork"}));
    // the old branch's blocks are still there
    assert_eq!(a.rpc("getblock", json!([a_hashes[2]]))["confirmations"], json!(-1));
    // and the switch survives a restart
    a.stop_node();
    a.start(&[]);
    a.wait_for_rpc_connection();
    assert_eq!(a.rpc("getbestblockhash", json!([])), b.rpc("getbestblockhash", json!([])));
    a.stop_node();
    b.stop_node();
}

/// Core's feature_abortnode.py, with blocks carried by submitblock.
#[test]
fn abortnode() {
    let mut node0 = TestNode::start_new(&[]);
    let mut node1 = TestNode::start_new(&[]);
    node0.rpc("generatetoaddress", json!([3, ADDR_A]));
    // deleting the undo data makes disconnecting blocks impossible
    std::fs::remove_file(node0.net_dir().join("blocks/rev00000.dat")).unwrap();
    node1.rpc("generatetoaddress", json!([4, ADDR_B]));
    let blocks = raw_blocks(&node1, 1..=4);
    // an idle keep-alive RPC connection must not hold the abort up
    let cookie = node0.cookie();
    let mut idle = node0.connect();
    assert_eq!(idle.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(3)));
    let started = Instant::now();
    node0.assert_debug_log(&["Failed to disconnect block"], || {
        for blk in &blocks {
            // the last one triggers the reorg; the node may already be going down
            let _ = node0.try_rpc("submitblock", json!([blk]));
        }
    });
    node0.wait_until_stopped(Duration::from_secs(5), true);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        node0.stderr().trim(),
        "Error: A fatal internal error occurred, see debug.log for details: Failed to disconnect block."
    );
    assert!(idle.is_closed_by_peer(Duration::from_secs(1)));
    // the damaged state is refused at the next start
    node0.start(&[]);
    let status = node0.wait_for_exit(Duration::from_secs(60)).expect("the node exits");
    assert_ne!(status.code(), Some(0));
    node1.stop_node();
}

/// Mining the very block that was invalidated (same parent, payee and
/// time) is refused as Core refuses it, and the tip stays where it is.
#[test]
fn mining_an_invalidated_block_again_is_refused() {
    let mut node = TestNode::start_new(&[]);
    let addr = ferronode_functional_tests::op_true::address().to_string();
    let now = 1_800_000_000u64;
    node.rpc("setmocktime", json!([now]));
    let a = node.rpc("generatetoaddress", json!([1, addr]))[0].clone();
    node.rpc("invalidateblock", json!([a]));
    let err = node.try_rpc("generatetoaddress", json!([1, addr])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-32603, "ProcessNewBlock, block not accepted"));
    assert_eq!(node.rpc("getblockcount", json!([])), json!(0));
    // a second later the block differs and is accepted
    node.rpc("setmocktime", json!([now + 1]));
    let b = node.rpc("generatetoaddress", json!([1, addr]))[0].clone();
    assert_ne!(a, b);
    assert_eq!(node.rpc("getbestblockhash", json!([])), b);
    node.stop_node();
}
