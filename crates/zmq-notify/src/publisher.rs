//! The publishing thread: owns the context and the sockets, turns each
//! [`Notification`] into Core's messages in Core's notifier order.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;

use crate::{Job, Notification, NotifierSpec, Shared, StartError, Topic};

/// How often a notifier that keeps dropping logs about it.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// One notifier's state.
struct Slot {
    spec: NotifierSpec,
    /// Index into `Publisher::sockets` (notifiers on one address share).
    socket: usize,
    seq: u32,
    sent: u64,
    dropped_hwm: u64,
    dropped_queue: u64,
    /// Drops already reported in the log, and when.
    logged: (u64, Option<Instant>),
}

pub(crate) struct Publisher {
    /// Declared before the context so the sockets close first.
    sockets: Vec<Option<zmq::Socket>>,
    slots: Vec<Slot>,
    _context: zmq::Context,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("notifiers", &self.slots.len()).finish_non_exhaustive()
    }
}

/// Whether `address` is `tcp://<IPv6 literal>:port` (Core's
/// `IsZMQAddressIPV6`): only then is `ZMQ_IPV6` turned on.
fn is_ipv6(address: &str) -> bool {
    let Some(rest) = address.strip_prefix("tcp://") else { return false };
    let Some(colon) = rest.rfind(':') else { return false };
    let host = rest[..colon].trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::Ipv6Addr>().is_ok()
}

fn open_socket(context: &zmq::Context, spec: &NotifierSpec) -> Result<zmq::Socket, (&'static str, zmq::Error)> {
    let mut socket = context.socket(zmq::PUB).map_err(|e| ("Failed to create socket", e))?;
    tracing::debug!(target: "zmq", "Outbound message high water mark for {} at {} is {}", spec.topic.kind(), spec.address, spec.hwm);
    socket.set_sndhwm(spec.hwm).map_err(|e| ("Failed to set outbound message high water mark", e))?;
    socket.set_tcp_keepalive(1).map_err(|e| ("Failed to set SO_KEEPALIVE", e))?;
    socket.set_ipv6(is_ipv6(&spec.address)).map_err(|e| ("Failed to set ZMQ_IPV6", e))?;
    // nothing may wait for a subscriber when the socket closes
    socket.set_linger(0).map_err(|e| ("Failed to set ZMQ_LINGER", e))?;
    nodrop::set(&mut socket, true).map_err(|e| ("Failed to set ZMQ_XPUB_NODROP", e))?;
    socket.bind(&spec.address).map_err(|e| ("Failed to bind address", e))?;
    Ok(socket)
}

/// The display (RPC) byte order of a hash: reversed.
fn display<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    bytes.reverse();
    bytes
}

/// A `sequence` body: hash, label, and the mempool sequence if any.
fn sequence_body(hash: [u8; 32], label: u8, mempool_sequence: Option<u64>) -> Vec<u8> {
    let mut body = Vec::with_capacity(41);
    body.extend_from_slice(&display(hash));
    body.push(label);
    if let Some(s) = mempool_sequence {
        body.extend_from_slice(&s.to_le_bytes());
    }
    body
}

impl Publisher {
    pub(crate) fn open(specs: &[NotifierSpec]) -> Result<Self, StartError> {
        let (major, minor, patch) = zmq::version();
        tracing::debug!(target: "zmq", "version {major}.{minor}.{patch}");
        tracing::debug!(target: "zmq", "Initialize notification interface");
        let context = zmq::Context::new();
        let mut sockets: Vec<Option<zmq::Socket>> = Vec::new();
        let mut addresses: Vec<&str> = Vec::new();
        let mut slots = Vec::new();
        for spec in specs {
            let socket = if let Some(i) = addresses.iter().position(|a| *a == spec.address) {
                tracing::debug!(target: "zmq", "Reusing socket for address {}", spec.address);
                tracing::debug!(target: "zmq", "Outbound message high water mark for {} at {} is {}", spec.topic.kind(), spec.address, spec.hwm);
                i
            } else {
                match open_socket(&context, spec) {
                    Ok(s) => {
                        sockets.push(Some(s));
                        addresses.push(&spec.address);
                        sockets.len() - 1
                    }
                    Err((what, e)) => {
                        tracing::debug!(target: "zmq", "Error: {what}, msg: {e}");
                        tracing::debug!(target: "zmq", "Notifier {} failed (address = {})", spec.topic.kind(), spec.address);
                        return Err(StartError::Notifier {
                            kind: spec.topic.kind(),
                            address: spec.address.clone(),
                            reason: format!("{what}: {e}"),
                        });
                    }
                }
            };
            tracing::debug!(target: "zmq", "Notifier {} ready (address = {})", spec.topic.kind(), spec.address);
            slots.push(Slot {
                spec: spec.clone(),
                socket,
                seq: 0,
                sent: 0,
                dropped_hwm: 0,
                dropped_queue: 0,
                logged: (0, None),
            });
        }
        Ok(Self { sockets, slots, _context: context })
    }

    pub(crate) fn run(mut self, jobs: &Receiver<Job>, shared: &Shared) {
        while let Ok(job) = jobs.recv() {
            match job {
                Job::Flush { done, skipped_before } => {
                    self.skip(&skipped_before);
                    self.export(shared);
                    let _ = done.send(());
                }
                Job::Notify { notification, skipped_before } => {
                    self.skip(&skipped_before);
                    self.publish(&notification);
                    self.export(shared);
                }
            }
        }
        self.close();
        self.export(shared);
    }

    /// Messages lost in the queue leave a gap in their topics' sequences.
    fn skip(&mut self, skipped: &[u64; 5]) {
        for slot in &mut self.slots {
            let n = skipped[slot.spec.topic.index()];
            if n > 0 {
                slot.seq = slot.seq.wrapping_add(u32::try_from(n % (1 << 32)).unwrap_or(0));
                slot.dropped_queue += n;
            }
        }
    }

    /// Copies the counters where `stats` can read them.
    fn export(&self, shared: &Shared) {
        let Ok(mut stats) = shared.stats.lock() else { return };
        stats.clear();
        stats.extend(self.slots.iter().map(|s| crate::NotifierStats {
            kind: s.spec.topic.kind(),
            address: s.spec.address.clone(),
            hwm: s.spec.hwm,
            next_sequence: s.seq,
            sent: s.sent,
            dropped_hwm: s.dropped_hwm,
            dropped_queue: s.dropped_queue,
        }));
    }

    fn publish(&mut self, n: &Notification) {
        match n {
            Notification::BlockTip { hash, block } => {
                let mut raw: Option<Option<Vec<u8>>> = None;
                self.each(|slot| match slot.spec.topic {
                    Topic::HashBlock => {
                        tracing::debug!(target: "zmq", "Publish hashblock {hash} to {}", slot.spec.address);
                        Msg::Send(display(hash.to_byte_array()).to_vec())
                    }
                    Topic::RawBlock => {
                        tracing::debug!(target: "zmq", "Publish rawblock {hash} to {}", slot.spec.address);
                        match raw.get_or_insert_with(|| block.as_ref().map(|b| serialize(&**b))) {
                            Some(bytes) => Msg::Send(bytes.clone()),
                            None => {
                                tracing::debug!(target: "zmq", "Error: Can't read block from disk");
                                Msg::Fail
                            }
                        }
                    }
                    _ => Msg::Skip,
                });
            }
            Notification::TransactionAdded { tx, mempool_sequence } => {
                let txid = tx.compute_txid();
                self.transaction(tx, txid);
                self.each(|slot| {
                    if slot.spec.topic != Topic::Sequence {
                        return Msg::Skip;
                    }
                    tracing::debug!(target: "zmq", "Publish hashtx mempool acceptance {txid} to {}", slot.spec.address);
                    Msg::Send(sequence_body(txid.to_byte_array(), b'A', Some(*mempool_sequence)))
                });
            }
            Notification::TransactionRemoved { txid, mempool_sequence } => {
                self.each(|slot| {
                    if slot.spec.topic != Topic::Sequence {
                        return Msg::Skip;
                    }
                    tracing::debug!(target: "zmq", "Publish hashtx mempool removal {txid} to {}", slot.spec.address);
                    Msg::Send(sequence_body(txid.to_byte_array(), b'R', Some(*mempool_sequence)))
                });
            }
            Notification::BlockConnected(block) | Notification::BlockDisconnected(block) => {
                let (label, what) =
                    if matches!(n, Notification::BlockConnected(_)) { (b'C', "connect") } else { (b'D', "disconnect") };
                for tx in &block.txdata {
                    self.transaction(tx, tx.compute_txid());
                }
                let hash = block.block_hash();
                self.each(|slot| {
                    if slot.spec.topic != Topic::Sequence {
                        return Msg::Skip;
                    }
                    tracing::debug!(target: "zmq", "Publish sequence block {what} {hash} to {}", slot.spec.address);
                    Msg::Send(sequence_body(hash.to_byte_array(), label, None))
                });
            }
        }
    }

    /// `hashtx` and `rawtx` for one transaction.
    fn transaction(&mut self, tx: &bitcoin::Transaction, txid: bitcoin::Txid) {
        let mut raw: Option<Vec<u8>> = None;
        self.each(|slot| match slot.spec.topic {
            Topic::HashTx => {
                tracing::debug!(target: "zmq", "Publish hashtx {txid} to {}", slot.spec.address);
                Msg::Send(display(txid.to_byte_array()).to_vec())
            }
            Topic::RawTx => {
                tracing::debug!(target: "zmq", "Publish rawtx {txid} to {}", slot.spec.address);
                Msg::Send(raw.get_or_insert_with(|| serialize(tx)).clone())
            }
            _ => Msg::Skip,
        });
    }

    /// Offers an event to every notifier in order; a notifier whose
    /// message fails is removed, as Core's `TryForEachAndRemoveFailed`.
    fn each(&mut self, mut message: impl FnMut(&Slot) -> Msg) {
        let mut i = 0;
        while i < self.slots.len() {
            let ok = match message(&self.slots[i]) {
                Msg::Skip => true,
                Msg::Send(body) => self.send(i, &body),
                Msg::Fail => false,
            };
            if ok {
                i += 1;
            } else {
                self.remove(i);
            }
        }
    }

    /// Sends `[topic][body][seq]` for notifier `i`; false on failure.
    fn send(&mut self, i: usize, body: &[u8]) -> bool {
        let Self { sockets, slots, .. } = self;
        let slot = &mut slots[i];
        let socket = sockets[slot.socket].as_ref().expect("an active notifier's socket stays open");
        let seq = slot.seq.to_le_bytes();
        let parts: [&[u8]; 3] = [slot.spec.topic.name().as_bytes(), body, &seq];
        match socket.send_multipart(parts, zmq::DONTWAIT) {
            Ok(()) => slot.sent += 1,
            Err(zmq::Error::EAGAIN) => {
                // a subscriber of this socket is at its high-water mark:
                // the message goes to nobody, and is counted; its sequence
                // number is used up so every subscriber sees the gap
                slot.dropped_hwm += 1;
                let due = slot.logged.1.is_none_or(|t| t.elapsed() >= DROP_LOG_EVERY);
                if due {
                    tracing::info!(
                        target: "zmq",
                        "{} at {}: {} messages dropped so far, a subscriber is too slow (high-water mark {})",
                        slot.spec.topic.kind(),
                        slot.spec.address,
                        slot.dropped_hwm,
                        slot.spec.hwm
                    );
                    slot.logged = (slot.dropped_hwm, Some(Instant::now()));
                }
            }
            Err(e) => {
                tracing::debug!(target: "zmq", "Error: Unable to send ZMQ msg, msg: {e}");
                return false;
            }
        }
        slot.seq = slot.seq.wrapping_add(1);
        true
    }

    /// Removes notifier `i`, closing its socket if no other uses it.
    fn remove(&mut self, i: usize) {
        let slot = self.slots.remove(i);
        tracing::debug!(target: "zmq", "Notifier {} at {} failed and is removed", slot.spec.topic.kind(), slot.spec.address);
        self.release(&slot);
    }

    fn release(&mut self, slot: &Slot) {
        if !self.slots.iter().any(|s| s.socket == slot.socket) {
            tracing::debug!(target: "zmq", "Close socket at address {}", slot.spec.address);
            self.sockets[slot.socket] = None;
        }
    }

    /// Core's `Shutdown`: every notifier, then the context.
    fn close(&mut self) {
        tracing::debug!(target: "zmq", "Shutdown notification interface");
        for slot in std::mem::take(&mut self.slots) {
            tracing::debug!(target: "zmq", "Shutdown notifier {} at {}", slot.spec.topic.kind(), slot.spec.address);
            if slot.dropped_hwm + slot.dropped_queue > 0 {
                tracing::info!(
                    target: "zmq",
                    "{} at {}: {} messages sent, {} dropped for slow subscribers, {} dropped with a full queue",
                    slot.spec.topic.kind(),
                    slot.spec.address,
                    slot.sent,
                    slot.dropped_hwm,
                    slot.dropped_queue
                );
            }
            self.release(&slot);
        }
    }
}

/// What a notifier sends for an event.
enum Msg {
    /// Nothing: the event is not for this topic.
    Skip,
    /// This body.
    Send(Vec<u8>),
    /// The notifier fails (a raw block that could not be read).
    Fail,
}

/// `ZMQ_XPUB_NODROP`, which the `zmq` crate has no setter for. It applies
/// to PUB sockets too (libzmq implements PUB as a kind of XPUB).
#[allow(unsafe_code)]
mod nodrop {
    pub(super) fn set(socket: &mut zmq::Socket, on: bool) -> Result<(), zmq::Error> {
        let value: libc::c_int = on.into();
        let option = libc::c_int::try_from(zmq_sys::ZMQ_XPUB_NODROP).expect("libzmq option numbers are small");
        // SAFETY: `socket` is a live libzmq socket for the whole call (it is
        // borrowed mutably, so no other call uses it); ZMQ_XPUB_NODROP takes an int, passed by pointer with its
        // size, and libzmq copies it before returning.
        let rc = unsafe {
            zmq_sys::zmq_setsockopt(
                socket.as_mut_ptr(),
                option,
                std::ptr::from_ref(&value).cast(),
                std::mem::size_of::<libc::c_int>(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            // SAFETY: reads libzmq's thread-local errno, no arguments.
            Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
        }
    }
}
