//! The validation event stream (Core's `CValidationInterface` callbacks):
//! one ordered stream of what happened to the chain and the mempool, for
//! ZMQ, REST and anyone else who wants to follow along.
//!
//! Events are sent while the chain lock is held, so their order is the
//! order in which validation did things. The channel is a
//! `tokio::sync::broadcast`: sending never blocks and never allocates per
//! subscriber, so a slow subscriber cannot hold up validation; one that
//! falls more than [`CAPACITY`] events behind is told how many it missed
//! (`RecvError::Lagged`) instead of making the node buffer without bound.

use std::sync::Arc;

use bitcoin::{Block, BlockHash, Transaction, Txid, Wtxid};

/// Events a subscriber may fall behind by before it loses some.
pub const CAPACITY: usize = 65_536;

/// Why a transaction left the mempool (Core's `MemPoolRemovalReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// Older than `-mempoolexpiry`.
    Expiry,
    /// Evicted to keep the pool under `-maxmempool`.
    SizeLimit,
    /// No longer valid after a reorganisation.
    Reorg,
    /// Included in a connected block.
    Block,
    /// Spent an output that a connected block spent.
    Conflict,
    /// Replaced by a transaction paying more.
    Replaced,
}

impl RemovalReason {
    /// Core's name for the reason.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Expiry => "expiry",
            Self::SizeLimit => "sizelimit",
            Self::Reorg => "reorg",
            Self::Block => "block",
            Self::Conflict => "conflict",
            Self::Replaced => "replaced",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// A transaction entered the pool; `mempool_sequence` is the pool's
    /// sequence number after the addition.
    TransactionAdded {
        /// The transaction.
        tx: Arc<Transaction>,
        /// The mempool sequence number of this addition.
        mempool_sequence: u64,
    },
    /// A transaction left the pool for `reason`.
    TransactionRemoved {
        /// Its txid.
        txid: Txid,
        /// Its wtxid.
        wtxid: Wtxid,
        /// Why.
        reason: RemovalReason,
        /// The mempool sequence number of this removal.
        mempool_sequence: u64,
    },
    /// A block was connected to the active chain.
    BlockConnected {
        /// The block.
        block: Arc<Block>,
        /// Its height.
        height: u32,
    },
    /// A block was disconnected from the active chain.
    BlockDisconnected {
        /// The block.
        block: Arc<Block>,
        /// Its height.
        height: u32,
    },
    /// The tip changed (after a whole connect or reorg step).
    UpdatedBlockTip {
        /// The new tip.
        hash: BlockHash,
        /// Its height.
        height: u32,
    },
}

/// The sending side, shared by the chain and its mempool.
#[derive(Debug, Clone)]
pub struct Events {
    tx: tokio::sync::broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: tokio::sync::broadcast::channel(CAPACITY).0 }
    }
}

impl Events {
    /// Sends `event` to every subscriber (none is fine).
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// A new subscriber, receiving every event from now on.
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
