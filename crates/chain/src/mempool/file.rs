//! `mempool.dat`, in Core's format so that a datadir moves between
//! bitcoind and ferronoded with its pool: version 2 (an 8-byte key, then
//! every byte after it XORed with `key[offset % 8]`) or version 1 (plain),
//! the transaction count, each transaction with witness, its entry time and
//! fee delta (i64), then the map of fee deltas and the unbroadcast set.
//! ferronode has neither prioritisation nor P2P, so it writes both empty and
//! ignores them when reading.

use std::io::{Read, Write};
use std::path::Path;

use bitcoin::consensus::encode::{deserialize_partial, serialize, VarInt};
use bitcoin::Transaction;

const VERSION_NO_KEY: u64 = 1;
const VERSION: u64 = 2;

/// One transaction as stored: the transaction and its entry time.
pub type Stored = (Transaction, i64);

/// Serialises `txs` into the file format.
#[must_use]
pub fn encode(txs: &[Stored], key: Option<[u8; 8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(if key.is_some() { VERSION } else { VERSION_NO_KEY }).to_le_bytes());
    if let Some(k) = key {
        out.extend_from_slice(&serialize(&VarInt(8)));
        out.extend_from_slice(&k);
    }
    let start = out.len();
    out.extend_from_slice(&(txs.len() as u64).to_le_bytes());
    for (tx, time) in txs {
        out.extend_from_slice(&serialize(tx));
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&0i64.to_le_bytes());
    }
    out.push(0); // fee deltas: an empty map
    out.push(0); // unbroadcast txids: an empty set
    if let Some(k) = key {
        xor(&mut out[start..], start, k);
    }
    out
}

fn xor(bytes: &mut [u8], offset: usize, key: [u8; 8]) {
    if key == [0; 8] {
        return;
    }
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 8];
    }
}

/// Parses the file format (the transactions; the rest is checked for shape).
///
/// # Errors
/// What is wrong, in words for the log.
pub fn decode(bytes: &[u8]) -> Result<Vec<Stored>, String> {
    let short = || "end of data".to_owned();
    let version = u64::from_le_bytes(bytes.get(..8).ok_or_else(short)?.try_into().expect("8 bytes"));
    let body = match version {
        VERSION_NO_KEY => bytes[8..].to_vec(),
        VERSION => {
            let (len, used) = deserialize_partial::<VarInt>(&bytes[8..]).map_err(|e| e.to_string())?;
            let key_start = 8 + used;
            let key = bytes.get(key_start..key_start.saturating_add(len.0 as usize)).ok_or_else(short)?;
            let key: [u8; 8] = key.try_into().map_err(|_| format!("obfuscation key of {} bytes", key.len()))?;
            let start = key_start + 8;
            let mut body = bytes[start..].to_vec();
            xor(&mut body, start, key);
            body
        }
        v => return Err(format!("unknown version {v}")),
    };
    let mut rest: &[u8] = &body;
    let count = u64::from_le_bytes(rest.get(..8).ok_or_else(short)?.try_into().expect("8 bytes"));
    rest = &rest[8..];
    let mut txs = Vec::new();
    for _ in 0..count {
        let (tx, used) = deserialize_partial::<Transaction>(rest).map_err(|e| e.to_string())?;
        rest = &rest[used..];
        let time = i64::from_le_bytes(rest.get(..8).ok_or_else(short)?.try_into().expect("8 bytes"));
        rest = rest.get(16..).ok_or_else(short)?; // time and fee delta
        txs.push((tx, time));
    }
    // the fee-delta map (txid, i64) and the unbroadcast set (txid)
    for item in [40usize, 32] {
        let (n, used) = deserialize_partial::<VarInt>(rest).map_err(|e| e.to_string())?;
        let len = usize::try_from(n.0).ok().and_then(|n| n.checked_mul(item)).ok_or_else(short)?;
        rest = rest.get(used..).and_then(|r| r.get(len..)).ok_or_else(short)?;
    }
    Ok(txs)
}

/// Writes `txs` to `path` through `path.new`, synced and renamed as Core
/// does, with a fresh random key unless `v1`. Returns the file size.
///
/// # Errors
/// The I/O error.
pub fn dump(path: &Path, txs: &[Stored], v1: bool) -> std::io::Result<u64> {
    let key = (!v1).then(random_key);
    let bytes = encode(txs, key);
    let tmp = path.with_extension("dat.new");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(bytes.len() as u64)
}

fn random_key() -> [u8; 8] {
    let mut key = [0u8; 8];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).is_err() {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        key = h.finish().to_le_bytes();
    }
    key
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash;
    use bitcoin::{absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Txid, Witness};

    use super::*;

    fn tx(tag: u8) -> Transaction {
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint { txid: Txid::from_byte_array([tag; 32]), vout: 1 },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![tag; 3]]),
            }],
            output: vec![TxOut { value: Amount::from_sat(5_000), script_pubkey: ScriptBuf::from_bytes(vec![0x51]) }],
        }
    }

    #[test]
    fn round_trips_in_both_versions() {
        let txs = vec![(tx(1), 1_700_000_000), (tx(2), 1_700_000_100)];
        for key in [None, Some([1, 2, 3, 4, 5, 6, 7, 8])] {
            let bytes = encode(&txs, key);
            assert_eq!(decode(&bytes).unwrap(), txs);
        }
    }

    #[test]
    fn layout_matches_core() {
        let key = [0xaa, 0, 0, 0, 0, 0, 0, 0x55];
        let bytes = encode(&[], Some(key));
        // version 2, a vector of 8 key bytes, then count 0 and two empty
        // containers, XORed with the key from file offset 17 (17 % 8 = 1)
        let mut want = vec![2, 0, 0, 0, 0, 0, 0, 0, 8];
        want.extend_from_slice(&key);
        let plain = [0u8; 10];
        want.extend(plain.iter().enumerate().map(|(i, b)| b ^ key[(17 + i) % 8]));
        assert_eq!(bytes, want);
        assert_eq!(encode(&[], None), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let bytes = encode(&[(tx(3), 5)], Some([9; 8]));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(), "unknown version 3");
    }
}
