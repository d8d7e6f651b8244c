//! Coins anyone can spend without a key: outputs to P2WSH(`OP_TRUE`),
//! spent with the script as the only witness item. Benchmarks and tests use
//! them to build valid transactions without signing.

use bitcoin::{
    absolute, transaction, Address, KnownHrp, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};

/// The witness script: `OP_TRUE`.
#[must_use]
pub fn script() -> ScriptBuf {
    ScriptBuf::from_bytes(vec![0x51])
}

/// The regtest P2WSH address of [`script`].
#[must_use]
pub fn address() -> Address {
    Address::p2wsh(&script(), KnownHrp::Regtest)
}

/// A version-2 transaction spending `prev` to `outs`, not yet signed: an
/// empty scriptSig and witness, final sequence, no lock time. Tests sign it
/// (or fill the witness) for whatever `prev` pays to.
#[must_use]
pub fn unsigned(prev: OutPoint, outs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: prev,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: outs,
    }
}

/// A version-2 transaction spending `prev` (an output to [`address`]) to `outs`.
#[must_use]
pub fn spend(prev: OutPoint, outs: Vec<TxOut>) -> Transaction {
    let mut tx = unsigned(prev, outs);
    tx.input[0].witness = Witness::from_slice(&[script().as_bytes()]);
    tx
}
