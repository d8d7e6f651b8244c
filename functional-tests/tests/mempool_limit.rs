//! `-maxmempool`: eviction of the lowest fee rate, the rolling minimum fee
//! (`mempool min fee not met`, `mempool full`, `getmempoolinfo`), its decay
//! after a block, and Core's init error for a limit below 5 MB.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, OutPoint, Transaction, TxOut, Txid};
use ferronode_functional_tests::{op_true, TestNode};
use serde_json::json;

const COIN: u64 = 100_000_000;
const OUTPUTS: u64 = 2_000;

fn coinbase(node: &TestNode, height: u64) -> OutPoint {
    let hash = node.rpc("getblockhash", json!([height]));
    let txid = node.rpc("getblock", json!([hash, 1]))["tx"][0].as_str().unwrap().to_owned();
    OutPoint { txid: Txid::from_str(&txid).unwrap(), vout: 0 }
}

/// A ~86 kvB transaction (2,000 outputs) spending a coinbase at about
/// `rate` satoshis per vbyte.
fn big(prev: OutPoint, rate: u64) -> Transaction {
    let each = (50 * COIN - rate * 87_000) / OUTPUTS;
    let outs = (0..OUTPUTS)
        .map(|_| TxOut { value: Amount::from_sat(each), script_pubkey: op_true::address().script_pubkey() });
    op_true::spend(prev, outs.collect())
}

fn fee_and_vsize(tx: &Transaction) -> (u64, u64) {
    let out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    (50 * COIN - out, tx.vsize() as u64)
}

fn btc_per_kvb(sat_per_kvb: u64) -> String {
    format!("{}.{:08}", sat_per_kvb / COIN, sat_per_kvb % COIN)
}

#[test]
fn maxmempool_evicts_lowest_fee_rate_and_raises_the_minimum_fee() {
    let mut node = TestNode::start_new(&["-maxmempool=5"]);
    let info = node.rpc("getmempoolinfo", json!([]));
    assert_eq!(info["maxmempool"], json!(5_000_000));
    assert_eq!(info["mempoolminfee"].to_string(), "0.00000100");
    node.rpc("generatetoaddress", json!([140, op_true::address().to_string()]));

    // rising fee rates: each new transaction is the best, so the oldest
    // (cheapest) ones are the ones evicted
    let txs: Vec<Transaction> = (1..=36).map(|h| big(coinbase(&node, h), 10 + h)).collect();
    let mut evicted_at = None;
    for (i, tx) in txs.iter().enumerate() {
        node.rpc("sendrawtransaction", json!([serialize_hex(tx)]));
        let info = node.rpc("getmempoolinfo", json!([]));
        assert!(info["usage"].as_u64().unwrap() <= 5_000_000, "usage {} over the limit", info["usage"]);
        if info["size"].as_u64().unwrap() < i as u64 + 1 {
            evicted_at = Some(i);
            break;
        }
    }
    let evicted_at = evicted_at.expect("5 MB cannot hold 36 transactions of 86 kvB with 2,000 outputs each");
    assert!(evicted_at > 5, "evicted too early: the usage estimate is far too high");
    let first = txs[0].compute_txid().to_string();
    let e = node.try_rpc("getmempoolentry", json!([first])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-5, "Transaction not in mempool"));
    assert!(node.try_rpc("getmempoolentry", json!([txs[1].compute_txid().to_string()])).unwrap().is_ok());

    // the minimum fee is now the evicted rate plus the incremental relay fee
    let (fee0, vsize0) = fee_and_vsize(&txs[0]);
    let min = fee0 * 1000 / vsize0 + 100;
    let info = node.rpc("getmempoolinfo", json!([]));
    assert_eq!(info["mempoolminfee"].to_string(), btc_per_kvb(min));
    assert_eq!(info["minrelaytxfee"].to_string(), "0.00000100");

    // below it: refused before anything else is looked at
    let cheap = big(coinbase(&node, 37), 2);
    let (fee, vsize) = fee_and_vsize(&cheap);
    let e = node.try_rpc("sendrawtransaction", json!([serialize_hex(&cheap)])).unwrap().unwrap_err();
    assert_eq!(e.code, -26);
    assert_eq!(e.message, format!("mempool min fee not met, {fee} < {}", (min * vsize).div_ceil(1000)));
    let tested = node.rpc("testmempoolaccept", json!([[serialize_hex(&cheap)]]));
    assert_eq!(tested[0]["reject-reason"], json!("mempool min fee not met"));

    // above the minimum but the worst in a full pool: in, then out again
    let lowest_kept = fee_and_vsize(&txs[1]);
    let rate = (min / 1000) + 1;
    assert!(rate * 1000 < lowest_kept.0 * 1000 / lowest_kept.1, "the test needs a rate between the two");
    let marginal = big(coinbase(&node, 38), rate);
    let e = node.try_rpc("sendrawtransaction", json!([serialize_hex(&marginal)])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-26, "mempool full"));
    assert!(node.try_rpc("getmempoolentry", json!([marginal.compute_txid().to_string()])).unwrap().is_err());

    // a block lets the minimum decay: half-life 12 h, a quarter of that
    // while the pool is under a quarter full
    node.rpc("generatetoaddress", json!([3, op_true::address().to_string()]));
    assert_eq!(node.rpc("getmempoolinfo", json!([]))["size"], json!(0));
    let now = node.rpc("getblockheader", json!([node.rpc("getbestblockhash", json!([]))]))["time"].as_u64().unwrap();
    node.rpc("setmocktime", json!([now + 400_000]));
    assert_eq!(node.rpc("getmempoolinfo", json!([]))["mempoolminfee"].to_string(), "0.00000100");
    node.stop_node();
}

#[test]
fn maxmempool_below_5_mb_is_an_init_error() {
    let mut node = TestNode::new(&[]);
    node.assert_start_raises_init_error(&["-maxmempool=4"], "Error: -maxmempool must be at least 5 MB");
    node.assert_start_raises_init_error(&["-maxmempool=-1"], "Error: -maxmempool must be at least 5 MB");
}
