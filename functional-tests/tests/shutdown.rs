//! Stopping: by RPC and by signal, with idle keep-alive connections and with
//! slow requests in flight. The node must deliver every reply in flight, drop
//! idle connections at once and exit 0 with nothing on stderr.

#![allow(clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::json;

const STOP_BOUND: Duration = Duration::from_secs(5);

/// Opens `n` connections that have each completed one request and now sit
/// idle in keep-alive.
fn idle_connections(node: &TestNode, n: usize) -> Vec<HttpConn> {
    let cookie = node.cookie();
    (0..n)
        .map(|_| {
            let mut c = node.connect();
            assert_eq!(c.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
            c
        })
        .collect()
}

/// Waits until `getrpcinfo` lists `method` as running.
fn wait_until_running(node: &TestNode, method: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = node.rpc("getrpcinfo", json!([]));
        let active = info["active_commands"].as_array().unwrap();
        if active.iter().any(|c| c["method"] == method) {
            return;
        }
        assert!(Instant::now() < deadline, "{method} never showed up in getrpcinfo");
        thread::sleep(Duration::from_millis(10));
    }
}

fn assert_all_closed(conns: &mut [HttpConn]) {
    for c in conns {
        assert!(c.is_closed_by_peer(Duration::from_secs(1)), "an idle connection was left open");
    }
}

#[test]
fn stop_rpc_with_100_idle_keepalive_connections() {
    let mut node = TestNode::start_new(&[]);
    let mut idle = idle_connections(&node, 100);
    let start = Instant::now();
    let reply = node.rpc("stop", json!([]));
    assert_eq!(reply, json!("ferronode stopping"));
    node.wait_until_stopped(STOP_BOUND, false);
    assert!(start.elapsed() < STOP_BOUND);
    assert_all_closed(&mut idle);
    assert!(!node.net_dir().join(".cookie").exists(), "the cookie is deleted at stop");
}

#[test]
fn stop_rpc_while_slow_request_in_flight() {
    let mut node = TestNode::start_new(&[]);
    let mut idle = idle_connections(&node, 20);
    let cookie = node.cookie();
    let port = node.rpc_port;
    let slow = thread::spawn(move || {
        let mut c = HttpConn::connect(port).unwrap();
        let resp = c.post_json(&cookie, r#"{"jsonrpc":"2.0","id":"slow","method":"sleep","params":[1500]}"#).unwrap();
        (resp.status, resp.json(), resp.header("connection").map(str::to_owned))
    });
    wait_until_running(&node, "sleep");
    assert_eq!(node.rpc("stop", json!([])), json!("ferronode stopping"));
    let (status, body, connection) = slow.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, json!({"jsonrpc":"2.0","result":null,"id":"slow"}));
    assert_eq!(connection.as_deref(), Some("close"), "replies during shutdown close the connection");
    node.wait_until_stopped(STOP_BOUND, false);
    assert_all_closed(&mut idle);
}

fn sigterm_case(sig: i32, with_slow: bool) {
    let mut node = TestNode::start_new(&[]);
    let mut idle = idle_connections(&node, 100);
    let slow = with_slow.then(|| {
        let cookie = node.cookie();
        let port = node.rpc_port;
        let handle = thread::spawn(move || {
            let mut c = HttpConn::connect(port).unwrap();
            c.call(&cookie, "sleep", json!([1000])).unwrap()
        });
        wait_until_running(&node, "sleep");
        handle
    });
    node.signal(sig);
    if let Some(slow) = slow {
        assert_eq!(slow.join().unwrap(), Ok(json!(null)), "the slow request gets its whole reply");
    }
    node.wait_until_stopped(STOP_BOUND, false);
    assert_all_closed(&mut idle);
}

#[test]
fn sigterm_with_100_idle_keepalive_connections() {
    sigterm_case(libc::SIGTERM, false);
}

#[test]
fn sigterm_while_slow_request_in_flight() {
    sigterm_case(libc::SIGTERM, true);
}

#[test]
fn sigint_while_slow_request_in_flight() {
    sigterm_case(libc::SIGINT, true);
}

#[test]
fn requests_after_interrupt_get_503_and_close() {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let mut early = node.connect();
    assert_eq!(early.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
    // `stop` with its hidden `wait` keeps the node between Interrupt and the
    // end of Shutdown for a second.
    let port = node.rpc_port;
    let cookie2 = cookie.clone();
    let stopper = thread::spawn(move || {
        let mut c = HttpConn::connect(port).unwrap();
        c.call(&cookie2, "stop", json!({"wait": 1000})).unwrap()
    });
    thread::sleep(Duration::from_millis(300));
    let auth = ferronode_functional_tests::http::basic_auth(&cookie);
    let resp = early.request("POST", "/", &[("Authorization", &auth)], br#"{"method":"getblockcount"}"#).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(early.is_closed_by_peer(Duration::from_secs(2)));
    assert_eq!(stopper.join().unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(STOP_BOUND, false);
}

#[test]
fn half_sent_request_does_not_hold_stop() {
    let mut node = TestNode::start_new(&["-rpcservertimeout=600"]);
    let mut half = node.connect();
    half.send_raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le").unwrap();
    let mut silent = node.connect();
    thread::sleep(Duration::from_millis(100));
    node.rpc("stop", json!([]));
    node.wait_until_stopped(STOP_BOUND, false);
    assert!(half.is_closed_by_peer(Duration::from_secs(1)));
    assert!(silent.is_closed_by_peer(Duration::from_secs(1)));
}
