//! ZMQ benchmark: notifications per second for `hashtx` and for `rawblock`
//! of a ~2 MB block, to one and to ten subscribers, and the latency from a
//! connected block to a subscriber holding its `hashblock`. Each figure
//! sits next to a baseline measured in the same run: a bare libzmq PUB
//! socket sending the same number of fixed three-part messages of the same
//! size to the same subscribers. Then the node end to end: the latency from
//! `generatetoaddress 1` returning to the subscriber holding `hashblock`, and
//! `stop` with ten subscribers connected.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-zmq`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Witness,
};
use ferronode_functional_tests::{op_true, TestNode};
use ferronode_zmq_notify::{Notification, NotifierSpec, Topic, ZmqNotifier, DEFAULT_QUEUE};
use serde_json::json;

fn address() -> String {
    format!("tcp://127.0.0.1:{}", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
}

/// Subscribers on their own threads; each counts `want` messages of
/// `topic` and returns when it has them (or after 60 s).
fn subscribers(address: &str, topic: &'static str, n: usize, want: u64) -> Vec<std::thread::JoinHandle<u64>> {
    (0..n)
        .map(|_| {
            let address = address.to_owned();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let s = ctx.socket(zmq::SUB).unwrap();
                s.set_rcvhwm(0).unwrap();
                s.set_rcvtimeo(60_000).unwrap();
                s.connect(&address).unwrap();
                s.set_subscribe(topic.as_bytes()).unwrap();
                s.set_subscribe(b"ready").unwrap();
                let mut got = 0;
                while got < want {
                    let Ok(parts) = s.recv_multipart(0) else { break };
                    if parts[0] == topic.as_bytes() {
                        got += 1;
                    }
                }
                got
            })
        })
        .collect()
}

/// Waits until the subscribers' subscriptions have reached the publisher:
/// `probe` sends a message none of them counts until a probe subscriber,
/// connected after them, receives one.
fn wait_connected(mut probe: impl FnMut(), address: &str) {
    // a probe subscriber of our own tells us when probes get through; the
    // real subscribers connected before it, so they are through as well
    let ctx = zmq::Context::new();
    let s = ctx.socket(zmq::SUB).unwrap();
    s.set_rcvtimeo(20).unwrap();
    s.connect(address).unwrap();
    s.set_subscribe(b"").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        probe();
        if s.recv_multipart(0).is_ok() || Instant::now() > deadline {
            break;
        }
    }
}

/// Notifications per second through `ZmqNotifier` against the bare PUB.
fn throughput(label: &str, topic: Topic, subs: usize, count: u64, make: &dyn Fn() -> Notification, body_len: usize) {
    // baseline: a bare PUB, fixed messages of the same size
    let base = {
        let a = address();
        let ctx = zmq::Context::new();
        let pubs = ctx.socket(zmq::PUB).unwrap();
        pubs.set_sndhwm(0).unwrap();
        pubs.bind(&a).unwrap();
        let handles = subscribers(&a, topic.name(), subs, count);
        let probe_body = [0u8; 4];
        wait_connected(|| pubs.send_multipart([&b"ready"[..], &probe_body, &probe_body], 0).unwrap(), &a);
        let body = vec![7u8; body_len];
        let started = Instant::now();
        for i in 0..count {
            let seq = u32::try_from(i % (1 << 32)).unwrap().to_le_bytes();
            pubs.send_multipart([topic.name().as_bytes(), &body, &seq], 0).unwrap();
        }
        for h in handles {
            assert_eq!(h.join().unwrap(), count, "the baseline lost messages");
        }
        started.elapsed()
    };
    // ours: the hwm is unlimited here, as for the baseline, so nothing drops
    let ours = {
        let a = address();
        // a second notifier on the socket carries the probes: hashblock
        // for hashtx, sequence for rawblock (whose tips would be counted)
        let probe_topic = if topic == Topic::RawBlock { Topic::Sequence } else { Topic::HashBlock };
        let n = ZmqNotifier::start(
            vec![
                NotifierSpec { topic, address: a.clone(), hwm: 0 },
                NotifierSpec { topic: probe_topic, address: a.clone(), hwm: 0 },
            ],
            DEFAULT_QUEUE,
        )
        .unwrap();
        let handles = subscribers(&a, topic.name(), subs, count);
        wait_connected(
            || {
                n.notify(if probe_topic == Topic::Sequence {
                    Notification::TransactionRemoved { txid: bitcoin::Txid::all_zeros(), mempool_sequence: 0 }
                } else {
                    Notification::BlockTip { hash: BlockHash::all_zeros(), block: None }
                });
            },
            &a,
        );
        n.flush();
        let started = Instant::now();
        for _ in 0..count {
            n.notify(make());
        }
        n.flush();
        for h in handles {
            assert_eq!(h.join().unwrap(), count, "ferronode lost messages");
        }
        let elapsed = started.elapsed();
        assert!(n.stats().iter().all(|s| s.dropped_queue == 0), "the queue overflowed; lower the count");
        n.shutdown();
        elapsed
    };
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "| {label}, {subs} subscriber{} | {:.0} /s | {:.0} /s | {:.2} |",
        if subs == 1 { "" } else { "s" },
        rate(ours),
        rate(base),
        rate(ours) / rate(base)
    );
}

fn big_block() -> Block {
    // ~2 MB: 2,000 transactions of ~1 kB
    let mut block = genesis_block(Network::Regtest);
    for i in 0..2_000u32 {
        block.txdata.push(Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint { txid: bitcoin::Txid::all_zeros(), vout: i },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![1u8; 900]]),
            }],
            output: vec![TxOut { value: Amount::from_sat(1), script_pubkey: op_true::address().script_pubkey() }],
        });
    }
    block
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Latency of one `hashblock` from `notify` to the subscriber, against the
/// bare PUB's send-to-receive latency.
fn latency(rounds: usize) {
    let measure = |send: &dyn Fn(), sub: &zmq::Socket| -> Vec<Duration> {
        let mut v = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            send();
            sub.recv_multipart(0).unwrap();
            v.push(started.elapsed());
        }
        v.sort();
        v
    };
    let ctx = zmq::Context::new();
    let sub_for = |a: &str| {
        let s = ctx.socket(zmq::SUB).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.connect(a).unwrap();
        s.set_subscribe(b"hashblock").unwrap();
        s
    };
    let a = address();
    let pubs = ctx.socket(zmq::PUB).unwrap();
    pubs.bind(&a).unwrap();
    let sub = sub_for(&a);
    std::thread::sleep(Duration::from_millis(300));
    let body = [3u8; 32];
    let base = measure(&|| pubs.send_multipart([&b"hashblock"[..], &body, &[0u8; 4]], 0).unwrap(), &sub);

    let a = address();
    let n = ZmqNotifier::start(
        vec![NotifierSpec { topic: Topic::HashBlock, address: a.clone(), hwm: 1000 }],
        DEFAULT_QUEUE,
    )
    .unwrap();
    let sub = sub_for(&a);
    std::thread::sleep(Duration::from_millis(300));
    let block = Arc::new(genesis_block(Network::Regtest));
    let hash = block.block_hash();
    let ours = measure(&|| n.notify(Notification::BlockTip { hash, block: Some(Arc::clone(&block)) }), &sub);
    n.shutdown();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| `hashblock`, notify → subscriber, median | {:.0} µs | {:.0} µs | {:.2} |",
        us(percentile(&ours, 0.5)),
        us(percentile(&base, 0.5)),
        us(percentile(&ours, 0.5)) / us(percentile(&base, 0.5))
    );
    println!(
        "| `hashblock`, notify → subscriber, 99th percentile | {:.0} µs | {:.0} µs | {:.2} |",
        us(percentile(&ours, 0.99)),
        us(percentile(&base, 0.99)),
        us(percentile(&ours, 0.99)) / us(percentile(&base, 0.99))
    );
}

/// `notify` with a subscriber that never reads, against no subscriber:
/// the producer's (validation's) cost must not change.
fn slow_subscriber(count: u32) {
    let txs: Vec<Arc<Transaction>> = (0..count)
        .map(|i| {
            Arc::new(Transaction {
                version: transaction::Version::TWO,
                lock_time: absolute::LockTime::ZERO,
                input: vec![TxIn {
                    previous_output: OutPoint { txid: bitcoin::Txid::all_zeros(), vout: i },
                    ..TxIn::default()
                }],
                output: vec![TxOut { value: Amount::from_sat(1), script_pubkey: ScriptBuf::new() }],
            })
        })
        .collect();
    let run = |stalled: bool| {
        let a = address();
        let n = ZmqNotifier::start(
            vec![NotifierSpec { topic: Topic::RawTx, address: a.clone(), hwm: 1000 }],
            DEFAULT_QUEUE,
        )
        .unwrap();
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::SUB).unwrap();
        if stalled {
            s.set_rcvhwm(10).unwrap();
            s.connect(&a).unwrap();
            s.set_subscribe(b"").unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
        let started = Instant::now();
        for (i, t) in txs.iter().enumerate() {
            n.notify(Notification::TransactionAdded { tx: Arc::clone(t), mempool_sequence: i as u64 });
        }
        let producer = started.elapsed();
        n.flush();
        let stats = n.stats();
        n.shutdown();
        (producer, stats[0].dropped_hwm + stats[0].dropped_queue)
    };
    let (alone, _) = run(false);
    let (stalled, dropped) = run(true);
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(count);
    println!(
        "| `notify` (the validation side), per `rawtx`, subscriber stalled vs none, {count} calls | {:.0} ns | {:.0} ns | {:.2} |",
        ns(stalled),
        ns(alone),
        stalled.as_secs_f64() / alone.as_secs_f64()
    );
    println!("| messages the stalled subscriber missed, all counted in `getzmqstats` | {dropped} | | |");
}

/// The node: `generatetoaddress 1` returns → `hashblock` received, with
/// ten subscribers connected.
fn node_end_to_end(rounds: usize) {
    let _ = ferronode_functional_tests::ferronoded();
    let a = address();
    let node = TestNode::start_new(&[&format!("-zmqpubhashblock={a}"), &format!("-zmqpubrawtx={a}")]);
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(10_000).unwrap();
    sub.connect(&a).unwrap();
    sub.set_subscribe(b"hashblock").unwrap();
    let others: Vec<zmq::Socket> = (0..9)
        .map(|_| {
            let s = ctx.socket(zmq::SUB).unwrap();
            s.connect(&a).unwrap();
            s.set_subscribe(b"").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let addr = op_true::address().to_string();
    let mut after_rpc = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        node.rpc("generatetoaddress", json!([1, addr]));
        let returned = Instant::now();
        sub.recv_multipart(0).unwrap();
        after_rpc.push(returned.elapsed());
        whole.push(started.elapsed());
    }
    after_rpc.sort();
    whole.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| node: `generatetoaddress 1` call → `hashblock` received, median / p99 | {:.0} / {:.0} µs | | |",
        us(percentile(&whole, 0.5)),
        us(percentile(&whole, 0.99))
    );
    println!(
        "| node: RPC reply → `hashblock` received, median / p99 | {:.0} / {:.0} µs | | |",
        us(percentile(&after_rpc, 0.5)),
        us(percentile(&after_rpc, 0.99))
    );
    drop(node);
    drop(others);
}

/// `stop` → exit with ZMQ and ten subscribers connected, against the same
/// node without ZMQ, median of `rounds`.
fn stop_with_subscribers(rounds: usize) {
    let one = |zmq: bool| {
        let a = address();
        let args: Vec<String> =
            if zmq { vec![format!("-zmqpubhashblock={a}"), format!("-zmqpubrawtx={a}")] } else { vec![] };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut node = TestNode::start_new(&args);
        let ctx = zmq::Context::new();
        let subs: Vec<zmq::Socket> = (0..if zmq { 10 } else { 0 })
            .map(|_| {
                let s = ctx.socket(zmq::SUB).unwrap();
                s.connect(&a).unwrap();
                s.set_subscribe(b"").unwrap();
                s
            })
            .collect();
        node.rpc("generatetoaddress", json!([5, op_true::address().to_string()]));
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        node.rpc("stop", json!([]));
        node.wait_until_stopped(Duration::from_secs(10), false);
        let took = started.elapsed();
        drop(subs);
        took
    };
    let mut with: Vec<Duration> = (0..rounds).map(|_| one(true)).collect();
    let mut without: Vec<Duration> = (0..rounds).map(|_| one(false)).collect();
    with.sort();
    without.sort();
    let (w, wo) = (percentile(&with, 0.5), percentile(&without, 0.5));
    println!(
        "| node: `stop` → exit, ZMQ with 10 subscribers (vs no ZMQ), median of {rounds} | {:.1} ms | {:.1} ms | {:.2} |",
        w.as_secs_f64() * 1e3,
        wo.as_secs_f64() * 1e3,
        w.as_secs_f64() / wo.as_secs_f64()
    );
}

fn main() {
    println!("| measurement | ferronode | bare libzmq PUB (same run) | ratio |");
    println!("|---|---|---|---|");
    let tx = Arc::new(Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn::default()],
        output: vec![TxOut::NULL],
    });
    let hashtx = move || Notification::TransactionAdded { tx: Arc::clone(&tx), mempool_sequence: 1 };
    for subs in [1, 10] {
        throughput("`hashtx`", Topic::HashTx, subs, 50_000, &hashtx, 32);
    }
    let block = Arc::new(big_block());
    let size = bitcoin::consensus::encode::serialize(&*block).len();
    let hash = block.block_hash();
    let rawblock = move || Notification::BlockTip { hash, block: Some(Arc::clone(&block)) };
    for subs in [1, 10] {
        throughput(&format!("`rawblock` of {:.2} MB", size as f64 / 1e6), Topic::RawBlock, subs, 50, &rawblock, size);
    }
    latency(2_000);
    slow_subscriber(100_000);
    node_end_to_end(200);
    stop_with_subscribers(5);
}
