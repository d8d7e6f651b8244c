//! Connecting and disconnecting blocks, and reorganising to the most-work
//! valid chain: side branches are stored, the active chain is rewound to
//! the fork and the new branch connected; transactions of disconnected
//! blocks go back to the mempool.

use super::*;

/// Stores a block that does not extend the tip: block bytes and index
/// record, no undo data (it has not been connected).
pub(crate) fn store_side_block(st: &mut State, block: &Block, height: u32) -> Result<(), BlockError> {
    let hash = block.block_hash();
    let loc = st.store.write_block_only(&serialize(block)).map_err(|e| BlockError::Store(e.to_string()))?;
    let mut header = [0u8; 80];
    header.copy_from_slice(&serialize(&block.header));
    let rec = IndexRecord { height, n_tx: u32::try_from(block.txdata.len()).unwrap_or(u32::MAX), loc, header };
    st.store.commit_index(&[(hash, rec.clone())]).map_err(|e| BlockError::Store(e.to_string()))?;
    st.entries
        .insert(hash, BlockInfo { hash, header: block.header, height, n_tx: rec.n_tx, size: loc.size, store_rec: rec });
    Ok(())
}

/// Disconnects the tip with its undo data (Core's `DisconnectBlock`).
/// Missing or unreadable undo data is fatal, as in Core.
pub(crate) fn disconnect_tip(st: &mut State) -> Result<(), BlockError> {
    let tip = *st.active.last().expect("the active chain always holds genesis");
    let info = st.entries[&tip].clone();
    if info.height == 0 {
        return Err(BlockError::Invalid("cannot disconnect the genesis block"));
    }
    let prev = info.header.prev_blockhash;
    let block: Block = st
        .store
        .read_block(&info.store_rec.loc)
        .ok()
        .and_then(|b| deserialize(&b).ok())
        .ok_or(BlockError::Fatal("Failed to disconnect block."))?;
    let undo = st
        .store
        .read_undo(&info.store_rec.loc, &prev)
        .ok()
        .and_then(|u| parse_undo(&u))
        .filter(|u| u.len() + 1 == block.txdata.len())
        .ok_or_else(|| {
            tracing::error!("DisconnectBlock(): failure reading undo data of block {tip}");
            BlockError::Fatal("Failed to disconnect block.")
        })?;
    let mut changes = Vec::new();
    for (i, tx) in block.txdata.iter().enumerate().rev() {
        let txid = tx.compute_txid();
        for (vout, out) in tx.output.iter().enumerate() {
            if !out.script_pubkey.is_op_return() {
                let op = OutPoint { txid, vout: u32::try_from(vout).unwrap_or(u32::MAX) };
                changes.push(UtxoChange::Spend(utxo_key(&op)));
            }
        }
        if i > 0 {
            for (input, coin) in tx.input.iter().zip(&undo[i - 1]) {
                changes.push(UtxoChange::Add(utxo_key(&input.previous_output), coin.encode()));
            }
        }
    }
    st.store.commit_chainstate(&changes, &prev).map_err(|e| BlockError::Store(e.to_string()))?;
    st.active.pop();
    st.publish_tip();
    st.events.send(events::Event::BlockDisconnected { block: std::sync::Arc::new(block), height: info.height });
    tracing::debug!(target: "validation", "Disconnected block {tip} at height {}", info.height);
    Ok(())
}

/// Switches the active chain to end at `new_tip` (Core's
/// `ActivateBestChain` for one candidate): disconnect back to the fork,
/// connect the new branch; if a block of it is invalid, go back to the old
/// branch.
pub(crate) fn reorg_to(st: &mut State, new_tip: BlockHash, now: u64) -> Result<BlockHash, BlockError> {
    let before = *st.active.last().expect("the active chain always holds genesis");
    st.in_reorg = true;
    let outcome = reorg_steps(st, new_tip, now);
    st.in_reorg = false;
    let after = *st.active.last().expect("the active chain always holds genesis");
    if after != before {
        let height = st.entries[&after].height;
        let initial_download = still_in_ibd(st);
        st.events.send(events::Event::UpdatedBlockTip { hash: after, height, initial_download });
    }
    outcome
}

pub(crate) fn reorg_steps(st: &mut State, new_tip: BlockHash, now: u64) -> Result<BlockHash, BlockError> {
    let mut branch = Vec::new();
    let mut cur = new_tip;
    while st.active.get(st.entries[&cur].height as usize) != Some(&cur) {
        branch.push(cur);
        cur = st.entries[&cur].header.prev_blockhash;
    }
    branch.reverse();
    let fork_height = st.entries[&cur].height as usize;
    let old: Vec<BlockHash> = st.active[fork_height + 1..].to_vec();
    tracing::info!(
        "Reorganizing from {} to {new_tip}: {} blocks out, {} in",
        st.active.last().map(ToString::to_string).unwrap_or_default(),
        old.len(),
        branch.len()
    );
    let mut resurrect = Vec::new();
    while st.active.len() > fork_height + 1 {
        let gone = *st.active.last().expect("above the fork");
        if let Some(b) =
            st.store.read_block(&st.entries[&gone].store_rec.loc).ok().and_then(|b| deserialize::<Block>(&b).ok())
        {
            resurrect.push(b);
        }
        disconnect_tip(st)?;
    }
    let load = |st: &State, h: &BlockHash| -> Result<Block, BlockError> {
        st.store
            .read_block(&st.entries[h].store_rec.loc)
            .ok()
            .and_then(|b| deserialize(&b).ok())
            .ok_or(BlockError::Fatal("Failed to read block."))
    };
    for (i, h) in branch.iter().enumerate() {
        let block = load(st, h)?;
        let height = st.entries[h].height;
        match check_block(st, &block, height, now) {
            Ok((changes, undo, _)) => {
                connect(st, &block, height, changes, undo)?;
            }
            Err(reason) => {
                for bad in &branch[i..] {
                    st.invalid.insert(*bad);
                }
                // back to the old branch
                while st.active.len() > fork_height + 1 {
                    disconnect_tip(st)?;
                }
                for h in &old {
                    let block = load(st, h)?;
                    let height = st.entries[h].height;
                    let (changes, undo, _) = check_block(st, &block, height, now).map_err(BlockError::Invalid)?;
                    connect(st, &block, height, changes, undo)?;
                }
                return Err(BlockError::Invalid(reason));
            }
        }
    }
    // transactions of the disconnected blocks go back to the pool when still valid
    refill_mempool(st, &resurrect, now);
    Ok(new_tip)
}

/// Moves to the best valid chain when it has more work than the active one
/// (Core's `ActivateBestChain`); a candidate found invalid on the way is
/// marked and the next best is tried.
pub(crate) fn activate_best(st: &mut State, now: u64) -> Result<(), BlockError> {
    for _ in 0..64 {
        let Some(best) = st.best_candidate() else { return Ok(()) };
        if (st.entries[&best].height as usize) < st.active.len() {
            return Ok(());
        }
        match reorg_to(st, best, now) {
            Err(BlockError::Invalid(reason)) => tracing::info!("Candidate tip {best} is invalid: {reason}"),
            other => return other.map(|_| ()),
        }
    }
    Ok(())
}

/// After blocks were disconnected: their transactions first (oldest block
/// first), then the pool as it was, each accepted again if still valid
/// (Core's `MaybeUpdateMempoolForReorg`).
pub(crate) fn refill_mempool(st: &mut State, disconnected: &[Block], now: u64) {
    if disconnected.is_empty() {
        return;
    }
    // The pool is rebuilt quietly: only what Core's would announce (and
    // count in the sequence) is: each disconnected transaction added, each
    // pooled transaction that no longer fits removed.
    let pooled: Vec<(Transaction, u64)> = st.mempool.entries().iter().map(|e| (e.tx.clone(), e.time)).collect();
    st.mempool.set_quiet(true);
    for (tx, _) in &pooled {
        st.mempool.remove(&tx.compute_txid(), events::RemovalReason::Reorg);
    }
    st.mempool.set_quiet(false);
    for b in disconnected.iter().rev() {
        for tx in b.txdata.iter().skip(1) {
            let _ = accept_locked(st, tx, now, Mode::Reorg);
        }
    }
    for (tx, time) in &pooled {
        st.mempool.set_quiet(true);
        let back = accept_locked(st, tx, now, Mode::Reorg).is_ok();
        st.mempool.set_quiet(false);
        if back {
            st.mempool.set_time(&tx.compute_txid(), *time);
        } else {
            st.mempool.announce_removed(tx, events::RemovalReason::Reorg);
        }
    }
    limit_mempool_size(st, now);
}

/// Writes the block and makes it the tip, in the crash-safe order.
pub(crate) fn connect(
    st: &mut State,
    block: &Block,
    height: u32,
    changes: Vec<UtxoChange>,
    undo: Vec<u8>,
) -> Result<BlockHash, BlockError> {
    let hash = block.block_hash();
    let bytes = serialize(block);
    let prev = block.header.prev_blockhash;
    let loc = st.store.write_block(&bytes, &undo, &prev).map_err(|e| BlockError::Store(e.to_string()))?;
    let mut header = [0u8; 80];
    header.copy_from_slice(&serialize(&block.header));
    let rec = IndexRecord { height, n_tx: u32::try_from(block.txdata.len()).unwrap_or(u32::MAX), loc, header };
    st.store.commit_index(&[(hash, rec.clone())]).map_err(|e| BlockError::Store(e.to_string()))?;
    st.store.commit_chainstate(&changes, &hash).map_err(|e| BlockError::Store(e.to_string()))?;
    if height > 0 {
        if let Some(ix) = &st.txindex {
            // after the chainstate: a crash in between is caught up at start
            let txids: Vec<bitcoin::Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
            ix.add(&hash, &txids).map_err(|e| BlockError::Store(e.to_string()))?;
        }
    }
    if let Some(ix) = &st.filters {
        // also after the chainstate: a missing filter is rebuilt at start
        let coins = if height == 0 { Some(Vec::new()) } else { parse_undo(&undo) };
        let coins = coins.ok_or_else(|| BlockError::Store(format!("undo data of block {hash} cannot be parsed")))?;
        index_filter(ix, block, height, &coins).map_err(|e| BlockError::Store(e.to_string()))?;
    }
    st.entries
        .insert(hash, BlockInfo { hash, header: block.header, height, n_tx: rec.n_tx, size: loc.size, store_rec: rec });
    st.active.push(hash);
    st.publish_tip();
    st.mempool.remove_for_block(block);
    let now = clock(&st.mocktime);
    st.mempool.note_block(now);
    st.events.send(events::Event::BlockConnected { block: std::sync::Arc::new(block.clone()), height });
    if !st.in_reorg {
        let initial_download = still_in_ibd(st);
        st.events.send(events::Event::UpdatedBlockTip { hash, height, initial_download });
    }
    Ok(hash)
}
