//! P2P in the node: the chain behind `ferronode_net::ChainAccess`, the
//! announcements fed from the validation event stream (the network RPCs
//! are in `crate::rpc::network`).

use std::sync::{Arc, OnceLock};

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash, Transaction, Txid, Wtxid};
use ferronode_net::{ChainAccess, Net, Submitted, TxRejected};

use crate::chain::events::Event;
use crate::chain::{BlockError, Chain};

/// Where the running P2P layer is, once init has started it.
pub type NetSlot = Arc<OnceLock<Arc<Net>>>;

/// The chain as the P2P layer sees it.
#[derive(Debug)]
pub struct ChainBridge(pub Arc<Chain>);

impl ChainAccess for ChainBridge {
    fn tip(&self) -> (BlockHash, u32) {
        let t = self.0.tip();
        (t.hash, t.height)
    }

    fn active_hash(&self, height: u32) -> Option<BlockHash> {
        self.0.hash_at(height)
    }

    fn active_height(&self, hash: &BlockHash) -> Option<u32> {
        self.0.info(hash).filter(|i| self.0.is_active(i)).map(|i| i.height)
    }

    fn has_block(&self, hash: &BlockHash) -> bool {
        self.0.info(hash).is_some()
    }

    fn header(&self, hash: &BlockHash) -> Option<(Header, u32)> {
        self.0.info(hash).map(|i| (i.header, i.height))
    }

    fn active_headers(&self, height: u32, max: usize) -> Vec<Header> {
        let mut out = Vec::new();
        let mut h = height;
        while out.len() < max {
            let Some(info) = self.0.hash_at(h).and_then(|hash| self.0.info(&hash)) else { break };
            out.push(info.header);
            h += 1;
        }
        out
    }

    fn block_bytes(&self, hash: &BlockHash) -> Option<Vec<u8>> {
        self.0.info(hash).and_then(|i| self.0.block_bytes(&i).ok())
    }

    fn submit_block(&self, block: &Block) -> Submitted {
        match self.0.submit(block) {
            Ok(_) | Err(BlockError::SideChain) => Submitted::Accepted,
            Err(BlockError::Duplicate) => Submitted::Known,
            Err(BlockError::Orphan) => Submitted::Orphan,
            Err(BlockError::Invalid(r)) => Submitted::Invalid(r.to_owned()),
            Err(e) => Submitted::Failed(e.to_string()),
        }
    }

    fn accept_tx(&self, tx: &Transaction) -> Result<(), TxRejected> {
        self.0.accept(tx, false).map(|_| ()).map_err(|r| TxRejected {
            missing_inputs: r.kind == crate::chain::RejectKind::MissingInputs,
            reason: r.details,
        })
    }

    fn mempool_tx_by_wtxid(&self, wtxid: &Wtxid) -> Option<Transaction> {
        self.0.with_mempool(|m| m.entries().into_iter().find(|e| e.wtxid == *wtxid).map(|e| e.tx.clone()))
    }

    fn mempool_tx_by_txid(&self, txid: &Txid) -> Option<Transaction> {
        self.0.with_mempool(|m| m.get(txid).map(|e| e.tx.clone()))
    }
}

/// Feeds `net` from `chain`'s events: the headers of the blocks connected
/// since the last tip update are announced with the tip (not during initial
/// block download, as in Core); mempool additions are announced.
pub fn connect(chain: &Chain, net: &Arc<Net>) -> tokio::task::JoinHandle<()> {
    let mut rx = chain.subscribe();
    let net = Arc::clone(net);
    tokio::spawn(async move {
        let mut connected: Vec<Header> = Vec::new();
        loop {
            match rx.recv().await {
                Ok(Event::BlockConnected { block, .. }) => {
                    if connected.len() < 64 {
                        connected.push(block.header);
                    }
                }
                Ok(Event::UpdatedBlockTip { initial_download, .. }) => {
                    let headers = std::mem::take(&mut connected);
                    if !initial_download {
                        net.announce_blocks(&headers);
                    }
                }
                Ok(Event::TransactionAdded { tx, .. }) => net.announce_tx(tx.compute_txid(), tx.compute_wtxid()),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
