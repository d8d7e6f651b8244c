//! On-disk layout, as Core's: blocks appended to `blocks/blkNNNNN.dat` and
//! undo data to `blocks/revNNNNN.dat` (network magic, 4-byte little-endian
//! size, payload; undo payloads followed by their checksum), the block index
//! in `blocks/index/` and the UTXO set with the best-block pointer in
//! `chainstate/`, both redb databases.
//!
//! Order of writes, which is what makes a crash at any moment harmless:
//! block bytes, then undo bytes, then the block index, then (in one redb
//! transaction) the UTXO changes and the best-block pointer. Until that last
//! commit the previous tip stays the tip; appended bytes that no committed
//! record points at are ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::BlockHash;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// Regtest's network magic as it appears in block files.
pub(crate) const MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];
/// Core's `MAX_BLOCKFILE_SIZE`: a new file is started past it.
pub(crate) const MAX_BLOCKFILE_SIZE: u64 = 0x0800_0000;

const BLOCKS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("block_index");
const UTXO: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("utxo");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const TXINDEX: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("txindex");

/// `-txindex`: transaction id → hash of the block holding it, in
/// `indexes/txindex/`, with the block it is synced to.
pub(crate) struct TxIndex {
    db: Database,
}

impl std::fmt::Debug for TxIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxIndex").finish_non_exhaustive()
    }
}

impl TxIndex {
    pub(crate) fn open(net_dir: &Path) -> Result<Self, StoreError> {
        let dir = net_dir.join("indexes").join("txindex");
        fs::create_dir_all(&dir).map_err(|e| io("Cannot create directory", &dir, &e))?;
        Ok(Self { db: Database::create(dir.join("txindex.redb")).map_err(db_err)? })
    }

    /// The block the index is synced to.
    pub(crate) fn best(&self) -> Result<Option<BlockHash>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, META)? else { return Ok(None) };
        Ok(table.get("best").map_err(db_err)?.and_then(|v| BlockHash::from_slice(v.value()).ok()))
    }

    /// Records the transactions of a block and moves the synced-to pointer.
    pub(crate) fn add(&self, block: &BlockHash, txids: &[bitcoin::Txid]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = txn.open_table(TXINDEX).map_err(db_err)?;
            for txid in txids {
                t.insert(txid.as_byte_array().as_slice(), block.as_byte_array().as_slice()).map_err(db_err)?;
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert("best", block.as_byte_array().as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// The block holding `txid`, if indexed.
    pub(crate) fn lookup(&self, txid: &bitcoin::Txid) -> Result<Option<BlockHash>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, TXINDEX)? else { return Ok(None) };
        Ok(table
            .get(txid.as_byte_array().as_slice())
            .map_err(db_err)?
            .and_then(|v| BlockHash::from_slice(v.value()).ok()))
    }
}

/// `-blockfilterindex`: the BIP158 basic filter of every block that was
/// connected, in `indexes/blockfilter/basic/`, keyed by block hash (a
/// block's filter and filter header depend only on it and its ancestors, so
/// entries stay right across reorganisations and nothing is ever removed).
/// Value: filter header (32 bytes, internal order), then the encoded filter.
pub(crate) struct FilterIndex {
    db: Database,
}

impl std::fmt::Debug for FilterIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterIndex").finish_non_exhaustive()
    }
}

/// A block's filter header (internal byte order) and encoded filter.
pub type FilterEntry = ([u8; 32], Vec<u8>);

const FILTERS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("basic_filters");

impl FilterIndex {
    pub(crate) fn open(net_dir: &Path) -> Result<Self, StoreError> {
        let dir = net_dir.join("indexes").join("blockfilter").join("basic");
        fs::create_dir_all(&dir).map_err(|e| io("Cannot create directory", &dir, &e))?;
        Ok(Self { db: Database::create(dir.join("index.redb")).map_err(db_err)? })
    }

    /// The filter header and encoded filter of `block`, if indexed.
    pub(crate) fn get(&self, block: &BlockHash) -> Result<Option<FilterEntry>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, FILTERS)? else { return Ok(None) };
        Ok(table.get(block.as_byte_array().as_slice()).map_err(db_err)?.and_then(|v| {
            let v = v.value();
            let header: [u8; 32] = v.get(..32)?.try_into().ok()?;
            Some((header, v[32..].to_vec()))
        }))
    }

    /// Records the filter of `block` with its header.
    pub(crate) fn put(&self, block: &BlockHash, header: &[u8; 32], filter: &[u8]) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(32 + filter.len());
        value.extend_from_slice(header);
        value.extend_from_slice(filter);
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = txn.open_table(FILTERS).map_err(db_err)?;
            t.insert(block.as_byte_array().as_slice(), value.as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }
}

/// Errors of the block store. Messages are what init errors show.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// File system trouble.
    #[error("{0}")]
    Io(String),
    /// The databases.
    #[error("block database error: {0}")]
    Db(String),
    /// Data that is missing or does not check out.
    #[error("{0}")]
    Corrupt(String),
}

/// Opens `def` for reading; `None` when it was never written (a fresh
/// database), which every reader treats as empty.
fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    def: redb::TableDefinition<'_, K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(db_err(e)),
    }
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Where a block and its undo data live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub file: u32,
    /// Offset of the block bytes (after magic and size).
    pub data_pos: u32,
    pub size: u32,
    /// Offset of the undo bytes in `revNNNNN.dat` (after magic and size).
    pub undo_pos: u32,
    pub undo_size: u32,
}

/// One block-index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexRecord {
    pub height: u32,
    pub n_tx: u32,
    pub loc: Location,
    pub header: [u8; 80],
}

impl IndexRecord {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(108);
        for n in [
            self.height,
            self.n_tx,
            self.loc.file,
            self.loc.data_pos,
            self.loc.size,
            self.loc.undo_pos,
            self.loc.undo_size,
        ] {
            v.extend_from_slice(&n.to_le_bytes());
        }
        v.extend_from_slice(&self.header);
        v
    }

    fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 28 + 80 {
            return None;
        }
        let n = |i: usize| u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        let mut header = [0u8; 80];
        header.copy_from_slice(&b[28..]);
        Some(Self {
            height: n(0),
            n_tx: n(1),
            loc: Location { file: n(2), data_pos: n(3), size: n(4), undo_pos: n(5), undo_size: n(6) },
            header,
        })
    }
}

/// A raw key and value of the UTXO table.
pub(crate) type RawRecord = (Vec<u8>, Vec<u8>);

/// A UTXO change to commit.
pub(crate) enum UtxoChange {
    Add(Vec<u8>, Vec<u8>),
    Spend(Vec<u8>),
}

/// The files and databases of one chain directory.
pub(crate) struct Store {
    blocks_dir: PathBuf,
    index: Database,
    chainstate: Database,
    /// The file being appended to, and its size.
    file: u32,
    file_len: u64,
    rev_len: u64,
    /// Size past which a new file is started ([`MAX_BLOCKFILE_SIZE`]).
    max_file_size: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("blocks_dir", &self.blocks_dir).field("file", &self.file).finish_non_exhaustive()
    }
}

fn blk_path(dir: &Path, kind: &str, n: u32) -> PathBuf {
    dir.join(format!("{kind}{n:05}.dat"))
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

impl Store {
    /// Opens (creating when new) the store under `net_dir`.
    pub(crate) fn open(net_dir: &Path) -> Result<Self, StoreError> {
        let blocks_dir = net_dir.join("blocks");
        let index_dir = blocks_dir.join("index");
        let chainstate_dir = net_dir.join("chainstate");
        for d in [&index_dir, &chainstate_dir, &net_dir.join("indexes")] {
            fs::create_dir_all(d).map_err(|e| io("Cannot create directory", d, &e))?;
        }
        let index = Database::create(index_dir.join("index.redb")).map_err(db_err)?;
        let chainstate = Database::create(chainstate_dir.join("chainstate.redb")).map_err(db_err)?;
        let mut store =
            Self { blocks_dir, index, chainstate, file: 0, file_len: 0, rev_len: 0, max_file_size: MAX_BLOCKFILE_SIZE };
        // append to the highest-numbered block file there is
        while blk_path(&store.blocks_dir, "blk", store.file + 1).exists() {
            store.file += 1;
        }
        store.file_len = fs::metadata(blk_path(&store.blocks_dir, "blk", store.file)).map_or(0, |m| m.len());
        store.rev_len = fs::metadata(blk_path(&store.blocks_dir, "rev", store.file)).map_or(0, |m| m.len());
        Ok(store)
    }

    /// Every block-index record.
    pub(crate) fn load_index(&self) -> Result<Vec<(BlockHash, IndexRecord)>, StoreError> {
        let txn = self.index.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, BLOCKS)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let hash =
                BlockHash::from_slice(k.value()).map_err(|_| StoreError::Corrupt("damaged block index".into()))?;
            let rec =
                IndexRecord::decode(v.value()).ok_or_else(|| StoreError::Corrupt("damaged block index".into()))?;
            out.push((hash, rec));
        }
        Ok(out)
    }

    /// The best block recorded in the chainstate.
    pub(crate) fn best_block(&self) -> Result<Option<BlockHash>, StoreError> {
        let txn = self.chainstate.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, META)? else { return Ok(None) };
        let best = table.get("best").map_err(db_err)?;
        Ok(best.and_then(|v| BlockHash::from_slice(v.value()).ok()))
    }

    /// One UTXO record.
    pub(crate) fn utxo(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.chainstate.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, UTXO)? else { return Ok(None) };
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    /// Every UTXO record (for checks and `gettxoutsetinfo`).
    pub(crate) fn utxos(&self) -> Result<Vec<RawRecord>, StoreError> {
        let txn = self.chainstate.begin_read().map_err(db_err)?;
        let Some(table) = read_table(&txn, UTXO)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn append(&mut self, kind: &str, payload: &[u8], trailer: &[u8]) -> Result<u32, StoreError> {
        let path = blk_path(&self.blocks_dir, kind, self.file);
        let mut f =
            OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io("Failed to open", &path, &e))?;
        let len = if kind == "blk" { self.file_len } else { self.rev_len };
        let size = u32::try_from(payload.len()).map_err(|_| StoreError::Corrupt("block too large".into()))?;
        let mut rec = Vec::with_capacity(8 + payload.len() + trailer.len());
        rec.extend_from_slice(&MAGIC);
        rec.extend_from_slice(&size.to_le_bytes());
        rec.extend_from_slice(payload);
        rec.extend_from_slice(trailer);
        f.write_all(&rec).map_err(|e| io("Failed to write", &path, &e))?;
        let new_len = len + rec.len() as u64;
        if kind == "blk" {
            self.file_len = new_len;
        } else {
            self.rev_len = new_len;
        }
        u32::try_from(len + 8).map_err(|_| StoreError::Corrupt("block file too large".into()))
    }

    /// Appends a block and its undo data; returns where they went.
    pub(crate) fn write_block(&mut self, block: &[u8], undo: &[u8], prev: &BlockHash) -> Result<Location, StoreError> {
        if self.file_len + block.len() as u64 + 8 > self.max_file_size && self.file_len > 0 {
            self.file += 1;
            self.file_len = 0;
            self.rev_len = 0;
        }
        let data_pos = self.append("blk", block, &[])?;
        let checksum = undo_checksum(prev, undo);
        let undo_pos = self.append("rev", undo, &checksum)?;
        Ok(Location {
            file: self.file,
            data_pos,
            size: u32::try_from(block.len()).unwrap_or(u32::MAX),
            undo_pos,
            undo_size: u32::try_from(undo.len()).unwrap_or(u32::MAX),
        })
    }

    /// Appends a block that is not connected yet (no undo data).
    pub(crate) fn write_block_only(&mut self, block: &[u8]) -> Result<Location, StoreError> {
        if self.file_len + block.len() as u64 + 8 > self.max_file_size && self.file_len > 0 {
            self.file += 1;
            self.file_len = 0;
            self.rev_len = 0;
        }
        let data_pos = self.append("blk", block, &[])?;
        Ok(Location {
            file: self.file,
            data_pos,
            size: u32::try_from(block.len()).unwrap_or(u32::MAX),
            undo_pos: 0,
            undo_size: 0,
        })
    }

    fn read_at(&self, kind: &str, file: u32, pos: u32, size: u32, extra: usize) -> Result<Vec<u8>, StoreError> {
        read_record(&self.blocks_dir, kind, file, pos, size, extra)
    }

    /// The directory of the block files, for [`read_block_part`] outside
    /// the chain lock.
    pub(crate) fn blocks_dir(&self) -> &Path {
        &self.blocks_dir
    }

    /// The serialized block at `loc`.
    pub(crate) fn read_block(&self, loc: &Location) -> Result<Vec<u8>, StoreError> {
        self.read_at("blk", loc.file, loc.data_pos, loc.size, 0)
    }

    /// The undo data at `loc`, checked against its checksum.
    pub(crate) fn read_undo(&self, loc: &Location, prev: &BlockHash) -> Result<Vec<u8>, StoreError> {
        let mut buf = self.read_at("rev", loc.file, loc.undo_pos, loc.undo_size, 32)?;
        let sum = buf.split_off(loc.undo_size as usize);
        if sum != undo_checksum(prev, &buf) {
            return Err(StoreError::Corrupt(format!("undo data checksum mismatch in rev{:05}.dat", loc.file)));
        }
        Ok(buf)
    }

    /// Records blocks in the index (one transaction).
    pub(crate) fn commit_index(&self, records: &[(BlockHash, IndexRecord)]) -> Result<(), StoreError> {
        let txn = self.index.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
            for (hash, rec) in records {
                table.insert(hash.as_byte_array().as_slice(), rec.encode().as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Applies UTXO changes and moves the best-block pointer (one transaction).
    pub(crate) fn commit_chainstate(&self, changes: &[UtxoChange], best: &BlockHash) -> Result<(), StoreError> {
        let txn = self.chainstate.begin_write().map_err(db_err)?;
        {
            let mut utxo = txn.open_table(UTXO).map_err(db_err)?;
            for change in changes {
                match change {
                    UtxoChange::Add(k, v) => {
                        utxo.insert(k.as_slice(), v.as_slice()).map_err(db_err)?;
                    }
                    UtxoChange::Spend(k) => {
                        utxo.remove(k.as_slice()).map_err(db_err)?;
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert("best", best.as_byte_array().as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// Bytes used by block and undo files.
    pub(crate) fn size_on_disk(&self) -> u64 {
        (0..=self.file)
            .flat_map(|n| ["blk", "rev"].map(|k| blk_path(&self.blocks_dir, k, n)))
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Core's undo checksum: double SHA-256 of the previous block hash followed
/// by the undo payload.
fn undo_checksum(prev: &BlockHash, undo: &[u8]) -> [u8; 32] {
    let mut data = Vec::with_capacity(32 + undo.len());
    data.extend_from_slice(prev.as_byte_array());
    data.extend_from_slice(undo);
    sha256d::Hash::hash(&data).to_byte_array()
}

/// Core's VARINT (base-128, high bit set on all but the last byte, with the
/// "minus one" trick so that every number has one encoding).
pub(crate) fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 10];
    let mut len = 0;
    loop {
        tmp[len] = u8::try_from(n & 0x7f).unwrap_or(0) | if len > 0 { 0x80 } else { 0 };
        if n <= 0x7f {
            break;
        }
        n = (n >> 7) - 1;
        len += 1;
    }
    for i in (0..=len).rev() {
        out.push(tmp[i]);
    }
}

/// Reads Core's VARINT; returns the value and the bytes consumed.
pub(crate) fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        n = n.checked_mul(128)?.checked_add(u64::from(byte & 0x7f))?;
        if byte & 0x80 != 0 {
            n = n.checked_add(1)?;
        } else {
            return Some((n, i + 1));
        }
    }
    None
}

/// Core's `DecompressAmount`.
pub(crate) fn decompress_amount(x: u64) -> u64 {
    if x == 0 {
        return 0;
    }
    let mut x = x - 1;
    let e = x % 10;
    x /= 10;
    let mut n = if e < 9 {
        let d = (x % 9) + 1;
        x /= 9;
        x * 10 + d
    } else {
        x + 1
    };
    for _ in 0..e {
        n *= 10;
    }
    n
}

/// Core's `CompressAmount`.
pub(crate) fn compress_amount(mut n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut e = 0;
    while n % 10 == 0 && e < 9 {
        n /= 10;
        e += 1;
    }
    if e < 9 {
        let d = n % 10;
        n /= 10;
        1 + (n * 9 + d - 1) * 10 + e
    } else {
        1 + (n - 1) * 10 + 9
    }
}

/// Reads one record (`magic | size | payload`) of a block or undo file and
/// returns its payload plus `extra` bytes after it, checking the record head.
fn read_record(dir: &Path, kind: &str, file: u32, pos: u32, size: u32, extra: usize) -> Result<Vec<u8>, StoreError> {
    let path = blk_path(dir, kind, file);
    let mut f = File::open(&path).map_err(|e| io("Failed to open", &path, &e))?;
    f.seek(SeekFrom::Start(u64::from(pos) - 8)).map_err(|e| io("Failed to read", &path, &e))?;
    let mut head = [0u8; 8];
    f.read_exact(&mut head).map_err(|e| io("Failed to read", &path, &e))?;
    if head[..4] != MAGIC || head[4..] != size.to_le_bytes() {
        return Err(StoreError::Corrupt(format!("damaged record in {}", path.display())));
    }
    let mut buf = vec![0u8; size as usize + extra];
    f.read_exact(&mut buf).map_err(|e| io("Failed to read", &path, &e))?;
    Ok(buf)
}

/// `size` bytes of the block at `loc` from `offset` on, read straight into
/// the returned buffer (the one copy), without the chain lock. `None` when
/// the range is empty or runs past the block (Core's `BadPartRange`).
pub(crate) fn read_block_part(
    blocks_dir: &Path,
    loc: &Location,
    part: Option<(u64, u64)>,
) -> Result<Option<Vec<u8>>, StoreError> {
    let (offset, size) = part.unwrap_or((0, u64::from(loc.size)));
    if size == 0 || offset.checked_add(size).is_none_or(|end| end > u64::from(loc.size)) {
        return Ok(None);
    }
    if part.is_none() {
        return read_record(blocks_dir, "blk", loc.file, loc.data_pos, loc.size, 0).map(Some);
    }
    let path = blk_path(blocks_dir, "blk", loc.file);
    let mut f = File::open(&path).map_err(|e| io("Failed to open", &path, &e))?;
    f.seek(SeekFrom::Start(u64::from(loc.data_pos) + offset)).map_err(|e| io("Failed to read", &path, &e))?;
    let mut buf = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    f.read_exact(&mut buf).map_err(|e| io("Failed to read", &path, &e))?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_and_amounts_like_core() {
        let enc = |n| {
            let mut v = Vec::new();
            write_varint(&mut v, n);
            v
        };
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(127), vec![0x7f]);
        assert_eq!(enc(128), vec![0x80, 0x00]);
        assert_eq!(enc(255), vec![0x80, 0x7f]);
        assert_eq!(enc(16511), vec![0xff, 0x7f]);
        assert_eq!(enc(16512), vec![0x80, 0x80, 0x00]);
        assert_eq!(compress_amount(0), 0);
        assert_eq!(compress_amount(1), 1);
        assert_eq!(compress_amount(1_000_000), 7);
        assert_eq!(compress_amount(5_000_000_000), 50);
        assert_eq!(compress_amount(2_100_000_000_000_000), 21_000_000);
        for n in [0u64, 1, 7, 1_000_000, 5_000_000_000, 123_456_789, 2_100_000_000_000_000] {
            assert_eq!(decompress_amount(compress_amount(n)), n);
        }
        for n in [0u64, 127, 128, 255, 16511, 16512, u64::from(u32::MAX)] {
            let v = enc(n);
            assert_eq!(read_varint(&v), Some((n, v.len())));
        }
    }

    #[test]
    fn block_files_roll_over_and_read_back() {
        let dir = std::env::temp_dir().join(format!("ferronode-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).unwrap();
        store.max_file_size = 1000;
        let prev = BlockHash::all_zeros();
        let mut locs = Vec::new();
        for i in 0..5u8 {
            let block = vec![i; 300];
            locs.push(store.write_block(&block, &[i; 3], &prev).unwrap());
        }
        // three 308-byte records fit under 1000 bytes, then a new file starts
        assert_eq!(locs.iter().map(|l| l.file).collect::<Vec<_>>(), vec![0, 0, 0, 1, 1]);
        assert!(dir.join("blocks/blk00001.dat").exists() && dir.join("blocks/rev00001.dat").exists());
        for (i, loc) in locs.iter().enumerate() {
            let i = u8::try_from(i).unwrap();
            assert_eq!(store.read_block(loc).unwrap(), vec![i; 300]);
            assert_eq!(store.read_undo(loc, &prev).unwrap(), vec![i; 3]);
        }
        // a damaged undo checksum is detected
        assert!(store.read_undo(&locs[0], &BlockHash::from_byte_array([1; 32])).is_err());
        // reopening appends to the last file
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.file, 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn index_record_roundtrip() {
        let rec = IndexRecord {
            height: 7,
            n_tx: 2,
            loc: Location { file: 1, data_pos: 8, size: 300, undo_pos: 8, undo_size: 1 },
            header: [3u8; 80],
        };
        assert_eq!(IndexRecord::decode(&rec.encode()), Some(rec));
    }
}
