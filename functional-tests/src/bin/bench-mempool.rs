//! Mempool and reorg benchmark: `sendrawtransaction` of 10,000 independent
//! transactions, mining a block of 5,000 pool transactions, and a reorg of
//! 100 blocks, each next to a baseline measured in the same run.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-mempool`

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, Amount, KnownHrp, OutPoint, ScriptBuf, TxOut, Txid};
use ferronode_functional_tests::{op_true, HttpConn, TestNode};
use serde_json::{json, Value};

const FAN_OUTS: u32 = 8;
const PER_FAN_OUT: u32 = 2_000;

struct Bench {
    conn: HttpConn,
    cookie: String,
}

impl Bench {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.conn.call(&self.cookie, method, params).unwrap().unwrap_or_else(|e| panic!("{method}: {e:?}"))
    }

    fn timed(&mut self, method: &str, params: Value) -> Duration {
        let started = Instant::now();
        self.call(method, params);
        started.elapsed()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let _ = ferronode_functional_tests::ferronoded();
    let mut node = TestNode::start_new(&[]);
    let mut b = Bench { conn: node.connect(), cookie: node.cookie() };
    let addr = op_true::address();
    let spk = addr.script_pubkey();

    // 16,000 coins from 8 fan-outs of mature coinbases, all confirmed
    b.call("generatetoaddress", json!([100 + FAN_OUTS, addr.to_string()]));
    let each = (50 * 100_000_000 - 100_000) / u64::from(PER_FAN_OUT);
    let mut fans = Vec::new();
    for h in 1..=FAN_OUTS {
        let hash = b.call("getblockhash", json!([h]));
        let cb: Txid = b.call("getblock", json!([hash, 1]))["tx"][0].as_str().unwrap().parse().unwrap();
        let outs = (0..PER_FAN_OUT).map(|_| TxOut { value: Amount::from_sat(each), script_pubkey: spk.clone() });
        fans.push(op_true::spend(OutPoint { txid: cb, vout: 0 }, outs.collect()));
    }
    let hexes: Vec<String> = fans.iter().map(serialize_hex).collect();
    b.call("generateblock", json!([addr.to_string(), hexes]));
    let spends: Vec<String> = fans
        .iter()
        .flat_map(|f| {
            let txid = f.compute_txid();
            (0..PER_FAN_OUT).map(move |vout| OutPoint { txid, vout })
        })
        .map(|op| {
            let out = TxOut { value: Amount::from_sat(each - 1_000), script_pubkey: spk.clone() };
            serialize_hex(&op_true::spend(op, vec![out]))
        })
        .collect();
    let (first, rest) = spends.split_at(10_000);

    println!("ferronoded mempool benchmark (one keep-alive connection, cookie auth, release build)\n");
    // baseline: the same requests and bytes, decoded but not validated
    let started = Instant::now();
    for hex in first {
        b.call("decoderawtransaction", json!([hex]));
    }
    let decode = started.elapsed();
    let started = Instant::now();
    for hex in first {
        b.call("sendrawtransaction", json!([hex]));
    }
    let send = started.elapsed();
    assert_eq!(b.call("getmempoolinfo", json!([]))["size"], json!(10_000));
    println!("| measure | time | per transaction | ratio to baseline |");
    println!("|---|---|---|---|");
    println!(
        "| `decoderawtransaction` × 10,000 (baseline) | {:.0} ms | {:.1} µs | 1.00 |",
        ms(decode),
        ms(decode) / 10.0
    );
    println!(
        "| `sendrawtransaction` × 10,000 | {:.0} ms | {:.1} µs ({:.0} tx/s) | {:.2} |",
        ms(send),
        ms(send) / 10.0,
        10_000.0 / send.as_secs_f64(),
        send.as_secs_f64() / decode.as_secs_f64()
    );

    // empty the pool, then mine a block of 5,000
    while b.call("getmempoolinfo", json!([]))["size"] != json!(0) {
        b.call("generatetoaddress", json!([1, addr.to_string()]));
    }
    let empty = b.timed("generatetoaddress", json!([1, addr.to_string()]));
    for hex in &rest[..5_000] {
        b.call("sendrawtransaction", json!([hex]));
    }
    let full = b.timed("generatetoaddress", json!([1, addr.to_string()]));
    let tip = b.call("getbestblockhash", json!([]));
    assert_eq!(b.call("getblock", json!([tip, 1]))["nTx"], json!(5_001));
    println!("| `generatetoaddress 1` with an empty pool (baseline) | {:.1} ms | | 1.00 |", ms(empty));
    println!(
        "| `generatetoaddress 1` taking 5,000 pool transactions | {:.1} ms | {:.1} µs | {:.1} |",
        ms(full),
        ms(full) * 1000.0 / 5_000.0,
        full.as_secs_f64() / empty.as_secs_f64()
    );

    // a reorg of 100 blocks: branch A (100 blocks) is set aside, branch B
    // (101 blocks) mined, A reconsidered; invalidating B's first block then
    // disconnects B and connects A
    let base = b.call("getblockcount", json!([]));
    let a = b.call("generatetoaddress", json!([100, addr.to_string()]));
    {
        b.call("invalidateblock", json!([a[0]]));
        let other = Address::p2wsh(&ScriptBuf::from_bytes(vec![0x51, 0x51, 0x87]), KnownHrp::Regtest);
        let started = Instant::now();
        let bb = b.call("generatetoaddress", json!([101, other.to_string()]));
        let elapsed = started.elapsed();
        b.call("reconsiderblock", json!([a[0]]));
        assert_eq!(b.call("getbestblockhash", json!([])), bb[100], "B has more work");
        let reorg = b.timed("invalidateblock", json!([bb[0]]));
        assert_eq!(b.call("getbestblockhash", json!([])), a[99], "back on A");
        assert_eq!(b.call("getblockcount", json!([])), json!(base.as_u64().unwrap() + 100));
        println!(
            "| reorg: disconnect 101 blocks, connect 100 (`invalidateblock`) | {:.1} ms | {:.0} µs per block | {:.2} (baseline: mining B's 101 blocks, {:.1} ms) |",
            ms(reorg),
            ms(reorg) * 1000.0 / 201.0,
            reorg.as_secs_f64() / elapsed.as_secs_f64(),
            ms(elapsed)
        );
    }
    node.stop_node();
}
