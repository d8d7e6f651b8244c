//! The optional indexes kept in step with the chain: `-txindex` and the
//! BIP158 basic block filters (`-blockfilterindex`).

use super::*;

/// Brings `-txindex` up to the tip (after a crash, or when it was just
/// switched on). The genesis coinbase is not indexed, as in Core.
pub(crate) fn sync_txindex(st: &State) -> Result<(), StoreError> {
    let Some(ix) = &st.txindex else { return Ok(()) };
    let from = match ix.best()? {
        Some(best) => st
            .entries
            .get(&best)
            .filter(|i| st.active.get(i.height as usize) == Some(&best))
            .map_or(1, |i| i.height + 1),
        None => 1,
    };
    for height in from..u32::try_from(st.active.len()).unwrap_or(0) {
        let info = &st.entries[&st.active[height as usize]];
        let block: Block = deserialize(&st.store.read_block(&info.store_rec.loc)?).map_err(|_| {
            StoreError::Corrupt(format!("cannot decode block {} while building the transaction index", info.hash))
        })?;
        let txids: Vec<bitcoin::Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
        ix.add(&info.hash, &txids)?;
    }
    Ok(())
}

/// The BIP158 basic filter of `block` (Core's `BasicFilterElements`: every
/// output script and every spent script, without empty and `OP_RETURN`
/// scripts), the spent scripts taken from its undo data.
pub(crate) fn basic_filter(block: &Block, undo: &[Vec<Coin>]) -> Option<Vec<u8>> {
    let mut spent = HashMap::new();
    for (tx, coins) in block.txdata.iter().skip(1).zip(undo) {
        for (input, coin) in tx.input.iter().zip(coins) {
            spent.insert(input.previous_output, coin.txout.script_pubkey.clone());
        }
    }
    bitcoin::bip158::BlockFilter::new_script_filter(block, |op| {
        spent.get(op).cloned().ok_or(bitcoin::bip158::Error::UtxoMissing(*op))
    })
    .ok()
    .map(|f| f.content)
}

/// Indexes the filter of a block being connected: header =
/// dSHA256(dSHA256(filter) || previous header), all zeros before genesis.
pub(crate) fn index_filter(ix: &FilterIndex, block: &Block, height: u32, undo: &[Vec<Coin>]) -> Result<(), StoreError> {
    let hash = block.block_hash();
    let filter = basic_filter(block, undo)
        .ok_or_else(|| StoreError::Corrupt(format!("cannot compute the block filter of {hash}")))?;
    let prev = if height == 0 {
        [0u8; 32]
    } else {
        ix.get(&block.header.prev_blockhash)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("the block filter index lacks the parent of {hash}; restart to rebuild it"))
            })?
            .0
    };
    let header = bitcoin::bip158::FilterHash::hash(&filter)
        .filter_header(&bitcoin::bip158::FilterHeader::from_byte_array(prev))
        .to_byte_array();
    ix.put(&hash, &header, &filter)
}

/// Builds the filters of active blocks that have none (first start with
/// `-blockfilterindex`, or after a crash between a connect and its filter).
pub(crate) fn sync_filters(st: &State) -> Result<(), StoreError> {
    let Some(ix) = &st.filters else { return Ok(()) };
    for (height, hash) in st.active.iter().enumerate() {
        if ix.get(hash)?.is_some() {
            continue;
        }
        let info = &st.entries[hash];
        let block: Block = deserialize(&st.store.read_block(&info.store_rec.loc)?).map_err(|_| {
            StoreError::Corrupt(format!("cannot decode block {hash} while building the block filter index"))
        })?;
        let undo = if height == 0 {
            Vec::new()
        } else {
            let bytes = st.store.read_undo(&info.store_rec.loc, &info.header.prev_blockhash)?;
            parse_undo(&bytes)
                .ok_or_else(|| StoreError::Corrupt(format!("undo data of block {hash} cannot be parsed")))?
        };
        index_filter(ix, &block, info.height, &undo)?;
    }
    Ok(())
}
