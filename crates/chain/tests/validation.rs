//! The chain as a library, without a node: block checks, reorganisation
//! steps, undo round trips, and mempool acceptance and eviction.

#![allow(clippy::unwrap_used)]

use bitcoin::hashes::Hash as _;
use bitcoin::{
    absolute, transaction, Address, Amount, Block, KnownHrp, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};
use ferronode_chain::{BlockError, Chain, ChainConfig, RejectKind};

/// A fresh chain in its own temp dir; `tag` keeps parallel tests apart.
fn open(tag: &str, config: impl FnOnce(ChainConfig) -> ChainConfig) -> (Chain, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ferronode-chain-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    (Chain::open(&config(ChainConfig::new(&dir)), None).unwrap(), dir)
}

/// Anyone can spend it, with the witness `[OP_TRUE]`.
fn op_true_script() -> ScriptBuf {
    Address::p2wsh(&ScriptBuf::from_bytes(vec![0x51]), KnownHrp::Regtest).script_pubkey()
}

fn spend(prev: OutPoint, values: &[u64]) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: prev,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0x51]]),
        }],
        output: values.iter().map(|v| TxOut { value: Amount::from_sat(*v), script_pubkey: op_true_script() }).collect(),
    }
}

fn block_at(chain: &Chain, height: u32) -> Block {
    let info = chain.info(&chain.hash_at(height).unwrap()).unwrap();
    bitcoin::consensus::deserialize(&chain.block_bytes(&info).unwrap()).unwrap()
}

/// The coinbase output of the block at `height`.
fn coinbase_of(chain: &Chain, height: u32) -> OutPoint {
    OutPoint { txid: block_at(chain, height).txdata[0].compute_txid(), vout: 0 }
}

fn mine(chain: &Chain, n: usize) {
    for _ in 0..n {
        chain.mine(&op_true_script(), u64::MAX).unwrap().unwrap();
    }
}

/// Grinds the nonce until the header meets regtest's target.
fn regrind(block: &mut Block) {
    while block.header.validate_pow(block.header.target()).is_err() {
        block.header.nonce += 1;
    }
}

#[test]
fn broken_blocks_get_cores_reasons() {
    let (chain, dir) = open("checks", |c| c);
    mine(&chain, 1);
    let good = chain.generate_block(&op_true_script(), &[], false).unwrap();

    let mut bad_root = good.clone();
    bad_root.header.merkle_root = TxMerkleNode::all_zeros();
    regrind(&mut bad_root);
    assert_eq!(chain.submit(&bad_root), Err(BlockError::Invalid("bad-txnmrklroot")));

    let mut bad_bits = good.clone();
    bad_bits.header.bits = bitcoin::CompactTarget::from_consensus(0x1d00_ffff);
    assert_eq!(chain.submit(&bad_bits), Err(BlockError::Invalid("bad-diffbits")));

    let mut two_coinbases = good.clone();
    two_coinbases.txdata.push(good.txdata[0].clone());
    two_coinbases.header.merkle_root = two_coinbases.compute_merkle_root().unwrap();
    regrind(&mut two_coinbases);
    assert!(matches!(chain.submit(&two_coinbases), Err(BlockError::Invalid(_))));

    let mut orphan = good.clone();
    orphan.header.prev_blockhash = bitcoin::BlockHash::all_zeros();
    regrind(&mut orphan);
    assert!(chain.submit(&orphan).is_err());

    assert_eq!(chain.height(), 1, "no broken block was connected");
    chain.submit(&good).unwrap();
    assert_eq!(chain.submit(&good), Err(BlockError::Duplicate));
    assert_eq!(chain.height(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn invalidate_and_reconsider_move_tip_and_coins() {
    let (chain, dir) = open("reorg", |c| c);
    mine(&chain, 3);
    let tip3 = chain.tip().hash;
    let cb3 = coinbase_of(&chain, 3);
    assert!(chain.coin(&cb3).unwrap().is_some());

    let second = chain.hash_at(2).unwrap();
    chain.invalidate(&second).unwrap();
    assert_eq!(chain.height(), 1);
    assert!(chain.coin(&cb3).unwrap().is_none(), "a disconnected block's coins are gone");

    // a competing branch (later timestamps, so other blocks than the invalidated ones)
    chain.set_mocktime(u64::from(chain.tip().header.time) + 3_600);
    mine(&chain, 2);
    assert_eq!(chain.height(), 3);
    assert_ne!(chain.tip().hash, tip3);
    chain.reconsider(&second).unwrap();
    assert_eq!(chain.height(), 3, "equal work: the first-seen active chain stays");
    mine(&chain, 1);
    assert_eq!(chain.height(), 4);
    let tips = chain.tips();
    assert_eq!(tips.iter().filter(|t| t.2 == "active").count(), 1);
    assert!(tips.len() >= 2, "the other branch is still a known tip");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn undo_data_restores_the_spent_coins() {
    let (chain, dir) = open("undo", |c| c);
    mine(&chain, 101);
    let prev = coinbase_of(&chain, 1);
    let before = chain.coin(&prev).unwrap().unwrap();
    let tx = spend(prev, &[50 * 100_000_000 - 10_000]);
    chain.accept(&tx, false).unwrap();
    mine(&chain, 1);
    assert!(chain.coin(&prev).unwrap().is_none(), "spent");
    let tip = chain.tip();
    let undo = chain.block_undo(&tip).unwrap();
    assert_eq!(undo.len(), 1, "one non-coinbase transaction");
    assert_eq!(undo[0], vec![before.clone()], "the undo data holds the spent coin as it was");

    chain.invalidate(&tip.hash).unwrap();
    assert_eq!(chain.coin(&prev).unwrap(), Some(before), "disconnecting restores it exactly");
    assert!(chain.with_mempool(|m| m.get(&tx.compute_txid()).is_some()), "the transaction is back in the pool");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mempool_refuses_with_cores_reasons() {
    let (chain, dir) = open("accept", |c| c);
    mine(&chain, 101);
    let mature = coinbase_of(&chain, 1);
    let immature = coinbase_of(&chain, 101);

    let missing = spend(OutPoint { txid: bitcoin::Txid::all_zeros(), vout: 7 }, &[1_000]);
    assert_eq!(chain.accept(&missing, true).unwrap_err().kind, RejectKind::MissingInputs);

    let early = spend(immature, &[1_000_000]);
    assert_eq!(chain.accept(&early, true).unwrap_err().reason, "bad-txns-premature-spend-of-coinbase");

    let too_much = spend(mature, &[51 * 100_000_000]);
    assert_eq!(chain.accept(&too_much, true).unwrap_err().reason, "bad-txns-in-belowout");

    let dust = spend(mature, &[50 * 100_000_000 - 10_000, 1]);
    assert_eq!(chain.accept(&dust, true).unwrap_err().reason, "dust");

    let free = spend(mature, &[50 * 100_000_000]);
    assert_eq!(chain.accept(&free, true).unwrap_err().reason, "min relay fee not met");

    let ok = spend(mature, &[50 * 100_000_000 - 10_000]);
    chain.accept(&ok, false).unwrap();
    assert_eq!(chain.accept(&ok, true).unwrap_err().reason, "txn-already-in-mempool");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_full_pool_evicts_the_lowest_fee_rate() {
    let (chain, dir) = open("evict", |c| {
        let mut c = c;
        c.max_mempool_bytes = 4_000;
        c
    });
    mine(&chain, 120);
    let mut accepted = Vec::new();
    for (i, height) in (1..=19).enumerate() {
        let fee = 1_000 + 1_000 * i as u64;
        let tx = spend(coinbase_of(&chain, height), &[50 * 100_000_000 - fee]);
        if chain.accept(&tx, false).is_ok() {
            accepted.push((fee, tx.compute_txid()));
        }
    }
    let (_, cheapest) = accepted[0];
    let (_, dearest) = *accepted.last().unwrap();
    chain.with_mempool(|m| {
        assert!(m.len() < accepted.len(), "the size limit trimmed the pool");
        assert!(m.get(&cheapest).is_none(), "the lowest fee rate went first");
        assert!(m.get(&dearest).is_some(), "the highest fee rate stays");
    });
    let (_, min_fee) = chain.mempool_limits();
    assert!(min_fee > chain.min_relay_fee(), "trimming raises the pool's minimum fee");
    let _ = std::fs::remove_dir_all(dir);
}
