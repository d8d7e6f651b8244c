//! A minimal Bitcoin peer-to-peer layer for regtest.
//!
//! What it does: the v1 transport with regtest's magic, the version
//! handshake (with `wtxidrelay`, `sendaddrv2`, `sendheaders`), pings,
//! headers-first block download, block announcements (`headers` or `inv`)
//! and transaction relay by wtxid. It does not know the node: it reads and
//! feeds the chain through the narrow [`ChainAccess`] trait, which the node
//! implements over its chain (blocks go through the same path as
//! `submitblock`).
//!
//! # Layout
//! - [`wire`]: framing and message encoding, pure functions.
//! - [`Net`]: listeners, outbound connections (`-connect`, `-addnode`,
//!   `addnode`), the peer table and the statistics the RPCs report.
//! - `peer`: one task pair per connection: a reader that decodes messages
//!   and a bounded queue drained by a writer; the connection's logic runs
//!   between them.
//!
//! # Memory
//! A peer holds at most one message being read (at most
//! [`wire::MAX_PAYLOAD`] bytes plus the header; the buffer grows as the
//! bytes arrive, not when a header announces them), one decoded message
//! waiting for the logic, and [`SEND_QUEUE`] encoded messages waiting for
//! the socket. A full send queue makes the connection's logic wait (it
//! stops reading from that peer), except for `getdata` replies, which wait
//! in a list (at most [`MAX_INV`] items) until the queue has room;
//! announcements are kept in small bounded lists, so validation never
//! waits for a peer. Orphan transactions: at most 100 of at most 100 kB.

mod peer;
pub mod wire;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash, Transaction, Txid, Wtxid};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};

/// Our protocol version (Core's `PROTOCOL_VERSION`).
pub const PROTOCOL_VERSION: u32 = 70016;
/// Services we offer: `NODE_NETWORK | NODE_WITNESS`.
pub const LOCAL_SERVICES: u64 = 1 | 8;
/// The regtest P2P port.
pub const DEFAULT_PORT: u16 = 18444;
/// Encoded messages a peer's send queue holds.
pub const SEND_QUEUE: usize = 64;
/// Core's `MAX_HEADERS_RESULTS`.
pub const MAX_HEADERS: usize = 2000;
/// Core's `MAX_INV_SZ`.
pub const MAX_INV: usize = 50_000;
/// Time between pings (Core's `PING_INTERVAL`).
pub const PING_INTERVAL: Duration = Duration::from_secs(120);
/// Silence after which a peer is dropped (Core's `TIMEOUT_INTERVAL`).
pub const TIMEOUT_INTERVAL: Duration = Duration::from_secs(20 * 60);

/// What the chain said about a block a peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Stored (on the active chain or a side branch).
    Accepted,
    /// Already known.
    Known,
    /// Its parent is unknown.
    Orphan,
    /// A consensus rule is broken (Core's reject reason): the peer is
    /// disconnected.
    Invalid(String),
    /// The node could not store it (a fatal error is the node's business).
    Failed(String),
}

/// The chain as the P2P layer sees it. Calls may block (they take the
/// chain's lock and read files); the layer makes them on tokio's blocking
/// pool.
pub trait ChainAccess: Send + Sync + 'static {
    /// Hash and height of the active tip.
    fn tip(&self) -> (BlockHash, u32);
    /// The active chain's block hash at `height`.
    fn active_hash(&self, height: u32) -> Option<BlockHash>;
    /// The height of `hash` if it is on the active chain.
    fn active_height(&self, hash: &BlockHash) -> Option<u32>;
    /// Whether the block (with its data) is known, on any branch.
    fn has_block(&self, hash: &BlockHash) -> bool;
    /// Header and height of a known block, on any branch.
    fn header(&self, hash: &BlockHash) -> Option<(Header, u32)>;
    /// Up to `max` headers of the active chain from `height` on.
    fn active_headers(&self, height: u32, max: usize) -> Vec<Header>;
    /// The serialized block (with witnesses).
    fn block_bytes(&self, hash: &BlockHash) -> Option<Vec<u8>>;
    /// Gives the chain a block, as `submitblock` does.
    fn submit_block(&self, block: &Block) -> Submitted;
    /// Offers a transaction to the mempool.
    ///
    /// # Errors
    /// The mempool's reject reason, and whether an input is missing (the
    /// transaction may be an orphan whose parent comes later).
    fn accept_tx(&self, tx: &Transaction) -> Result<(), TxRejected>;
    /// A mempool transaction by wtxid.
    fn mempool_tx_by_wtxid(&self, wtxid: &Wtxid) -> Option<Transaction>;
    /// A mempool transaction by txid.
    fn mempool_tx_by_txid(&self, txid: &Txid) -> Option<Transaction>;
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRejected {
    /// An input is missing or spent: kept as an orphan for a while.
    pub missing_inputs: bool,
    /// The reject reason, for the log.
    pub reason: String,
}

/// The P2P slice of the node's configuration.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Accept inbound connections (`-listen`).
    pub listen: bool,
    /// Where to listen; `explicit_bind` when they came from `-bind`.
    pub binds: Vec<SocketAddr>,
    /// Whether `binds` were given with `-bind` (a failure is then an error).
    pub explicit_bind: bool,
    /// `-connect` peers: when not empty, the only outbound connections.
    pub connect: Vec<String>,
    /// `-addnode` peers, kept connected.
    pub addnode: Vec<String>,
    /// `-maxconnections`.
    pub max_connections: usize,
    /// `-peertimeout`: time a new connection has to finish the handshake.
    pub peer_timeout: Duration,
    /// Our BIP14 user agent.
    pub user_agent: String,
}

/// Why the layer could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A peer as `getpeerinfo` shows it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Our id for it.
    pub id: u64,
    /// Its address.
    pub addr: SocketAddr,
    /// Our end of the connection.
    pub addr_bind: SocketAddr,
    /// Whether it connected to us.
    pub inbound: bool,
    /// Core's connection type name (`inbound`, `manual`).
    pub connection_type: &'static str,
    /// Its services.
    pub services: u64,
    /// Its protocol version (0 before its `version`).
    pub version: u32,
    /// Its user agent.
    pub subver: String,
    /// The height it reported in `version`.
    pub start_height: i32,
    /// Highest header height we know it has (-1 if none).
    pub synced_headers: i64,
    /// Highest block height we know it has (-1 if none).
    pub synced_blocks: i64,
    /// Unix seconds of the connection, last send and last receive.
    pub conntime: u64,
    /// Unix seconds of the last send.
    pub lastsend: u64,
    /// Unix seconds of the last receive.
    pub lastrecv: u64,
    /// Unix seconds of the last new block from it (0 if none).
    pub last_block: u64,
    /// Unix seconds of the last transaction from it that we accepted.
    pub last_transaction: u64,
    /// Bytes sent.
    pub bytessent: u64,
    /// Bytes received.
    pub bytesrecv: u64,
    /// Bytes sent per command.
    pub bytessent_per_msg: BTreeMap<String, u64>,
    /// Bytes received per command (`*other*` for unknown ones).
    pub bytesrecv_per_msg: BTreeMap<String, u64>,
    /// Last ping round trip.
    pub pingtime: Option<Duration>,
    /// Smallest ping round trip.
    pub minping: Option<Duration>,
    /// How long the outstanding ping has waited.
    pub pingwait: Option<Duration>,
    /// Whether the handshake is done.
    pub handshake_done: bool,
    /// Whether it asked for `headers` announcements.
    pub sendheaders: bool,
    /// Whether it relays transactions by wtxid.
    pub wtxidrelay: bool,
    /// Whether it wants transactions (`relay` in its `version`).
    pub relaytxes: bool,
}

/// An `addnode` entry as `getaddednodeinfo` shows it.
#[derive(Debug, Clone)]
pub struct AddedNode {
    /// The name it was added with.
    pub name: String,
    /// The connected peer's address, if connected.
    pub connected: Option<SocketAddr>,
}

/// Totals for `getnettotals`.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// Bytes received by every connection.
    pub recv: u64,
    /// Bytes sent by every connection.
    pub sent: u64,
}

/// Why `addnode` or `disconnectnode` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeListError {
    /// `add` of a node already added.
    AlreadyAdded,
    /// `remove` of a node that was not added.
    NotAdded,
    /// No connected peer matches.
    NotConnected,
}

/// What the layer knows of one connection, shared between its task and the
/// RPCs.
#[derive(Debug)]
struct PeerShared {
    id: u64,
    addr: SocketAddr,
    addr_bind: SocketAddr,
    inbound: bool,
    /// The `addnode`/`-connect` name this connection was made for.
    name: Option<String>,
    conntime: u64,
    /// Tells the connection's task to end.
    kill: Notify,
    killed: AtomicBool,
    /// Tells the task that something was queued in `announce`.
    wake: Notify,
    /// Tells the task that the writer sent a message (room in the queue).
    drained: Notify,
    announce: Mutex<Announcements>,
    stats: Mutex<PeerStats>,
}

/// Blocks and transactions to announce to a peer, bounded.
#[derive(Debug, Default)]
struct Announcements {
    blocks: Vec<Header>,
    /// Set when more blocks came than fit: announce the tip by `inv`.
    blocks_overflow: Option<BlockHash>,
    txs: Vec<(Txid, Wtxid)>,
    ping: bool,
}

#[derive(Debug, Default, Clone)]
struct PeerStats {
    services: u64,
    version: u32,
    subver: String,
    start_height: i32,
    synced_headers: i64,
    synced_blocks: i64,
    lastsend: u64,
    lastrecv: u64,
    last_block: u64,
    last_transaction: u64,
    bytessent: u64,
    bytesrecv: u64,
    sent_per_msg: BTreeMap<String, u64>,
    recv_per_msg: BTreeMap<String, u64>,
    ping_sent: Option<(u64, Instant)>,
    pingtime: Option<Duration>,
    minping: Option<Duration>,
    handshake_done: bool,
    sendheaders: bool,
    wtxidrelay: bool,
    relay: bool,
}

impl PeerShared {
    fn stats(&self) -> std::sync::MutexGuard<'_, PeerStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn announcements(&self) -> std::sync::MutexGuard<'_, Announcements> {
        self.announce.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn disconnect(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    fn info(&self) -> PeerInfo {
        let s = self.stats().clone();
        PeerInfo {
            id: self.id,
            addr: self.addr,
            addr_bind: self.addr_bind,
            inbound: self.inbound,
            connection_type: if self.inbound { "inbound" } else { "manual" },
            services: s.services,
            version: s.version,
            subver: s.subver,
            start_height: s.start_height,
            synced_headers: s.synced_headers,
            synced_blocks: s.synced_blocks,
            conntime: self.conntime,
            lastsend: s.lastsend,
            lastrecv: s.lastrecv,
            last_block: s.last_block,
            last_transaction: s.last_transaction,
            bytessent: s.bytessent,
            bytesrecv: s.bytesrecv,
            bytessent_per_msg: s.sent_per_msg,
            bytesrecv_per_msg: s.recv_per_msg,
            pingtime: s.pingtime,
            minping: s.minping,
            pingwait: s.ping_sent.map(|(_, at)| at.elapsed()),
            handshake_done: s.handshake_done,
            sendheaders: s.sendheaders,
            wtxidrelay: s.wtxidrelay,
            relaytxes: s.relay,
        }
    }
}

/// State shared by every task of the layer.
struct Shared {
    chain: Arc<dyn ChainAccess>,
    config: NetConfig,
    peers: Mutex<BTreeMap<u64, Arc<PeerShared>>>,
    next_id: AtomicU64,
    /// Nonces of our `version` messages, to detect connections to ourselves.
    nonces: Mutex<HashSet<u64>>,
    /// `-addnode` and `addnode add` entries.
    added: Mutex<Vec<String>>,
    active: watch::Sender<bool>,
    total_sent: AtomicU64,
    total_recv: AtomicU64,
    shutdown: watch::Sender<bool>,
    /// Each task holds a clone; shutdown waits until all are dropped.
    done_tx: Mutex<Option<mpsc::Sender<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Shared {
    fn peers(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<PeerShared>>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn added(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.added.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_active(&self) -> bool {
        *self.active.borrow()
    }

    fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn task_token(&self) -> Option<mpsc::Sender<()>> {
        self.done_tx.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether a connection for `name` (or to `addr`) is open.
    fn connected_to(&self, name: &str, addr: Option<SocketAddr>) -> bool {
        self.peers().values().any(|p| p.name.as_deref() == Some(name) || Some(p.addr) == addr)
    }

    /// Starts the tasks of a new connection.
    fn start_peer(self: &Arc<Self>, stream: TcpStream, inbound: bool, name: Option<String>) {
        let (Ok(addr), Ok(addr_bind)) = (stream.peer_addr(), stream.local_addr()) else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let peer = Arc::new(PeerShared {
            id,
            addr,
            addr_bind,
            inbound,
            name,
            conntime: unix_now(),
            kill: Notify::new(),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
            drained: Notify::new(),
            announce: Mutex::default(),
            stats: Mutex::new(PeerStats { synced_headers: -1, synced_blocks: -1, ..PeerStats::default() }),
        });
        self.peers().insert(id, Arc::clone(&peer));
        if inbound {
            tracing::debug!(target: "net", "connection from {addr} accepted, peer={id}");
        } else {
            tracing::debug!(target: "net", "connected to {addr}, peer={id}");
        }
        let shared = Arc::clone(self);
        let token = self.task_token();
        tokio::spawn(async move {
            peer::run(Arc::clone(&shared), stream, Arc::clone(&peer)).await;
            shared.peers().remove(&peer.id);
            tracing::debug!(target: "net", "disconnecting peer={}", peer.id);
            drop(token);
        });
    }

    /// Opens an outbound connection (Core's `OpenNetworkConnection`):
    /// resolves `name`, connects within 5 s, starts the peer.
    async fn open(self: &Arc<Self>, name: &str) -> bool {
        if !self.is_active() || self.is_shutting_down() {
            return false;
        }
        let target = with_default_port(name);
        let Ok(Ok(mut addrs)) = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host(target)).await
        else {
            tracing::debug!(target: "net", "cannot resolve {name}");
            return false;
        };
        let Some(addr) = addrs.next() else { return false };
        if self.connected_to(name, Some(addr)) {
            return false;
        }
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                self.start_peer(stream, false, Some(name.to_owned()));
                true
            }
            Ok(Err(e)) => {
                tracing::debug!(target: "net", "connection to {name} failed: {e}");
                false
            }
            Err(_) => {
                tracing::debug!(target: "net", "connection to {name} timed out");
                false
            }
        }
    }
}

/// `host:port`, with the regtest port when `name` has none.
fn with_default_port(name: &str) -> String {
    if name.parse::<SocketAddr>().is_ok() {
        return name.to_owned();
    }
    if name.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{name}]:{DEFAULT_PORT}");
    }
    match name.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() && !name.ends_with(']') => name.to_owned(),
        _ => format!("{name}:{DEFAULT_PORT}"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The running P2P layer.
#[derive(Debug)]
pub struct Net {
    shared: Arc<Shared>,
    done_rx: Mutex<Option<mpsc::Receiver<()>>>,
    local_addrs: Vec<SocketAddr>,
}

impl Net {
    /// Binds the listeners (Core's `Bind` in `CConnman::Start`) and starts
    /// accepting, connecting to `-connect`/`-addnode` peers.
    ///
    /// # Errors
    /// Core's messages: a `-bind` address that cannot be bound, or no
    /// listener at all while listening.
    pub async fn start(config: NetConfig, chain: Arc<dyn ChainAccess>) -> Result<Self, StartError> {
        let mut listeners = Vec::new();
        if config.listen {
            for addr in &config.binds {
                match bind(*addr) {
                    Ok(l) => listeners.push(l),
                    Err(e) => {
                        let msg = format!(
                            "Unable to bind to {addr} on this computer. ferronode is probably already running. ({e})"
                        );
                        if config.explicit_bind {
                            return Err(StartError(format!(
                                "Unable to bind to {addr} on this computer. ferronode is probably already running."
                            )));
                        }
                        tracing::error!("{msg}");
                    }
                }
            }
            if listeners.is_empty() {
                return Err(StartError("Failed to listen on any port. Use -listen=0 if you want this.".into()));
            }
        }
        let (done_tx, done_rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            chain,
            added: Mutex::new(config.addnode.clone()),
            config,
            peers: Mutex::default(),
            next_id: AtomicU64::new(0),
            nonces: Mutex::default(),
            active: watch::Sender::new(true),
            total_sent: AtomicU64::new(0),
            total_recv: AtomicU64::new(0),
            shutdown: watch::Sender::new(false),
            done_tx: Mutex::new(Some(done_tx)),
        });
        let mut local_addrs = Vec::new();
        for listener in listeners {
            if let Ok(a) = listener.local_addr() {
                tracing::info!("Bound to {a}");
                local_addrs.push(a);
            }
            let shared = Arc::clone(&shared);
            let token = shared.task_token();
            tokio::spawn(async move {
                accept_loop(&shared, listener).await;
                drop(token);
            });
        }
        let s = Arc::clone(&shared);
        let token = shared.task_token();
        tokio::spawn(async move {
            open_connections(&s).await;
            drop(token);
        });
        Ok(Self { shared, done_rx: Mutex::new(Some(done_rx)), local_addrs })
    }

    /// The addresses the listeners are bound to.
    #[must_use]
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops accepting and connecting, closes every connection and waits
    /// (up to 2 s) for their tasks to end.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        for p in self.shared.peers().values() {
            p.disconnect();
        }
        self.shared.done_tx.lock().unwrap_or_else(PoisonError::into_inner).take();
        let rx = self.done_rx.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(mut rx) = rx {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        }
    }

    /// Announces newly connected blocks (oldest first) to every peer:
    /// by `headers` to peers that sent `sendheaders` (up to 8 blocks, as
    /// Core), otherwise by an `inv` of the tip.
    pub fn announce_blocks(&self, headers: &[Header]) {
        let Some(tip) = headers.last() else { return };
        for p in self.shared.peers().values() {
            let mut a = p.announcements();
            if headers.len() > 8 || a.blocks.len() + headers.len() > 8 {
                a.blocks.clear();
                a.blocks_overflow = Some(tip.block_hash());
            } else {
                a.blocks.extend_from_slice(headers);
            }
            drop(a);
            p.wake.notify_one();
        }
    }

    /// Announces a transaction that entered the mempool.
    pub fn announce_tx(&self, txid: Txid, wtxid: Wtxid) {
        for p in self.shared.peers().values() {
            let mut a = p.announcements();
            if a.txs.len() < MAX_INV {
                a.txs.push((txid, wtxid));
            }
            drop(a);
            p.wake.notify_one();
        }
    }

    /// `getpeerinfo`.
    #[must_use]
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.peers().values().map(|p| p.info()).collect()
    }

    /// Number of connections: (inbound, outbound).
    #[must_use]
    pub fn connection_counts(&self) -> (usize, usize) {
        let peers = self.shared.peers();
        let inbound = peers.values().filter(|p| p.inbound).count();
        (inbound, peers.len() - inbound)
    }

    /// `getnettotals`.
    #[must_use]
    pub fn totals(&self) -> Totals {
        Totals {
            recv: self.shared.total_recv.load(Ordering::Relaxed),
            sent: self.shared.total_sent.load(Ordering::Relaxed),
        }
    }

    /// Whether networking is on (`setnetworkactive`).
    #[must_use]
    pub fn network_active(&self) -> bool {
        self.shared.is_active()
    }

    /// `setnetworkactive`: off closes every connection and refuses new ones.
    pub fn set_network_active(&self, active: bool) {
        tracing::info!("SetNetworkActive: {active}");
        self.shared.active.send_replace(active);
        if !active {
            for p in self.shared.peers().values() {
                p.disconnect();
            }
        }
    }

    /// `ping`: every peer gets a ping as soon as possible.
    pub fn ping_all(&self) {
        for p in self.shared.peers().values() {
            p.announcements().ping = true;
            p.wake.notify_one();
        }
    }

    /// `addnode <node> add`.
    ///
    /// # Errors
    /// [`NodeListError::AlreadyAdded`].
    pub fn add_node(&self, name: &str) -> Result<(), NodeListError> {
        let mut added = self.shared.added();
        if added.iter().any(|n| n == name) {
            return Err(NodeListError::AlreadyAdded);
        }
        added.push(name.to_owned());
        Ok(())
    }

    /// `addnode <node> remove` (the connection stays open, as in Core).
    ///
    /// # Errors
    /// [`NodeListError::NotAdded`].
    pub fn remove_node(&self, name: &str) -> Result<(), NodeListError> {
        let mut added = self.shared.added();
        let before = added.len();
        added.retain(|n| n != name);
        if added.len() == before {
            return Err(NodeListError::NotAdded);
        }
        Ok(())
    }

    /// `addnode <node> onetry`: one connection attempt, waited for.
    pub async fn try_node(&self, name: &str) {
        let _ = self.shared.open(name).await;
    }

    /// `getaddednodeinfo`.
    #[must_use]
    pub fn added_nodes(&self) -> Vec<AddedNode> {
        let names = self.shared.added().clone();
        let peers = self.shared.peers();
        names
            .into_iter()
            .map(|name| {
                let connected = peers.values().find(|p| p.name.as_deref() == Some(&name)).map(|p| p.addr);
                AddedNode { name, connected }
            })
            .collect()
    }

    /// `disconnectnode` by address (as shown in `getpeerinfo`) or id.
    ///
    /// # Errors
    /// [`NodeListError::NotConnected`].
    pub fn disconnect(&self, address: Option<&str>, id: Option<u64>) -> Result<(), NodeListError> {
        let peers = self.shared.peers();
        let found: Vec<&Arc<PeerShared>> = peers
            .values()
            .filter(|p| match (address, id) {
                (Some(a), _) => {
                    p.addr.to_string() == a
                        || p.name.as_deref() == Some(a)
                        || with_default_port(a).parse::<SocketAddr>().is_ok_and(|x| x == p.addr)
                }
                (None, Some(id)) => p.id == id,
                (None, None) => false,
            })
            .collect();
        if found.is_empty() {
            return Err(NodeListError::NotConnected);
        }
        for p in found {
            p.disconnect();
        }
        Ok(())
    }
}

/// Binds a listener as Core does: `SO_REUSEADDR`, and `IPV6_V6ONLY` on
/// IPv6 sockets so that `[::]` and `0.0.0.0` can share a port.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

async fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    if !shared.is_active() {
                        tracing::debug!(target: "net", "connection from {addr} dropped: not accepting P2P connections");
                        continue;
                    }
                    if shared.peers().len() >= shared.config.max_connections {
                        tracing::debug!(target: "net", "connection from {addr} dropped (full)");
                        continue;
                    }
                    shared.start_peer(stream, true, None);
                }
                Err(e) => {
                    tracing::debug!(target: "net", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Core's `ThreadOpenConnections` (for `-connect`) and
/// `ThreadOpenAddedConnections`: keeps the configured peers connected,
/// trying each missing one every few seconds.
async fn open_connections(shared: &Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut last_try: BTreeMap<String, Instant> = BTreeMap::new();
    loop {
        let mut names: Vec<String> = shared.config.connect.clone();
        names.extend(shared.added().iter().cloned());
        for name in names {
            if shared.is_shutting_down() {
                return;
            }
            if shared.connected_to(&name, None) {
                continue;
            }
            if last_try.get(&name).is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                continue;
            }
            last_try.insert(name.clone(), Instant::now());
            let _ = shared.open(&name).await;
        }
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
