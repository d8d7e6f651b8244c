//! One connection: a reader task that frames and decodes messages, a
//! writer task that drains the bounded send queue, and the connection's
//! logic between them (handshake, pings, sync, relay).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::block::Header;
use bitcoin::consensus::encode;
use bitcoin::hashes::Hash as _;
use bitcoin::p2p::address::Address;
use bitcoin::p2p::message::NetworkMessage;
use bitcoin::p2p::message_blockdata::{GetHeadersMessage, Inventory};
use bitcoin::p2p::message_network::VersionMessage;
use bitcoin::p2p::ServiceFlags;
use bitcoin::{Block, BlockHash, Transaction};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::wire::{self, Frame, HEADER_LEN};
use crate::{
    unix_now, ChainAccess, PeerShared, Shared, Submitted, LOCAL_SERVICES, MAX_HEADERS, MAX_INV, PING_INTERVAL,
    PROTOCOL_VERSION, SEND_QUEUE, TIMEOUT_INTERVAL,
};

/// Core's `MIN_PEER_PROTO_VERSION`.
const MIN_PEER_PROTO_VERSION: u32 = 31800;
/// Core's `WTXID_RELAY_VERSION`.
const WTXID_RELAY_VERSION: u32 = 70016;
/// Blocks asked from one peer at most (a peer that announces more, faster
/// than it delivers them, is dropped).
const MAX_REQUESTED: usize = 16 * MAX_HEADERS;
/// Core's `DEFAULT_MAX_ORPHAN_TRANSACTIONS` (ours are kept per peer).
const MAX_ORPHANS: usize = 100;
/// Larger orphans are not kept (Core's `MAX_STANDARD_TX_WEIGHT`), so a
/// peer's orphans take at most 100 × 100 kB.
const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Send-queue slots that block and transaction replies leave free.
const CONTROL_RESERVE: usize = SEND_QUEUE / 4;
/// `getdata` items waiting to be served, at most.
const MAX_GETDATA_QUEUE: usize = MAX_INV;
/// What a message buffer starts with before the payload arrives.
const READ_CHUNK: usize = 64 * 1024;
/// Transactions remembered as known to the peer (not announced back).
const KNOWN_TXS: usize = 50_000;

/// Why a connection ends, for the log.
type Disconnect = String;

/// Runs a connection until it ends.
pub(crate) async fn run(shared: Arc<Shared>, stream: TcpStream, peer: Arc<PeerShared>) {
    let (rd, wr) = stream.into_split();
    let (out_tx, out_rx) = mpsc::channel::<Frame>(SEND_QUEUE);
    let (in_tx, in_rx) = mpsc::channel::<Result<NetworkMessage, Disconnect>>(1);
    let writer = tokio::spawn(write_loop(wr, out_rx, Arc::clone(&shared), Arc::clone(&peer)));
    let reader = tokio::spawn(read_loop(rd, in_tx, Arc::clone(&shared), Arc::clone(&peer)));
    let mut conn = Conn {
        shared: Arc::clone(&shared),
        peer: Arc::clone(&peer),
        out: out_tx,
        nonce: 0,
        got_version: false,
        started: Instant::now(),
        last_ping: Instant::now(),
        requested: HashMap::new(),
        continue_from: None,
        known_txs: HashSet::new(),
        getdata_queue: VecDeque::new(),
        notfound: Vec::new(),
        orphans: Vec::new(),
    };
    let reason = conn.drive(in_rx).await;
    tracing::debug!(target: "net", "peer={} ({}): {reason}", peer.id, peer.addr);
    reader.abort();
    let nonce = conn.nonce;
    // let what is queued go out (the last reply), briefly
    drop(conn);
    let _ = tokio::time::timeout(Duration::from_millis(100), writer).await;
    shared.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&nonce);
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    tx: mpsc::Sender<Result<NetworkMessage, Disconnect>>,
    shared: Arc<Shared>,
    peer: Arc<PeerShared>,
) {
    loop {
        let mut header = [0u8; HEADER_LEN];
        if let Err(e) = rd.read_exact(&mut header).await {
            let _ = tx.send(Err(format!("connection closed ({e})"))).await;
            return;
        }
        let (command, len) = match wire::parse_header(&header) {
            Ok(x) => x,
            Err(e) => {
                let _ = tx.send(Err(e.to_string())).await;
                return;
            }
        };
        // grown as the bytes arrive: a header announcing 4 MB costs
        // nothing until the peer sends them
        let mut buf = Vec::with_capacity(HEADER_LEN + len.min(READ_CHUNK));
        buf.extend_from_slice(&header);
        let read = (&mut rd).take(len as u64).read_to_end(&mut buf).await;
        if let Err(e) = read {
            let _ = tx.send(Err(format!("connection closed ({e})"))).await;
            return;
        }
        if buf.len() != HEADER_LEN + len {
            let _ = tx.send(Err("connection closed in the middle of a message".into())).await;
            return;
        }
        let decoded = wire::decode_message(&buf);
        let key = match &decoded {
            Ok(NetworkMessage::Unknown { .. }) | Err(_) => "*other*".to_owned(),
            Ok(_) => command.clone(),
        };
        let n = buf.len() as u64;
        drop(buf);
        shared.total_recv.fetch_add(n, Ordering::Relaxed);
        {
            let mut s = peer.stats();
            s.bytesrecv += n;
            s.lastrecv = unix_now();
            *s.recv_per_msg.entry(key).or_default() += n;
        }
        let item = decoded.map_err(|e| format!("malformed {command} message: {e}"));
        let fatal = item.is_err();
        if tx.send(item).await.is_err() || fatal {
            return;
        }
    }
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Frame>, shared: Arc<Shared>, peer: Arc<PeerShared>) {
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame.bytes).await.is_err() {
            peer.disconnect();
            return;
        }
        peer.drained.notify_one();
        let n = frame.bytes.len() as u64;
        shared.total_sent.fetch_add(n, Ordering::Relaxed);
        let mut s = peer.stats();
        s.bytessent += n;
        s.lastsend = unix_now();
        *s.sent_per_msg.entry(frame.command).or_default() += n;
    }
    let _ = wr.shutdown().await;
}

/// Runs `f` with the chain on the blocking pool.
async fn blocking<T: Send + 'static>(
    chain: &Arc<dyn ChainAccess>,
    f: impl FnOnce(&dyn ChainAccess) -> T + Send + 'static,
) -> Result<T, Disconnect> {
    let chain = Arc::clone(chain);
    tokio::task::spawn_blocking(move || f(chain.as_ref())).await.map_err(|e| format!("chain call failed: {e}"))
}

/// Core's block locator: the last 10 blocks, then exponentially sparser,
/// then genesis.
fn locator(chain: &dyn ChainAccess, from: Option<BlockHash>) -> Vec<BlockHash> {
    let mut out = Vec::new();
    out.extend(from);
    let (_, tip_height) = chain.tip();
    let mut height = i64::from(tip_height);
    let mut step = 1;
    while height > 0 {
        if let Some(h) = u32::try_from(height).ok().and_then(|h| chain.active_hash(h)) {
            out.push(h);
        }
        if out.len() >= 10 {
            step *= 2;
        }
        height -= step;
    }
    out.extend(chain.active_hash(0));
    out
}

/// The logic of one connection.
struct Conn {
    shared: Arc<Shared>,
    peer: Arc<PeerShared>,
    out: mpsc::Sender<Frame>,
    /// The nonce of our `version`.
    nonce: u64,
    got_version: bool,
    started: Instant,
    last_ping: Instant,
    /// Blocks asked from this peer, with their heights.
    requested: HashMap<BlockHash, u32>,
    /// Ask for more headers after this one once the blocks are in.
    continue_from: Option<BlockHash>,
    /// Transactions the peer has (not announced back).
    known_txs: HashSet<bitcoin::Wtxid>,
    /// Transactions with a missing input, retried after each acceptance.
    orphans: Vec<Transaction>,
    /// `getdata` items not served yet, in order.
    getdata_queue: VecDeque<Inventory>,
    /// Items asked for that we do not have, for the next `notfound`.
    notfound: Vec<Inventory>,
}

impl Conn {
    fn chain(&self) -> &Arc<dyn ChainAccess> {
        &self.shared.chain
    }

    async fn drive(&mut self, mut incoming: mpsc::Receiver<Result<NetworkMessage, Disconnect>>) -> Disconnect {
        if !self.peer.inbound {
            if let Err(e) = self.send_version().await {
                return e;
            }
        }
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            if self.peer.killed.load(Ordering::SeqCst) {
                return "disconnect requested".into();
            }
            let step = tokio::select! {
                () = self.peer.kill.notified() => Err("disconnect requested".into()),
                () = async { let _ = shutdown.wait_for(|s| *s).await; } => Err("shutting down".into()),
                msg = incoming.recv() => match msg {
                    Some(Ok(m)) => self.handle(m).await,
                    Some(Err(e)) => Err(e),
                    None => Err("connection closed".into()),
                },
                () = self.peer.wake.notified() => self.flush_announcements().await,
                () = self.peer.drained.notified(), if !self.getdata_queue.is_empty() => self.serve_getdata().await,
                _ = tick.tick() => self.housekeeping().await,
            };
            if let Err(e) = step {
                return e;
            }
        }
    }

    /// Queues a frame, waiting while the queue is full (the peer reads
    /// slowly: we stop reading from it meanwhile).
    async fn send_frame(&self, frame: Frame) -> Result<(), Disconnect> {
        tokio::select! {
            r = self.out.send(frame) => r.map_err(|_| "connection closed".to_owned()),
            () = self.peer.kill.notified() => {
                self.peer.killed.store(true, Ordering::SeqCst);
                Err("disconnect requested".into())
            }
            () = tokio::time::sleep(TIMEOUT_INTERVAL) => Err("send timeout: the peer reads nothing".into()),
        }
    }

    async fn send(&self, msg: NetworkMessage) -> Result<(), Disconnect> {
        self.send_frame(wire::encode_message(msg)).await
    }

    async fn send_version(&mut self) -> Result<(), Disconnect> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        self.nonce = u64::from_le_bytes(nonce);
        self.shared.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(self.nonce);
        let (_, height) = blocking(self.chain(), ChainAccess::tip).await?;
        let services = ServiceFlags::from(LOCAL_SERVICES);
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            services,
            timestamp: i64::try_from(unix_now()).unwrap_or(i64::MAX),
            receiver: Address::new(&self.peer.addr, ServiceFlags::NONE),
            sender: Address::new(&unspecified, services),
            nonce: self.nonce,
            user_agent: self.shared.config.user_agent.clone(),
            start_height: i32::try_from(height).unwrap_or(i32::MAX),
            relay: true,
        };
        self.send(NetworkMessage::Version(version)).await
    }

    async fn send_getheaders(&self, from: Option<BlockHash>) -> Result<(), Disconnect> {
        let locator_hashes = blocking(self.chain(), move |c| locator(c, from)).await?;
        self.send(NetworkMessage::GetHeaders(GetHeadersMessage {
            version: PROTOCOL_VERSION,
            locator_hashes,
            stop_hash: BlockHash::all_zeros(),
        }))
        .await
    }

    async fn send_ping(&mut self) -> Result<(), Disconnect> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let nonce = u64::from_le_bytes(nonce);
        self.peer.stats().ping_sent = Some((nonce, Instant::now()));
        self.last_ping = Instant::now();
        self.send(NetworkMessage::Ping(nonce)).await
    }

    async fn housekeeping(&mut self) -> Result<(), Disconnect> {
        let (done, lastrecv, ping_wait) = {
            let s = self.peer.stats();
            (s.handshake_done, s.lastrecv, s.ping_sent.map(|(_, at)| at.elapsed()))
        };
        if !done {
            if self.started.elapsed() > self.shared.config.peer_timeout {
                return Err("version handshake timeout".into());
            }
            return Ok(());
        }
        let silent = Duration::from_secs(unix_now().saturating_sub(lastrecv));
        if silent > TIMEOUT_INTERVAL.max(self.shared.config.peer_timeout) {
            return Err(format!("socket receive timeout: {}s", silent.as_secs()));
        }
        if ping_wait.is_some_and(|w| w > TIMEOUT_INTERVAL.max(self.shared.config.peer_timeout)) {
            return Err("ping timeout".into());
        }
        if ping_wait.is_none() && self.last_ping.elapsed() >= PING_INTERVAL {
            self.send_ping().await?;
        }
        Ok(())
    }

    async fn flush_announcements(&mut self) -> Result<(), Disconnect> {
        let a = std::mem::take(&mut *self.peer.announcements());
        let (done, sendheaders, wtxidrelay, relay) = {
            let s = self.peer.stats();
            (s.handshake_done, s.sendheaders, s.wtxidrelay, s.relay)
        };
        if a.ping && self.peer.stats().ping_sent.is_none() {
            self.send_ping().await?;
        }
        if !done {
            return Ok(());
        }
        if let Some(tip) = a.blocks_overflow {
            self.send(NetworkMessage::Inv(vec![Inventory::Block(tip)])).await?;
        } else if let Some(last) = a.blocks.last() {
            if sendheaders {
                self.send(NetworkMessage::Headers(a.blocks.clone())).await?;
            } else {
                self.send(NetworkMessage::Inv(vec![Inventory::Block(last.block_hash())])).await?;
            }
        }
        if relay {
            let inv: Vec<Inventory> = a
                .txs
                .iter()
                .filter(|(_, w)| !self.known_txs.contains(w))
                .map(|(t, w)| if wtxidrelay { Inventory::WTx(*w) } else { Inventory::Transaction(*t) })
                .collect();
            for chunk in inv.chunks(1000) {
                self.send(NetworkMessage::Inv(chunk.to_vec())).await?;
            }
        }
        Ok(())
    }

    async fn handle(&mut self, msg: NetworkMessage) -> Result<(), Disconnect> {
        let done = self.peer.stats().handshake_done;
        match msg {
            NetworkMessage::Version(v) => return self.on_version(v).await,
            NetworkMessage::Verack => return self.on_verack().await,
            NetworkMessage::WtxidRelay => {
                if self.got_version && !done {
                    self.peer.stats().wtxidrelay = true;
                }
                return Ok(());
            }
            _ if !done => {
                tracing::debug!(target: "net", "non-version message before the handshake, peer={}", self.peer.id);
                return Ok(());
            }
            _ => {}
        }
        match msg {
            NetworkMessage::Ping(n) => self.send(NetworkMessage::Pong(n)).await,
            NetworkMessage::Pong(n) => {
                let mut s = self.peer.stats();
                if let Some((nonce, at)) = s.ping_sent {
                    if nonce == n {
                        let rtt = at.elapsed();
                        s.pingtime = Some(rtt);
                        s.minping = Some(s.minping.map_or(rtt, |m| m.min(rtt)));
                        s.ping_sent = None;
                    }
                }
                Ok(())
            }
            NetworkMessage::SendHeaders => {
                self.peer.stats().sendheaders = true;
                Ok(())
            }
            NetworkMessage::GetHeaders(m) => self.on_getheaders(m).await,
            NetworkMessage::Headers(h) => self.on_headers(h).await,
            NetworkMessage::Inv(inv) => self.on_inv(inv).await,
            NetworkMessage::GetData(inv) => self.on_getdata(inv).await,
            NetworkMessage::Block(b) => self.on_block(b).await,
            NetworkMessage::Tx(tx) => self.on_tx(tx).await,
            _ => Ok(()),
        }
    }

    async fn on_version(&mut self, v: VersionMessage) -> Result<(), Disconnect> {
        if self.got_version {
            return Ok(());
        }
        if v.version < MIN_PEER_PROTO_VERSION {
            return Err(format!("using obsolete version {}", v.version));
        }
        if self.peer.inbound
            && self.shared.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&v.nonce)
        {
            tracing::info!("connected to self at {}, disconnecting", self.peer.addr);
            return Err("connected to self".into());
        }
        {
            let mut s = self.peer.stats();
            s.version = v.version;
            s.services = v.services.to_u64();
            s.subver = v.user_agent.chars().take(256).collect();
            s.start_height = v.start_height;
            s.relay = v.relay;
        }
        self.got_version = true;
        if self.peer.inbound {
            self.send_version().await?;
        }
        if v.version >= WTXID_RELAY_VERSION {
            self.send(NetworkMessage::WtxidRelay).await?;
        }
        self.send(NetworkMessage::SendAddrV2).await?;
        self.send(NetworkMessage::Verack).await
    }

    async fn on_verack(&mut self) -> Result<(), Disconnect> {
        if !self.got_version || self.peer.stats().handshake_done {
            return Ok(());
        }
        let (version, start_height) = {
            let mut s = self.peer.stats();
            s.handshake_done = true;
            (s.version, s.start_height)
        };
        tracing::info!(
            "New {} v1 peer connected: version: {version}, blocks={start_height}, peer={}",
            if self.peer.inbound { "inbound" } else { "manual" },
            self.peer.id
        );
        self.send(NetworkMessage::SendHeaders).await?;
        self.send_ping().await?;
        self.send_getheaders(None).await
    }

    async fn on_getheaders(&mut self, m: GetHeadersMessage) -> Result<(), Disconnect> {
        if m.locator_hashes.len() > 101 {
            return Err(format!("getheaders locator size {} > 101", m.locator_hashes.len()));
        }
        let stop = m.stop_hash;
        let headers = blocking(self.chain(), move |c| {
            if m.locator_hashes.is_empty() {
                return c.header(&stop).map(|(h, _)| vec![h]).unwrap_or_default();
            }
            let start = m.locator_hashes.iter().find_map(|h| c.active_height(h)).map_or(1, |h| h + 1);
            let mut headers = c.active_headers(start, MAX_HEADERS);
            if let Some(i) = headers.iter().position(|h| h.block_hash() == stop) {
                headers.truncate(i + 1);
            }
            headers
        })
        .await?;
        self.send(NetworkMessage::Headers(headers)).await
    }

    async fn on_headers(&mut self, headers: Vec<Header>) -> Result<(), Disconnect> {
        if headers.is_empty() {
            return Ok(());
        }
        if headers.len() > MAX_HEADERS {
            return Err(format!("headers message size = {}", headers.len()));
        }
        for pair in headers.windows(2) {
            if pair[1].prev_blockhash != pair[0].block_hash() {
                return Err("non-continuous headers sequence".into());
            }
        }
        for h in &headers {
            if h.validate_pow(h.target()).is_err() {
                return Err(format!("header {} with invalid proof of work", h.block_hash()));
            }
        }
        let first_prev = headers[0].prev_blockhash;
        let base = match self.requested.get(&first_prev) {
            Some(h) => Some(*h),
            None => blocking(self.chain(), move |c| c.header(&first_prev).map(|(_, h)| h)).await?,
        };
        let Some(base) = base else {
            // does not connect: ask from our locator
            return self.send_getheaders(None).await;
        };
        let full = headers.len() == MAX_HEADERS;
        let last_height = base + u32::try_from(headers.len()).unwrap_or(u32::MAX);
        let last = headers[headers.len() - 1].block_hash();
        {
            let mut s = self.peer.stats();
            s.synced_headers = s.synced_headers.max(i64::from(last_height));
        }
        let hashes: Vec<(BlockHash, u32)> =
            headers.iter().enumerate().map(|(i, h)| (h.block_hash(), base + 1 + i as u32)).collect();
        let candidates: Vec<(BlockHash, u32)> =
            hashes.into_iter().filter(|(h, _)| !self.requested.contains_key(h)).collect();
        let wanted = blocking(self.chain(), move |c| {
            candidates.into_iter().filter(|(h, _)| !c.has_block(h)).collect::<Vec<_>>()
        })
        .await?;
        if full {
            self.continue_from = Some(last);
        }
        if self.requested.len() + wanted.len() > MAX_REQUESTED {
            return Err(format!("too many blocks asked for ({})", self.requested.len() + wanted.len()));
        }
        if !wanted.is_empty() {
            let inv = wanted.iter().map(|(h, _)| Inventory::WitnessBlock(*h)).collect();
            self.requested.extend(wanted);
            self.send(NetworkMessage::GetData(inv)).await?;
        } else {
            let mut s = self.peer.stats();
            s.synced_blocks = s.synced_blocks.max(i64::from(last_height));
        }
        self.maybe_continue().await
    }

    /// Asks for the next headers once few blocks are outstanding.
    async fn maybe_continue(&mut self) -> Result<(), Disconnect> {
        if self.requested.len() <= MAX_HEADERS / 2 {
            if let Some(from) = self.continue_from.take() {
                return self.send_getheaders(Some(from)).await;
            }
        }
        Ok(())
    }

    async fn on_block(&mut self, block: Block) -> Result<(), Disconnect> {
        let hash = block.block_hash();
        let height = self.requested.remove(&hash);
        let (result, height) = blocking(self.chain(), move |c| {
            let r = c.submit_block(&block);
            let height = height.or_else(|| c.header(&hash).map(|(_, h)| h));
            (r, height)
        })
        .await?;
        match result {
            Submitted::Accepted | Submitted::Known => {
                if result == Submitted::Accepted {
                    self.peer.stats().last_block = unix_now();
                }
                if let Some(h) = height {
                    let mut s = self.peer.stats();
                    s.synced_blocks = s.synced_blocks.max(i64::from(h));
                    s.synced_headers = s.synced_headers.max(i64::from(h));
                }
            }
            Submitted::Orphan => self.send_getheaders(None).await?,
            Submitted::Invalid(reason) => return Err(format!("invalid block {hash}: {reason}")),
            Submitted::Failed(e) => {
                tracing::debug!(target: "net", "block {hash} from peer={} not stored: {e}", self.peer.id)
            }
        }
        self.maybe_continue().await
    }

    async fn on_inv(&mut self, inv: Vec<Inventory>) -> Result<(), Disconnect> {
        if inv.len() > MAX_INV {
            return Err(format!("inv message size = {}", inv.len()));
        }
        let wtxidrelay = self.peer.stats().wtxidrelay;
        let blocks: Vec<BlockHash> = inv
            .iter()
            .filter_map(|i| match i {
                Inventory::Block(h) | Inventory::WitnessBlock(h) => Some(*h),
                _ => None,
            })
            .collect();
        let txs: Vec<Inventory> = inv
            .into_iter()
            .filter(|i| match i {
                Inventory::WTx(_) => wtxidrelay,
                Inventory::Transaction(_) | Inventory::WitnessTransaction(_) => !wtxidrelay,
                _ => false,
            })
            .collect();
        for i in &txs {
            if let Inventory::WTx(w) = i {
                if self.known_txs.len() >= KNOWN_TXS {
                    self.known_txs.clear();
                }
                self.known_txs.insert(*w);
            }
        }
        let (unknown_block, wanted) = blocking(self.chain(), move |c| {
            let unknown_block = blocks.iter().any(|h| !c.has_block(h));
            let wanted: Vec<Inventory> = txs
                .into_iter()
                .filter(|i| match i {
                    Inventory::WTx(w) => c.mempool_tx_by_wtxid(w).is_none(),
                    Inventory::Transaction(t) | Inventory::WitnessTransaction(t) => c.mempool_tx_by_txid(t).is_none(),
                    _ => false,
                })
                .map(|i| match i {
                    Inventory::Transaction(t) => Inventory::WitnessTransaction(t),
                    other => other,
                })
                .collect();
            (unknown_block, wanted)
        })
        .await?;
        if unknown_block {
            self.send_getheaders(None).await?;
        }
        if !wanted.is_empty() {
            self.send(NetworkMessage::GetData(wanted)).await?;
        }
        Ok(())
    }

    /// Queues the items asked for; they are served by [`Self::serve_getdata`]
    /// while the send queue has room, so that a peer asking for many blocks
    /// never makes this connection stop reading (two nodes asking each
    /// other for blocks at once cannot block each other).
    async fn on_getdata(&mut self, inv: Vec<Inventory>) -> Result<(), Disconnect> {
        if inv.len() > MAX_INV || self.getdata_queue.len() + inv.len() > MAX_GETDATA_QUEUE {
            return Err(format!("getdata message size = {}", inv.len()));
        }
        self.getdata_queue.extend(inv);
        self.serve_getdata().await
    }

    /// Serves queued `getdata` items while the send queue keeps
    /// [`CONTROL_RESERVE`] slots free for everything else.
    async fn serve_getdata(&mut self) -> Result<(), Disconnect> {
        while self.out.capacity() > CONTROL_RESERVE {
            let Some(item) = self.getdata_queue.pop_front() else { break };
            let frame = match item {
                Inventory::WitnessBlock(h) | Inventory::Block(h) => {
                    let witness = matches!(item, Inventory::WitnessBlock(_));
                    blocking(self.chain(), move |c| c.block_bytes(&h)).await?.map(|bytes| {
                        if witness {
                            wire::encode_raw("block", &bytes)
                        } else {
                            match encode::deserialize::<Block>(&bytes) {
                                Ok(mut b) => {
                                    for tx in &mut b.txdata {
                                        strip_witness(tx);
                                    }
                                    wire::encode_raw("block", &encode::serialize(&b))
                                }
                                Err(_) => wire::encode_raw("block", &bytes),
                            }
                        }
                    })
                }
                Inventory::WTx(w) => blocking(self.chain(), move |c| c.mempool_tx_by_wtxid(&w))
                    .await?
                    .map(|tx| wire::encode_message(NetworkMessage::Tx(tx))),
                Inventory::WitnessTransaction(t) | Inventory::Transaction(t) => {
                    let witness = matches!(item, Inventory::WitnessTransaction(_));
                    blocking(self.chain(), move |c| c.mempool_tx_by_txid(&t)).await?.map(|mut tx| {
                        if !witness {
                            strip_witness(&mut tx);
                        }
                        wire::encode_message(NetworkMessage::Tx(tx))
                    })
                }
                _ => continue,
            };
            match frame {
                Some(f) => self.send_frame(f).await?,
                None => self.notfound.push(item),
            }
        }
        if self.getdata_queue.is_empty() && !self.notfound.is_empty() {
            let notfound = std::mem::take(&mut self.notfound);
            self.send(NetworkMessage::NotFound(notfound)).await?;
        }
        Ok(())
    }

    async fn on_tx(&mut self, tx: Transaction) -> Result<(), Disconnect> {
        let wtxid = tx.compute_wtxid();
        if self.known_txs.len() >= KNOWN_TXS {
            self.known_txs.clear();
        }
        self.known_txs.insert(wtxid);
        let id = self.peer.id;
        let txid = tx.compute_txid();
        let orphans = std::mem::take(&mut self.orphans);
        // Core's orphan handling, per peer: a transaction with a missing
        // input waits (at most MAX_ORPHANS); every acceptance retries them
        let (result, accepted_orphans, orphans) = blocking(self.chain(), move |c| {
            let result = c.accept_tx(&tx);
            let mut orphans = orphans;
            let mut accepted = 0usize;
            if result.is_ok() {
                loop {
                    let before = orphans.len();
                    orphans.retain(|o| match c.accept_tx(o) {
                        Ok(()) => false,
                        Err(e) => e.missing_inputs,
                    });
                    accepted += before - orphans.len();
                    if orphans.len() == before {
                        break;
                    }
                }
            }
            (result.map_err(|e| (e, tx)), accepted, orphans)
        })
        .await?;
        self.orphans = orphans;
        match result {
            Ok(()) => {
                self.peer.stats().last_transaction = unix_now();
                tracing::debug!(target: "mempool", "AcceptToMemoryPool: peer={id}: accepted {txid} (wtxid={wtxid}), {accepted_orphans} orphans too");
            }
            Err((e, tx)) => {
                tracing::debug!(target: "mempoolrej", "{txid} (wtxid={wtxid}) from peer={id} was not accepted: {}", e.reason);
                if e.missing_inputs && tx.weight().to_wu() <= MAX_STANDARD_TX_WEIGHT {
                    if self.orphans.len() >= MAX_ORPHANS {
                        self.orphans.remove(0);
                    }
                    self.orphans.push(tx);
                }
            }
        }
        Ok(())
    }
}

fn strip_witness(tx: &mut Transaction) {
    for input in &mut tx.input {
        input.witness.clear();
    }
}
