//! Bitcoin Core's ZMQ notifier, as a library.
//!
//! A node that wants bitcoind-compatible ZMQ notifications describes its
//! notifiers ([`NotifierSpec`]: topic, address, high-water mark, usually
//! parsed from `-zmqpub<topic>=<address>` with [`specs_from_options`]),
//! starts a [`ZmqNotifier`] and hands it [`Notification`]s as its chain and
//! mempool change. Subscribers written for bitcoind (pyzmq following
//! Core's `contrib/zmq` example, the `bitcoincore-zmq` crate, LND) read the
//! same bytes they would read from bitcoind:
//!
//! * three-part messages `[topic][body][sequence]`, the sequence a 4-byte
//!   little-endian counter per notifier starting at 0;
//! * hashes in RPC display order, raw blocks and transactions with
//!   witness, and the `sequence` topic's `C`/`D` (33 bytes) and `A`/`R`
//!   (41 bytes, with the mempool sequence) bodies;
//! * notifiers created by topic in alphabetical order, then by address in
//!   the order given, and fired in that order for each event; topics on the
//!   same address share one PUB socket;
//! * a notifier that fails at start disables ZMQ altogether; one whose
//!   send fails later is removed while the others go on.
//!
//! Why a thread and a queue: in Core the notifier runs on the validation
//! interface's scheduler thread, so a slow serialisation or a stuck socket
//! holds up later callbacks. Here [`ZmqNotifier::notify`] only puts the
//! notification in a bounded queue (it never blocks); one thread serialises
//! and sends. If the queue is full the notification is dropped, and the
//! sequence numbers of the topics it would have produced are advanced, so a
//! subscriber sees the gap exactly where the messages were lost.
//!
//! Why the drops can be counted: a plain PUB socket drops silently for a
//! subscriber at its high-water mark, and then keeps dropping for it,
//! silently, until it has drained half its queue. Here every socket runs
//! with `ZMQ_XPUB_NODROP` and each message is sent with `ZMQ_DONTWAIT`: when
//! a subscriber of the socket is at its high-water mark the send fails, the
//! message goes to nobody, it is counted ([`NotifierStats`]), and its
//! sequence number is used up, so every subscriber sees the gap and the
//! count equals it exactly. The price: subscribers sharing an address with
//! a stalled one lose the same messages (give each consumer its own
//! address to keep them apart).

mod publisher;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bitcoin::{Block, BlockHash, Transaction, Txid};

/// Core's `DEFAULT_ZMQ_SNDHWM`.
pub const DEFAULT_HWM: i32 = 1000;

/// Notifications the queue in front of the publishing thread holds.
pub const DEFAULT_QUEUE: usize = 65_536;

/// The five topics, in the order Core creates and fires their notifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `hashblock`: the new tip's hash.
    HashBlock,
    /// `hashtx`: every transaction's txid (mempool, connected, disconnected).
    HashTx,
    /// `rawblock`: the new tip, serialized.
    RawBlock,
    /// `rawtx`: every transaction, serialized with witness.
    RawTx,
    /// `sequence`: blocks connected/disconnected, mempool additions/removals.
    Sequence,
}

impl Topic {
    /// All topics, in Core's order.
    pub const ALL: [Self; 5] = [Self::HashBlock, Self::HashTx, Self::RawBlock, Self::RawTx, Self::Sequence];

    /// The topic frame.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HashBlock => "hashblock",
            Self::HashTx => "hashtx",
            Self::RawBlock => "rawblock",
            Self::RawTx => "rawtx",
            Self::Sequence => "sequence",
        }
    }

    /// The notifier type as `getzmqnotifications` shows it (`pubhashblock`).
    #[must_use]
    pub fn kind(self) -> String {
        format!("pub{}", self.name())
    }

    /// The option that enables it, without the dash (`zmqpubhashblock`).
    #[must_use]
    pub fn option(self) -> String {
        format!("zmqpub{}", self.name())
    }

    const fn index(self) -> usize {
        match self {
            Self::HashBlock => 0,
            Self::HashTx => 1,
            Self::RawBlock => 2,
            Self::RawTx => 3,
            Self::Sequence => 4,
        }
    }
}

/// One notifier: a topic published at an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierSpec {
    /// What it publishes.
    pub topic: Topic,
    /// The libzmq endpoint, with `unix:` already rewritten to `ipc://`.
    pub address: String,
    /// The socket's send high-water mark (`-zmqpub<topic>hwm`).
    pub hwm: i32,
}

/// Builds the notifiers from option values the way Core does: for each
/// topic in order, one notifier per address in the order given, with the
/// topic's high-water mark. `addresses(option)` returns every value of an
/// option (e.g. `zmqpubhashtx`), `hwm(option)` the `…hwm` option if set.
pub fn specs_from_options(
    addresses: impl Fn(&str) -> Vec<String>,
    hwm: impl Fn(&str) -> Option<i64>,
) -> Vec<NotifierSpec> {
    let mut out = Vec::new();
    for topic in Topic::ALL {
        let option = topic.option();
        // as Core's SetOutboundMessageHighWaterMark: a negative value keeps the default
        let hwm =
            hwm(&format!("{option}hwm")).and_then(|v| i32::try_from(v).ok()).filter(|v| *v >= 0).unwrap_or(DEFAULT_HWM);
        for address in addresses(&option) {
            out.push(NotifierSpec { topic, address: ipc_address(&address), hwm });
        }
    }
    out
}

/// Core's rewrite of `unix:<path>` to libzmq's `ipc://<path>`.
#[must_use]
pub fn ipc_address(address: &str) -> String {
    address.strip_prefix("unix:").map_or_else(|| address.to_owned(), |path| format!("ipc://{path}"))
}

/// Core's start-up check of a `-zmqpub…` value (`SplitHostPort` on the whole
/// value, `unix:` paths allowed). It only catches a bad port after a single
/// colon: `tcp://host:port` always passes (the scheme's colon makes the
/// value "multi-colon"), `ipc://path` and `host:notaport` do not. Anything
/// that passes but cannot be bound (`foo`) disables ZMQ at start instead.
#[must_use]
pub fn address_passes_init_check(value: &str) -> bool {
    if value.starts_with("unix:") {
        return true;
    }
    let Some(colon) = value.rfind(':') else { return true };
    let bracketed = value.starts_with('[') && colon > 0 && value.as_bytes()[colon - 1] == b']';
    let multi = colon != 0 && value[..colon].contains(':');
    if colon == 0 || bracketed || !multi {
        let port = &value[colon + 1..];
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        return digits && port.parse::<u16>().is_ok_and(|p| p != 0);
    }
    true
}

/// Something the chain or the mempool did, as the notifiers need it.
#[derive(Debug, Clone)]
pub enum Notification {
    /// The tip moved to a block that was connected (Core's
    /// `UpdatedBlockTip`, not sent during initial block download nor when
    /// blocks were only disconnected): `hashblock`, `rawblock`.
    /// `block` is `None` when the block could not be read, which makes the
    /// `rawblock` notifiers fail (and be removed), as in Core.
    BlockTip {
        /// The new tip.
        hash: BlockHash,
        /// Its content.
        block: Option<Arc<Block>>,
    },
    /// A block was connected: `hashtx`/`rawtx` for each of its
    /// transactions, then `sequence` `C`.
    BlockConnected(Arc<Block>),
    /// A block was disconnected: `hashtx`/`rawtx` for each of its
    /// transactions, then `sequence` `D`.
    BlockDisconnected(Arc<Block>),
    /// A transaction entered the mempool: `hashtx`, `rawtx`, `sequence` `A`.
    TransactionAdded {
        /// The transaction.
        tx: Arc<Transaction>,
        /// The mempool sequence after the addition.
        mempool_sequence: u64,
    },
    /// A transaction left the mempool for a reason other than a block:
    /// `sequence` `R`.
    TransactionRemoved {
        /// Its txid.
        txid: Txid,
        /// The mempool sequence after the removal.
        mempool_sequence: u64,
    },
}

impl Notification {
    /// How many messages of each topic (by [`Topic::index`]) it makes.
    fn messages_per_topic(&self) -> [u64; 5] {
        match self {
            Self::BlockTip { .. } => [1, 0, 1, 0, 0],
            Self::BlockConnected(b) | Self::BlockDisconnected(b) => {
                let n = b.txdata.len() as u64;
                [0, n, 0, n, 1]
            }
            Self::TransactionAdded { .. } => [0, 1, 0, 1, 1],
            Self::TransactionRemoved { .. } => [0, 0, 0, 0, 1],
        }
    }
}

/// A notifier as `getzmqnotifications` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierInfo {
    /// `pubhashblock`, ….
    pub kind: String,
    /// The address as configured (after the `unix:` rewrite).
    pub address: String,
    /// Its high-water mark.
    pub hwm: i32,
}

/// What a notifier has done so far (our own `getzmqstats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierStats {
    /// `pubhashblock`, ….
    pub kind: String,
    /// Its address.
    pub address: String,
    /// Its high-water mark.
    pub hwm: i32,
    /// The sequence number its next message will carry.
    pub next_sequence: u32,
    /// Messages sent to every subscriber.
    pub sent: u64,
    /// Messages at least one subscriber missed because it was at its
    /// high-water mark (a slow subscriber).
    pub dropped_hwm: u64,
    /// Messages never sent because the queue in front of the publishing
    /// thread was full.
    pub dropped_queue: u64,
}

/// One queued notification with the per-topic messages dropped just
/// before it (see the crate docs).
#[derive(Debug)]
enum Job {
    Notify {
        notification: Notification,
        skipped_before: [u64; 5],
    },
    /// Answers once everything before it is done; carries the drops
    /// since the last notification so that the counters are complete.
    Flush {
        done: SyncSender<()>,
        skipped_before: [u64; 5],
    },
}

/// State shared between the handle and the publishing thread.
#[derive(Debug, Default)]
struct Shared {
    /// Active notifiers, in order, with their counters.
    stats: Mutex<Vec<NotifierStats>>,
    /// Per-topic messages dropped by a full queue and not yet attached to a
    /// later notification.
    pending_skips: [AtomicU64; 5],
}

/// Why the notifier could not start (ZMQ is then off, as in Core).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No `-zmqpub…` option was given.
    #[error("no notifier configured")]
    NoNotifiers,
    /// A notifier's socket could not be created, configured or bound.
    #[error("Notifier {kind} failed (address = {address}): {reason}")]
    Notifier {
        /// Its type.
        kind: String,
        /// Its address.
        address: String,
        /// libzmq's reason.
        reason: String,
    },
}

/// The running notifier: a queue, a publishing thread and its sockets.
#[derive(Debug)]
pub struct ZmqNotifier {
    /// `None` once shut down.
    queue: Mutex<Option<SyncSender<Job>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ZmqNotifier {
    /// Creates the context and one PUB socket per distinct address, binds
    /// them, and starts the publishing thread. Any failure closes what was
    /// opened and returns the error: the node then runs without ZMQ.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start(specs: Vec<NotifierSpec>, queue: usize) -> Result<Self, StartError> {
        if specs.is_empty() {
            return Err(StartError::NoNotifiers);
        }
        let publisher = publisher::Publisher::open(&specs)?;
        let shared = Arc::new(Shared::default());
        *shared.stats.lock().expect("a panicking publisher thread cannot hold this lock at start") = specs
            .iter()
            .map(|s| NotifierStats {
                kind: s.topic.kind(),
                address: s.address.clone(),
                hwm: s.hwm,
                next_sequence: 0,
                sent: 0,
                dropped_hwm: 0,
                dropped_queue: 0,
            })
            .collect();
        let (tx, rx) = sync_channel(queue.max(1));
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("zmq-publisher".into())
            .spawn(move || publisher.run(&rx, &thread_shared))
            .map_err(|e| StartError::Notifier {
                kind: "publisher thread".into(),
                address: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self { queue: Mutex::new(Some(tx)), shared, thread: Mutex::new(Some(thread)) })
    }

    /// Queues a notification. Never blocks: when the queue is full the
    /// notification is dropped and counted (see the crate docs).
    pub fn notify(&self, notification: Notification) {
        let skipped_before = self.take_skips();
        let counts = notification.messages_per_topic();
        let Ok(queue) = self.queue.lock() else { return };
        let Some(queue) = queue.as_ref() else { return };
        match queue.try_send(Job::Notify { notification, skipped_before }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                for ((pending, before), n) in self.shared.pending_skips.iter().zip(skipped_before).zip(counts) {
                    pending.fetch_add(before + n, Ordering::Relaxed);
                }
            }
        }
    }

    fn take_skips(&self) -> [u64; 5] {
        let mut skipped = [0u64; 5];
        for (slot, pending) in skipped.iter_mut().zip(&self.shared.pending_skips) {
            *slot = pending.swap(0, Ordering::Relaxed);
        }
        skipped
    }

    /// Waits until everything queued so far has been sent (or dropped).
    /// This one call may wait for room in the queue; `notify` never does.
    pub fn flush(&self) {
        let (done, rx) = sync_channel(1);
        // a clone, so that notify() is not held up while this waits
        let queue = self.queue.lock().ok().and_then(|q| q.clone());
        if let Some(queue) = queue {
            if queue.send(Job::Flush { done, skipped_before: self.take_skips() }).is_ok() {
                let _ = rx.recv();
            }
        }
    }

    /// The notifiers still active, in order (`getzmqnotifications`).
    #[must_use]
    pub fn active(&self) -> Vec<NotifierInfo> {
        self.stats().into_iter().map(|s| NotifierInfo { kind: s.kind, address: s.address, hwm: s.hwm }).collect()
    }

    /// Counters of the active notifiers, in order.
    #[must_use]
    pub fn stats(&self) -> Vec<NotifierStats> {
        self.shared.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends what is queued, closes the sockets with linger 0 and
    /// terminates the context. Later notifications are ignored.
    pub fn shutdown(&self) {
        // dropping the sender closes the queue: the thread ends after it
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for ZmqNotifier {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_cores_order() {
        let addresses = |opt: &str| match opt {
            "zmqpubrawtx" => vec!["tcp://127.0.0.1:1".to_owned(), "unix:/tmp/z".to_owned()],
            "zmqpubhashblock" => vec!["tcp://127.0.0.1:2".to_owned()],
            _ => vec![],
        };
        let hwm = |opt: &str| match opt {
            "zmqpubrawtxhwm" => Some(5),
            "zmqpubhashblockhwm" => Some(-3),
            _ => None,
        };
        let specs = specs_from_options(addresses, hwm);
        let got: Vec<(&str, &str, i32)> = specs.iter().map(|s| (s.topic.name(), s.address.as_str(), s.hwm)).collect();
        assert_eq!(
            got,
            vec![
                ("hashblock", "tcp://127.0.0.1:2", 1000),
                ("rawtx", "tcp://127.0.0.1:1", 5),
                ("rawtx", "ipc:///tmp/z", 5)
            ]
        );
    }

    #[test]
    fn init_check_is_cores_split_host_port() {
        for ok in ["tcp://127.0.0.1:28332", "tcp://[::1]:28332", "tcp://127.0.0.1:x", "foo", "unix:/tmp/a", "[::1]:5"] {
            assert!(address_passes_init_check(ok), "{ok}");
        }
        for bad in ["ipc:///tmp/a", "127.0.0.1:x", "127.0.0.1:0", "127.0.0.1:70000", ":", "[::1]:"] {
            assert!(!address_passes_init_check(bad), "{bad}");
        }
    }
}
