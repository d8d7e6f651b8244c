//! The mempool: sendrawtransaction and testmempoolaccept with Core's reject
//! reasons, the mempool RPCs, unconfirmed chains, full RBF, and mining from
//! the pool.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::key::Secp256k1;
use bitcoin::secp256k1::{Message, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    absolute, Address, Amount, CompressedPublicKey, KnownHrp, Network, OutPoint, PrivateKey, ScriptBuf, Sequence,
    Transaction, TxOut, Txid, Witness,
};
use ferronode_functional_tests::TestNode;
use serde_json::{json, Value};

const COIN: u64 = 100_000_000;

struct Wallet {
    sk: SecretKey,
    pk: CompressedPublicKey,
    addr: Address,
}

impl Wallet {
    fn new(byte: u8) -> Self {
        let secp = Secp256k1::new();
        let sk = SecretKey::from_slice(&[byte; 32]).unwrap();
        let pk = CompressedPublicKey::from_private_key(&secp, &PrivateKey::new(sk, Network::Regtest)).unwrap();
        Self { sk, pk, addr: Address::p2wpkh(&pk, KnownHrp::Regtest) }
    }

    /// A signed P2WPKH spend of `prev` (worth `value`) to `outs`.
    fn spend(&self, prev: OutPoint, value: u64, outs: Vec<TxOut>) -> Transaction {
        self.sign(ferronode_functional_tests::op_true::unsigned(prev, outs), value)
    }

    /// Signs input 0 of `tx`, which spends a coin of this wallet worth `value`.
    fn sign(&self, mut tx: Transaction, value: u64) -> Transaction {
        let secp = Secp256k1::new();
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, &self.addr.script_pubkey(), Amount::from_sat(value), EcdsaSighashType::All)
            .unwrap();
        let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &self.sk);
        tx.input[0].witness = Witness::p2wpkh(&bitcoin::ecdsa::Signature::sighash_all(sig), &self.pk.0);
        tx
    }

    fn out(&self, sats: u64) -> TxOut {
        TxOut { value: Amount::from_sat(sats), script_pubkey: self.addr.script_pubkey() }
    }
}

fn coinbase(node: &TestNode, height: u64) -> OutPoint {
    let hash = node.rpc("getblockhash", json!([height]));
    let txid = node.rpc("getblock", json!([hash, 1]))["tx"][0].as_str().unwrap().to_owned();
    OutPoint { txid: Txid::from_str(&txid).unwrap(), vout: 0 }
}

fn send_err(node: &TestNode, tx: &Transaction) -> (i64, String) {
    let e = node.try_rpc("sendrawtransaction", json!([serialize_hex(tx)])).unwrap().unwrap_err();
    (e.code, e.message)
}

#[test]
fn mempool_acceptance_rbf_and_mining() {
    let mut node = TestNode::start_new(&[]);
    let w = Wallet::new(21);
    node.rpc("generatetoaddress", json!([101, w.addr.to_string()]));
    let info = node.rpc("getmempoolinfo", json!([]));
    assert_eq!((info["loaded"].clone(), info["size"].clone()), (json!(true), json!(0)));
    assert_eq!(info["minrelaytxfee"].to_string(), "0.00000100");
    assert_eq!(node.rpc("getrawmempool", json!([false, true])), json!({"txids": [], "mempool_sequence": 1}));

    let cb1 = coinbase(&node, 1);
    let parent = w.spend(cb1, 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let txid = node.rpc("sendrawtransaction", json!([serialize_hex(&parent)]));
    assert_eq!(txid, json!(parent.compute_txid().to_string()));
    // sending it again is not an error
    assert_eq!(node.rpc("sendrawtransaction", json!([serialize_hex(&parent)])), txid);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([txid]));
    assert_eq!(node.rpc("getrawmempool", json!([false, true]))["mempool_sequence"], json!(2));
    let entry = node.rpc("getmempoolentry", json!([txid]));
    assert_eq!(entry["fees"]["base"].to_string(), "0.00010000");
    assert_eq!(entry["ancestorcount"], json!(1));
    assert_eq!(entry["height"], json!(101));
    // the spent coin is gone for gettxout, the new output is there unconfirmed
    assert_eq!(node.rpc("gettxout", json!([cb1.txid.to_string(), 0])), json!(null));
    assert!(!node.rpc("gettxout", json!([cb1.txid.to_string(), 0, false])).is_null());
    assert_eq!(node.rpc("gettxout", json!([txid, 0]))["confirmations"], json!(0));
    assert_eq!(node.rpc("getrawtransaction", json!([txid])), json!(serialize_hex(&parent)));

    // a child of the unconfirmed parent
    let child =
        w.spend(OutPoint { txid: parent.compute_txid(), vout: 0 }, 50 * COIN - 10_000, vec![w.out(50 * COIN - 20_000)]);
    let child_id = node.rpc("sendrawtransaction", json!([serialize_hex(&child)]));
    assert_eq!(node.rpc("getmempoolancestors", json!([child_id])), json!([txid]));
    assert_eq!(node.rpc("getmempooldescendants", json!([txid])), json!([child_id]));
    assert_eq!(node.rpc("getmempoolentry", json!([txid]))["spentby"], json!([child_id]));

    // reject reasons
    let cb2 = coinbase(&node, 2);
    let no_fee = w.spend(cb2, 50 * COIN, vec![w.out(50 * COIN)]);
    let (code, msg) = send_err(&node, &no_fee);
    assert_eq!(code, -26);
    assert!(msg.starts_with("min relay fee not met, 0 < "), "{msg}");
    assert_eq!(send_err(&node, &w.spend(cb2, 50 * COIN, vec![w.out(100)])), (-26, "dust".into()));
    let (code, msg) = send_err(&node, &w.spend(cb2, 50 * COIN, vec![w.out(51 * COIN)]));
    assert_eq!(code, -26);
    assert!(msg.starts_with("bad-txns-in-belowout"), "{msg}");
    let missing = w.spend(OutPoint { txid: Txid::all_zeros(), vout: 1 }, COIN, vec![w.out(COIN / 2)]);
    assert_eq!(send_err(&node, &missing), (-25, "bad-txns-inputs-missingorspent".into()));
    let young = w.spend(coinbase(&node, 50), 50 * COIN, vec![w.out(49 * COIN)]);
    let (code, msg) = send_err(&node, &young);
    assert_eq!(code, -26);
    assert!(msg.starts_with("bad-txns-premature-spend-of-coinbase"), "{msg}");
    let bad_sig = Wallet::new(22).spend(cb2, 50 * COIN, vec![w.out(49 * COIN)]);
    assert_eq!(send_err(&node, &bad_sig), (-26, "mempool-script-verify-flag-failed (Script failed)".into()));
    let (code, msg) = send_err(&node, &w.spend(cb2, 50 * COIN, vec![w.out(40 * COIN)]));
    assert_eq!((code, msg.as_str()), (-25, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"));
    let tma = node.rpc("testmempoolaccept", json!([[serialize_hex(&no_fee), serialize_hex(&missing)]]));
    assert_eq!(tma[0]["allowed"], json!(false));
    assert_eq!(tma[0]["reject-reason"], json!("min relay fee not met"));
    assert_eq!(tma[1]["reject-reason"], json!("missing-inputs"));
    // non-final: a lock time in the future with a sequence that enforces it
    let mut late = w.spend(cb2, 50 * COIN, vec![w.out(49 * COIN)]);
    late.lock_time = absolute::LockTime::from_height(1_000).unwrap();
    late.input[0].sequence = Sequence::ENABLE_LOCKTIME_NO_RBF;
    assert_eq!(send_err(&node, &w.sign(late, 50 * COIN)), (-26, "non-final".into()));
    // tx-size-small: under 65 bytes without the witness
    let tiny =
        w.spend(cb2, 50 * COIN, vec![TxOut { value: Amount::ZERO, script_pubkey: ScriptBuf::new_op_return([]) }]);
    assert!(tiny.base_size() < 65);
    assert_eq!(send_err(&node, &tiny), (-26, "tx-size-small".into()));
    // already in the pool: testmempoolaccept says so, sendrawtransaction returns the txid
    let tma = node.rpc("testmempoolaccept", json!([[serialize_hex(&parent)]]));
    assert_eq!(tma[0]["reject-reason"], json!("txn-already-in-mempool"));
    let fine = w.spend(cb2, 50 * COIN, vec![w.out(50 * COIN - 5_000)]);
    let tma = node.rpc("testmempoolaccept", json!([[serialize_hex(&fine)]]));
    assert_eq!(tma[0]["allowed"], json!(true));
    assert_eq!(tma[0]["fees"]["base"].to_string(), "0.00005000");
    assert!(node.rpc("getrawmempool", json!([])).as_array().unwrap().len() == 2, "testmempoolaccept adds nothing");

    // full RBF: a conflicting spend must pay more; it evicts the old one and its child
    let low = w.spend(cb1, 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let (code, msg) = send_err(&node, &Wallet::new(21).spend(cb1, 50 * COIN, vec![w.out(50 * COIN - 10_500)]));
    assert_eq!(code, -26);
    assert!(msg.starts_with("insufficient fee"), "{msg}");
    let _ = low;
    let high = w.spend(cb1, 50 * COIN, vec![w.out(50 * COIN - 100_000)]);
    let high_id = node.rpc("sendrawtransaction", json!([serialize_hex(&high)]));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([high_id]), "parent and child replaced");

    // mining takes the pool; the pool empties; resending is "already known"
    let blocks = node.rpc("generatetoaddress", json!([1, w.addr.to_string()]));
    let block = node.rpc("getblock", json!([blocks[0], 1]));
    assert_eq!(block["tx"][1], high_id);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    assert_eq!(send_err(&node, &high), (-27, "Transaction outputs already in utxo set".into()));
    let tma = node.rpc("testmempoolaccept", json!([[serialize_hex(&high)]]));
    assert_eq!(
        (tma[0]["allowed"].clone(), tma[0]["reject-reason"].clone()),
        (json!(false), json!("txn-already-known"))
    );
    let coinbase_value: Value = node.rpc("getblock", json!([blocks[0], 2]))["tx"][0]["vout"][0]["value"].clone();
    assert_eq!(
        coinbase_value.to_string(),
        "50.00100000",
        "subsidy at height 102 (regtest halves every 150) plus the fee"
    );

    // generateblock takes txids from the mempool, and unknown ones fail as in Core
    let cb3 = coinbase(&node, 3);
    let pooled = w.spend(cb3, 50 * COIN, vec![w.out(50 * COIN - 7_000)]);
    let pooled_id = node.rpc("sendrawtransaction", json!([serialize_hex(&pooled)]));
    let e = node
        .try_rpc("generateblock", json!([w.addr.to_string(), [Txid::all_zeros().to_string()]]))
        .unwrap()
        .unwrap_err();
    assert_eq!((e.code, e.message), (-5, format!("Transaction {} not in mempool.", Txid::all_zeros())));
    let hash = node.rpc("generateblock", json!([w.addr.to_string(), [pooled_id]]))["hash"].clone();
    assert_eq!(node.rpc("getblock", json!([hash, 1]))["tx"][1], pooled_id);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    node.stop_node();
}

#[test]
fn minrelaytxfee_option() {
    let mut node = TestNode::start_new(&["-minrelaytxfee=0.0001"]);
    assert_eq!(node.rpc("getmempoolinfo", json!([]))["minrelaytxfee"].to_string(), "0.00010000");
    node.stop_node();
    let mut bad = TestNode::new(&[]);
    bad.assert_start_raises_init_error(
        &["-minrelaytxfee=abc"],
        "Error: Invalid amount for -minrelaytxfee=<amount>: 'abc'",
    );
}

#[test]
fn invalidateblock_and_reconsiderblock() {
    let mut node = TestNode::start_new(&[]);
    let w = Wallet::new(23);
    let other = Wallet::new(24);
    let hashes = node.rpc("generatetoaddress", json!([101, w.addr.to_string()]));
    let tx = w.spend(coinbase(&node, 1), 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let txid = node.rpc("sendrawtransaction", json!([serialize_hex(&tx)]));
    let top: Vec<Value> = node.rpc("generatetoaddress", json!([5, w.addr.to_string()])).as_array().unwrap().clone();
    assert_eq!(node.rpc("getblock", json!([top[0], 1]))["tx"][1], txid);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));

    // invalidating block 102 disconnects 102..106; its transaction returns to the pool
    assert_eq!(node.rpc("invalidateblock", json!([top[0]])), json!(null));
    assert_eq!(node.rpc("getblockcount", json!([])), json!(101));
    assert_eq!(node.rpc("getbestblockhash", json!([])), hashes[100]);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([txid]));
    assert!(node.rpc("gettxout", json!([txid, 0, false])).is_null(), "unconfirmed again");
    let tips = node.rpc("getchaintips", json!([]));
    let bad = tips.as_array().unwrap().iter().find(|t| t["hash"] == top[4]).unwrap();
    assert_eq!((bad["status"].clone(), bad["branchlen"].clone()), (json!("invalid"), json!(5)));
    // an unknown block
    let e = node.try_rpc("invalidateblock", json!([Txid::all_zeros().to_string()])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-5, "Block not found"));

    // a shorter valid branch, then reconsidering the long one switches back
    let short = node.rpc("generatetoaddress", json!([2, other.addr.to_string()]));
    assert_eq!(node.rpc("getblockcount", json!([])), json!(103));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]), "mined on the short branch");
    assert_eq!(node.rpc("reconsiderblock", json!([top[2]])), json!(null));
    assert_eq!(node.rpc("getbestblockhash", json!([])), top[4]);
    let tips = node.rpc("getchaintips", json!([]));
    let fork = tips.as_array().unwrap().iter().find(|t| t["hash"] == short[1]).unwrap();
    assert_eq!(fork["status"], json!("valid-fork"));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]), "the transaction is confirmed in 102 again");
    assert_eq!(node.rpc("gettxout", json!([txid, 0]))["confirmations"], json!(5));

    // invalidating a block off the active chain only marks it
    node.rpc("invalidateblock", json!([short[0]]));
    assert_eq!(node.rpc("getbestblockhash", json!([])), top[4]);
    let tips = node.rpc("getchaintips", json!([]));
    let fork = tips.as_array().unwrap().iter().find(|t| t["hash"] == short[1]).unwrap();
    assert_eq!(fork["status"], json!("invalid"));
    node.stop_node();
}

#[test]
fn invalidateblock_without_undo_data_is_an_rpc_error() {
    let mut node = TestNode::start_new(&[]);
    let w = Wallet::new(25);
    let hashes = node.rpc("generatetoaddress", json!([3, w.addr.to_string()]));
    std::fs::remove_file(node.net_dir().join("blocks/rev00000.dat")).unwrap();
    let e = node.try_rpc("invalidateblock", json!([hashes[1]])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-20, "Failed to disconnect block."));
    // the node keeps running (Core aborts only when a reorg hits this, not on the RPC)
    assert_eq!(node.rpc("getblockcount", json!([])), json!(3));
    node.stop_node();
}

fn restart(node: &mut TestNode, args: &[&str]) {
    node.stop_node();
    node.start(args);
    node.wait_for_rpc_connection();
}

#[test]
fn persistmempool_keeps_the_pool_across_restarts() {
    let mut node = TestNode::start_new(&[]);
    let w = Wallet::new(26);
    node.rpc("generatetoaddress", json!([101, w.addr.to_string()]));
    let parent = w.spend(coinbase(&node, 1), 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let child =
        w.spend(OutPoint { txid: parent.compute_txid(), vout: 0 }, 50 * COIN - 10_000, vec![w.out(50 * COIN - 20_000)]);
    let ids: Vec<Value> =
        [&parent, &child].iter().map(|t| node.rpc("sendrawtransaction", json!([serialize_hex(*t)]))).collect();
    let time = node.rpc("getmempoolentry", json!([ids[0]]))["time"].clone();
    let file = node.net_dir().join("mempool.dat");

    // a clean restart writes mempool.dat (version 2) and loads it back
    node.stop_node();
    assert_eq!(std::fs::read(&file).unwrap()[0], 2, "version 2 by default");
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert_eq!(node.rpc("getrawmempool", json!([])), json!(ids));
    assert_eq!(node.rpc("getmempoolentry", json!([ids[0]]))["time"], time, "entry time kept");
    assert!(node.debug_log().contains("Imported mempool transactions from file: 2 succeeded, 0 failed, 0 expired"));
    assert_eq!(node.rpc("savemempool", json!([])), json!({"filename": file.display().to_string()}));

    // -persistmempool=0 neither loads nor writes the file
    restart(&mut node, &["-persistmempool=0"]);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    restart(&mut node, &[]);
    assert_eq!(node.rpc("getrawmempool", json!([])).as_array().unwrap().len(), 2);

    // -persistmempoolv1 writes the legacy format, which loads as well
    restart(&mut node, &["-persistmempoolv1"]);
    node.rpc("savemempool", json!([]));
    assert_eq!(std::fs::read(&file).unwrap()[..8], [1, 0, 0, 0, 0, 0, 0, 0]);
    restart(&mut node, &["-persistmempoolv1"]);
    assert_eq!(node.rpc("getrawmempool", json!([])).as_array().unwrap().len(), 2);

    // -mempoolexpiry=0 drops everything on load as expired
    restart(&mut node, &["-mempoolexpiry=0"]);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    assert!(node.debug_log().contains("0 succeeded, 0 failed, 2 expired"));

    // a damaged file is logged and the node starts with an empty pool
    node.stop_node();
    std::fs::write(&file, b"\x02\x00\x00\x00\x00\x00\x00\x00\x08garbage").unwrap();
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    assert!(node.debug_log().contains("Failed to deserialize mempool data on file"));

    // savemempool that cannot write answers Core's error
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let e = node.try_rpc("savemempool", json!([])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-1, "Unable to dump mempool to disk"));
    node.stop_node();
}

fn utxo_summary(node: &TestNode) -> (Value, Value) {
    let info = node.rpc("gettxoutsetinfo", json!(["none"]));
    (info["txouts"].clone(), info["total_amount"].clone())
}

#[test]
fn ten_block_reorg_with_transactions_on_both_branches() {
    let mut node = TestNode::start_new(&[]);
    let w = Wallet::new(27);
    let other = Wallet::new(28);
    node.rpc("generatetoaddress", json!([103, w.addr.to_string()]));
    let (c1, c2, c3) = (coinbase(&node, 1), coinbase(&node, 2), coinbase(&node, 3));
    let tx1 = w.spend(c1, 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let tx2 = w.spend(c2, 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    for t in [&tx1, &tx2] {
        node.rpc("sendrawtransaction", json!([serialize_hex(t)]));
    }
    let id = |t: &Transaction| json!(t.compute_txid().to_string());

    // branch A: 10 blocks, the first confirms tx1 and tx2
    let a: Vec<Value> = node.rpc("generatetoaddress", json!([10, w.addr.to_string()])).as_array().unwrap().clone();
    assert_eq!(node.rpc("getblock", json!([a[0], 1]))["nTx"], json!(3));
    let utxos_a = utxo_summary(&node);

    // set A aside: tx1 and tx2 return to the pool
    node.rpc("invalidateblock", json!([a[0]]));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([id(&tx1), id(&tx2)]));
    let seq = node.rpc("getrawmempool", json!([false, true]))["mempool_sequence"].clone();

    // branch B: tx1 replaced by a double spend paying more, plus tx3; 11 blocks
    let tx1b = w.spend(c1, 50 * COIN, vec![other.out(50 * COIN - 50_000)]);
    let tx3 = w.spend(c3, 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    for t in [&tx1b, &tx3] {
        node.rpc("sendrawtransaction", json!([serialize_hex(t)]));
    }
    // one removal (tx1, replaced) and two additions
    assert_eq!(node.rpc("getrawmempool", json!([false, true]))["mempool_sequence"], json!(seq.as_u64().unwrap() + 3));
    let b: Vec<Value> = node.rpc("generatetoaddress", json!([11, other.addr.to_string()])).as_array().unwrap().clone();
    assert_eq!(node.rpc("getblock", json!([b[0], 1]))["nTx"], json!(4));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([]));
    node.rpc("reconsiderblock", json!([a[0]]));
    assert_eq!(node.rpc("getbestblockhash", json!([])), b[10], "B has more work");

    // invalidating B's first block reorganises 11 blocks out, 10 in
    node.rpc("invalidateblock", json!([b[0]]));
    assert_eq!(node.rpc("getbestblockhash", json!([])), a[9]);
    // tx1 and tx2 are confirmed again; tx1b conflicts with tx1 and is gone;
    // tx3 is back in the pool
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([id(&tx3)]));
    assert_eq!(node.rpc("gettxout", json!([id(&tx1), 0]))["confirmations"], json!(10));
    assert_eq!(node.rpc("gettxout", json!([id(&tx2), 0]))["confirmations"], json!(10));
    assert!(node.rpc("gettxout", json!([id(&tx1b), 0])).is_null());
    assert!(node.rpc("gettxout", json!([id(&tx3), 0, false])).is_null(), "unconfirmed");
    assert_eq!(node.rpc("gettxout", json!([id(&tx3), 0]))["confirmations"], json!(0));
    assert_eq!(utxo_summary(&node), utxos_a, "UTXO set as it was on A");
    let tips = node.rpc("getchaintips", json!([]));
    let b_tip = tips.as_array().unwrap().iter().find(|t| t["hash"] == b[10]).unwrap();
    assert_eq!((b_tip["status"].clone(), b_tip["branchlen"].clone()), (json!("invalid"), json!(11)));

    // the same chain survives a restart
    node.stop_node();
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert_eq!(node.rpc("getbestblockhash", json!([])), a[9]);
    assert_eq!(utxo_summary(&node), utxos_a);
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([id(&tx3)]));
    node.stop_node();
}

#[test]
fn mempoolexpiry_drops_old_transactions_on_the_next_acceptance() {
    let mut node = TestNode::start_new(&["-mempoolexpiry=1", "-debug=mempool"]);
    let w = Wallet::new(29);
    node.rpc("generatetoaddress", json!([102, w.addr.to_string()]));
    let t = node.rpc("getblockheader", json!([node.rpc("getbestblockhash", json!([]))]))["time"].as_u64().unwrap() + 10;
    node.rpc("setmocktime", json!([t]));
    let old = w.spend(coinbase(&node, 1), 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let old_id = node.rpc("sendrawtransaction", json!([serialize_hex(&old)]));
    let child =
        w.spend(OutPoint { txid: old.compute_txid(), vout: 0 }, 50 * COIN - 10_000, vec![w.out(50 * COIN - 20_000)]);
    node.rpc("setmocktime", json!([t + 3_000]));
    let child_id = node.rpc("sendrawtransaction", json!([serialize_hex(&child)]));
    assert_eq!(node.rpc("getrawmempool", json!([])).as_array().unwrap().len(), 2, "not an hour yet");
    // past one hour for `old`: the next acceptance expires it and its child
    node.rpc("setmocktime", json!([t + 3_601]));
    let fresh = w.spend(coinbase(&node, 2), 50 * COIN, vec![w.out(50 * COIN - 10_000)]);
    let fresh_id = node.rpc("sendrawtransaction", json!([serialize_hex(&fresh)]));
    assert_eq!(node.rpc("getrawmempool", json!([])), json!([fresh_id]));
    assert!(node.debug_log().contains("[mempool] Expired 2 transactions from the memory pool"));
    let _ = (old_id, child_id);
    node.stop_node();
}
