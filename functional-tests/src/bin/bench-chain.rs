//! Chain benchmark: start to RPC ready and stop to exit on a fresh datadir
//! and on one holding 10,000 blocks, `generatetoaddress 1000`, and resident
//! memory with the 10,000-block chain loaded.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-chain [rounds]`

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::json;

const ADDRESS: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";

/// Starts the node and returns the time until `getblockcount` answers
/// (polling every millisecond).
fn start_until_ready(node: &mut TestNode) -> Duration {
    let started = Instant::now();
    node.start(&[]);
    let cookie_path = node.net_dir().join(".cookie");
    loop {
        if let Ok(cookie) = std::fs::read_to_string(&cookie_path) {
            if let Ok(mut c) = HttpConn::connect(node.rpc_port) {
                if let Ok(Ok(_)) = c.call(&cookie, "getblockcount", json!([])) {
                    return started.elapsed();
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "node never became ready");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn stop_until_exit(node: &mut TestNode) -> Duration {
    let mut c = node.connect();
    let cookie = node.cookie();
    let started = Instant::now();
    assert_eq!(c.call(&cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    assert!(node.wait_for_exit(Duration::from_secs(60)).unwrap().success());
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// A block of `n` transactions, each spending a P2WSH(OP_TRUE) output:
/// returns its hash (built with `generateblock`).
fn big_block(node: &TestNode, n: usize) -> String {
    use bitcoin::consensus::encode::serialize_hex;
    use bitcoin::{Amount, OutPoint, TxOut, Txid};
    use ferronode_functional_tests::op_true::{self, spend};
    let addr = op_true::address();
    let spk = addr.script_pubkey();
    let cookie = node.cookie();
    let mut c = node.connect();
    let mut call = |m: &str, p: serde_json::Value| c.call(&cookie, m, p).unwrap().unwrap();
    call("generatetoaddress", json!([101, addr.to_string()]));
    let h1 = call("getblockhash", json!([1]));
    let b1 = call("getblock", json!([h1, 1]));
    let cb: Txid = b1["tx"][0].as_str().unwrap().parse().unwrap();
    let each = (50 * 100_000_000 - 100_000) / n as u64;
    let fan = spend(
        OutPoint { txid: cb, vout: 0 },
        (0..n).map(|_| TxOut { value: Amount::from_sat(each), script_pubkey: spk.clone() }).collect(),
    );
    call("generateblock", json!([addr.to_string(), [serialize_hex(&fan)]]));
    let fan_id = fan.compute_txid();
    let txs: Vec<String> = (0..n)
        .map(|i| {
            let out = TxOut { value: Amount::from_sat(each - 1_000), script_pubkey: spk.clone() };
            serialize_hex(&spend(OutPoint { txid: fan_id, vout: u32::try_from(i).unwrap() }, vec![out]))
        })
        .collect();
    let made = call("generateblock", json!([addr.to_string(), txs]));
    made["hash"].as_str().unwrap().to_owned()
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let _ = ferronode_functional_tests::ferronoded();
    println!("ferronoded chain benchmark, {rounds} rounds (median, min-max in ms)\n");
    println!("| scenario | start → RPC ready | stop → exit |");
    println!("|---|---|---|");
    let mut fresh_start = Vec::new();
    let mut fresh_stop = Vec::new();
    for _ in 0..rounds {
        let mut node = TestNode::new(&[]);
        fresh_start.push(start_until_ready(&mut node));
        fresh_stop.push(stop_until_exit(&mut node));
    }
    let row = |name: &str, a: &[Duration], b: &[Duration]| {
        let range = |v: &[Duration]| {
            format!("{} ({}-{})", ms(median(v.to_vec())), ms(*v.iter().min().unwrap()), ms(*v.iter().max().unwrap()))
        };
        println!("| {name} | {} | {} |", range(a), range(b));
    };
    row("fresh datadir (genesis only)", &fresh_start, &fresh_stop);

    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let mut c = node.connect();
    let started = Instant::now();
    let mut mined = 0;
    while mined < 10_000 {
        let r = c.call(&cookie, "generatetoaddress", json!([1000, ADDRESS])).unwrap().unwrap();
        mined += r.as_array().unwrap().len();
    }
    let mine_10k = started.elapsed();
    let started = Instant::now();
    c.call(&cookie, "generatetoaddress", json!([1000, ADDRESS])).unwrap().unwrap();
    let mine_1k = started.elapsed();
    stop_until_exit(&mut node);
    let mut big_start = Vec::new();
    let mut big_stop = Vec::new();
    let mut rss = 0;
    for _ in 0..rounds {
        big_start.push(start_until_ready(&mut node));
        rss = node.rss_kib();
        big_stop.push(stop_until_exit(&mut node));
    }
    row("datadir with 11,000 blocks", &big_start, &big_stop);
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| `generatetoaddress` 10 × 1000 blocks from genesis | {} ms ({:.0} blocks/s) |",
        ms(mine_10k),
        10_000.0 / mine_10k.as_secs_f64()
    );
    println!("| `generatetoaddress 1000` on a 10,000-block chain | {} ms |", ms(mine_1k));
    println!("| resident memory with 11,000 blocks loaded | {:.1} MiB |", rss as f64 / 1024.0);
    println!(
        "| start-up ratio, 11,000 blocks / fresh | {:.2}x |",
        median(big_start).as_secs_f64() / median(fresh_start).as_secs_f64()
    );

    // getblock on a block of 2,001 transactions, verbosity 0 as the baseline
    let node = TestNode::start_new(&[]);
    let hash = big_block(&node, 2000);
    let cookie = node.cookie();
    let mut c = node.connect();
    println!();
    println!("| `getblock` on a block of 2,001 transactions | median of {rounds} | ratio to verbosity 0 |");
    println!("|---|---|---|");
    let mut base = None;
    for verbosity in [0, 1, 2, 3] {
        let times: Vec<Duration> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let r = c.call(&cookie, "getblock", json!([hash, verbosity])).unwrap().unwrap();
                assert!(!r.is_null());
                started.elapsed()
            })
            .collect();
        let m = median(times);
        let b = *base.get_or_insert(m);
        println!("| verbosity {verbosity} | {} ms | {:.2}x |", ms(m), m.as_secs_f64() / b.as_secs_f64());
    }
    let mut node = node;
    node.stop_node();
}
