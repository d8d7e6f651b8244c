//! The bounded work queue: a flood of slow requests larger than workers plus
//! queue gets every request answered, 200 or 503, and none reset.

#![allow(clippy::unwrap_used)]

use std::thread;

use ferronode_functional_tests::{HttpConn, TestNode};

#[test]
fn flood_beyond_workers_and_queue_is_answered() {
    let mut node = TestNode::start_new(&["-rpcthreads=2", "-rpcworkqueue=2"]);
    let cookie = node.cookie();
    let port = node.rpc_port;
    let mut log_checked = false;
    node.assert_debug_log(&["[warning] Request rejected because http work queue depth exceeded, it can be increased with the -rpcworkqueue= setting"], || {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let cookie = cookie.clone();
                thread::spawn(move || {
                    let mut c = HttpConn::connect(port).unwrap();
                    let body = format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"sleep","params":[500]}}"#);
                    // An I/O error here (reset, EOF) fails the test.
                    c.post_json(&cookie, &body).expect("every request gets a reply")
                })
            })
            .collect();
        let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = replies.iter().filter(|r| r.status == 200).count();
        let busy: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
        assert_eq!(ok + busy.len(), replies.len(), "only 200 and 503 are expected");
        assert!(ok >= 4, "two running plus two queued must succeed, got {ok}");
        assert!(!busy.is_empty(), "sixteen concurrent requests must overflow a queue of two");
        for b in busy {
            assert_eq!(b.text(), "Work queue depth exceeded");
        }
        log_checked = true;
    });
    assert!(log_checked);
    node.stop_node();
}
