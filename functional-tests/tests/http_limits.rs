//! The HTTP server's limits seen from outside: the connection cap, running
//! out of file descriptors, the inactivity timeout and the clamped queue
//! settings.

#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::time::Duration;

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::json;

fn open_many(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect()
}

#[test]
fn connection_cap_answers_503_and_the_node_keeps_serving() {
    let mut node = TestNode::new(&["-rpcmaxconnections=21"]);
    node.start(&[]);
    node.wait_for_rpc_connection();
    let cookie = node.cookie();
    let mut observer = node.connect();
    let mut wait_for_open = |n: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let m = observer.call(&cookie, "gethttpmetrics", json!([])).unwrap().unwrap();
            if m["open_connections"] == json!(n) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{m}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // connections from the readiness polling are gone
    wait_for_open(1);
    let held = open_many(node.rpc_port, 20);
    // the server has accepted all of them
    wait_for_open(21);
    let mut extra = HttpConn::connect(node.rpc_port).unwrap();
    let resp = extra.read_response().unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("retry-after"), Some("1"));
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(node.rpc("getblockcount", json!([])), json!(0));
    node.stop_node();
}

#[test]
fn running_out_of_file_descriptors_does_not_kill_the_node() {
    // A cap above the descriptor limit: accept() itself starts failing.
    let mut node = TestNode::new(&["-rpcmaxconnections=100000"]);
    node.fd_limit = Some(96);
    node.start(&[]);
    node.wait_for_rpc_connection();
    let held = open_many(node.rpc_port, 300);
    assert_eq!(held.len(), 300, "connections queue in the kernel while descriptors are exhausted");
    std::thread::sleep(Duration::from_millis(300));
    assert!(node.wait_for_exit(Duration::from_millis(10)).is_none(), "the node died");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(node.rpc("getblockcount", json!([])), json!(0), "serves again once descriptors are free");
    node.stop_node();
}

#[test]
fn default_cap_follows_the_descriptor_limit() {
    let mut node = TestNode::new(&[]);
    node.fd_limit = Some(128);
    node.start(&[]);
    node.wait_for_rpc_connection();
    let mut observer = node.connect();
    let cookie = node.cookie();
    let held = open_many(node.rpc_port, 200);
    std::thread::sleep(Duration::from_millis(300));
    let m = observer.call(&cookie, "gethttpmetrics", json!([])).unwrap().unwrap();
    assert!(m["refused_over_capacity"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(observer.call(&cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(Duration::from_secs(5), false);
    drop(held);
}

#[test]
fn rpcservertimeout_closes_idle_connections() {
    let mut node = TestNode::start_new(&["-rpcservertimeout=1"]);
    let mut idle = node.connect();
    assert_eq!(idle.call(&node.cookie(), "getblockcount", json!([])).unwrap(), Ok(json!(0)));
    assert!(idle.is_closed_by_peer(Duration::from_secs(4)), "idle connection still open after the timeout");
    // a request longer than the timeout is not cut off
    let mut slow = node.connect();
    assert_eq!(slow.call(&node.cookie(), "sleep", json!([2000])).unwrap(), Ok(json!(null)));
    node.stop_node();
}

#[test]
fn zero_threads_and_queue_are_clamped_to_one() {
    let mut node = TestNode::start_new(&["-rpcthreads=0", "-rpcworkqueue=0"]);
    assert_eq!(node.rpc("getblockcount", json!([])), json!(0));
    node.stop_node();
}
