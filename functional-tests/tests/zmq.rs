//! ZMQ as clients see it: a third-party subscriber (the `bitcoincore-zmq`
//! crate, which parses and checks every frame) connected to the node's
//! `-zmqpub…` sockets, as Core's `interface_zmq.py` does with pyzmq.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::{Amount, BlockHash, OutPoint, Transaction, TxOut, Txid};
use bitcoincore_zmq::{Message, SequenceMessage};
use ferronode_functional_tests::{free_port, op_true, TestNode};
use serde_json::{json, Value};

const COIN: u64 = 100_000_000;

fn tcp() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// A subscriber to every topic of one or more addresses.
struct Sub {
    rx: Receiver<Result<Message, bitcoincore_zmq::Error>>,
}

impl Sub {
    fn new(addresses: &[&str]) -> Self {
        Self { rx: bitcoincore_zmq::subscribe_receiver(addresses).expect("subscribing") }
    }

    fn recv(&self) -> Message {
        self.try_recv(Duration::from_secs(10)).expect("a ZMQ message within 10 s")
    }

    fn try_recv(&self, wait: Duration) -> Option<Message> {
        match self.rx.recv_timeout(wait) {
            Ok(m) => Some(m.expect("a well-formed message")),
            Err(_) => None,
        }
    }

    /// Nothing more arrives within `wait`.
    fn assert_quiet(&self, wait: Duration) {
        if let Some(m) = self.try_recv(wait) {
            panic!("unexpected message {m:?}");
        }
    }

    /// Mines blocks until the subscriber hears of one (ZMQ's slow joiner:
    /// the subscription needs a moment to reach the node), then drains.
    fn handshake(&self, node: &TestNode) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "the subscriber never heard from the node");
            generate(node, 1);
            if self.try_recv(Duration::from_millis(300)).is_some() {
                break;
            }
        }
        while self.try_recv(Duration::from_millis(300)).is_some() {}
    }
}

fn generate(node: &TestNode, n: u64) -> Vec<BlockHash> {
    let hashes = node.rpc("generatetoaddress", json!([n, op_true::address().to_string()]));
    hashes.as_array().unwrap().iter().map(|h| BlockHash::from_str(h.as_str().unwrap()).unwrap()).collect()
}

fn block_txids(node: &TestNode, hash: &BlockHash) -> Vec<Txid> {
    node.rpc("getblock", json!([hash.to_string(), 1]))["tx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Txid::from_str(t.as_str().unwrap()).unwrap())
        .collect()
}

fn coinbase(node: &TestNode, height: u64) -> OutPoint {
    let hash = BlockHash::from_str(node.rpc("getblockhash", json!([height])).as_str().unwrap()).unwrap();
    OutPoint { txid: block_txids(node, &hash)[0], vout: 0 }
}

fn send(node: &TestNode, tx: &Transaction) -> Txid {
    Txid::from_str(node.rpc("sendrawtransaction", json!([serialize_hex(tx)])).as_str().unwrap()).unwrap()
}

fn pay(prev: OutPoint, fee: u64) -> Transaction {
    op_true::spend(
        prev,
        vec![TxOut { value: Amount::from_sat(50 * COIN - fee), script_pubkey: op_true::address().script_pubkey() }],
    )
}

fn mempool_sequence(node: &TestNode) -> u64 {
    node.rpc("getrawmempool", json!([false, true]))["mempool_sequence"].as_u64().unwrap()
}

fn zmq_stats(node: &TestNode) -> Value {
    node.rpc("getzmqstats", json!([]))
}

#[test]
fn block_topics_in_cores_order_with_consecutive_sequences() {
    let a = tcp();
    let args: Vec<String> = ["hashblock", "hashtx", "rawblock", "rawtx", "sequence"]
        .iter()
        .map(|t| format!("-zmqpub{t}={a}"))
        .chain(["-zmqpubrawtxhwm=500".to_owned()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut node = TestNode::start_new(&args);
    assert_eq!(
        node.rpc("getzmqnotifications", json!([])),
        json!([
            {"type": "pubhashblock", "address": a, "hwm": 1000},
            {"type": "pubhashtx", "address": a, "hwm": 1000},
            {"type": "pubrawblock", "address": a, "hwm": 1000},
            {"type": "pubrawtx", "address": a, "hwm": 500},
            {"type": "pubsequence", "address": a, "hwm": 1000},
        ])
    );
    // a fresh chain: the genesis connection used sequence 0 of the
    // transaction and sequence topics, not of the block-tip ones
    let next: Vec<u64> =
        zmq_stats(&node).as_array().unwrap().iter().map(|s| s["next_sequence"].as_u64().unwrap()).collect();
    assert_eq!(next, [0, 1, 0, 1, 1]);

    let sub = Sub::new(&[&a]);
    sub.handshake(&node);
    let stats = zmq_stats(&node);
    let seq = |i: usize| u32::try_from(stats[i]["next_sequence"].as_u64().unwrap()).unwrap();
    let (mut hb, mut ht, mut rb, mut rt, mut sq) = (seq(0), seq(1), seq(2), seq(3), seq(4));

    for hash in generate(&node, 3) {
        let txids = block_txids(&node, &hash);
        let block_hex = node.rpc("getblock", json!([hash.to_string(), 0]));
        for txid in &txids {
            match sub.recv() {
                Message::HashTx(t, s) => assert_eq!((t, s), (*txid, ht)),
                m => panic!("expected hashtx, got {m:?}"),
            }
            match sub.recv() {
                Message::Tx(t, s) => {
                    assert_eq!((t.compute_txid(), s), (*txid, rt));
                    assert!(!t.input[0].witness.is_empty(), "raw transactions carry their witness");
                }
                m => panic!("expected rawtx, got {m:?}"),
            }
            ht += 1;
            rt += 1;
        }
        match sub.recv() {
            Message::Sequence(SequenceMessage::BlockConnect { blockhash }, s) => assert_eq!((blockhash, s), (hash, sq)),
            m => panic!("expected sequence C, got {m:?}"),
        }
        match sub.recv() {
            Message::HashBlock(h, s) => assert_eq!((h, s), (hash, hb)),
            m => panic!("expected hashblock, got {m:?}"),
        }
        match sub.recv() {
            Message::Block(b, s) => {
                assert_eq!((b.block_hash(), s), (hash, rb));
                assert_eq!(bitcoin::consensus::encode::serialize_hex(&b), block_hex.as_str().unwrap());
            }
            m => panic!("expected rawblock, got {m:?}"),
        }
        (hb, rb, sq) = (hb + 1, rb + 1, sq + 1);
    }
    sub.assert_quiet(Duration::from_millis(300));
    let stats = zmq_stats(&node);
    assert_eq!(stats[4]["next_sequence"], json!(sq));
    assert_eq!(stats[4]["dropped_hwm"], json!(0));

    // syncwithvalidationinterfacequeue returns once ZMQ has sent everything
    // that happened before it: the counters have moved by then, no waiting
    generate(&node, 1);
    node.rpc("syncwithvalidationinterfacequeue", json!([]));
    let stats = zmq_stats(&node);
    assert_eq!(stats[4]["next_sequence"], json!(sq + 1));
    assert_eq!(stats[0]["next_sequence"], json!(hb + 1));

    // shutdown with a subscriber still connected is prompt
    let started = Instant::now();
    node.stop_node();
    assert!(started.elapsed() < Duration::from_secs(5));

    // a restart does not connect genesis again: every counter starts at 0
    node.start(&[]);
    node.wait_for_rpc_connection();
    let next: Vec<u64> =
        zmq_stats(&node).as_array().unwrap().iter().map(|s| s["next_sequence"].as_u64().unwrap()).collect();
    assert_eq!(next, [0, 0, 0, 0, 0]);
    node.stop_node();
}

#[test]
fn mempool_sequence_replacements_and_conflicts() {
    let a = tcp();
    let mut node = TestNode::start_new(&[&format!("-zmqpubhashtx={a}"), &format!("-zmqpubsequence={a}")]);
    generate(&node, 110);
    let sub = Sub::new(&[&a]);
    sub.handshake(&node);
    let expect_hashtx = |txid: Txid| match sub.recv() {
        Message::HashTx(t, _) => assert_eq!(t, txid),
        m => panic!("expected hashtx {txid}, got {m:?}"),
    };
    let expect_seq = |want: SequenceMessage| match sub.recv() {
        Message::Sequence(m, _) => assert_eq!(m, want),
        m => panic!("expected {want:?}, got {m:?}"),
    };

    // accepted: hashtx, then A with the mempool sequence RPC shows
    let tx1 = pay(coinbase(&node, 1), 10_000);
    let txid1 = send(&node, &tx1);
    expect_hashtx(txid1);
    let ms = mempool_sequence(&node);
    expect_seq(SequenceMessage::MempoolAcceptance { txid: txid1, mempool_sequence: ms });

    // replaced (full RBF): R for the old one, then the new one's hashtx and A
    let tx1b = pay(coinbase(&node, 1), 50_000);
    let txid1b = send(&node, &tx1b);
    expect_seq(SequenceMessage::MempoolRemoval { txid: txid1, mempool_sequence: ms + 1 });
    expect_hashtx(txid1b);
    expect_seq(SequenceMessage::MempoolAcceptance { txid: txid1b, mempool_sequence: ms + 2 });

    // mined: no R, but the mempool sequence moves on
    let tx2 = pay(coinbase(&node, 2), 10_000);
    let txid2 = send(&node, &tx2);
    expect_hashtx(txid2);
    expect_seq(SequenceMessage::MempoolAcceptance { txid: txid2, mempool_sequence: ms + 3 });
    let mined = generate(&node, 1)[0];
    for txid in block_txids(&node, &mined) {
        expect_hashtx(txid);
    }
    expect_seq(SequenceMessage::BlockConnect { blockhash: mined });
    assert_eq!(mempool_sequence(&node), ms + 5, "two transactions left for the block");

    // a block conflicting with a pool transaction: R before the block's C
    let tx3 = pay(coinbase(&node, 3), 10_000);
    let txid3 = send(&node, &tx3);
    expect_hashtx(txid3);
    expect_seq(SequenceMessage::MempoolAcceptance { txid: txid3, mempool_sequence: ms + 6 });
    let rival = pay(coinbase(&node, 3), 20_000);
    let block = node.rpc("generateblock", json!([op_true::address().to_string(), [serialize_hex(&rival)]]));
    let block = BlockHash::from_str(block["hash"].as_str().unwrap()).unwrap();
    expect_seq(SequenceMessage::MempoolRemoval { txid: txid3, mempool_sequence: ms + 7 });
    for txid in block_txids(&node, &block) {
        expect_hashtx(txid);
    }
    expect_seq(SequenceMessage::BlockConnect { blockhash: block });

    // invalidateblock: the block's transactions and D, the rival back in
    // the pool (A), and no hashblock
    node.rpc("invalidateblock", json!([block.to_string()]));
    let txids = block_txids(&node, &block);
    for txid in &txids {
        expect_hashtx(*txid);
    }
    expect_seq(SequenceMessage::BlockDisconnect { blockhash: block });
    expect_hashtx(rival.compute_txid());
    expect_seq(SequenceMessage::MempoolAcceptance {
        txid: rival.compute_txid(),
        mempool_sequence: mempool_sequence(&node),
    });
    sub.assert_quiet(Duration::from_millis(300));
    node.stop_node();
}

#[test]
fn a_reorg_announces_only_the_new_tip() {
    let a = tcp();
    let mut node = TestNode::start_new(&[&format!("-zmqpubhashblock={a}"), &format!("-zmqpubsequence={a}")]);
    let sub = Sub::new(&[&a]);
    sub.handshake(&node);
    let fork = generate(&node, 1)[0];
    let branch_a = generate(&node, 3);
    node.rpc("invalidateblock", json!([branch_a[0].to_string()]));
    // paid elsewhere, so that B's blocks differ from A's
    let other = bitcoin::Address::p2wsh(&bitcoin::ScriptBuf::from_bytes(vec![0x52]), bitcoin::KnownHrp::Regtest);
    let branch_b: Vec<BlockHash> = node
        .rpc("generatetoaddress", json!([4, other.to_string()]))
        .as_array()
        .unwrap()
        .iter()
        .map(|h| BlockHash::from_str(h.as_str().unwrap()).unwrap())
        .collect();
    node.rpc("reconsiderblock", json!([branch_a[0].to_string()]));
    while sub.try_recv(Duration::from_millis(300)).is_some() {}
    // invalidating B's first block: B disconnected (D, tip first), A
    // connected (C in order), and hashblock for A's tip only
    node.rpc("invalidateblock", json!([branch_b[0].to_string()]));
    let mut got = Vec::new();
    while let Some(m) = sub.try_recv(Duration::from_millis(500)) {
        got.push(match m {
            Message::Sequence(SequenceMessage::BlockDisconnect { blockhash }, _) => format!("D {blockhash}"),
            Message::Sequence(SequenceMessage::BlockConnect { blockhash }, _) => format!("C {blockhash}"),
            Message::HashBlock(h, _) => format!("hashblock {h}"),
            m => panic!("unexpected {m:?}"),
        });
    }
    let mut want: Vec<String> = branch_b.iter().rev().map(|h| format!("D {h}")).collect();
    want.extend(branch_a.iter().map(|h| format!("C {h}")));
    want.push(format!("hashblock {}", branch_a[2]));
    assert_eq!(got, want);
    assert_eq!(node.rpc("getbestblockhash", json!([])), json!(branch_a[2].to_string()));
    let _ = fork;
    node.stop_node();
}

#[test]
fn addresses_init_checks_and_failures() {
    // unix: is rewritten to ipc://; topics on one address share a socket
    let dir = std::env::temp_dir().join(format!("fn-zmq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("z.sock");
    let unix = format!("unix:{}", path.display());
    let ipc = format!("ipc://{}", path.display());
    let mut node = TestNode::start_new(&[&format!("-zmqpubhashblock={unix}"), &format!("-zmqpubrawtx={unix}")]);
    assert_eq!(
        node.rpc("getzmqnotifications", json!([])),
        json!([{"type": "pubhashblock", "address": ipc, "hwm": 1000}, {"type": "pubrawtx", "address": ipc, "hwm": 1000}])
    );
    let sub = Sub::new(&[&ipc]);
    sub.handshake(&node);
    let tip = generate(&node, 1)[0];
    let block: bitcoin::Block =
        deserialize(&hex_bytes(node.rpc("getblock", json!([tip.to_string(), 0])).as_str().unwrap())).unwrap();
    let coinbase_tx = block.txdata[0].clone();
    match sub.recv() {
        Message::Tx(t, _) => assert_eq!(t, coinbase_tx),
        m => panic!("expected rawtx, got {m:?}"),
    }
    match sub.recv() {
        Message::HashBlock(h, _) => assert_eq!(h, tip),
        m => panic!("expected hashblock, got {m:?}"),
    }
    node.stop_node();
    let _ = std::fs::remove_dir_all(&dir);

    // Core's start-up check: a bad port after a single colon is an error
    let mut bad = TestNode::new(&[]);
    bad.assert_start_raises_init_error(
        &["-zmqpubhashtx=ipc:///tmp/x"],
        "Error: Invalid port specified in -zmqpubhashtx: 'ipc:///tmp/x'",
    );
    bad.assert_start_raises_init_error(
        &["-zmqpubsequence=127.0.0.1:notaport"],
        "Error: Invalid port specified in -zmqpubsequence: '127.0.0.1:notaport'",
    );

    // an address that cannot be bound disables ZMQ, and the node runs on
    let mut node = TestNode::start_new(&["-zmqpubrawtx=foo", "-zmqpubhashtx=bar", "-debug=zmq"]);
    assert_eq!(node.rpc("getzmqnotifications", json!([])), json!([]));
    assert_eq!(node.rpc("getzmqstats", json!([])), json!([]));
    assert!(node.debug_log().contains("Notifier pubhashtx failed (address = bar)"), "{}", node.debug_log());
    generate(&node, 1);
    node.stop_node();

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("tcp://127.0.0.1:{}", taken.local_addr().unwrap().port());
    let good = tcp();
    let mut node = TestNode::start_new(&[&format!("-zmqpubhashblock={good}"), &format!("-zmqpubhashtx={busy}")]);
    assert_eq!(node.rpc("getzmqnotifications", json!([])), json!([]));
    node.stop_node();
}

#[test]
fn ipv6_addresses_are_bracketed() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let a = format!("tcp://[::1]:{}", free_port());
    let mut node = TestNode::start_new(&[&format!("-zmqpubhashblock={a}")]);
    // bitcoincore-zmq does not turn ZMQ_IPV6 on, so subscribe by hand (as
    // Core's test does with pyzmq) and let the crate parse the frames
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::SUB).unwrap();
    socket.set_ipv6(true).unwrap();
    socket.set_rcvtimeo(300).unwrap();
    socket.connect(&a).unwrap();
    socket.set_subscribe(b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let tip = loop {
        assert!(Instant::now() < deadline, "no notification over IPv6");
        let tip = generate(&node, 1)[0];
        if let Ok(parts) = socket.recv_multipart(0) {
            match Message::from_multipart(&parts).unwrap() {
                Message::HashBlock(h, _) => assert_eq!(h, tip),
                m => panic!("expected hashblock, got {m:?}"),
            }
            break tip;
        }
    };
    let _ = tip;
    node.stop_node();
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
