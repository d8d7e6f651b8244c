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
//!
//! A consumer that must not lose anything and whose intake never blocks
//! (ZMQ: it only queues) registers a [`Sink`] instead: sinks are called in
//! order, on the validation thread, for every event.

use std::sync::Arc;

use bitcoin::{Block, BlockHash, Transaction, Txid, Wtxid};

/// Events a subscriber may fall behind by before it loses some. The
/// channel allocates and initialises every slot up front (about 100 bytes
/// each, whether or not anyone subscribes), so this is resident memory of
/// an idle node: 8,192 slots cost under 1 MiB. The one subscriber (P2P
/// relay) keeps up with validation; if it ever lags it skips announcements,
/// and the next tip update still announces the new tip.
pub const CAPACITY: usize = 8_192;

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
        /// Whether the node was still in initial block download after
        /// the change (ZMQ does not announce tips then).
        initial_download: bool,
    },
}

/// A synchronous consumer of every event (see the module docs). `event`
/// runs with the chain locked, so it must return at once.
pub trait Sink: Send + Sync {
    /// One event, in order.
    fn event(&self, event: &Event);
    /// Returns once everything given to `event` so far has been delivered
    /// (`syncwithvalidationinterfacequeue`).
    fn flush(&self) {}
}

/// The sending side, shared by the chain and its mempool.
#[derive(Clone)]
pub struct Events {
    tx: tokio::sync::broadcast::Sender<Event>,
    sinks: Arc<std::sync::RwLock<Vec<Arc<dyn Sink>>>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("subscribers", &self.tx.receiver_count()).finish_non_exhaustive()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: tokio::sync::broadcast::channel(CAPACITY).0, sinks: Arc::default() }
    }
}

impl Events {
    /// Sends `event` to every sink and subscriber (none is fine).
    pub fn send(&self, event: Event) {
        if let Ok(sinks) = self.sinks.read() {
            for sink in sinks.iter() {
                sink.event(&event);
            }
        }
        let _ = self.tx.send(event);
    }

    /// Adds a sink; it sees every event from now on.
    pub fn add_sink(&self, sink: Arc<dyn Sink>) {
        if let Ok(mut sinks) = self.sinks.write() {
            sinks.push(sink);
        }
    }

    /// Flushes every sink (see [`Sink::flush`]).
    pub fn flush(&self) {
        let sinks: Vec<Arc<dyn Sink>> = self.sinks.read().map(|s| s.clone()).unwrap_or_default();
        for sink in sinks {
            sink.flush();
        }
    }

    /// A new subscriber, receiving every event from now on.
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
