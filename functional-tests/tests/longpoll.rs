//! Long polls: `waitfornewblock`, `waitforblock`, `waitforblockheight`
//! return on a new tip, on timeout, and at shutdown with the current tip
//! (Core's feature_shutdown.py).

#![allow(clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::{json, Value};

const ADDR: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";

fn call_in_thread(node: &TestNode, method: &'static str, params: Value) -> thread::JoinHandle<Value> {
    let cookie = node.cookie();
    let port = node.rpc_port;
    thread::spawn(move || {
        let mut c = HttpConn::connect(port).unwrap();
        c.call(&cookie, method, params).unwrap().unwrap()
    })
}

fn wait_active(node: &TestNode, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.rpc("getrpcinfo", json!([]))["active_commands"].as_array().unwrap().len() < n {
        assert!(Instant::now() < deadline, "long polls never started");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn feature_shutdown() {
    let mut node = TestNode::start_new(&["-rpcthreads=4"]);
    let a = call_in_thread(&node, "waitfornewblock", json!([]));
    let b = call_in_thread(&node, "waitforblockheight", json!([1]));
    wait_active(&node, 3); // both long polls and getrpcinfo itself
    let started = Instant::now();
    assert_eq!(node.rpc("stop", json!({"wait": 1000})), json!("ferronode stopping"));
    assert_eq!(a.join().unwrap()["height"], json!(0));
    assert_eq!(b.join().unwrap()["height"], json!(0));
    assert!(started.elapsed() < Duration::from_secs(10));
    node.wait_until_stopped(Duration::from_secs(60), false);
}

#[test]
fn long_polls_return_on_new_tips_and_timeouts() {
    let mut node = TestNode::start_new(&[]);
    let genesis = node.rpc("getbestblockhash", json!([]));
    let new_block = call_in_thread(&node, "waitfornewblock", json!([]));
    let height2 = call_in_thread(&node, "waitforblockheight", json!([2]));
    wait_active(&node, 3);
    let mined = node.rpc("generatetoaddress", json!([1, ADDR]));
    let got = new_block.join().unwrap();
    assert_eq!(got, json!({"hash": mined[0], "height": 1}));
    let specific = call_in_thread(&node, "waitforblock", json!([node.rpc("getbestblockhash", json!([]))]));
    assert_eq!(specific.join().unwrap()["height"], json!(1), "already the tip: returns at once");
    let mined2 = node.rpc("generatetoaddress", json!([1, ADDR]));
    assert_eq!(height2.join().unwrap(), json!({"hash": mined2[0], "height": 2}));
    // a timeout returns the current tip
    let started = Instant::now();
    let r = node.rpc("waitfornewblock", json!([200]));
    assert_eq!(r["height"], json!(2));
    assert!(started.elapsed() >= Duration::from_millis(200));
    // an old current_tip returns at once
    assert_eq!(node.rpc("waitfornewblock", json!([0, genesis]))["height"], json!(2));
    let err = node.try_rpc("waitfornewblock", json!([-1])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-1, "Negative timeout"));
    node.stop_node();
}
