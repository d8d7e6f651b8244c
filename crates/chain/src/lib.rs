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

mod coins;
mod config;
pub mod deployments;
pub mod events;
mod index;
pub mod mempool;
mod mining;
mod reorg;
mod store;
mod validation;

pub use coins::Coin;
use coins::*;
pub use config::{ChainConfig, DEFAULT_MEMPOOL_EXPIRY_SECS};
use index::*;
use mempool::accept::*;
pub use mempool::accept::{Accepted, Reject, RejectKind};
use mining::*;
use reorg::*;
use validation::*;

pub use mempool::file as mempool_file;

use std::collections::HashMap;
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
#[non_exhaustive]
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
    /// Valid as far as checked and stored, but on a branch with no more
    /// work than the active chain, so not connected.
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
    fatal: Option<FatalHandler>,
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
    /// Opens the chain `config` describes, writing genesis on first start,
    /// builds the indexes it asks for over the blocks already there, and
    /// checks that the tip's block and undo data can be read. `fatal` is
    /// Core's `AbortNode` hook: called once when storage fails later.
    ///
    /// # Errors
    /// A message for an init error when the stored chain is damaged.
    pub fn open(config: &ChainConfig, fatal: Option<FatalHandler>) -> Result<Self, StoreError> {
        let net_dir = config.net_dir.as_path();
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
        let txindex = if config.txindex { Some(TxIndex::open(net_dir)?) } else { None };
        let filters = if config.block_filters { Some(FilterIndex::open(net_dir)?) } else { None };
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
            min_relay_fee: config.min_relay_fee,
            mempool_file: config.mempool_file.clone(),
            events: events::Events::default(),
            mempool_expiry: config.mempool_expiry_secs,
            in_reorg: false,
            max_mempool: config.max_mempool_bytes,
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
            fatal,
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
        if let Some(f) = &self.fatal {
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

    /// The minimum relay fee in satoshis per 1000 virtual bytes.
    #[must_use]
    pub fn min_relay_fee(&self) -> u64 {
        self.lock().min_relay_fee
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
