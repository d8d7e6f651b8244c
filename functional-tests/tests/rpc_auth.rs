//! Authentication and authorisation: rpcuser/rpcpassword, rpcauth (Core's
//! own test vector), the cookie options, -rpcwhitelist, and rate limiting of
//! failed passwords.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::thread;
use std::time::{Duration, Instant};

use ferronode_functional_tests::http::basic_auth;
use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::json;

/// From Core's test/functional/rpc_users.py.
const RT_AUTH: &str =
    "rt:93648e835a54c573682c2eb19f882535$7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144";
const RT_PASSWORD: &str = "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM=";

fn status(node: &TestNode, user_pass: &str, body: &str) -> (u16, String) {
    let mut c = node.connect();
    let r = c.post_json(user_pass, body).unwrap();
    (r.status, r.text())
}

const GBC: &str = r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount"}"#;

#[test]
fn rpcuser_rpcpassword_and_rpcauth_coexist() {
    let mut node = TestNode::new(&[]);
    node.append_to_config(&format!("rpcauth={RT_AUTH}\nrpcuser=rpcuser💻\nrpcpassword=rpcpassword🔑"));
    node.start(&[]);
    node.wait_for_rpc_with(Some("rt:cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM="));
    assert!(!node.net_dir().join(".cookie").exists(), "no cookie when a password is set");
    for (user, pass) in [("rt", RT_PASSWORD), ("rpcuser💻", "rpcpassword🔑")] {
        assert_eq!(status(&node, &format!("{user}:{pass}"), GBC).0, 200, "{user}");
        assert_eq!(status(&node, &format!("{user}:{pass}wrong"), GBC).0, 401);
        assert_eq!(status(&node, &format!("{user}wrong:{pass}"), GBC).0, 401);
    }
    assert!(node.debug_log().contains("[warning] The use of rpcuser/rpcpassword is less secure"));
    let mut c = node.connect();
    assert_eq!(c.call(&format!("rt:{RT_PASSWORD}"), "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(Duration::from_secs(5), false);
}

#[test]
fn cookie_options() {
    let mut node = TestNode::new(&[]);
    // a relative path resolves against the network directory
    node.start(&["-rpccookiefile=custom.cookie", "-rpccookieperms=group"]);
    let path = node.net_dir().join("custom.cookie");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "custom cookie never written");
        thread::sleep(Duration::from_millis(20));
    }
    let cookie = std::fs::read_to_string(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    node.wait_for_rpc_with(Some(&cookie));
    let mut c = node.connect();
    assert_eq!(c.call(&cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(Duration::from_secs(5), false);
    assert!(!path.exists(), "deleted at stop");

    // an absolute path, readable by all
    let abs = node.datadir.path().join("abs.cookie");
    node.start(&[&format!("-rpccookiefile={}", abs.display()), "-rpccookieperms=all"]);
    while !abs.exists() {
        assert!(Instant::now() < deadline + Duration::from_secs(10), "absolute cookie never written");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::metadata(&abs).unwrap().permissions().mode() & 0o777, 0o644);
    let cookie = std::fs::read_to_string(&abs).unwrap();
    node.wait_for_rpc_with(Some(&cookie));
    let mut c = node.connect();
    assert_eq!(c.call(&cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(Duration::from_secs(5), false);

    // -norpccookiefile: no cookie; rpcauth still works
    node.start(&["-norpccookiefile", &format!("-rpcauth={RT_AUTH}")]);
    node.wait_for_rpc_with(Some(&format!("rt:{RT_PASSWORD}")));
    assert!(!node.net_dir().join(".cookie").exists());
    assert!(node.debug_log().contains("RPC authentication cookie file generation is disabled."));
    let mut c = node.connect();
    assert_eq!(c.call(&format!("rt:{RT_PASSWORD}"), "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    node.wait_until_stopped(Duration::from_secs(5), false);

    // bad values fail init as in Core: the generic message on stderr, the detail in the log
    let generic = "Error: Unable to start HTTP server. See debug log for details.";
    node.assert_start_raises_init_error(&["-rpccookieperms=nobody"], generic);
    assert!(node.debug_log().contains("Invalid -rpccookieperms=nobody; must be one of 'owner', 'group', or 'all'."));
    node.assert_start_raises_init_error(&["-rpcauth=foo"], generic);
    assert!(node.debug_log().contains("Invalid -rpcauth argument."));
}

#[test]
fn whitelist() {
    let mut node = TestNode::new(&[]);
    node.append_to_config(&format!(
        "rpcauth={RT_AUTH}\nrpcuser=bob\nrpcpassword=pw\nrpcwhitelist=rt:getblockcount,help stop\nrpcwhitelist=rt:getblockcount help"
    ));
    node.start(&[]);
    node.wait_for_rpc_with(Some("rt:cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM="));
    let rt = format!("rt:{RT_PASSWORD}");
    assert_eq!(status(&node, &rt, GBC).0, 200);
    node.assert_debug_log(&["[warning] RPC User rt not allowed to call method stop"], || {
        // stop was dropped by the intersection of rt's two lists
        assert_eq!(status(&node, &rt, r#"{"method":"stop"}"#), (403, String::new()));
    });
    node.assert_debug_log(&["[warning] RPC User bob not allowed to call any methods"], || {
        assert_eq!(status(&node, "bob:pw", GBC).0, 403);
    });
    // JSON is parsed before the whitelist is consulted
    assert_eq!(status(&node, "bob:pw", "{nope").0, 500);
    // batches: every element is checked before any runs
    assert_eq!(status(&node, &rt, r#"[{"method":"getblockcount"},{"method":"uptime"}]"#).0, 403);
    assert_eq!(
        status(&node, &rt, r#"[{"method":"getblockcount"},5]"#),
        (
            400,
            "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request object\"},\"id\":null}\n".into()
        )
    );
    assert_eq!(
        status(&node, &rt, r#"[{"id":1}]"#),
        (500, "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"JSON value of type null is not of expected type string\"},\"id\":null}\n".into())
    );
    assert_eq!(status(&node, &rt, r#"[{"method":"getblockcount","id":1},{"method":"help","id":2}]"#).0, 200);
    node.kill();

    // -rpcwhitelistdefault=0: users without a list may call anything
    node.start(&["-rpcwhitelistdefault=0"]);
    node.wait_for_rpc_with(Some("bob:pw"));
    assert_eq!(status(&node, "bob:pw", r#"{"method":"uptime"}"#).0, 200);
    assert_eq!(status(&node, &rt, r#"{"method":"uptime"}"#).0, 403);
    node.kill();
}

#[test]
fn repeated_failures_are_rate_limited_per_address() {
    let mut node = TestNode::start_new(&[]);
    let port = node.rpc_port;
    let bad: Vec<_> = (0..16)
        .map(|_| {
            thread::spawn(move || {
                let mut c = HttpConn::connect(port).unwrap();
                let started = Instant::now();
                let r = c
                    .request("POST", "/", &[("Authorization", &basic_auth("__cookie__:bad"))], GBC.as_bytes())
                    .unwrap();
                (r.status, started.elapsed(), r.header("connection").map(str::to_owned))
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    // correct credentials from the same address are not slowed down
    let started = Instant::now();
    assert_eq!(status(&node, &node.cookie(), GBC).0, 200);
    assert!(started.elapsed() < Duration::from_millis(250));
    let results: Vec<_> = bad.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|(s, _, _)| *s == 401));
    let penalised =
        results.iter().filter(|(_, t, c)| *t >= Duration::from_secs(1) && c.as_deref() == Some("close")).count();
    assert_eq!(penalised, 6, "failures beyond ten in the window wait a second and are disconnected: {results:?}");
    assert!(node.debug_log().contains("Rate-limiting failed RPC authentication from 127.0.0.1"));
    node.stop_node();
}
