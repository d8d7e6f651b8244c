//! `-rpcallowip` end to end: a client in a network namespace that this test
//! creates (a veth pair with its own private addresses, removed afterwards)
//! reaches the node only when its network is allowed; otherwise the
//! connection is closed at accept, with no reply, as in Core master.
//!
//! Needs root and iproute2 (`ip netns`), which CI has. No traffic leaves the
//! veth pair.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use ferronode_functional_tests::TestNode;

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("iproute2 is installed")
}

fn must(args: &[&str]) {
    let out = ip(args);
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A namespace with one veth link to the host: host side `.1`, namespace
/// side `.2`, in a /30 of 10.213.0.0/16 chosen from the process id.
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
    ns_ip: String,
}

impl Netns {
    fn create() -> Self {
        let id = std::process::id() % 16000;
        let (a, b) = (id / 64, (id % 64) * 4);
        let ns = Self {
            name: format!("fnode{id}"),
            host_if: format!("fnh{id}"),
            host_ip: format!("10.213.{a}.{}", b + 1),
            ns_ip: format!("10.213.{a}.{}", b + 2),
        };
        let ns_if = format!("fnn{id}");
        ns.cleanup();
        must(&["netns", "add", &ns.name]);
        must(&["link", "add", &ns.host_if, "type", "veth", "peer", "name", &ns_if]);
        must(&["link", "set", &ns_if, "netns", &ns.name]);
        must(&["addr", "add", &format!("{}/30", ns.host_ip), "dev", &ns.host_if]);
        must(&["link", "set", &ns.host_if, "up"]);
        must(&["-n", &ns.name, "addr", "add", &format!("{}/30", ns.ns_ip), "dev", &ns_if]);
        must(&["-n", &ns.name, "link", "set", &ns_if, "up"]);
        must(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    fn cleanup(&self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }

    /// `getblockcount` from inside the namespace; returns the HTTP status
    /// ("000" when the connection was closed without a reply).
    fn call(&self, node: &TestNode) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .args(["--user", &node.cookie(), "--data-binary", r#"{"method":"getblockcount","id":1}"#])
            .arg(format!("http://{}:{}/", self.host_ip, node.rpc_port))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn start(ns: &Netns, allow: &str) -> TestNode {
    let bind = format!("-rpcbind={}", ns.host_ip);
    let allow = format!("-rpcallowip={allow}");
    TestNode::start_new(&["-debug=http", "-rpcbind=127.0.0.1", &bind, &allow])
}

#[test]
fn allowed_and_refused_networks_from_a_namespace() {
    let ns = Netns::create();

    for allowed in
        [ns.ns_ip.clone(), format!("{}/30", ns.host_ip), format!("{}/255.255.255.252", ns.host_ip), "0.0.0.0/0".into()]
    {
        let mut node = start(&ns, &allowed);
        assert_eq!(ns.call(&node), "200", "allowed by -rpcallowip={allowed}");
        node.stop_node();
    }

    let mut node = start(&ns, "10.99.0.0/16");
    node.assert_debug_log(
        &[&format!("Connection from {}:", ns.ns_ip), "rejected: Client network is not allowed HTTP access"],
        || {
            assert_eq!(ns.call(&node), "000", "closed at accept, no reply");
        },
    );
    // loopback is always allowed
    assert_eq!(node.rpc("getblockcount", serde_json::json!([])), serde_json::json!(0));
    node.stop_node();
}
