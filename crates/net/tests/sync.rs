//! In-process tests: two `Net`s over 127.0.0.1 with a toy chain behind
//! `ChainAccess` (no node): handshake, headers-first sync, announcements,
//! and a peer that sends garbage.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::block::{Header, Version};
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::hashes::Hash as _;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness, Wtxid,
};
use ferronode_net::{ChainAccess, Net, NetConfig, Submitted, TxRejected};

/// An active chain only, in memory; no validation beyond linking.
#[derive(Debug)]
struct Toy(Mutex<Vec<Block>>, Mutex<HashMap<BlockHash, usize>>, Mutex<HashMap<BlockHash, (Header, u32)>>);

impl Toy {
    fn new() -> Arc<Self> {
        let genesis = genesis_block(Network::Regtest);
        let index = HashMap::from([(genesis.block_hash(), 0)]);
        Arc::new(Self(Mutex::new(vec![genesis]), Mutex::new(index), Mutex::default()))
    }

    fn blocks(&self) -> std::sync::MutexGuard<'_, Vec<Block>> {
        self.0.lock().unwrap()
    }

    fn position(&self, hash: &BlockHash) -> Option<usize> {
        self.1.lock().unwrap().get(hash).copied()
    }

    fn push(&self, blocks: &mut Vec<Block>, block: Block) {
        self.1.lock().unwrap().insert(block.block_hash(), blocks.len());
        blocks.push(block);
    }

    /// Mines `n` blocks on the tip (regtest difficulty: a few nonces).
    fn mine(&self, n: u32) -> Vec<Header> {
        self.mine_sized(n, 0, 0)
    }

    /// Blocks whose coinbase carries `padding` bytes and `tag` (to tell
    /// two chains apart).
    fn mine_sized(&self, n: u32, padding: usize, tag: u8) -> Vec<Header> {
        let mut out = Vec::new();
        for _ in 0..n {
            let mut blocks = self.blocks();
            let prev = blocks.last().unwrap().header;
            let height = u32::try_from(blocks.len()).unwrap();
            let coinbase = Transaction {
                version: transaction::Version::TWO,
                lock_time: absolute::LockTime::ZERO,
                input: vec![TxIn {
                    previous_output: OutPoint::null(),
                    script_sig: ScriptBuf::from_bytes(vec![4, height as u8, (height >> 8) as u8, 0, 0, 0x51]),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                }],
                output: vec![TxOut {
                    value: Amount::from_sat(50),
                    script_pubkey: ScriptBuf::from_bytes(vec![tag; padding]),
                }],
            };
            let mut block = Block {
                header: Header {
                    version: Version::from_consensus(4),
                    prev_blockhash: prev.block_hash(),
                    merkle_root: TxMerkleNode::all_zeros(),
                    time: prev.time + 1 + u32::from(tag),
                    bits: CompactTarget::from_consensus(0x207f_ffff),
                    nonce: 0,
                },
                txdata: vec![coinbase],
            };
            block.header.merkle_root = block.compute_merkle_root().unwrap();
            while block.header.validate_pow(block.header.target()).is_err() {
                block.header.nonce += 1;
            }
            out.push(block.header);
            self.push(&mut blocks, block);
        }
        out
    }

    fn height(&self) -> usize {
        self.blocks().len() - 1
    }
}

impl ChainAccess for Toy {
    fn tip(&self) -> (BlockHash, u32) {
        let blocks = self.blocks();
        (blocks.last().unwrap().block_hash(), u32::try_from(blocks.len() - 1).unwrap())
    }
    fn active_hash(&self, height: u32) -> Option<BlockHash> {
        self.blocks().get(height as usize).map(Block::block_hash)
    }
    fn active_height(&self, hash: &BlockHash) -> Option<u32> {
        self.position(hash).map(|p| u32::try_from(p).unwrap())
    }
    fn has_block(&self, hash: &BlockHash) -> bool {
        self.position(hash).is_some() || self.2.lock().unwrap().contains_key(hash)
    }
    fn header(&self, hash: &BlockHash) -> Option<(Header, u32)> {
        if let Some(side) = self.2.lock().unwrap().get(hash) {
            return Some(*side);
        }
        let p = self.position(hash)?;
        Some((self.blocks()[p].header, u32::try_from(p).unwrap()))
    }
    fn active_headers(&self, height: u32, max: usize) -> Vec<Header> {
        self.blocks().iter().skip(height as usize).take(max).map(|b| b.header).collect()
    }
    fn block_bytes(&self, hash: &BlockHash) -> Option<Vec<u8>> {
        let p = self.position(hash)?;
        Some(bitcoin::consensus::serialize(&self.blocks()[p]))
    }
    fn submit_block(&self, block: &Block) -> Submitted {
        if self.position(&block.block_hash()).is_some() {
            return Submitted::Known;
        }
        let mut blocks = self.blocks();
        if blocks.last().unwrap().block_hash() != block.header.prev_blockhash {
            // a side branch: kept (headers only), never switched to
            drop(blocks);
            let Some((_, h)) = self.header(&block.header.prev_blockhash) else { return Submitted::Orphan };
            self.2.lock().unwrap().insert(block.block_hash(), (block.header, h + 1));
            return Submitted::Accepted;
        }
        if !block.check_merkle_root() {
            return Submitted::Invalid("bad-txnmrklroot".into());
        }
        self.push(&mut blocks, block.clone());
        Submitted::Accepted
    }
    fn accept_tx(&self, _tx: &Transaction) -> Result<(), TxRejected> {
        Err(TxRejected { missing_inputs: false, reason: "no mempool".into() })
    }
    fn mempool_tx_by_wtxid(&self, _wtxid: &Wtxid) -> Option<Transaction> {
        None
    }
    fn mempool_tx_by_txid(&self, _txid: &Txid) -> Option<Transaction> {
        None
    }
}

fn config(listen: bool, connect: Vec<String>) -> NetConfig {
    NetConfig {
        listen,
        binds: vec!["127.0.0.1:0".parse().unwrap()],
        explicit_bind: true,
        connect,
        addnode: Vec::new(),
        max_connections: 125,
        peer_timeout: Duration::from_secs(60),
        user_agent: "/toy:0.1/".into(),
    }
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_first_sync_and_announcements() {
    let a_chain = Toy::new();
    a_chain.mine(2500); // more than one headers message
    let a = Net::start(config(true, Vec::new()), a_chain.clone()).await.unwrap();
    let addr = a.local_addrs()[0];
    let b_chain = Toy::new();
    let b = Net::start(config(false, vec![addr.to_string()]), b_chain.clone()).await.unwrap();
    wait_for("sync", || b_chain.height() == 2500).await;
    assert_eq!(b_chain.tip(), a_chain.tip());

    let peer = &a.peers()[0];
    assert!(peer.inbound && peer.handshake_done && peer.wtxidrelay && peer.sendheaders);
    assert_eq!((peer.version, peer.subver.as_str(), peer.services), (70016, "/toy:0.1/", 9));
    let out = &b.peers()[0];
    assert_eq!(out.connection_type, "manual");
    wait_for("synced counters", || b.peers()[0].synced_blocks == 2500).await;
    assert_eq!(b.connection_counts(), (0, 1));

    // a new block, announced by headers
    let new = a_chain.mine(1);
    a.announce_blocks(&new);
    wait_for("the announced block", || b_chain.height() == 2501).await;
    assert!(b.peers()[0].bytesrecv_per_msg.contains_key("headers"));
    assert!(b.totals().recv > 2500 * 81);

    b.shutdown().await;
    wait_for("a sees the disconnection", || a.peers().is_empty()).await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_disconnects_and_the_listener_goes_on() {
    let chain = Toy::new();
    let net = Net::start(config(true, Vec::new()), chain).await.unwrap();
    let addr = net.local_addrs()[0];
    for garbage in
        [b"\xf9\xbe\xb4\xd9version\0\0\0\0\0\x66\0\0\0\0\0\0\0".to_vec(), vec![0xfa, 0xbf, 0xb5, 0xda, 1, 2, 3]]
    {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&garbage).unwrap();
        if garbage.len() < 24 {
            // half a header, then the end of the stream
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)), "the peer is dropped");
    }
    wait_for("no peers", || net.peers().is_empty()).await;
    net.shutdown().await;
}

/// Two nodes with different chains of large blocks ask each other for
/// all of them at once: neither may stop reading while it serves the
/// other (the send queues and socket buffers hold far less than the
/// 20 MB going each way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_block_download_does_not_deadlock() {
    let a_chain = Toy::new();
    a_chain.mine_sized(100, 200_000, 1);
    let b_chain = Toy::new();
    b_chain.mine_sized(100, 200_000, 2);
    let a = Net::start(config(true, Vec::new()), a_chain.clone()).await.unwrap();
    let b = Net::start(config(false, vec![a.local_addrs()[0].to_string()]), b_chain.clone()).await.unwrap();
    wait_for("both sides have the other's blocks", || {
        a_chain.2.lock().unwrap().len() == 100 && b_chain.2.lock().unwrap().len() == 100
    })
    .await;
    b.shutdown().await;
    a.shutdown().await;
}
