//! Coins: a UTXO entry ([`Coin`]) with its storage encoding, the UTXO
//! set's key, and undo data (the coins a block spent, in Core's order).

use super::*;

pub(crate) fn utxo_key(op: &OutPoint) -> Vec<u8> {
    let mut k = op.txid.as_byte_array().to_vec();
    k.extend_from_slice(&op.vout.to_le_bytes());
    k
}

/// A coin as stored: height, coinbase flag, value, script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// Height of the block that created it.
    pub height: u32,
    /// Whether it is a coinbase output.
    pub coinbase: bool,
    /// The output.
    pub txout: TxOut,
}

impl Coin {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = self.height.to_le_bytes().to_vec();
        v.push(u8::from(self.coinbase));
        v.extend_from_slice(&self.txout.value.to_sat().to_le_bytes());
        v.extend_from_slice(self.txout.script_pubkey.as_bytes());
        v
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < 13 {
            return None;
        }
        let height = u32::from_le_bytes(b[0..4].try_into().ok()?);
        let value = u64::from_le_bytes(b[5..13].try_into().ok()?);
        Some(Self {
            height,
            coinbase: b[4] != 0,
            txout: TxOut { value: Amount::from_sat(value), script_pubkey: ScriptBuf::from_bytes(b[13..].to_vec()) },
        })
    }

    /// Core's undo serialization of the coin (`TxInUndoFormatter`), with the
    /// script in the uncompressed form.
    pub(crate) fn write_undo(&self, out: &mut Vec<u8>) {
        store::write_varint(out, u64::from(self.height) * 2 + u64::from(self.coinbase));
        if self.height > 0 {
            out.push(0);
        }
        store::write_varint(out, store::compress_amount(self.txout.value.to_sat()));
        let script = self.txout.script_pubkey.as_bytes();
        store::write_varint(out, script.len() as u64 + 6);
        out.extend_from_slice(script);
    }
}

/// Parses Core's `CBlockUndo` as written by [`Coin::write_undo`].
pub(crate) fn parse_undo(b: &[u8]) -> Option<Vec<Vec<Coin>>> {
    let mut pos = 0;
    let compact = |b: &[u8], pos: &mut usize| -> Option<u64> {
        let (VarInt(n), used) = bitcoin::consensus::encode::deserialize_partial::<VarInt>(b.get(*pos..)?).ok()?;
        *pos += used;
        Some(n)
    };
    let varint = |b: &[u8], pos: &mut usize| -> Option<u64> {
        let (n, used) = store::read_varint(b.get(*pos..)?)?;
        *pos += used;
        Some(n)
    };
    let n_tx = compact(b, &mut pos)?;
    let mut txs = Vec::new();
    for _ in 0..n_tx {
        let n_in = compact(b, &mut pos)?;
        let mut coins = Vec::new();
        for _ in 0..n_in {
            let code = varint(b, &mut pos)?;
            let height = u32::try_from(code / 2).ok()?;
            if height > 0 {
                varint(b, &mut pos)?;
            }
            let value = store::decompress_amount(varint(b, &mut pos)?);
            let size = usize::try_from(varint(b, &mut pos)?).ok()?.checked_sub(6)?;
            let script = b.get(pos..pos + size)?.to_vec();
            pos += size;
            coins.push(Coin {
                height,
                coinbase: code % 2 == 1,
                txout: TxOut { value: Amount::from_sat(value), script_pubkey: ScriptBuf::from_bytes(script) },
            });
        }
        txs.push(coins);
    }
    (pos == b.len()).then_some(txs)
}
