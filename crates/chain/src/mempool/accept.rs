//! Mempool acceptance: Core's `AcceptToMemoryPool` checks in order, with
//! its reject reasons, replacement (BIP125 as Core master applies it), and
//! trimming the pool to its size limit.

use crate::*;

/// A transaction the mempool took (or would take).
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its id.
    pub txid: bitcoin::Txid,
    /// Its witness id.
    pub wtxid: bitcoin::Wtxid,
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectKind {
    /// An input is missing or spent (RPC -25).
    MissingInputs,
    /// A policy or consensus rule (RPC -26).
    Rejected,
    /// Its outputs are already in the UTXO set (RPC -27).
    AlreadyInUtxoSet,
}

/// A refusal: Core's reject reason and its `ToString()` with details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The kind, for the RPC error code.
    pub kind: RejectKind,
    /// The reject reason (`min relay fee not met`).
    pub reason: String,
    /// Reason plus details (`min relay fee not met, 100 < 141`).
    pub details: String,
}

pub(crate) fn reject(kind: RejectKind, reason: &str, details: Option<String>) -> Reject {
    let details = details.map_or_else(|| reason.to_owned(), |d| format!("{reason}, {d}"));
    Reject { kind, reason: reason.to_owned(), details }
}

/// Core's `GetDustThreshold` at the dust relay fee.
pub(crate) fn dust_threshold(out: &TxOut) -> u64 {
    if out.script_pubkey.is_op_return() {
        return 0;
    }
    let size = serialize(out).len() as u64 + if out.script_pubkey.is_witness_program() { 67 } else { 148 };
    size * DUST_RELAY_FEE / 1000
}

/// Fee at `rate` (satoshis per 1000 vbytes) for `vsize`, rounded up.
pub(crate) fn fee_at(rate: u64, vsize: u64) -> u64 {
    (rate * vsize).div_ceil(1000)
}

/// How [`accept_locked`] treats a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `sendrawtransaction`, `mempool.dat`: every check, then added.
    Submit,
    /// `testmempoolaccept`: every check, nothing added.
    Test,
    /// Back from a disconnected block: no mempool minimum fee and no
    /// trimming per transaction (Core's `bypass_limits`); the pool is
    /// trimmed once the reorganisation is done.
    Reorg,
}

pub(crate) fn accept_locked(st: &mut State, tx: &Transaction, now: u64, mode: Mode) -> Result<Accepted, Reject> {
    use RejectKind::{AlreadyInUtxoSet, MissingInputs, Rejected};
    let txid = tx.compute_txid();
    check_transaction(tx).map_err(|r| reject(Rejected, r, None))?;
    if tx.is_coinbase() {
        return Err(reject(Rejected, "coinbase", None));
    }
    if !(1..=3).contains(&tx.version.0) {
        return Err(reject(Rejected, "version", None));
    }
    if tx.weight().to_wu() > 400_000 {
        return Err(reject(Rejected, "tx-size", None));
    }
    if tx.base_size() < 65 {
        return Err(reject(Rejected, "tx-size-small", None));
    }
    if tx.input.iter().any(|i| i.script_sig.len() > 1650) {
        return Err(reject(Rejected, "scriptsig-size", None));
    }
    if tx.input.iter().any(|i| !i.script_sig.is_push_only()) {
        return Err(reject(Rejected, "scriptsig-not-pushonly", None));
    }
    if tx.output.iter().any(|o| o.value.to_sat() < dust_threshold(o)) {
        return Err(reject(Rejected, "dust", None));
    }
    let tip = *st.active.last().expect("genesis is always there");
    let next_height = u32::try_from(st.active.len()).unwrap_or(u32::MAX);
    if !is_final(tx, next_height, mtp(st, tip)) {
        return Err(reject(Rejected, "non-final", None));
    }
    if st.mempool.get(&txid).is_some() {
        return Err(reject(Rejected, "txn-already-in-mempool", None));
    }
    let mut conflicts: Vec<bitcoin::Txid> =
        tx.input.iter().filter_map(|i| st.mempool.spender(&i.previous_output)).collect();
    conflicts.sort();
    conflicts.dedup();
    let mut spent = Vec::with_capacity(tx.input.len());
    let mut value_in = 0u64;
    for input in &tx.input {
        let op = input.previous_output;
        let coin = match st.mempool.get(&op.txid) {
            Some(parent) => parent.tx.output.get(op.vout as usize).map(|o| Coin {
                height: next_height,
                coinbase: false,
                txout: o.clone(),
            }),
            None => st.store.utxo(&utxo_key(&op)).ok().flatten().as_deref().and_then(Coin::decode),
        };
        let Some(coin) = coin else {
            // outputs of this very transaction already confirmed?
            let known = (0..tx.output.len()).any(|v| {
                let o = OutPoint { txid, vout: u32::try_from(v).unwrap_or(u32::MAX) };
                st.store.utxo(&utxo_key(&o)).ok().flatten().is_some()
            });
            return Err(if known {
                reject(AlreadyInUtxoSet, "txn-already-known", None)
            } else {
                reject(MissingInputs, "bad-txns-inputs-missingorspent", None)
            });
        };
        if coin.coinbase && next_height - coin.height < COINBASE_MATURITY {
            return Err(reject(
                Rejected,
                "bad-txns-premature-spend-of-coinbase",
                Some(format!("tried to spend coinbase at depth {}", next_height - coin.height)),
            ));
        }
        if !sequence_lock_met(st, tx, input, coin.height, next_height, tip) {
            return Err(reject(Rejected, "non-BIP68-final", None));
        }
        value_in += coin.txout.value.to_sat();
        spent.push(coin.txout);
    }
    let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    if value_in < value_out {
        return Err(reject(
            Rejected,
            "bad-txns-in-belowout",
            Some(format!("value in ({}) < value out ({})", btc(value_in), btc(value_out))),
        ));
    }
    let fee = value_in - value_out;
    let vsize = tx.vsize() as u64;
    let pool_min = match mode {
        Mode::Reorg => 0,
        Mode::Submit | Mode::Test => fee_at(st.mempool.min_fee(now, st.max_mempool, INCREMENTAL_RELAY_FEE), vsize),
    };
    if pool_min > 0 && fee < pool_min {
        return Err(reject(Rejected, "mempool min fee not met", Some(format!("{fee} < {pool_min}"))));
    }
    let min_fee = fee_at(st.min_relay_fee, vsize);
    if fee < min_fee {
        return Err(reject(Rejected, "min relay fee not met", Some(format!("{fee} < {min_fee}"))));
    }
    if !conflicts.is_empty() {
        // full RBF: pay more in total and per vbyte than everything replaced
        let mut replaced: Vec<bitcoin::Txid> = conflicts.clone();
        for c in &conflicts {
            replaced.extend(st.mempool.descendants(c));
        }
        replaced.sort();
        replaced.dedup();
        let old_fees: u64 = replaced.iter().filter_map(|t| st.mempool.get(t)).map(|e| e.fee).sum();
        for c in &conflicts {
            let e = st.mempool.get(c).expect("conflicts come from the pool");
            if u128::from(fee) * u128::from(e.vsize) <= u128::from(e.fee) * u128::from(vsize) {
                return Err(reject(
                    Rejected,
                    "insufficient fee",
                    Some(format!("rejecting replacement {txid}; new feerate is not above the feerate of {c}")),
                ));
            }
        }
        let needed = old_fees + fee_at(INCREMENTAL_RELAY_FEE, vsize);
        if fee < needed {
            return Err(reject(
                Rejected,
                "insufficient fee",
                Some(format!(
                    "rejecting replacement {txid}, not enough additional fees to relay; {} < {}",
                    btc(fee.saturating_sub(old_fees)),
                    btc(fee_at(INCREMENTAL_RELAY_FEE, vsize))
                )),
            ));
        }
    }
    verify_scripts(tx, &spent)
        .map_err(|_| reject(Rejected, "mempool-script-verify-flag-failed (Script failed)", None))?;
    if mode != Mode::Test {
        for c in &conflicts {
            st.mempool.remove_with_descendants(c, events::RemovalReason::Replaced);
        }
        st.mempool.add(tx.clone(), fee, now, next_height - 1);
        // Core's LimitMempoolSize, first half: expiry
        if mode == Mode::Reorg {
            return Ok(Accepted { txid, wtxid: tx.compute_wtxid(), fee, vsize });
        }
        limit_mempool_size(st, now);
        if st.mempool.get(&txid).is_none() {
            return Err(reject(Rejected, "mempool full", None));
        }
    }
    Ok(Accepted { txid, wtxid: tx.compute_wtxid(), fee, vsize })
}

/// Core's `LimitMempoolSize`: expiry, then eviction down to `-maxmempool`.
pub(crate) fn limit_mempool_size(st: &mut State, now: u64) {
    let expired = st.mempool.expire(now.saturating_sub(st.mempool_expiry));
    if expired > 0 {
        tracing::debug!(target: "mempool", "Expired {expired} transactions from the memory pool");
    }
    let trimmed = st.mempool.trim_to_size(st.max_mempool, INCREMENTAL_RELAY_FEE);
    if trimmed > 0 {
        tracing::debug!(target: "mempool", "Removed {trimmed} transactions from the memory pool to stay under -maxmempool");
    }
}

/// Satoshis as Core's `FormatMoney` (used in reject details).
pub(crate) fn btc(sats: u64) -> String {
    format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000)
}
