//! Consensus checks of submitted blocks, with blocks built here from
//! scratch: spends signed for P2WPKH and taproot (key path) pass Core's
//! interpreter; broken blocks get Core's reject reasons and leave the tip
//! alone.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use bitcoin::block::{Header, Version};
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::hashes::Hash;
use bitcoin::key::{Keypair, Secp256k1, TapTweak};
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{Message, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{
    absolute, opcodes, transaction, Address, Amount, Block, BlockHash, CompactTarget, CompressedPublicKey, KnownHrp,
    Network, OutPoint, PrivateKey, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use ferronode_functional_tests::{grind, TestNode};
use serde_json::json;

const COIN: u64 = 100_000_000;

fn secret(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

fn p2wpkh(sk: &SecretKey) -> (Address, CompressedPublicKey) {
    let secp = Secp256k1::new();
    let pk = CompressedPublicKey::from_private_key(&secp, &PrivateKey::new(*sk, Network::Regtest)).unwrap();
    (Address::p2wpkh(&pk, KnownHrp::Regtest), pk)
}

fn p2tr(sk: &SecretKey) -> Address {
    let secp = Secp256k1::new();
    let (xonly, _) = Keypair::from_secret_key(&secp, sk).x_only_public_key();
    Address::p2tr(&secp, xonly, None, KnownHrp::Regtest)
}

fn spend(prev: OutPoint, out: TxOut) -> Transaction {
    ferronode_functional_tests::op_true::unsigned(prev, vec![out])
}

fn sign_p2wpkh(tx: &mut Transaction, sk: &SecretKey, value: Amount) {
    let secp = Secp256k1::new();
    let (addr, pk) = p2wpkh(sk);
    let sighash =
        SighashCache::new(&*tx).p2wpkh_signature_hash(0, &addr.script_pubkey(), value, EcdsaSighashType::All).unwrap();
    let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), sk);
    tx.input[0].witness = Witness::p2wpkh(&bitcoin::ecdsa::Signature::sighash_all(sig), &pk.0);
}

fn sign_taproot_key_path(tx: &mut Transaction, sk: &SecretKey, prevout: &TxOut) {
    let secp = Secp256k1::new();
    let tweaked = Keypair::from_secret_key(&secp, sk).tap_tweak(&secp, None);
    let prevouts = [prevout.clone()];
    let sighash = SighashCache::new(&*tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(&prevouts), TapSighashType::Default)
        .unwrap();
    let sig = secp.sign_schnorr_no_aux_rand(&Message::from_digest(sighash.to_byte_array()), &tweaked.to_keypair());
    tx.input[0].witness =
        Witness::p2tr_key_spend(&bitcoin::taproot::Signature { signature: sig, sighash_type: TapSighashType::Default });
}

/// A block on `prev` at `height` with `txs`, built like Core's miner: BIP34
/// height, coinbase paying `coinbase_value` to `pay_to`, witness commitment,
/// proof of work.
fn block(
    prev: BlockHash,
    time: u32,
    height: u32,
    coinbase_value: u64,
    pay_to: &ScriptBuf,
    txs: Vec<Transaction>,
) -> Block {
    let mut coinbase = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: Builder::new().push_int(i64::from(height)).push_opcode(opcodes::OP_0).into_script(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut { value: Amount::from_sat(coinbase_value), script_pubkey: pay_to.clone() }],
    };
    let mut b = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata: std::iter::once(coinbase.clone()).chain(txs).collect(),
    };
    let witness_root = b.witness_root().unwrap();
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
    data.extend_from_slice(commitment.as_byte_array());
    coinbase.output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: Builder::new()
            .push_opcode(opcodes::all::OP_RETURN)
            .push_slice(PushBytesBuf::try_from(data).unwrap())
            .into_script(),
    });
    b.txdata[0] = coinbase;
    grind(&mut b);
    b
}

struct Tip {
    hash: BlockHash,
    height: u32,
    time: u32,
}

fn tip(node: &TestNode) -> Tip {
    let hash = node.rpc("getbestblockhash", json!([]));
    let header = node.rpc("getblockheader", json!([hash]));
    Tip {
        hash: BlockHash::from_str(hash.as_str().unwrap()).unwrap(),
        height: u32::try_from(header["height"].as_u64().unwrap()).unwrap(),
        time: u32::try_from(header["time"].as_u64().unwrap()).unwrap(),
    }
}

fn submit(node: &TestNode, b: &Block) -> serde_json::Value {
    node.rpc("submitblock", json!([serialize_hex(b)]))
}

fn coinbase_of(node: &TestNode, height: u32) -> (Txid, TxOut) {
    let hash = node.rpc("getblockhash", json!([height]));
    let raw = node.rpc("getblock", json!([hash, 0]));
    let b: Block = deserialize_hex(raw.as_str().unwrap()).unwrap();
    (b.txdata[0].compute_txid(), b.txdata[0].output[0].clone())
}

#[test]
fn blocks_with_spends_and_broken_blocks() {
    let mut node = TestNode::start_new(&[]);
    let alice = secret(7);
    let bob = secret(8);
    let (alice_addr, _) = p2wpkh(&alice);
    node.rpc("generatetoaddress", json!([101, alice_addr.to_string()]));
    let miner = alice_addr.script_pubkey();
    let (cb1, cb1_out) = coinbase_of(&node, 1);
    assert_eq!(cb1_out.value.to_sat(), 50 * COIN);

    let t = tip(&node);
    let h = t.height + 1;
    let fee = 10_000;
    let to_bob = TxOut { value: Amount::from_sat(50 * COIN - fee), script_pubkey: p2tr(&bob).script_pubkey() };
    let mut good = spend(OutPoint { txid: cb1, vout: 0 }, to_bob.clone());
    sign_p2wpkh(&mut good, &alice, cb1_out.value);

    // broken blocks first: each leaves the tip where it was
    let mut wrong_key = good.clone();
    sign_p2wpkh(&mut wrong_key, &bob, cb1_out.value);
    let cases: Vec<(Block, &str)> = vec![
        (
            block(t.hash, t.time + 1, h, 50 * COIN + fee, &miner, vec![wrong_key]),
            "block-script-verify-flag-failed (Script failed)",
        ),
        (block(t.hash, t.time + 1, h, 50 * COIN + fee + 1, &miner, vec![good.clone()]), "bad-cb-amount"),
        (block(t.hash, t.time + 1, h + 1, 50 * COIN, &miner, vec![]), "bad-cb-height"),
        (block(t.hash, t.time - 600, h, 50 * COIN, &miner, vec![]), "time-too-old"),
        (
            {
                let mut missing = spend(OutPoint { txid: Txid::all_zeros(), vout: 0 }, to_bob.clone());
                sign_p2wpkh(&mut missing, &alice, cb1_out.value);
                block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![missing])
            },
            "bad-txns-inputs-missingorspent",
        ),
        (
            {
                let (cb50, cb50_out) = coinbase_of(&node, 50);
                let mut young = spend(OutPoint { txid: cb50, vout: 0 }, to_bob.clone());
                sign_p2wpkh(&mut young, &alice, cb50_out.value);
                block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![young])
            },
            "bad-txns-premature-spend-of-coinbase",
        ),
        (
            {
                let mut b = block(t.hash, t.time + 1, h, 50 * COIN + fee, &miner, vec![good.clone()]);
                b.txdata[0].output[1].script_pubkey = Builder::new()
                    .push_opcode(opcodes::all::OP_RETURN)
                    .push_slice(
                        PushBytesBuf::try_from(
                            vec![0xaa, 0x21, 0xa9, 0xed].into_iter().chain([9u8; 32]).collect::<Vec<u8>>(),
                        )
                        .unwrap(),
                    )
                    .into_script();
                grind(&mut b);
                b
            },
            "bad-witness-merkle-match",
        ),
        (
            {
                let mut b = block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![]);
                b.header.merkle_root = TxMerkleNode::all_zeros();
                while b.header.validate_pow(b.header.target()).is_err() {
                    b.header.nonce += 1;
                }
                b
            },
            "bad-txnmrklroot",
        ),
        (
            {
                let mut b = block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![]);
                while b.header.validate_pow(b.header.target()).is_ok() {
                    b.header.nonce += 1;
                }
                b
            },
            "high-hash",
        ),
    ];
    for (b, reason) in cases {
        assert_eq!(submit(&node, &b), json!(reason));
        assert_eq!(tip(&node).hash, t.hash, "{reason}: the tip did not move");
    }

    // a P2WPKH spend, then a taproot key-path spend of its output
    let good_txid = good.compute_txid();
    let b1 = block(t.hash, t.time + 1, h, 50 * COIN + fee, &miner, vec![good.clone()]);
    assert_eq!(submit(&node, &b1), json!(null));
    let mut tap = spend(
        OutPoint { txid: good.compute_txid(), vout: 0 },
        TxOut { value: Amount::from_sat(50 * COIN - 2 * fee), script_pubkey: p2wpkh(&alice).0.script_pubkey() },
    );
    sign_taproot_key_path(&mut tap, &bob, &to_bob);
    let b2 = block(b1.block_hash(), t.time + 2, h + 1, 25 * COIN + fee, &miner, vec![tap.clone()]);
    assert_eq!(submit(&node, &b2), json!(null));
    assert_eq!(tip(&node).hash, b2.block_hash());
    // a double spend of an output the chain already spent
    let b3 = block(b2.block_hash(), t.time + 3, h + 2, 25 * COIN, &miner, vec![good]);
    assert_eq!(submit(&node, &b3), json!("bad-txns-inputs-missingorspent"));
    let info = node.rpc("getblock", json!([b2.block_hash().to_string()]));
    assert_eq!(info["nTx"], json!(2));
    assert_eq!(info["tx"][1], json!(tap.compute_txid().to_string()));
    // coins: one per block (the coinbase outputs) minus the spent coinbase plus the final output
    let utxo = node.rpc("gettxoutsetinfo", json!([]));
    assert_eq!(utxo["txouts"], json!(u64::from(h + 1)));

    // transactions as JSON, the way Core writes them
    let b1h = b1.block_hash().to_string();
    let v2 = node.rpc("getblock", json!([b1h, 2]));
    let tx = &v2["tx"][1];
    let keys: Vec<&str> = tx.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["txid", "hash", "version", "size", "vsize", "weight", "locktime", "vin", "vout", "fee", "hex"]);
    assert_eq!(tx["txid"], json!(good_txid.to_string()));
    assert_eq!(tx["fee"].to_string(), "0.00010000");
    assert_eq!(tx["vin"][0]["txid"], json!(cb1.to_string()));
    assert_eq!(tx["vin"][0]["scriptSig"], json!({"asm": "", "hex": ""}));
    assert_eq!(tx["vin"][0]["txinwitness"].as_array().unwrap().len(), 2);
    assert!(tx["vin"][0].get("prevout").is_none(), "prevout only with verbosity 3");
    let spk = &tx["vout"][0]["scriptPubKey"];
    assert_eq!(spk["type"], json!("witness_v1_taproot"));
    assert_eq!(spk["address"], json!(p2tr(&bob).to_string()));
    assert!(spk["desc"].as_str().unwrap().starts_with("rawtr("));
    assert_eq!(tx["vout"][0]["value"].to_string(), "49.99990000");
    let cb = &v2["tx"][0];
    assert!(cb["vin"][0]["coinbase"].is_string());
    assert!(cb.get("fee").is_none());
    assert_eq!(cb["vout"][1]["scriptPubKey"]["type"], json!("nulldata"));
    let v3 = node.rpc("getblock", json!([b1h, 3]));
    let prevout = &v3["tx"][1]["vin"][0]["prevout"];
    assert_eq!(prevout["generated"], json!(true));
    assert_eq!(prevout["height"], json!(1));
    assert_eq!(prevout["value"].to_string(), "50.00000000");
    assert_eq!(prevout["scriptPubKey"]["type"], json!("witness_v0_keyhash"));
    assert_eq!(prevout["scriptPubKey"]["address"], json!(alice_addr.to_string()));
    assert!(prevout["scriptPubKey"]["desc"].as_str().unwrap().starts_with(&format!("addr({alice_addr})#")));

    let raw = node.rpc("getrawtransaction", json!([good_txid.to_string(), 0, b1h]));
    assert_eq!(raw, tx["hex"]);
    let verbose = node.rpc("getrawtransaction", json!([good_txid.to_string(), 1, b1h]));
    assert_eq!(verbose["in_active_chain"], json!(true));
    assert_eq!(verbose["blockhash"], json!(b1h));
    assert_eq!(verbose["confirmations"], json!(2));
    let mut decoded = node.rpc("decoderawtransaction", json!([raw]));
    let mut expected = tx.clone();
    expected.as_object_mut().unwrap().remove("fee");
    expected.as_object_mut().unwrap().remove("hex");
    decoded.as_object_mut().unwrap().remove("fee");
    assert_eq!(decoded, expected);
    let err = node.try_rpc("getrawtransaction", json!([good_txid.to_string()])).unwrap().unwrap_err();
    assert_eq!(err.code, -5);
    let err = node.try_rpc("decoderawtransaction", json!(["00"])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-22, "TX decode failed"));
    node.stop_node();
}

#[test]
fn generateblock_generatetodescriptor_and_gettxout() {
    let mut node = TestNode::start_new(&[]);
    let alice = secret(9);
    let (alice_addr, alice_pk) = p2wpkh(&alice);
    // generatetodescriptor with a key descriptor, checksum optional
    let desc = format!("wpkh({alice_pk})");
    let hashes = node.rpc("generatetodescriptor", json!([101, desc]));
    assert_eq!(hashes.as_array().unwrap().len(), 101);
    let err = node.try_rpc("generatetodescriptor", json!([1, format!("{desc}#qqqqqqqq")])).unwrap().unwrap_err();
    assert_eq!(err.code, -5);
    assert!(
        err.message.starts_with("Provided checksum 'qqqqqqqq' does not match computed checksum"),
        "{}",
        err.message
    );
    let (cb1, cb1_out) = coinbase_of(&node, 1);
    assert_eq!(cb1_out.script_pubkey, alice_addr.script_pubkey());

    // gettxout: the coin, then nothing once spent
    let out = node.rpc("gettxout", json!([cb1.to_string(), 0]));
    assert_eq!(out["confirmations"], json!(101));
    assert_eq!(out["value"].to_string(), "50.00000000");
    assert_eq!(out["coinbase"], json!(true));
    assert_eq!(out["scriptPubKey"]["address"], json!(alice_addr.to_string()));
    assert_eq!(node.rpc("gettxout", json!([cb1.to_string(), 5])), json!(null));

    // generateblock with a raw transaction: its fee goes to the coinbase
    let mut tx = spend(
        OutPoint { txid: cb1, vout: 0 },
        TxOut { value: Amount::from_sat(49 * COIN), script_pubkey: alice_addr.script_pubkey() },
    );
    sign_p2wpkh(&mut tx, &alice, cb1_out.value);
    let raw = serialize_hex(&tx);
    let dry = node.rpc("generateblock", json!([alice_addr.to_string(), [raw], false]));
    assert!(dry["hex"].is_string());
    assert_eq!(node.rpc("getblockcount", json!([])), json!(101), "submit=false leaves the chain alone");
    let made = node.rpc("generateblock", json!([alice_addr.to_string(), [raw]]));
    assert_eq!(node.rpc("getbestblockhash", json!([])), made["hash"]);
    let block = node.rpc("getblock", json!([made["hash"], 2]));
    assert_eq!(block["tx"][0]["vout"][0]["value"].to_string(), "51.00000000", "subsidy 50 plus fee 1");
    assert_eq!(node.rpc("gettxout", json!([cb1.to_string(), 0])), json!(null));
    let err = node.try_rpc("generateblock", json!([alice_addr.to_string(), [raw]])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-25, "TestBlockValidity failed: bad-txns-inputs-missingorspent"));
    let err = node.try_rpc("generateblock", json!([alice_addr.to_string(), ["ab".repeat(32)]])).unwrap().unwrap_err();
    assert_eq!(err.code, -5);
    let err = node.try_rpc("generateblock", json!(["nope", []])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-5, "Error: Invalid address or descriptor"));
    node.stop_node();
}

#[test]
fn txindex() {
    let mut node = TestNode::start_new(&[]);
    let alice = secret(11);
    let (alice_addr, _) = p2wpkh(&alice);
    node.rpc("generatetoaddress", json!([3, alice_addr.to_string()]));
    let (cb2, _) = coinbase_of(&node, 2);
    // without -txindex a block hash is needed
    let err = node.try_rpc("getrawtransaction", json!([cb2.to_string()])).unwrap().unwrap_err();
    assert!(err.message.starts_with("No such mempool transaction. Use -txindex"), "{}", err.message);
    assert_eq!(node.rpc("getindexinfo", json!([])), json!({}));
    node.stop_node();
    // switched on later, it is built from the existing blocks, then kept up
    node.start(&["-txindex"]);
    node.wait_for_rpc_connection();
    assert_eq!(node.rpc("getindexinfo", json!([])), json!({"txindex": {"synced": true, "best_block_height": 3}}));
    let tx = node.rpc("getrawtransaction", json!([cb2.to_string(), true]));
    assert_eq!(tx["txid"], json!(cb2.to_string()));
    assert_eq!(tx["blockhash"], node.rpc("getblockhash", json!([2])));
    assert_eq!(tx["confirmations"], json!(2));
    assert!(tx.get("in_active_chain").is_none(), "only shown when a block hash was given");
    node.rpc("generatetoaddress", json!([1, alice_addr.to_string()]));
    let (cb4, _) = coinbase_of(&node, 4);
    assert!(node.rpc("getrawtransaction", json!([cb4.to_string()])).is_string());
    let err = node.try_rpc("getrawtransaction", json!(["ab".repeat(32)])).unwrap().unwrap_err();
    assert_eq!(err.message, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.");
    assert_eq!(node.rpc("getindexinfo", json!(["txindex"]))["txindex"]["best_block_height"], json!(4));
    node.stop_node();
}

#[test]
fn decodescript_like_core() {
    let mut node = TestNode::start_new(&[]);
    let (addr, pk) = p2wpkh(&secret(12));
    let pkh = Address::p2pkh(pk, Network::Regtest);
    // P2PKH: wrappable in P2SH and as P2WPKH
    let d = node.rpc("decodescript", json!([pkh.script_pubkey().to_hex_string()]));
    assert_eq!(d["type"], json!("pubkeyhash"));
    assert_eq!(d["address"], json!(pkh.to_string()));
    assert!(d["asm"].as_str().unwrap().starts_with("OP_DUP OP_HASH160 "));
    assert!(d["desc"].as_str().unwrap().starts_with(&format!("addr({pkh})#")));
    assert!(d["p2sh"].as_str().unwrap().starts_with('2'));
    assert_eq!(d["segwit"]["type"], json!("witness_v0_keyhash"));
    assert_eq!(d["segwit"]["address"], json!(addr.to_string()));
    assert!(d["segwit"]["p2sh-segwit"].is_string());
    // witness programs and OP_RETURN are not wrapped
    let d = node.rpc("decodescript", json!([addr.script_pubkey().to_hex_string()]));
    assert_eq!(d["type"], json!("witness_v0_keyhash"));
    assert!(d.get("segwit").is_none());
    let d = node.rpc("decodescript", json!(["6a0401020304"]));
    assert_eq!((d["type"].clone(), d["asm"].clone()), (json!("nulldata"), json!("OP_RETURN 67305985")));
    assert!(d.get("p2sh").is_none());
    // an empty script is valid
    let d = node.rpc("decodescript", json!([""]));
    assert_eq!((d["asm"].clone(), d["type"].clone()), (json!(""), json!("nonstandard")));
    let err = node.try_rpc("decodescript", json!(["zz"])).unwrap().unwrap_err();
    assert_eq!(err.code, -8);
    node.stop_node();
}

#[test]
fn transaction_rules() {
    let mut node = TestNode::start_new(&[]);
    let alice = secret(13);
    let (alice_addr, _) = p2wpkh(&alice);
    node.rpc("generatetoaddress", json!([101, alice_addr.to_string()]));
    let miner = alice_addr.script_pubkey();
    let (cb1, cb1_out) = coinbase_of(&node, 1);
    let (cb2, cb2_out) = coinbase_of(&node, 2);
    let t = tip(&node);
    let h = t.height + 1;
    let out = |sats: u64| TxOut { value: Amount::from_sat(sats), script_pubkey: miner.clone() };
    let signed = |prev: Txid, value: Amount, outs: Vec<TxOut>, lock: u32, seq: u32| {
        let mut tx = spend(OutPoint { txid: prev, vout: 0 }, outs.first().cloned().unwrap_or_else(|| out(0)));
        tx.output = outs;
        tx.lock_time = absolute::LockTime::from_consensus(lock);
        tx.input[0].sequence = Sequence(seq);
        sign_p2wpkh(&mut tx, &alice, value);
        tx
    };
    let mut dup_input = signed(cb1, cb1_out.value, vec![out(COIN)], 0, u32::MAX);
    dup_input.input.push(dup_input.input[0].clone());
    let mut too_much = signed(cb1, cb1_out.value, vec![out(21_000_001 * COIN)], 0, u32::MAX);
    too_much.output[0].value = Amount::from_sat(21_000_001 * COIN);
    let cases: Vec<(Vec<Transaction>, &str)> = vec![
        (vec![signed(cb1, cb1_out.value, vec![], 0, u32::MAX)], "bad-txns-vout-empty"),
        (vec![dup_input], "bad-txns-inputs-duplicate"),
        (vec![too_much], "bad-txns-vout-toolarge"),
        (vec![signed(cb1, cb1_out.value, vec![out(COIN)], h, 0)], "bad-txns-nonfinal"),
        (vec![signed(cb1, cb1_out.value, vec![out(60 * COIN)], 0, u32::MAX)], "bad-txns-in-belowout"),
        (
            vec![
                signed(cb1, cb1_out.value, vec![out(COIN)], 0, u32::MAX),
                signed(cb1, cb1_out.value, vec![out(2 * COIN)], 0, u32::MAX),
            ],
            "bad-txns-inputs-missingorspent",
        ),
    ];
    for (txs, reason) in cases {
        let b = block(t.hash, t.time + 1, h, 50 * COIN, &miner, txs);
        assert_eq!(submit(&node, &b), json!(reason));
    }
    // BIP68: an input locked for one block cannot spend an output of the same block
    let parent = signed(cb1, cb1_out.value, vec![out(49 * COIN)], 0, u32::MAX);
    let mut child = spend(OutPoint { txid: parent.compute_txid(), vout: 0 }, out(48 * COIN));
    child.input[0].sequence = Sequence(1);
    sign_p2wpkh(&mut child, &alice, Amount::from_sat(49 * COIN));
    let b = block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![parent, child]);
    assert_eq!(submit(&node, &b), json!("bad-txns-nonfinal"));
    // too many signature operations
    let mut b = block(t.hash, t.time + 1, h, 50 * COIN, &miner, vec![]);
    b.txdata[0].output.push(TxOut { value: Amount::ZERO, script_pubkey: ScriptBuf::from_bytes(vec![0xac; 20_001]) });
    let witness_root = b.witness_root().unwrap();
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
    data.extend_from_slice(commitment.as_byte_array());
    b.txdata[0].output[1].script_pubkey = Builder::new()
        .push_opcode(opcodes::all::OP_RETURN)
        .push_slice(PushBytesBuf::try_from(data).unwrap())
        .into_script();
    grind(&mut b);
    assert_eq!(submit(&node, &b), json!("bad-blk-sigops"));
    // a lock time that is reached, or final sequences, are fine; so is a chain of spends in one block
    let first = signed(cb2, cb2_out.value, vec![out(49 * COIN)], h - 1, 0);
    let b = block(t.hash, t.time + 1, h, 50 * COIN + COIN, &miner, vec![first]);
    assert_eq!(submit(&node, &b), json!(null));
    node.stop_node();
}

#[test]
fn reorg_to_an_invalid_branch_goes_back() {
    let mut node = TestNode::start_new(&[]);
    let (addr, _) = p2wpkh(&secret(14));
    let miner = addr.script_pubkey();
    node.rpc("generatetoaddress", json!([2, addr.to_string()]));
    let old_tip = tip(&node);
    let genesis_hash = BlockHash::from_str(node.rpc("getblockhash", json!([0])).as_str().unwrap()).unwrap();
    let g_time =
        u32::try_from(node.rpc("getblockheader", json!([genesis_hash.to_string()]))["time"].as_u64().unwrap()).unwrap();
    // a competing branch from genesis: two valid blocks, then one paying too much
    let b1 = block(genesis_hash, g_time + 1, 1, 50 * COIN, &miner, vec![]);
    let b2 = block(b1.block_hash(), g_time + 2, 2, 50 * COIN, &miner, vec![]);
    let b3 = block(b2.block_hash(), g_time + 3, 3, 50 * COIN + 1, &miner, vec![]);
    assert_eq!(submit(&node, &b1), json!("inconclusive"));
    assert_eq!(submit(&node, &b2), json!("inconclusive"));
    assert_eq!(submit(&node, &b3), json!("bad-cb-amount"));
    let now = tip(&node);
    assert_eq!((now.hash, now.height), (old_tip.hash, old_tip.height), "back on the old branch");
    let tips = node.rpc("getchaintips", json!([]));
    let invalid = tips.as_array().unwrap().iter().find(|t| t["hash"] == json!(b3.block_hash().to_string())).unwrap();
    assert_eq!(invalid["status"], json!("invalid"));
    // a block on top of the invalid one is refused
    let b4 = block(b3.block_hash(), g_time + 4, 4, 50 * COIN, &miner, vec![]);
    assert_eq!(submit(&node, &b4), json!("bad-prevblk"));
    assert_eq!(node.rpc("gettxoutsetinfo", json!([]))["txouts"], json!(2));
    node.stop_node();
}
