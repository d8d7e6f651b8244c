//! The notifier against real ZMQ SUB sockets on 127.0.0.1: framing, order,
//! failure handling, and the drop accounting with a slow subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use ferronode_zmq_notify::{Notification, NotifierSpec, StartError, Topic, ZmqNotifier, DEFAULT_QUEUE};

fn free_address() -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("tcp://127.0.0.1:{port}")
}

fn spec(topic: Topic, address: &str, hwm: i32) -> NotifierSpec {
    NotifierSpec { topic, address: address.to_owned(), hwm }
}

fn tx(n: u32) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint { txid: bitcoin::Txid::all_zeros(), vout: n },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[vec![n as u8; 3]]),
        }],
        output: vec![TxOut { value: Amount::from_sat(u64::from(n)), script_pubkey: ScriptBuf::new() }],
    }
}

struct Sub {
    socket: zmq::Socket,
    _ctx: zmq::Context,
}

impl Sub {
    fn new(address: &str, topics: &[&str], rcvhwm: i32) -> Self {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::SUB).unwrap();
        socket.set_rcvhwm(rcvhwm).unwrap();
        socket.set_rcvtimeo(5_000).unwrap();
        socket.set_linger(0).unwrap();
        socket.connect(address).unwrap();
        for t in topics {
            socket.set_subscribe(t.as_bytes()).unwrap();
        }
        Self { socket, _ctx: ctx }
    }

    /// One message as (topic, body, sequence).
    fn recv(&self) -> Option<(String, Vec<u8>, u32)> {
        let parts = self.socket.recv_multipart(0).ok()?;
        assert_eq!(parts.len(), 3, "three parts");
        let seq = u32::from_le_bytes(parts[2].as_slice().try_into().expect("a 4-byte sequence"));
        Some((String::from_utf8(parts[0].clone()).unwrap(), parts[1].clone(), seq))
    }
}

/// Sends block tips until every subscriber in `subs` (each subscribed to
/// `hashblock` or `rawblock`) has seen one, so that the subscriptions have
/// reached the publisher (ZMQ's slow joiner); then drains the probes.
/// Returns how many were sent.
fn handshake(n: &ZmqNotifier, subs: &[&Sub], block: Option<Arc<bitcoin::Block>>) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = vec![false; subs.len()];
    let mut sent = 0;
    for s in subs {
        s.socket.set_rcvtimeo(50).unwrap();
    }
    while seen.contains(&false) {
        assert!(Instant::now() < deadline, "a subscriber never connected");
        n.notify(Notification::BlockTip { hash: bitcoin::BlockHash::all_zeros(), block: block.clone() });
        sent += 1;
        for (s, seen) in subs.iter().zip(&mut seen) {
            if let Ok(parts) = s.socket.recv_multipart(0) {
                *seen |= parts[0] == b"hashblock" || parts[0] == b"rawblock";
            }
        }
    }
    n.flush();
    for s in subs {
        s.socket.set_rcvtimeo(200).unwrap();
        while s.socket.recv_multipart(0).is_ok() {}
        s.socket.set_rcvtimeo(5_000).unwrap();
    }
    sent
}

#[test]
fn topics_framing_and_order() {
    let a = free_address();
    let b = free_address();
    let specs = vec![
        spec(Topic::HashBlock, &a, 1000),
        spec(Topic::HashTx, &a, 1000),
        spec(Topic::RawBlock, &b, 1000),
        spec(Topic::RawTx, &a, 1000),
        spec(Topic::Sequence, &a, 1000),
    ];
    let n = ZmqNotifier::start(specs, DEFAULT_QUEUE).unwrap();
    let kinds: Vec<String> = n.active().into_iter().map(|i| i.kind).collect();
    assert_eq!(kinds, ["pubhashblock", "pubhashtx", "pubrawblock", "pubrawtx", "pubsequence"]);
    let sub = Sub::new(&a, &[""], 1000);
    let raw_sub = Sub::new(&b, &["rawblock"], 1000);
    let genesis = Arc::new(genesis_block(Network::Regtest));
    let probes = handshake(&n, &[&sub, &raw_sub], Some(genesis));

    let t = tx(7);
    let txid = t.compute_txid();
    let mut display = txid.to_byte_array();
    display.reverse();
    n.notify(Notification::TransactionAdded { tx: Arc::new(t.clone()), mempool_sequence: 5 });
    n.notify(Notification::TransactionRemoved { txid, mempool_sequence: 6 });
    let block = Arc::new(genesis_block(Network::Regtest));
    let hash = block.block_hash();
    let mut hash_display = hash.to_byte_array();
    hash_display.reverse();
    n.notify(Notification::BlockConnected(Arc::clone(&block)));
    n.notify(Notification::BlockTip { hash, block: Some(Arc::clone(&block)) });
    n.notify(Notification::BlockDisconnected(Arc::clone(&block)));

    let coinbase = &block.txdata[0];
    let mut cb_display = coinbase.compute_txid().to_byte_array();
    cb_display.reverse();
    let label = |h: [u8; 32], l: u8, s: Option<u64>| {
        let mut v = h.to_vec();
        v.push(l);
        if let Some(s) = s {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v
    };
    let want: Vec<(&str, Vec<u8>, u32)> = vec![
        ("hashtx", display.to_vec(), 0),
        ("rawtx", serialize(&t), 0),
        ("sequence", label(display, b'A', Some(5)), 0),
        ("sequence", label(display, b'R', Some(6)), 1),
        ("hashtx", cb_display.to_vec(), 1),
        ("rawtx", serialize(coinbase), 1),
        ("sequence", label(hash_display, b'C', None), 2),
        ("hashblock", hash_display.to_vec(), probes),
        ("hashtx", cb_display.to_vec(), 2),
        ("rawtx", serialize(coinbase), 2),
        ("sequence", label(hash_display, b'D', None), 3),
    ];
    for (i, (topic, body, seq)) in want.into_iter().enumerate() {
        let got = sub.recv().unwrap_or_else(|| panic!("message {i} ({topic}) missing"));
        assert_eq!((got.0.as_str(), got.2), (topic, seq), "message {i}");
        assert_eq!(got.1, body, "message {i} ({topic}) body");
    }
    // the rawblock notifier (its own socket) saw the tip, with witness
    let (topic, body, seq) = raw_sub.recv().unwrap();
    assert_eq!((topic.as_str(), body, seq), ("rawblock", serialize(&*block), probes));
    n.shutdown();
}

#[test]
fn a_failing_notifier_is_removed_and_the_others_go_on() {
    let a = free_address();
    let n = ZmqNotifier::start(vec![spec(Topic::HashBlock, &a, 1000), spec(Topic::RawBlock, &a, 1000)], 16).unwrap();
    assert_eq!(n.active().len(), 2);
    let sub = Sub::new(&a, &["hashblock"], 1000);
    let probes = handshake(&n, &[&sub], None);
    // the probes had no block: the rawblock notifier failed on the first
    let kinds: Vec<String> = n.active().into_iter().map(|i| i.kind).collect();
    assert_eq!(kinds, ["pubhashblock"]);
    n.notify(Notification::BlockTip { hash: bitcoin::BlockHash::all_zeros(), block: None });
    assert_eq!(sub.recv().unwrap().2, probes);
    n.shutdown();
}

#[test]
fn a_notifier_that_cannot_bind_disables_all() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("tcp://127.0.0.1:{}", taken.local_addr().unwrap().port());
    let good = free_address();
    let err = ZmqNotifier::start(vec![spec(Topic::HashBlock, &good, 1000), spec(Topic::HashTx, &busy, 1000)], 16)
        .unwrap_err();
    assert!(matches!(err, StartError::Notifier { ref kind, .. } if kind == "pubhashtx"), "{err}");
    assert!(ZmqNotifier::start(vec![spec(Topic::HashTx, "foo", 1000)], 16).is_err());
    // the good address was released again
    let again = ZmqNotifier::start(vec![spec(Topic::HashBlock, &good, 1000)], 16).unwrap();
    again.shutdown();
}

/// 100,000 `rawtx` notifications into a subscriber that reads slowly:
/// `notify` never waits for it, and the drops counted equal the gaps the
/// subscriber sees in the sequence numbers.
#[test]
fn slow_subscriber_drops_are_counted_exactly() {
    const N: u32 = 100_000;
    let a = free_address();
    let n =
        ZmqNotifier::start(vec![spec(Topic::HashBlock, &a, 1000), spec(Topic::RawTx, &a, 100)], DEFAULT_QUEUE).unwrap();
    let sub = Sub::new(&a, &["hashblock", "rawtx"], 100);
    handshake(&n, &[&sub], None);
    let txs: Vec<Arc<Transaction>> = (0..N).map(|i| Arc::new(tx(i))).collect();

    let reader = std::thread::spawn(move || {
        let mut received = 0u32;
        let mut expected = 0u32;
        let mut gaps = 0u64;
        sub.socket.set_rcvtimeo(1_000).unwrap();
        while let Some((topic, _, seq)) = sub.recv() {
            assert_eq!(topic, "rawtx");
            assert!(seq >= expected, "sequence went backwards: {seq} after {expected}");
            gaps += u64::from(seq - expected);
            expected = seq + 1;
            received += 1;
            if received < 2_000 {
                std::thread::sleep(Duration::from_micros(500)); // slow at first
            }
        }
        (received, gaps + u64::from(N - expected))
    });

    let started = Instant::now();
    for (i, t) in txs.iter().enumerate() {
        n.notify(Notification::TransactionAdded { tx: Arc::clone(t), mempool_sequence: i as u64 + 1 });
    }
    let notify_time = started.elapsed();
    n.flush();
    let (received, gaps) = reader.join().unwrap();
    let stats = n.stats();
    let rawtx = stats.iter().find(|s| s.kind == "pubrawtx").unwrap();
    assert_eq!(rawtx.next_sequence, N, "every notification took a sequence number");
    assert!(gaps > 0, "the subscriber was meant to be slow enough to lose some");
    assert_eq!(rawtx.dropped_hwm + rawtx.dropped_queue, gaps, "drops counted = gaps seen");
    assert_eq!(u64::from(received) + gaps, u64::from(N));
    assert_eq!(rawtx.sent + rawtx.dropped_hwm + rawtx.dropped_queue, u64::from(N));
    // the producer never waited for the subscriber (a generous bound)
    assert!(notify_time < Duration::from_secs(5), "notify took {notify_time:?}");
    n.shutdown();
}

#[test]
fn shutdown_is_prompt_with_a_stalled_subscriber() {
    let a = free_address();
    let n = ZmqNotifier::start(vec![spec(Topic::HashBlock, &a, 1000), spec(Topic::RawTx, &a, 1000)], DEFAULT_QUEUE)
        .unwrap();
    let sub = Sub::new(&a, &["hashblock", "rawtx"], 10);
    handshake(&n, &[&sub], None);
    let big = Arc::new(tx(1));
    for i in 0..20_000 {
        n.notify(Notification::TransactionAdded { tx: Arc::clone(&big), mempool_sequence: i });
    }
    let started = Instant::now();
    n.shutdown();
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    drop(sub);
}
