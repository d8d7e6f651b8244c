//! [`ChainConfig`]: everything the chain needs to know when it opens, as
//! one typed value (the node builds it from `-txindex`, `-blockfilterindex`,
//! `-minrelaytxfee`, `-maxmempool`, `-mempoolexpiry`, `-persistmempool` and
//! `-persistmempoolv1`).

use std::path::PathBuf;

use crate::{DEFAULT_MAX_MEMPOOL_MB, DEFAULT_MIN_RELAY_FEE};

/// Core's `DEFAULT_MEMPOOL_EXPIRY_HOURS`, in seconds.
pub const DEFAULT_MEMPOOL_EXPIRY_SECS: u64 = 336 * 3600;

/// How the chain is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainConfig {
    /// The network's directory (`<datadir>/regtest`): blocks, chainstate,
    /// indexes.
    pub net_dir: PathBuf,
    /// `-txindex`.
    pub txindex: bool,
    /// `-blockfilterindex` (BIP158 basic filters).
    pub block_filters: bool,
    /// `-minrelaytxfee`, in satoshis per 1000 virtual bytes.
    pub min_relay_fee: u64,
    /// `-maxmempool`, in bytes.
    pub max_mempool_bytes: u64,
    /// `-mempoolexpiry`, in seconds.
    pub mempool_expiry_secs: u64,
    /// Where `savemempool` and shutdown write `mempool.dat`, and whether in
    /// the v1 format (no obfuscation key).
    pub mempool_file: Option<(PathBuf, bool)>,
}

impl ChainConfig {
    /// Core's defaults for a chain under `net_dir`, with no index and no
    /// `mempool.dat`.
    #[must_use]
    pub fn new(net_dir: impl Into<PathBuf>) -> Self {
        Self {
            net_dir: net_dir.into(),
            txindex: false,
            block_filters: false,
            min_relay_fee: DEFAULT_MIN_RELAY_FEE,
            max_mempool_bytes: DEFAULT_MAX_MEMPOOL_MB * 1_000_000,
            mempool_expiry_secs: DEFAULT_MEMPOOL_EXPIRY_SECS,
            mempool_file: None,
        }
    }

    /// With `-txindex` on or off.
    #[must_use]
    pub fn txindex(mut self, on: bool) -> Self {
        self.txindex = on;
        self
    }

    /// With `-blockfilterindex` on or off.
    #[must_use]
    pub fn block_filters(mut self, on: bool) -> Self {
        self.block_filters = on;
        self
    }
}
