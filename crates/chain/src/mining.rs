//! Mining: block templates from the mempool, the block version (BIP9
//! signalling), and grinding the nonce at regtest's difficulty.

use super::*;

/// The block a miner would build on `tip`: a coinbase with the BIP34
/// height, the subsidy to `script` and the witness commitment, as Core's
/// `CreateNewBlock` makes it (version 0x20000000, regtest bits).
pub(crate) fn template(
    tip: &BlockInfo,
    height: u32,
    time: u32,
    script: &ScriptBuf,
    txs: &[Transaction],
    fees: u64,
) -> Block {
    let script_sig = Builder::new().push_int(i64::from(height)).push_opcode(opcodes::OP_0).into_script();
    let mut coinbase = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut { value: Amount::from_sat(subsidy(height) + fees), script_pubkey: script.clone() }],
    };
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: tip.hash,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(REGTEST_BITS),
            nonce: 0,
        },
        txdata: std::iter::once(coinbase.clone()).chain(txs.iter().cloned()).collect(),
    };
    if let Some(witness_root) = block.witness_root() {
        let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
        let mut data = vec![0xaa, 0x21, 0xa9, 0xed];
        data.extend_from_slice(commitment.as_byte_array());
        let push = PushBytesBuf::try_from(data).expect("36 bytes fit in a push");
        coinbase.output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: Builder::new().push_opcode(opcodes::all::OP_RETURN).push_slice(push).into_script(),
        });
        block.txdata[0] = coinbase;
    }
    block.header.merkle_root = block.compute_merkle_root().expect("the block has a coinbase");
    block
}

/// The version Core's miner would give the next block.
pub(crate) fn version_for_next(st: &State) -> i32 {
    let version_at = |h: u32| {
        st.active.get(h as usize).and_then(|hash| st.entries.get(hash)).map(|i| i.header.version.to_consensus())
    };
    deployments::block_version(&version_at, u32::try_from(st.active.len().saturating_sub(1)).unwrap_or(0))
}

/// Searches a nonce that meets the target; false after `max_tries`.
pub(crate) fn grind(block: &mut Block, max_tries: u64) -> bool {
    let target = block.header.target();
    let mut tries = 0u64;
    while block.header.validate_pow(target).is_err() {
        tries += 1;
        if tries >= max_tries {
            return false;
        }
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    true
}
