//! ferronode's regtest chain as a library: genesis, blocks on disk in Core's
//! layout, the UTXO set with undo data, full block and transaction
//! validation (scripts by Core's own interpreter, libbitcoinconsensus),
//! reorganisations to the most-work chain (`invalidateblock` and
//! `reconsiderblock` included), mining, the mempool with Core's reject
//! reasons and `mempool.dat`, `-txindex`, BIP158 block filters, and the
//! validation event stream.
//!
//! It knows nothing of HTTP, JSON or RPC: the node's RPC and REST layers,
//! its P2P glue and its ZMQ bridge read it through [`Chain`]'s methods and
//! [`events`]. Keeping it free of them lets a service embed the chain, and
//! lets its tests run without a server.
//!
//! Everything is written in the crash-safe order described in `store.rs`.
//!
//! # Layout
//! - the crate root: [`Chain`] (open, queries, mining, acceptance, connect,
//!   disconnect and reorganisation, index upkeep);
//! - `store.rs`: block files, undo files, the redb UTXO set and indexes;
//! - [`mempool`]: the pool ([`mempool::Mempool`]) and `mempool.dat`
//!   ([`mempool::file`]);
//! - [`events`]: the validation event stream;
//! - [`deployments`]: buried deployments and the BIP9 `testdummy` state.

pub mod deployments;
pub mod events;
pub mod mempool;
mod store;

pub use mempool::file as mempool_file;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::block::{Header, Version};
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::encode::{deserialize, serialize, VarInt};
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{
    absolute, opcodes, transaction, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Witness,
};

pub use store::{FilterEntry, StoreError};
use store::{FilterIndex, IndexRecord, Store, TxIndex, UtxoChange};

/// Regtest's fixed difficulty bits.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Blocks between subsidy halvings on regtest.
pub const HALVING_INTERVAL: u32 = 150;
/// Confirmations before a coinbase output may be spent.
pub const COINBASE_MATURITY: u32 = 100;
/// Blocks read back and checked at start (Core's `-checkblocks` default).
const CHECK_BLOCKS: usize = 6;
/// Core master's `DEFAULT_MIN_RELAY_TX_FEE` (satoshis per 1000 vbytes).
pub const DEFAULT_MIN_RELAY_FEE: u64 = 100;
/// Core's `DEFAULT_MAX_MEMPOOL_SIZE_MB`.
pub const DEFAULT_MAX_MEMPOOL_MB: u64 = 300;
/// Core master's `DEFAULT_INCREMENTAL_RELAY_FEE`.
pub const INCREMENTAL_RELAY_FEE: u64 = 100;
/// Core's `DUST_RELAY_TX_FEE`.
const DUST_RELAY_FEE: u64 = 3000;
/// Room left for the coinbase when filling a block from the mempool.
const BLOCK_TEMPLATE_WEIGHT: u64 = 3_996_000;

/// Core's `MAX_BLOCK_SIGOPS_COST`.
const MAX_BLOCK_SIGOPS_COST: usize = 80_000;
/// Core's `MAX_MONEY`.
const MAX_MONEY: u64 = 21_000_000 * 100_000_000;
/// A tip older than this keeps the node in initial block download.
const MAX_TIP_AGE: u64 = 24 * 60 * 60;

/// Block subsidy at `height`.
#[must_use]
pub fn subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        0
    } else {
        (50 * 100_000_000u64) >> halvings
    }
}

/// What is known of a block in the index.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Its hash.
    pub hash: BlockHash,
    /// Its header.
    pub header: Header,
    /// Its height.
    pub height: u32,
    /// Number of transactions.
    pub n_tx: u32,
    /// Serialized size with witness.
    pub size: u32,
    store_rec: IndexRecord,
}

/// What [`Chain::raw_block`] found.
#[derive(Debug)]
pub enum RawBlock {
    /// No block with that hash.
    Unknown,
    /// The asked range is empty or runs past the block.
    BadPart,
    /// The bytes.
    Bytes(Vec<u8>),
}

/// Why a block was refused, in Core's words (`high-hash`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// A consensus rule is broken.
    #[error("{0}")]
    Invalid(&'static str),
    /// The block is already known.
    #[error("duplicate")]
    Duplicate,
    /// Its parent is unknown.
    #[error("prev-blk-not-found")]
    Orphan,
    /// Valid as far as checked, but not on the active tip (reorganisations
    /// are not supported yet).
    #[error("inconclusive")]
    SideChain,
    /// Writing it failed.
    #[error("{0}")]
    Store(String),
    /// The chain cannot go on (Core's `FatalError`), with Core's message.
    #[error("{0}")]
    Fatal(&'static str),
}

struct State {
    store: Store,
    entries: HashMap<BlockHash, BlockInfo>,
    /// Hashes of the active chain by height.
    active: Vec<BlockHash>,
    /// `-txindex`, when enabled.
    txindex: Option<TxIndex>,
    /// `-blockfilterindex` (basic filters), when enabled.
    filters: Option<FilterIndex>,
    /// Blocks found invalid (and their descendants are refused).
    invalid: std::collections::HashSet<BlockHash>,
    /// The tip (hash, height), for long polls.
    tip_tx: tokio::sync::watch::Sender<(BlockHash, u32)>,
    /// The tip's height, set with `tip_tx` (shared with [`Chain`], so that
    /// `getblockcount` reads it without the chain lock).
    tip_height: std::sync::Arc<AtomicU32>,
    /// Transactions waiting to be mined.
    mempool: mempool::Mempool,
    /// `-minrelaytxfee` in satoshis per 1000 virtual bytes.
    min_relay_fee: u64,
    /// Where `savemempool` writes, and whether in the version 1 format.
    mempool_file: Option<(std::path::PathBuf, bool)>,
    /// `-mempoolexpiry` in seconds.
    mempool_expiry: u64,
    /// The validation event stream.
    events: events::Events,
    /// Set during a reorganisation: the tip is announced once at its end.
    in_reorg: bool,
    /// `-maxmempool` in bytes.
    max_mempool: u64,
    /// The node's mock time (see [`Chain::now`]).
    mocktime: std::sync::Arc<AtomicU64>,
    /// Initial block download (see [`still_in_ibd`]).
    ibd: std::sync::Arc<AtomicBool>,
}

impl State {
    /// Every block that is invalid or descends from one (Core's
    /// `BLOCK_FAILED_VALID` and `BLOCK_FAILED_CHILD`).
    fn failed(&self) -> std::collections::HashSet<BlockHash> {
        if self.invalid.is_empty() {
            // the usual case, and `submit` asks on every block
            return std::collections::HashSet::new();
        }
        let mut by_height: Vec<&BlockInfo> = self.entries.values().collect();
        by_height.sort_by_key(|i| i.height);
        let mut failed = std::collections::HashSet::new();
        for info in by_height {
            if self.invalid.contains(&info.hash) || (info.height > 0 && failed.contains(&info.header.prev_blockhash)) {
                failed.insert(info.hash);
            }
        }
        failed
    }

    /// The block with the most work that is not known to be invalid; among
    /// equals, the one stored first (Core prefers the one received first).
    fn best_candidate(&self) -> Option<BlockHash> {
        let failed = self.failed();
        self.entries
            .values()
            .filter(|i| !failed.contains(&i.hash))
            .max_by(|a, b| {
                a.height.cmp(&b.height).then(
                    (b.store_rec.loc.file, b.store_rec.loc.data_pos)
                        .cmp(&(a.store_rec.loc.file, a.store_rec.loc.data_pos)),
                )
            })
            .map(|i| i.hash)
    }

    fn publish_tip(&self) {
        if let Some(h) = self.active.last() {
            let height = u32::try_from(self.active.len() - 1).unwrap_or(u32::MAX);
            self.tip_height.store(height, Ordering::Release);
            self.tip_tx.send_replace((*h, height));
        }
    }
}

/// Called with Core's message (`Failed to write block.`) when the chain
/// cannot go on: the node's fatal-error abort.
pub type FatalHandler = Box<dyn Fn(&str) + Send + Sync>;

/// The chain, shared by the RPC commands.
pub struct Chain {
    state: Mutex<State>,
    /// Set by the node; see [`FatalHandler`].
    fatal: std::sync::OnceLock<FatalHandler>,
    /// Warnings for `getblockchaininfo` (a fatal internal error).
    warnings: Mutex<Vec<String>>,
    /// `setmocktime`, 0 when unset (shared with the state, which needs the
    /// clock for the mempool's rolling fee).
    mocktime: std::sync::Arc<AtomicU64>,
    /// Initial block download; latches to false (shared with the state).
    ibd: std::sync::Arc<AtomicBool>,
    /// The tip's height (shared with the state, which sets it whenever the
    /// active chain changes, under the chain lock).
    tip_height: std::sync::Arc<AtomicU32>,
    /// Whether `open` created the chain (wrote the genesis block).
    fresh: bool,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("height", &self.height()).finish_non_exhaustive()
    }
}

fn utxo_key(op: &OutPoint) -> Vec<u8> {
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
    fn encode(&self) -> Vec<u8> {
        let mut v = self.height.to_le_bytes().to_vec();
        v.push(u8::from(self.coinbase));
        v.extend_from_slice(&self.txout.value.to_sat().to_le_bytes());
        v.extend_from_slice(self.txout.script_pubkey.as_bytes());
        v
    }

    fn decode(b: &[u8]) -> Option<Self> {
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
    fn write_undo(&self, out: &mut Vec<u8>) {
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

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A freshly mined block can be one the node already knows: the same
/// parent, payee and second as a block that was invalidated. Core refuses
/// it (`duplicate-invalid`, so `generate*` fail with "ProcessNewBlock, block
/// not accepted"); connecting it again would put an invalid block on the
/// active chain.
fn refuse_known(st: &State, block: &Block) -> Result<(), BlockError> {
    let hash = block.block_hash();
    if !st.entries.contains_key(&hash) {
        return Ok(());
    }
    Err(if st.failed().contains(&hash) { BlockError::Invalid("duplicate-invalid") } else { BlockError::Duplicate })
}

/// Whether the node is still in initial block download: until the tip is
/// less than a day old, then never again (the flag latches).
fn still_in_ibd(st: &State) -> bool {
    if !st.ibd.load(Ordering::Relaxed) {
        return false;
    }
    let tip = &st.entries[st.active.last().expect("genesis is always there")];
    if u64::from(tip.header.time) + MAX_TIP_AGE > clock(&st.mocktime) {
        st.ibd.store(false, Ordering::Relaxed);
        return false;
    }
    true
}

/// Mock time when set, else the system clock (Core's `GetTime`).
fn clock(mocktime: &AtomicU64) -> u64 {
    match mocktime.load(Ordering::Relaxed) {
        0 => now_secs(),
        t => t,
    }
}

impl Chain {
    /// Opens the chain under `net_dir`, writing genesis on first start, and
    /// checks that the tip's block and undo data can be read.
    ///
    /// # Errors
    /// A message for an init error when the stored chain is damaged.
    pub fn open(net_dir: &Path, txindex: bool) -> Result<Self, StoreError> {
        Self::open_with_filters(net_dir, txindex, false)
    }

    /// [`Chain::open`], with the BIP158 basic block filter index
    /// (`-blockfilterindex`) when `filters` is set: built for the blocks
    /// already there before this returns, then kept up to date as blocks
    /// are connected.
    ///
    /// # Errors
    /// As [`Chain::open`].
    pub fn open_with_filters(net_dir: &Path, txindex: bool, filters: bool) -> Result<Self, StoreError> {
        let store = Store::open(net_dir)?;
        let mut entries = HashMap::new();
        for (hash, rec) in store.load_index()? {
            let header: Header =
                deserialize(&rec.header).map_err(|_| StoreError::Corrupt("damaged block index".into()))?;
            entries.insert(
                hash,
                BlockInfo { hash, header, height: rec.height, n_tx: rec.n_tx, size: rec.loc.size, store_rec: rec },
            );
        }
        let txindex = if txindex { Some(TxIndex::open(net_dir)?) } else { None };
        let filters = if filters { Some(FilterIndex::open(net_dir)?) } else { None };
        let mut state = State {
            store,
            entries,
            active: Vec::new(),
            txindex,
            filters,
            invalid: std::collections::HashSet::new(),
            tip_tx: tokio::sync::watch::channel((BlockHash::all_zeros(), 0)).0,
            tip_height: std::sync::Arc::new(AtomicU32::new(0)),
            mempool: mempool::Mempool::new(),
            min_relay_fee: DEFAULT_MIN_RELAY_FEE,
            mempool_file: None,
            events: events::Events::default(),
            mempool_expiry: 336 * 3600,
            in_reorg: false,
            max_mempool: DEFAULT_MAX_MEMPOOL_MB * 1_000_000,
            mocktime: std::sync::Arc::new(AtomicU64::new(0)),
            ibd: std::sync::Arc::new(AtomicBool::new(true)),
        };
        state.mempool.set_events(state.events.clone());
        let fresh = state.store.best_block()?.is_none();
        match state.store.best_block()? {
            None => {
                let genesis = genesis_block(Network::Regtest);
                connect(&mut state, &genesis, 0, Vec::new(), Vec::new())
                    .map_err(|e| StoreError::Corrupt(format!("cannot write the genesis block: {e}")))?;
            }
            Some(best) => {
                let mut chain = Vec::new();
                let mut cur = best;
                loop {
                    let info = state.entries.get(&cur).ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "Error loading block database: block {cur} of the active chain is missing from the index"
                        ))
                    })?;
                    chain.push(cur);
                    if info.height == 0 {
                        break;
                    }
                    cur = info.header.prev_blockhash;
                }
                chain.reverse();
                state.active = chain;
            }
        }
        sync_txindex(&state)?;
        sync_filters(&state)?;
        state.publish_tip();
        let mocktime = std::sync::Arc::clone(&state.mocktime);
        let ibd = std::sync::Arc::clone(&state.ibd);
        let tip_height = std::sync::Arc::clone(&state.tip_height);
        let chain = Self {
            state: Mutex::new(state),
            fatal: std::sync::OnceLock::new(),
            warnings: Mutex::new(Vec::new()),
            mocktime,
            ibd,
            tip_height,
            fresh,
        };
        chain.verify_tip()?;
        Ok(chain)
    }

    /// Reads the last blocks and their undo data back (Core's
    /// `-checkblocks`): a damaged or missing file is an init error.
    fn verify_tip(&self) -> Result<(), StoreError> {
        let st = self.lock();
        // Core's -checkblocks default: the last 6 blocks
        for hash in st.active.iter().rev().take(CHECK_BLOCKS) {
            let info = &st.entries[hash];
            let bytes = st.store.read_block(&info.store_rec.loc)?;
            let block: Block = deserialize(&bytes).map_err(|_| {
                StoreError::Corrupt(format!("Corrupted block database detected: cannot decode block {hash}"))
            })?;
            if block.block_hash() != *hash {
                return Err(StoreError::Corrupt(format!(
                    "Corrupted block database detected: block {hash} does not match its data"
                )));
            }
            if info.height > 0 {
                st.store.read_undo(&info.store_rec.loc, &info.header.prev_blockhash)?;
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches the tip (hash, height): long polls wait on it.
    #[must_use]
    pub fn subscribe_tip(&self) -> tokio::sync::watch::Receiver<(BlockHash, u32)> {
        self.lock().tip_tx.subscribe()
    }

    /// Installs the fatal-error handler (once).
    pub fn set_fatal_handler(&self, f: FatalHandler) {
        let _ = self.fatal.set(f);
    }

    /// Warnings to show in `getblockchaininfo`.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Core's `AbortNode`: records the warning and hands the message to the
    /// node, which reports it and shuts down with exit code 1.
    fn fatal_error(&self, e: &BlockError) {
        let detail = match e {
            BlockError::Store(detail) => detail.as_str(),
            BlockError::Fatal(message) => message,
            _ => return,
        };
        let message = if let BlockError::Fatal(message) = e {
            message
        } else if detail.contains("rev") && detail.contains(".dat") {
            "Failed to write undo data."
        } else if detail.contains("database") {
            "Failed to write to coin database."
        } else {
            "Failed to write block."
        };
        tracing::error!("{message} ({detail})");
        self.warnings.lock().unwrap_or_else(PoisonError::into_inner).push(message.to_owned());
        if let Some(f) = self.fatal.get() {
            f(message);
        }
    }

    /// The node's clock: mock time when set.
    #[must_use]
    pub fn now(&self) -> u64 {
        clock(&self.mocktime)
    }

    /// `setmocktime` (0 clears it).
    pub fn set_mocktime(&self, t: u64) {
        self.mocktime.store(t, Ordering::Relaxed);
    }

    /// Height of the tip.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.tip_height.load(Ordering::Acquire)
    }

    /// Hash of the tip.
    #[must_use]
    pub fn tip(&self) -> BlockInfo {
        let st = self.lock();
        st.entries[st.active.last().expect("the active chain always holds genesis")].clone()
    }

    /// Hash of the active block at `height`.
    #[must_use]
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.lock().active.get(height as usize).copied()
    }

    /// What the index knows of `hash`.
    #[must_use]
    pub fn info(&self, hash: &BlockHash) -> Option<BlockInfo> {
        self.lock().entries.get(hash).cloned()
    }

    /// Whether `hash` is on the active chain.
    #[must_use]
    pub fn is_active(&self, info: &BlockInfo) -> bool {
        self.lock().active.get(info.height as usize) == Some(&info.hash)
    }

    /// The serialized block.
    ///
    /// # Errors
    /// When its file cannot be read.
    pub fn block_bytes(&self, info: &BlockInfo) -> Result<Vec<u8>, StoreError> {
        self.lock().store.read_block(&info.store_rec.loc)
    }

    /// The coins a block's transactions spent, from its undo data: one list
    /// per non-coinbase transaction, in input order.
    ///
    /// # Errors
    /// When the undo file is missing, damaged or not in the expected format.
    pub fn block_undo(&self, info: &BlockInfo) -> Result<Vec<Vec<Coin>>, StoreError> {
        if info.height == 0 {
            return Ok(Vec::new());
        }
        let bytes = self.lock().store.read_undo(&info.store_rec.loc, &info.header.prev_blockhash)?;
        parse_undo(&bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("undo data of block {} cannot be parsed", info.hash)))
    }

    /// Median time of the 11 blocks ending at `info`.
    #[must_use]
    pub fn median_time_past(&self, info: &BlockInfo) -> u32 {
        let st = self.lock();
        mtp(&st, info.hash)
    }

    /// Bytes of block and undo files.
    #[must_use]
    pub fn size_on_disk(&self) -> u64 {
        self.lock().store.size_on_disk()
    }

    /// A coin of the UTXO set.
    ///
    /// # Errors
    /// Database trouble.
    pub fn coin(&self, op: &OutPoint) -> Result<Option<Coin>, StoreError> {
        Ok(self.lock().store.utxo(&utxo_key(op))?.as_deref().and_then(Coin::decode))
    }

    /// Every coin of the UTXO set.
    ///
    /// # Errors
    /// Database trouble.
    pub fn coins(&self) -> Result<Vec<(OutPoint, Coin)>, StoreError> {
        let raw = self.lock().store.utxos()?;
        Ok(raw
            .into_iter()
            .filter_map(|(k, v)| {
                let txid = bitcoin::Txid::from_slice(k.get(..32)?).ok()?;
                let vout = u32::from_le_bytes(k.get(32..36)?.try_into().ok()?);
                Some((OutPoint { txid, vout }, Coin::decode(&v)?))
            })
            .collect())
    }

    /// The block holding `txid` per `-txindex`; `None` when the index is
    /// off, `Some(None)` when the transaction is not indexed.
    ///
    /// # Errors
    /// Database trouble.
    pub fn txindex_lookup(&self, txid: &bitcoin::Txid) -> Result<Option<Option<BlockHash>>, StoreError> {
        let st = self.lock();
        match &st.txindex {
            None => Ok(None),
            Some(ix) => Ok(Some(ix.lookup(txid)?)),
        }
    }

    /// Whether `-blockfilterindex` (basic) is on.
    #[must_use]
    pub fn has_filter_index(&self) -> bool {
        self.lock().filters.is_some()
    }

    /// The basic filter of `hash` as (filter header, encoded filter), with
    /// the header in internal byte order; `None` when the block was never
    /// connected or the index is off.
    ///
    /// # Errors
    /// When the index cannot be read.
    pub fn block_filter(&self, hash: &BlockHash) -> Result<Option<FilterEntry>, StoreError> {
        match &self.lock().filters {
            Some(ix) => ix.get(hash),
            None => Ok(None),
        }
    }

    /// The stored bytes of block `hash` (or `size` bytes from `offset` on),
    /// read from its block file outside the chain lock, into one buffer.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn raw_block(&self, hash: &BlockHash, part: Option<(u64, u64)>) -> Result<RawBlock, StoreError> {
        let (dir, loc) = {
            let st = self.lock();
            let Some(info) = st.entries.get(hash) else { return Ok(RawBlock::Unknown) };
            (st.store.blocks_dir().to_path_buf(), info.store_rec.loc)
        };
        Ok(store::read_block_part(&dir, &loc, part)?.map_or(RawBlock::BadPart, RawBlock::Bytes))
    }

    /// Whether `-txindex` is on.
    #[must_use]
    pub fn has_txindex(&self) -> bool {
        self.lock().txindex.is_some()
    }

    /// Whether the node is still in initial block download: until the tip
    /// is less than a day old, then never again.
    #[must_use]
    pub fn initial_block_download(&self) -> bool {
        if !self.ibd.load(Ordering::Relaxed) {
            return false;
        }
        still_in_ibd(&self.lock())
    }

    /// Mines one block on the tip paying the subsidy to `script`.
    ///
    /// # Errors
    /// When the block cannot be written.
    pub fn mine(&self, script: &ScriptBuf, max_tries: u64) -> Result<Option<BlockHash>, BlockError> {
        let mut st = self.lock();
        let tip = st.entries[st.active.last().expect("genesis is always there")].clone();
        let height = tip.height + 1;
        let time = u32::try_from(self.now()).unwrap_or(u32::MAX).max(mtp(&st, tip.hash) + 1);
        let txs = st.mempool.select(BLOCK_TEMPLATE_WEIGHT);
        let fees: u64 = txs.iter().filter_map(|t| st.mempool.get(&t.compute_txid())).map(|e| e.fee).sum();
        let mut block = template(&tip, height, time, script, &txs, fees);
        block.header.version = Version::from_consensus(version_for_next(&st));
        block.header.merkle_root = block.compute_merkle_root().expect("the block has a coinbase");
        if !grind(&mut block, max_tries) {
            return Ok(None);
        }
        refuse_known(&st, &block)?;
        let (changes, undo, _) = check_block(&st, &block, height, self.now()).map_err(BlockError::Invalid)?;
        let connected = connect(&mut st, &block, height, changes, undo);
        drop(st);
        let hash = connected.inspect_err(|e| self.fatal_error(e))?;
        Ok(Some(hash))
    }

    /// Core's `generateblock`: a block on the tip with exactly `txs`, the
    /// subsidy and their fees to `script`; connected when `submit`.
    ///
    /// # Errors
    /// The reject reason when the block would be invalid.
    pub fn generate_block(&self, script: &ScriptBuf, txs: &[Transaction], submit: bool) -> Result<Block, BlockError> {
        let mut st = self.lock();
        let tip = st.entries[st.active.last().expect("genesis is always there")].clone();
        let height = tip.height + 1;
        let time = u32::try_from(self.now()).unwrap_or(u32::MAX).max(mtp(&st, tip.hash) + 1);
        // first pass finds the fees; the coinbase may claim less than it could
        let mut probe = template(&tip, height, time, script, txs, 0);
        grind(&mut probe, u64::MAX);
        let (_, _, fees) = check_block(&st, &probe, height, self.now()).map_err(BlockError::Invalid)?;
        let mut block = template(&tip, height, time, script, txs, fees);
        block.header.version = Version::from_consensus(version_for_next(&st));
        grind(&mut block, u64::MAX);
        let (changes, undo, _) = check_block(&st, &block, height, self.now()).map_err(BlockError::Invalid)?;
        if submit {
            refuse_known(&st, &block)?;
            let connected = connect(&mut st, &block, height, changes, undo);
            drop(st);
            connected.inspect_err(|e| self.fatal_error(e))?;
        }
        Ok(block)
    }

    /// Accepts a block from outside (`submitblock`).
    ///
    /// # Errors
    /// Core's reject reason, `duplicate`, `inconclusive` or a store error.
    pub fn submit(&self, block: &Block) -> Result<BlockHash, BlockError> {
        let mut st = self.lock();
        let hash = block.block_hash();
        if st.entries.contains_key(&hash) {
            return Err(BlockError::Duplicate);
        }
        let Some(parent) = st.entries.get(&block.header.prev_blockhash).cloned() else {
            return Err(BlockError::Orphan);
        };
        check_header(&block.header)?;
        if st.failed().contains(&parent.hash) {
            return Err(BlockError::Invalid("bad-prevblk"));
        }
        let height = parent.height + 1;
        if st.active.last() != Some(&parent.hash) {
            // A side branch: keep it; switch to it when it has more work
            // (every regtest block has the same work, so: when it is longer).
            if !block.check_merkle_root() {
                return Err(BlockError::Invalid("bad-txnmrklroot"));
            }
            let stored = store_side_block(&mut st, block, height);
            let outcome = stored.and_then(|()| {
                if height as usize + 1 > st.active.len() {
                    reorg_to(&mut st, hash, self.now())
                } else {
                    Err(BlockError::SideChain)
                }
            });
            drop(st);
            return outcome.inspect_err(|e| self.fatal_error(e));
        }
        let (changes, undo, _) = check_block(&st, block, height, self.now()).map_err(BlockError::Invalid)?;
        let connected = connect(&mut st, block, height, changes, undo);
        drop(st);
        connected.inspect_err(|e| self.fatal_error(e))
    }

    /// Core's `invalidateblock`: marks `hash` invalid, disconnects it and
    /// its descendants from the active chain with their undo data, and moves
    /// to the best remaining chain. Transactions of disconnected blocks go
    /// back to the mempool when still valid.
    ///
    /// # Errors
    /// Missing or unreadable undo data (as an error, not a fatal abort, as
    /// in Core), or an unknown block.
    pub fn invalidate(&self, hash: &BlockHash) -> Result<(), BlockError> {
        let now = self.now();
        let mut st = self.lock();
        let info = st.entries.get(hash).cloned().ok_or(BlockError::Invalid("Block not found"))?;
        if info.height == 0 {
            return Err(BlockError::Invalid("cannot invalidate the genesis block"));
        }
        let mut disconnected = Vec::new();
        if st.active.get(info.height as usize) == Some(hash) {
            while st.active.len() > info.height as usize {
                let gone = *st.active.last().expect("above the invalidated block");
                if let Some(b) = st
                    .store
                    .read_block(&st.entries[&gone].store_rec.loc)
                    .ok()
                    .and_then(|b| deserialize::<Block>(&b).ok())
                {
                    disconnected.push(b);
                }
                disconnect_tip(&mut st)?;
            }
        }
        st.invalid.insert(*hash);
        refill_mempool(&mut st, &disconnected, now);
        activate_best(&mut st, now)
    }

    /// Core's `reconsiderblock`: forgets that `hash`, its ancestors and its
    /// descendants were invalid and moves to the best chain.
    ///
    /// # Errors
    /// A store or fatal error while switching chains, or an unknown block.
    pub fn reconsider(&self, hash: &BlockHash) -> Result<(), BlockError> {
        let now = self.now();
        let mut st = self.lock();
        if !st.entries.contains_key(hash) {
            return Err(BlockError::Invalid("Block not found"));
        }
        let mut cur = *hash;
        while let Some(info) = st.entries.get(&cur).cloned() {
            st.invalid.remove(&cur);
            if info.height == 0 {
                break;
            }
            cur = info.header.prev_blockhash;
        }
        let descendants: Vec<BlockHash> = st
            .invalid
            .iter()
            .filter(|b| {
                let mut cur = **b;
                while let Some(i) = st.entries.get(&cur) {
                    if cur == *hash {
                        return true;
                    }
                    if i.height == 0 {
                        break;
                    }
                    cur = i.header.prev_blockhash;
                }
                false
            })
            .copied()
            .collect();
        for d in descendants {
            st.invalid.remove(&d);
        }
        activate_best(&mut st, now)
    }

    /// The pool as `mempool.dat` stores it: each transaction, parents
    /// first, with its entry time.
    #[must_use]
    pub fn mempool_snapshot(&self) -> Vec<mempool_file::Stored> {
        let st = self.lock();
        st.mempool.entries().iter().map(|e| (e.tx.clone(), i64::try_from(e.time).unwrap_or(i64::MAX))).collect()
    }

    /// Whether this run created the chain: Core connects the genesis block
    /// then, after its notifiers are up (ZMQ's first sequence numbers).
    #[must_use]
    pub fn created(&self) -> bool {
        self.fresh
    }

    /// Adds a synchronous consumer of the event stream (see [`events::Sink`]).
    pub fn add_event_sink(&self, sink: std::sync::Arc<dyn events::Sink>) {
        self.lock().events.add_sink(sink);
    }

    /// Returns once every event so far has been delivered by every sink.
    pub fn flush_events(&self) {
        let events = self.lock().events.clone();
        events.flush();
    }

    /// A subscriber to the validation event stream (see [`events`]).
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<events::Event> {
        self.lock().events.subscribe()
    }

    /// Sets where `mempool.dat` lives and its format (`v1`: no key).
    pub fn set_mempool_file(&self, path: std::path::PathBuf, v1: bool) {
        self.lock().mempool_file = Some((path, v1));
    }

    /// Writes the pool to `mempool.dat` (Core's `DumpMempool`), logging as
    /// Core does. Returns the path.
    ///
    /// # Errors
    /// No file set, or the I/O error.
    pub fn save_mempool(&self) -> std::io::Result<std::path::PathBuf> {
        let started = std::time::Instant::now();
        let (path, v1) = self.lock().mempool_file.clone().ok_or_else(|| std::io::Error::other("no mempool file"))?;
        let txs = self.mempool_snapshot();
        let copied = started.elapsed();
        tracing::info!("Writing {} mempool transactions to file...", txs.len());
        tracing::info!("Writing 0 unbroadcast transactions to file.");
        match mempool_file::dump(&path, &txs, v1) {
            Ok(size) => {
                tracing::info!(
                    "Dumped mempool: {:.3}s to copy, {:.3}s to dump, {size} bytes dumped to file",
                    copied.as_secs_f64(),
                    (started.elapsed() - copied).as_secs_f64()
                );
                Ok(path)
            }
            Err(e) => {
                tracing::info!("Failed to dump mempool: {e}. Continuing anyway.");
                Err(e)
            }
        }
    }

    /// Accepts transactions read from `mempool.dat`, keeping their entry
    /// times; those older than `expiry_secs` are skipped. Returns Core's
    /// counts: (succeeded, failed, expired, already there).
    pub fn load_mempool(&self, txs: &[mempool_file::Stored], expiry_secs: u64) -> (u64, u64, u64, u64) {
        let now = self.now();
        let mut st = self.lock();
        let (mut ok, mut failed, mut expired, mut there) = (0, 0, 0, 0);
        for (tx, time) in txs {
            let time = u64::try_from(*time).unwrap_or(0);
            if time.saturating_add(expiry_secs) <= now {
                expired += 1;
            } else if accept_locked(&mut st, tx, now, Mode::Submit).is_ok() {
                st.mempool.set_time(&tx.compute_txid(), time);
                ok += 1;
            } else if st.mempool.get(&tx.compute_txid()).is_some() {
                there += 1;
            } else {
                failed += 1;
            }
        }
        (ok, failed, expired, there)
    }

    /// `-mempoolexpiry`, in seconds.
    pub fn set_mempool_expiry(&self, secs: u64) {
        self.lock().mempool_expiry = secs;
    }

    /// `-minrelaytxfee`, in satoshis per 1000 virtual bytes.
    pub fn set_min_relay_fee(&self, sat_per_kvb: u64) {
        self.lock().min_relay_fee = sat_per_kvb;
    }

    /// The minimum relay fee in satoshis per 1000 virtual bytes.
    #[must_use]
    pub fn min_relay_fee(&self) -> u64 {
        self.lock().min_relay_fee
    }

    /// `-maxmempool`, in bytes.
    pub fn set_max_mempool(&self, bytes: u64) {
        self.lock().max_mempool = bytes;
    }

    /// `-maxmempool` in bytes and Core's `GetMinFee` now (satoshis per
    /// 1000 vbytes), for `getmempoolinfo`.
    pub fn mempool_limits(&self) -> (u64, u64) {
        let now = self.now();
        let mut st = self.lock();
        let limit = st.max_mempool;
        (limit, st.mempool.min_fee(now, limit, INCREMENTAL_RELAY_FEE))
    }

    /// Core's `AcceptToMemoryPool` (without packages): checks `tx` against
    /// the chain tip plus the pool and, unless `test_only`, adds it,
    /// replacing conflicting transactions that pay less.
    ///
    /// # Errors
    /// The reject reason and details, as Core words them.
    pub fn accept(&self, tx: &Transaction, test_only: bool) -> Result<Accepted, Reject> {
        let now = self.now();
        let mut st = self.lock();
        accept_locked(&mut st, tx, now, if test_only { Mode::Test } else { Mode::Submit })
    }

    /// Runs `f` with the mempool.
    pub fn with_mempool<T>(&self, f: impl FnOnce(&mempool::Mempool) -> T) -> T {
        f(&self.lock().mempool)
    }

    /// Every tip of the block tree: (block, status) with Core's status names.
    #[must_use]
    pub fn tips(&self) -> Vec<(BlockInfo, u32, &'static str)> {
        let st = self.lock();
        let parents: std::collections::HashSet<BlockHash> =
            st.entries.values().filter(|i| i.height > 0).map(|i| i.header.prev_blockhash).collect();
        let failed = st.failed();
        let mut tips = Vec::new();
        for info in st.entries.values().filter(|i| !parents.contains(&i.hash)) {
            // branch length: blocks since the fork with the active chain
            let mut len = 0;
            let mut cur = info.clone();
            while st.active.get(cur.height as usize) != Some(&cur.hash) {
                len += 1;
                match st.entries.get(&cur.header.prev_blockhash) {
                    Some(p) => cur = p.clone(),
                    None => break,
                }
            }
            let status = if len == 0 {
                "active"
            } else if failed.contains(&info.hash) {
                "invalid"
            } else if info.store_rec.loc.undo_pos != 0 {
                "valid-fork"
            } else {
                "valid-headers"
            };
            tips.push((info.clone(), len, status));
        }
        tips.sort_by(|a, b| b.0.height.cmp(&a.0.height).then(a.1.cmp(&b.1)));
        tips
    }
}

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

fn reject(kind: RejectKind, reason: &str, details: Option<String>) -> Reject {
    let details = details.map_or_else(|| reason.to_owned(), |d| format!("{reason}, {d}"));
    Reject { kind, reason: reason.to_owned(), details }
}

/// Core's `GetDustThreshold` at the dust relay fee.
fn dust_threshold(out: &TxOut) -> u64 {
    if out.script_pubkey.is_op_return() {
        return 0;
    }
    let size = serialize(out).len() as u64 + if out.script_pubkey.is_witness_program() { 67 } else { 148 };
    size * DUST_RELAY_FEE / 1000
}

/// Fee at `rate` (satoshis per 1000 vbytes) for `vsize`, rounded up.
fn fee_at(rate: u64, vsize: u64) -> u64 {
    (rate * vsize).div_ceil(1000)
}

/// How [`accept_locked`] treats a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `sendrawtransaction`, `mempool.dat`: every check, then added.
    Submit,
    /// `testmempoolaccept`: every check, nothing added.
    Test,
    /// Back from a disconnected block: no mempool minimum fee and no
    /// trimming per transaction (Core's `bypass_limits`); the pool is
    /// trimmed once the reorganisation is done.
    Reorg,
}

fn accept_locked(st: &mut State, tx: &Transaction, now: u64, mode: Mode) -> Result<Accepted, Reject> {
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
fn limit_mempool_size(st: &mut State, now: u64) {
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
fn btc(sats: u64) -> String {
    format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000)
}

/// Parses Core's `CBlockUndo` as written by [`Coin::write_undo`].
fn parse_undo(b: &[u8]) -> Option<Vec<Vec<Coin>>> {
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

fn mtp(st: &State, mut hash: BlockHash) -> u32 {
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

/// The block a miner would build on `tip`: a coinbase with the BIP34
/// height, the subsidy to `script` and the witness commitment, as Core's
/// `CreateNewBlock` makes it (version 0x20000000, regtest bits).
fn template(tip: &BlockInfo, height: u32, time: u32, script: &ScriptBuf, txs: &[Transaction], fees: u64) -> Block {
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
fn version_for_next(st: &State) -> i32 {
    let version_at = |h: u32| {
        st.active.get(h as usize).and_then(|hash| st.entries.get(hash)).map(|i| i.header.version.to_consensus())
    };
    deployments::block_version(&version_at, u32::try_from(st.active.len().saturating_sub(1)).unwrap_or(0))
}

/// Searches a nonce that meets the target; false after `max_tries`.
fn grind(block: &mut Block, max_tries: u64) -> bool {
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

fn check_header(header: &Header) -> Result<(), BlockError> {
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
fn check_block(
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
fn check_transaction(tx: &Transaction) -> Result<(), &'static str> {
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
fn sequence_lock_met(
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
fn is_final(tx: &Transaction, height: u32, mtp: u32) -> bool {
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
fn verify_scripts(tx: &Transaction, spent: &[TxOut]) -> Result<(), &'static str> {
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

/// Brings `-txindex` up to the tip (after a crash, or when it was just
/// switched on). The genesis coinbase is not indexed, as in Core.
fn sync_txindex(st: &State) -> Result<(), StoreError> {
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
fn basic_filter(block: &Block, undo: &[Vec<Coin>]) -> Option<Vec<u8>> {
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
fn index_filter(ix: &FilterIndex, block: &Block, height: u32, undo: &[Vec<Coin>]) -> Result<(), StoreError> {
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
fn sync_filters(st: &State) -> Result<(), StoreError> {
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

/// Stores a block that does not extend the tip: block bytes and index
/// record, no undo data (it has not been connected).
fn store_side_block(st: &mut State, block: &Block, height: u32) -> Result<(), BlockError> {
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
fn disconnect_tip(st: &mut State) -> Result<(), BlockError> {
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
fn reorg_to(st: &mut State, new_tip: BlockHash, now: u64) -> Result<BlockHash, BlockError> {
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

fn reorg_steps(st: &mut State, new_tip: BlockHash, now: u64) -> Result<BlockHash, BlockError> {
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
fn activate_best(st: &mut State, now: u64) -> Result<(), BlockError> {
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
fn refill_mempool(st: &mut State, disconnected: &[Block], now: u64) {
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
fn connect(
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
