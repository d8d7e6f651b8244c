//! P2P benchmark, on 127.0.0.1 only:
//! - block sync: a fresh node syncs N regtest blocks from a node that mined
//!   them (`addnode … onetry`, headers-first, until `getblockcount` = N),
//!   against a baseline in the same run: the same blocks given to another
//!   fresh node by `submitblock` over one keep-alive RPC connection;
//! - memory: the node's RSS with 100 raw TCP peers that did the handshake
//!   (version/verack), against the same node before they connected.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-p2p [blocks]`
//! (default 10,000 blocks). Bounded: every wait gives up after 5 minutes.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bitcoin::consensus::encode;
use bitcoin::p2p::address::Address;
use bitcoin::p2p::message::{NetworkMessage, RawNetworkMessage};
use bitcoin::p2p::message_network::VersionMessage;
use bitcoin::p2p::{Magic, ServiceFlags};
use ferronode_functional_tests::{connect_nodes, wait_until, TestNode};
use serde_json::{json, Value};

const ADDRESS: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";
const LIMIT: Duration = Duration::from_secs(300);

fn frame(msg: NetworkMessage) -> Vec<u8> {
    encode::serialize(&RawNetworkMessage::new(Magic::REGTEST, msg))
}

/// Reads one message's command (and skips its payload).
fn read_command(s: &mut TcpStream) -> String {
    let mut h = [0u8; 24];
    s.read_exact(&mut h).unwrap();
    let len = u32::from_le_bytes([h[16], h[17], h[18], h[19]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8_lossy(&h[4..16]).trim_end_matches('\0').to_owned()
}

/// A raw peer: connects, sends `version`, reads until `verack`, answers
/// `verack`. The socket stays open while the value lives.
fn raw_peer(port: u16, i: u64) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let local: SocketAddr = s.local_addr().unwrap();
    let remote: SocketAddr = s.peer_addr().unwrap();
    let services = ServiceFlags::NETWORK | ServiceFlags::WITNESS;
    let version = VersionMessage {
        version: 70016,
        services,
        timestamp: 1_700_000_000,
        receiver: Address::new(&remote, ServiceFlags::NONE),
        sender: Address::new(&local, services),
        nonce: 0x5eed_0000 + i,
        user_agent: "/bench-p2p:0.1/".into(),
        start_height: 0,
        relay: true,
    };
    s.write_all(&frame(NetworkMessage::Version(version))).unwrap();
    while read_command(&mut s) != "verack" {}
    s.write_all(&frame(NetworkMessage::Verack)).unwrap();
    s
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    println!("bench-p2p: {n} blocks, 127.0.0.1");

    let source = TestNode::start_new(&[]);
    let started = Instant::now();
    let mut left = n;
    while left > 0 {
        let k = left.min(1000);
        source.rpc("generatetoaddress", json!([k, ADDRESS]));
        left -= k;
    }
    println!("mined {n} blocks on the source node in {} s", secs(started.elapsed()));

    // the blocks, read before any timing
    let cookie = source.cookie();
    let mut conn = source.connect();
    let blocks: Vec<Value> = (1..=n)
        .map(|h| {
            let hash = conn.call(&cookie, "getblockhash", json!([h])).unwrap().unwrap();
            conn.call(&cookie, "getblock", json!([hash, 0])).unwrap().unwrap()
        })
        .collect();
    let bytes: usize = blocks.iter().map(|b| b.as_str().unwrap().len() / 2).sum();

    // baseline: submitblock over one RPC connection
    let mut base = TestNode::start_new(&[]);
    let cookie = base.cookie();
    let mut conn = base.connect();
    let started = Instant::now();
    for b in &blocks {
        assert_eq!(conn.call(&cookie, "submitblock", json!([b])).unwrap().unwrap(), Value::Null);
    }
    let baseline = started.elapsed();
    assert_eq!(base.rpc("getblockcount", json!([])), json!(n));
    base.stop_node();

    // P2P: a fresh node syncs from the source
    let mut sync = TestNode::start_new(&[]);
    let started = Instant::now();
    connect_nodes(&sync, &source);
    let cookie = sync.cookie();
    let mut conn = sync.connect();
    wait_until(LIMIT, "the P2P sync completes", || {
        conn.call(&cookie, "getblockcount", json!([])).unwrap().unwrap() == json!(n)
    });
    let p2p = started.elapsed();
    assert_eq!(sync.rpc("getbestblockhash", json!([])), source.rpc("getbestblockhash", json!([])));
    sync.stop_node();

    println!();
    println!("| {n} blocks ({:.1} MB) into a fresh node | time | blocks/s | ratio |", bytes as f64 / 1e6);
    println!("|---|---|---|---|");
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "| `submitblock` over one RPC connection (baseline) | {} s | {:.0} | 1.00 |",
        secs(baseline),
        rate(baseline)
    );
    println!(
        "| P2P sync (`addnode onetry`, headers-first) | {} s | {:.0} | {:.2} |",
        secs(p2p),
        rate(p2p),
        p2p.as_secs_f64() / baseline.as_secs_f64()
    );

    // memory with 100 handshaken raw peers
    let mut mem = TestNode::start_new(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let before = mem.rss_kib();
    let started = Instant::now();
    let peers: Vec<TcpStream> = (0..100).map(|i| raw_peer(mem.p2p_port, i)).collect();
    wait_until(LIMIT, "100 peers", || mem.rpc("getconnectioncount", json!([])) == json!(100));
    let handshakes = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let after = mem.rss_kib();
    println!();
    println!("| RSS, fresh node | no peers | 100 handshaken raw peers | per peer |");
    println!("|---|---|---|---|");
    println!("| KiB | {before} | {after} | {:.1} |", (after.saturating_sub(before)) as f64 / 100.0);
    println!("(100 handshakes in {} s)", secs(handshakes));
    drop(peers);
    wait_until(LIMIT, "the peers are gone", || mem.rpc("getconnectioncount", json!([])) == json!(0));
    mem.stop_node();
    drop(source);
}
