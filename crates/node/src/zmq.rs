//! ZMQ in the node: the notifier fed from the validation event stream (its
//! RPCs are in `crate::rpc::zmq`).
//!
//! The notifier is a [`chain::events::Sink`]: it sees every event in
//! validation's order, on the validation thread, and only queues it
//! (`ZmqNotifier::notify` never blocks), so nothing is lost between the
//! chain and ZMQ and validation never waits for a subscriber.

use std::sync::{Arc, Mutex, OnceLock};

use bitcoin::Block;
use ferronode_zmq_notify::{Notification, ZmqNotifier};

use crate::chain::events::{Event, RemovalReason, Sink};
use crate::chain::Chain;

/// Where the running notifier is, once init has created it (empty when
/// ZMQ is off or failed to start).
pub type ZmqSlot = Arc<OnceLock<Arc<ZmqNotifier>>>;

/// Turns validation events into notifications.
struct Bridge {
    notifier: Arc<ZmqNotifier>,
    /// The last connected block: the tip announced next is this block.
    last_connected: Mutex<Option<Arc<Block>>>,
}

impl Sink for Bridge {
    fn event(&self, event: &Event) {
        let n = match event {
            Event::TransactionAdded { tx, mempool_sequence } => {
                Notification::TransactionAdded { tx: Arc::clone(tx), mempool_sequence: *mempool_sequence }
            }
            Event::TransactionRemoved { txid, reason, mempool_sequence, .. } => {
                if *reason == RemovalReason::Block {
                    return;
                }
                Notification::TransactionRemoved { txid: *txid, mempool_sequence: *mempool_sequence }
            }
            Event::BlockConnected { block, .. } => {
                if let Ok(mut last) = self.last_connected.lock() {
                    *last = Some(Arc::clone(block));
                }
                Notification::BlockConnected(Arc::clone(block))
            }
            Event::BlockDisconnected { block, .. } => Notification::BlockDisconnected(Arc::clone(block)),
            Event::UpdatedBlockTip { hash, initial_download, .. } => {
                if *initial_download {
                    return;
                }
                let block = self
                    .last_connected
                    .lock()
                    .ok()
                    .and_then(|last| last.as_ref().filter(|b| b.block_hash() == *hash).map(Arc::clone));
                Notification::BlockTip { hash: *hash, block }
            }
        };
        self.notifier.notify(n);
    }

    fn flush(&self) {
        self.notifier.flush();
    }
}

/// Starts the notifiers of `-zmqpub…` (Core's `CZMQNotificationInterface::
/// Create`). When one fails, ZMQ stays off and the node goes on, as in Core.
#[must_use]
pub fn start(specs: Vec<ferronode_zmq_notify::NotifierSpec>) -> Option<Arc<ZmqNotifier>> {
    match ZmqNotifier::start(specs, ferronode_zmq_notify::DEFAULT_QUEUE) {
        Ok(n) => Some(Arc::new(n)),
        Err(ferronode_zmq_notify::StartError::NoNotifiers) => None,
        Err(e) => {
            tracing::debug!(target: "zmq", "{e}; ZMQ notifications are off");
            None
        }
    }
}

/// Feeds `notifier` from `chain`'s events. When this run created the chain,
/// the genesis block's connection is announced first, as Core's notifier
/// (created before the chain is loaded) sees it.
pub fn connect(chain: &Chain, notifier: &Arc<ZmqNotifier>) {
    if chain.created() {
        let genesis = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
        notifier.notify(Notification::BlockConnected(Arc::new(genesis)));
    }
    chain.add_event_sink(Arc::new(Bridge { notifier: Arc::clone(notifier), last_connected: Mutex::new(None) }));
}
