//! The validation event stream, in Core's order: mempool additions and
//! removals with their sequence numbers, block connections and
//! disconnections, and one tip update per connect or reorganisation.

#![allow(clippy::unwrap_used)]

use bitcoin::{
    absolute, transaction, Address, Amount, KnownHrp, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use ferronode_chain::events::Event;
use ferronode_chain::Chain;
use tokio::sync::broadcast::error::TryRecvError;

fn spend(prev: OutPoint, value: u64) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: prev,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0x51]]),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(value),
            script_pubkey: ScriptBuf::new_p2wsh(&ScriptBuf::from_bytes(vec![0x51]).wscript_hash()),
        }],
    }
}

/// A short name for each event, so that the whole order reads at once.
fn drain(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(Event::TransactionAdded { tx, mempool_sequence }) => {
                out.push(format!("A {} {mempool_sequence}", &tx.compute_txid().to_string()[..8]));
            }
            Ok(Event::TransactionRemoved { txid, reason, mempool_sequence, .. }) => {
                out.push(format!("R {} {} {mempool_sequence}", &txid.to_string()[..8], reason.as_str()));
            }
            Ok(Event::BlockConnected { height, .. }) => out.push(format!("C {height}")),
            Ok(Event::BlockDisconnected { height, .. }) => out.push(format!("D {height}")),
            Ok(Event::UpdatedBlockTip { height, .. }) => out.push(format!("T {height}")),
            Err(TryRecvError::Empty) => return out,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn events_come_in_cores_order() {
    let dir = std::env::temp_dir().join(format!("ferronode-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chain = Chain::open(&ferronode_chain::ChainConfig::new(&dir), None).unwrap();
    let op_true = ScriptBuf::from_bytes(vec![0x51]);
    let script = Address::p2wsh(&op_true, KnownHrp::Regtest).script_pubkey();
    for _ in 0..101 {
        chain.mine(&script, u64::MAX).unwrap().unwrap();
    }
    let first = chain.info(&chain.hash_at(1).unwrap()).unwrap();
    let block: bitcoin::Block = bitcoin::consensus::deserialize(&chain.block_bytes(&first).unwrap()).unwrap();
    let prev = OutPoint { txid: block.txdata[0].compute_txid(), vout: 0 };

    let mut rx = chain.subscribe();
    let tx1 = spend(prev, 50 * 100_000_000 - 10_000);
    let tx1b = spend(prev, 50 * 100_000_000 - 20_000);
    let (id1, id1b) = (&tx1.compute_txid().to_string()[..8], &tx1b.compute_txid().to_string()[..8]);
    chain.accept(&tx1, false).unwrap();
    chain.accept(&tx1b, false).unwrap();
    assert_eq!(drain(&mut rx), [format!("A {id1} 2"), format!("R {id1} replaced 3"), format!("A {id1b} 4")]);
    assert!(chain.accept(&tx1, true).is_err(), "paying less than what it would replace");
    assert_eq!(drain(&mut rx), Vec::<String>::new(), "a refused transaction announces nothing");

    // mined: no removal event (the block covers it), but the sequence moves
    let b102 = chain.mine(&script, u64::MAX).unwrap().unwrap();
    assert_eq!(drain(&mut rx), ["C 102", "T 102"]);
    // invalidated: disconnected, the transaction back, no tip update
    chain.invalidate(&b102).unwrap();
    assert_eq!(drain(&mut rx), ["D 102".to_owned(), format!("A {id1b} 6")]);
    // reconsidered: a reorg of one block, one tip update at its end
    chain.reconsider(&b102).unwrap();
    assert_eq!(drain(&mut rx), ["C 102", "T 102"]);
    assert_eq!(chain.with_mempool(ferronode_chain::mempool::Mempool::sequence), 7);
    drop(chain);
    let _ = std::fs::remove_dir_all(&dir);
}
