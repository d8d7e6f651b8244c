//! Authentication with the cookie: 401 with the challenge header, the delay
//! after a wrong password (without occupying a worker), and the cookie file.

#![allow(clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};

use ferronode_functional_tests::http::basic_auth;
use ferronode_functional_tests::{HttpConn, TestNode};

const BODY: &[u8] = br#"{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}"#;

#[test]
fn missing_wrong_and_right_credentials() {
    let mut node = TestNode::start_new(&[]);
    let mut c = node.connect();
    let resp = c.request("POST", "/", &[], BODY).unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("www-authenticate"), Some("Basic realm=\"jsonrpc\""));
    assert!(resp.body.is_empty());

    let wrong = basic_auth("__cookie__:0000");
    let started = Instant::now();
    let resp = c.request("POST", "/", &[("Authorization", &wrong)], BODY).unwrap();
    assert_eq!(resp.status, 401);
    assert!(started.elapsed() >= Duration::from_millis(250), "the failure is delayed");
    assert_eq!(resp.header("www-authenticate"), Some("Basic realm=\"jsonrpc\""));

    let right = basic_auth(&node.cookie());
    let resp = c.request("POST", "/", &[("Authorization", &right)], BODY).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.text(), "{\"result\":0,\"error\":null,\"id\":1}\n");
    node.stop_node();
}

#[test]
fn wrong_password_is_logged() {
    let mut node = TestNode::start_new(&[]);
    node.assert_debug_log(&["[warning] ThreadRPCServer incorrect password attempt from 127.0.0.1:"], || {
        let mut c = node.connect();
        let resp = c.request("POST", "/", &[("Authorization", &basic_auth("x:y"))], BODY).unwrap();
        assert_eq!(resp.status, 401);
    });
    node.stop_node();
}

#[test]
fn failed_passwords_do_not_occupy_workers() {
    // One worker and one queue slot: if the 250 ms delay held a worker, ten
    // concurrent bad passwords would leave the good request a 503.
    let mut node = TestNode::start_new(&["-rpcthreads=1", "-rpcworkqueue=1"]);
    let port = node.rpc_port;
    let bad: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || {
                let mut c = HttpConn::connect(port).unwrap();
                c.request("POST", "/", &[("Authorization", &basic_auth("__cookie__:bad"))], BODY).unwrap().status
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    let mut good = node.connect();
    let started = Instant::now();
    let resp = good.post_json(&node.cookie(), std::str::from_utf8(BODY).unwrap()).unwrap();
    assert_eq!(resp.status, 200);
    assert!(started.elapsed() < Duration::from_millis(250), "the good request did not wait for the bad ones");
    for b in bad {
        assert_eq!(b.join().unwrap(), 401);
    }
    node.stop_node();
}

#[test]
fn cookie_file_format_mode_and_removal() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut node = TestNode::start_new(&[]);
    let path = node.net_dir().join(".cookie");
    let content = std::fs::read_to_string(&path).unwrap();
    let (user, secret) = content.split_once(':').unwrap();
    assert_eq!(user, "__cookie__");
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!node.net_dir().join(".cookie.tmp").exists());
    node.stop_node();
    assert!(!path.exists());
}

#[test]
fn non_post_gets_405_before_auth() {
    let mut node = TestNode::start_new(&[]);
    let mut c = node.connect();
    let resp = c.request("GET", "/", &[], b"").unwrap();
    assert_eq!(resp.status, 405);
    assert_eq!(resp.text(), "JSONRPC server handles only POST requests");
    let resp = c.request("POST", "/nothing-here", &[], b"").unwrap();
    assert_eq!(resp.status, 404);
    node.stop_node();
}
