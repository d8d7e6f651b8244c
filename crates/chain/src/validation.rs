//! Block and transaction validation: header and block checks (proof of
//! work, merkle root, coinbase, weight, sigops), transaction checks,
//! finality and BIP68 sequence locks, and script verification by Core's
//! own interpreter (libbitcoinconsensus).

use super::*;

pub(crate) fn mtp(st: &State, mut hash: BlockHash) -> u32 {
    let mut times = Vec::with_capacity(11);
    for _ in 0..11 {
        let Some(info) = st.entries.get(&hash) else { break };
        times.push(info.header.time);
        if info.height == 0 {
            break;
        }
        hash = info.header.prev_blockhash;
    }
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

pub(crate) fn check_header(header: &Header) -> Result<(), BlockError> {
    if header.bits.to_consensus() != REGTEST_BITS {
        return Err(BlockError::Invalid("bad-diffbits"));
    }
    if header.validate_pow(header.target()).is_err() {
        return Err(BlockError::Invalid("high-hash"));
    }
    Ok(())
}

/// Checks `block` as the next block at `height`; returns the UTXO changes
/// and the undo payload.
pub(crate) fn check_block(
    st: &State,
    block: &Block,
    height: u32,
    now: u64,
) -> Result<(Vec<UtxoChange>, Vec<u8>, u64), &'static str> {
    check_header(&block.header).map_err(|_| "high-hash")?;
    if !block.check_merkle_root() {
        return Err("bad-txnmrklroot");
    }
    if block.weight().to_wu() > 4_000_000 {
        return Err("bad-blk-weight");
    }
    let Some(first) = block.txdata.first() else { return Err("bad-cb-missing") };
    if !first.is_coinbase() {
        return Err("bad-cb-missing");
    }
    if block.txdata.iter().skip(1).any(Transaction::is_coinbase) {
        return Err("bad-cb-multiple");
    }
    let prev = block.header.prev_blockhash;
    if block.header.time <= mtp(st, prev) {
        return Err("time-too-old");
    }
    if u64::from(block.header.time) > now + 2 * 60 * 60 {
        return Err("time-too-new");
    }
    // Core: the coinbase scriptSig begins with `CScript() << nHeight`
    // (OP_1..OP_16 for small heights, a minimal push otherwise).
    let expect = Builder::new().push_int(i64::from(height)).into_script();
    if height > 0 && !first.input[0].script_sig.as_bytes().starts_with(expect.as_bytes()) {
        return Err("bad-cb-height");
    }
    let has_witness = block.txdata.iter().skip(1).any(|tx| tx.input.iter().any(|i| !i.witness.is_empty()));
    let commitment_present =
        first.output.iter().any(|o| o.script_pubkey.as_bytes().starts_with(&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]));
    if (has_witness || commitment_present) && !block.check_witness_commitment() {
        return Err("bad-witness-merkle-match");
    }
    let script_sig_len = first.input[0].script_sig.len();
    if !(2..=100).contains(&script_sig_len) {
        return Err("bad-cb-length");
    }
    for tx in &block.txdata {
        check_transaction(tx)?;
    }
    let mut seen = std::collections::HashSet::new();
    if !block.txdata.iter().all(|tx| seen.insert(tx.compute_txid())) {
        return Err("bad-txns-duplicate");
    }
    let lock_time_cutoff = mtp(st, prev);
    if !block.txdata.iter().all(|tx| is_final(tx, height, lock_time_cutoff)) {
        return Err("bad-txns-nonfinal");
    }
    let mut changes = Vec::new();
    let mut created: HashMap<Vec<u8>, Coin> = HashMap::new();
    let mut spent = std::collections::HashSet::new();
    let mut undo = serialize(&VarInt(block.txdata.len() as u64 - 1));
    let mut fees = 0u64;
    let mut sigop_cost = 0usize;
    for (i, tx) in block.txdata.iter().enumerate() {
        let txid = tx.compute_txid();
        if i > 0 {
            let mut value_in = 0u64;
            let mut spent_outputs = Vec::with_capacity(tx.input.len());
            undo.extend_from_slice(&serialize(&VarInt(tx.input.len() as u64)));
            for input in &tx.input {
                let key = utxo_key(&input.previous_output);
                if !spent.insert(key.clone()) {
                    return Err("bad-txns-inputs-missingorspent");
                }
                let coin = match created.get(&key) {
                    Some(c) => c.clone(),
                    None => st
                        .store
                        .utxo(&key)
                        .ok()
                        .flatten()
                        .as_deref()
                        .and_then(Coin::decode)
                        .ok_or("bad-txns-inputs-missingorspent")?,
                };
                if coin.coinbase && height - coin.height < COINBASE_MATURITY {
                    return Err("bad-txns-premature-spend-of-coinbase");
                }
                if !sequence_lock_met(st, tx, input, coin.height, height, prev) {
                    return Err("bad-txns-nonfinal");
                }
                value_in += coin.txout.value.to_sat();
                coin.write_undo(&mut undo);
                spent_outputs.push(coin.txout.clone());
                created.remove(&key);
                changes.push(UtxoChange::Spend(key));
            }
            let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
            if value_in < value_out {
                return Err("bad-txns-in-belowout");
            }
            let by_outpoint: HashMap<OutPoint, TxOut> =
                tx.input.iter().map(|i| i.previous_output).zip(spent_outputs.iter().cloned()).collect();
            sigop_cost += tx.total_sigop_cost(|op| by_outpoint.get(op).cloned());
            verify_scripts(tx, &spent_outputs)?;
            fees += value_in - value_out;
        }
        for (vout, out) in tx.output.iter().enumerate() {
            if out.script_pubkey.is_op_return() {
                continue;
            }
            let op = OutPoint { txid, vout: u32::try_from(vout).unwrap_or(u32::MAX) };
            let coin = Coin { height, coinbase: i == 0, txout: out.clone() };
            changes.push(UtxoChange::Add(utxo_key(&op), coin.encode()));
            created.insert(utxo_key(&op), coin);
        }
    }
    sigop_cost += first.total_sigop_cost(|_| None);
    if sigop_cost > MAX_BLOCK_SIGOPS_COST {
        return Err("bad-blk-sigops");
    }
    let coinbase_out: u64 = first.output.iter().map(|o| o.value.to_sat()).sum();
    if coinbase_out > subsidy(height) + fees {
        return Err("bad-cb-amount");
    }
    Ok((changes, undo, fees))
}

/// Core's context-free `CheckTransaction`.
pub(crate) fn check_transaction(tx: &Transaction) -> Result<(), &'static str> {
    if tx.input.is_empty() {
        return Err("bad-txns-vin-empty");
    }
    if tx.output.is_empty() {
        return Err("bad-txns-vout-empty");
    }
    if tx.base_size() * 4 > 4_000_000 {
        return Err("bad-txns-oversize");
    }
    let mut total = 0u64;
    for out in &tx.output {
        let v = out.value.to_sat();
        if v > MAX_MONEY {
            return Err("bad-txns-vout-toolarge");
        }
        total += v;
        if total > MAX_MONEY {
            return Err("bad-txns-txouttotal-toolarge");
        }
    }
    let mut prevouts = std::collections::HashSet::new();
    if !tx.input.iter().all(|i| prevouts.insert(i.previous_output)) {
        return Err("bad-txns-inputs-duplicate");
    }
    if !tx.is_coinbase() && tx.input.iter().any(|i| i.previous_output.is_null()) {
        return Err("bad-txns-prevout-null");
    }
    Ok(())
}

/// BIP68 relative lock of one input, for a block at `height` whose parent
/// is `prev` (Core's `CalculateSequenceLocks` and `EvaluateSequenceLocks`).
pub(crate) fn sequence_lock_met(
    st: &State,
    tx: &Transaction,
    input: &TxIn,
    coin_height: u32,
    height: u32,
    prev: BlockHash,
) -> bool {
    const DISABLE: u32 = 1 << 31;
    const TYPE_TIME: u32 = 1 << 22;
    const MASK: u32 = 0x0000_ffff;
    let seq = input.sequence.0;
    if tx.version.0 < 2 || seq & DISABLE != 0 {
        return true;
    }
    let value = seq & MASK;
    if seq & TYPE_TIME != 0 {
        // the median time past of the block before the coin's block
        let base = coin_height.saturating_sub(1);
        let base_mtp = st.active.get(base as usize).map_or(0, |h| mtp(st, *h));
        let min_time = i64::from(base_mtp) + (i64::from(value) << 9) - 1;
        i64::from(mtp(st, prev)) > min_time
    } else {
        let min_height = i64::from(coin_height) + i64::from(value) - 1;
        i64::from(height) > min_height
    }
}

/// Core's `IsFinalTx` against the block's height and the median time past
/// of its parent (BIP113).
pub(crate) fn is_final(tx: &Transaction, height: u32, mtp: u32) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let reached = if lock < 500_000_000 { lock < height } else { lock < mtp };
    reached || tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}

/// Runs every input's scripts through Core's own interpreter
/// (libbitcoinconsensus), with all the rules active on regtest, taproot
/// included.
pub(crate) fn verify_scripts(tx: &Transaction, spent: &[TxOut]) -> Result<(), &'static str> {
    let bytes = serialize(tx);
    // `Utxo` holds pointers into `spent`, which outlives every call below.
    let utxos: Vec<bitcoinconsensus::Utxo> = spent
        .iter()
        .map(|o| bitcoinconsensus::Utxo {
            script_pubkey: o.script_pubkey.as_bytes().as_ptr(),
            script_pubkey_len: u32::try_from(o.script_pubkey.len()).unwrap_or(u32::MAX),
            value: i64::try_from(o.value.to_sat()).unwrap_or(i64::MAX),
        })
        .collect();
    for (index, out) in spent.iter().enumerate() {
        bitcoinconsensus::verify_with_flags(
            out.script_pubkey.as_bytes(),
            out.value.to_sat(),
            &bytes,
            Some(&utxos),
            index,
            bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT,
        )
        // libbitcoinconsensus does not say which script rule failed.
        .map_err(|_| "block-script-verify-flag-failed (Script failed)")?;
    }
    Ok(())
}
