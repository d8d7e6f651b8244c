//! P2P in the node: the chain behind `ferronode_net::ChainAccess`, the
//! announcements fed from the validation event stream, and the network
//! RPCs (`getpeerinfo`, `addnode`, ...), with Core's fields and errors.

use std::sync::{Arc, OnceLock};

use bitcoin::block::Header;
use bitcoin::{Block, BlockHash, Transaction, Txid, Wtxid};
use ferronode_httprpc::{Arg, ArgType, Command, RpcError, RpcTable};
use ferronode_net::{ChainAccess, Net, NodeListError, Submitted, TxRejected};
use serde_json::{json, Map, Value};

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
            Err(e @ (BlockError::Store(_) | BlockError::Fatal(_))) => Submitted::Failed(e.to_string()),
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

/// Core's `RPC_CLIENT_NODE_ALREADY_ADDED`.
const RPC_CLIENT_NODE_ALREADY_ADDED: i32 = -23;
/// Core's `RPC_CLIENT_NODE_NOT_ADDED`.
const RPC_CLIENT_NODE_NOT_ADDED: i32 = -24;
/// Core's `RPC_CLIENT_NODE_NOT_CONNECTED`.
const RPC_CLIENT_NODE_NOT_CONNECTED: i32 = -29;
/// Core's `RPC_CLIENT_P2P_DISABLED`.
const RPC_CLIENT_P2P_DISABLED: i32 = -31;

fn net(slot: &NetSlot) -> Result<Arc<Net>, RpcError> {
    slot.get()
        .cloned()
        .ok_or_else(|| RpcError::new(RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled"))
}

fn secs(d: std::time::Duration) -> Value {
    json!(d.as_secs_f64())
}

fn network_of(addr: &std::net::SocketAddr) -> &'static str {
    if addr.is_ipv4() || addr.ip().to_canonical().is_ipv4() {
        "ipv4"
    } else {
        "ipv6"
    }
}

fn service_names(services: u64) -> Vec<&'static str> {
    [
        (1u64, "NETWORK"),
        (2, "GETUTXO"),
        (4, "BLOOM"),
        (8, "WITNESS"),
        (64, "COMPACT_FILTERS"),
        (1024, "NETWORK_LIMITED"),
        (2048, "P2P_V2"),
    ]
    .iter()
    .filter(|(bit, _)| services & bit != 0)
    .map(|(_, n)| *n)
    .collect()
}

fn peer_json(p: &ferronode_net::PeerInfo) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("addr".into(), json!(p.addr.to_string()));
    o.insert("addrbind".into(), json!(p.addr_bind.to_string()));
    o.insert("network".into(), json!(network_of(&p.addr)));
    o.insert("services".into(), json!(format!("{:016x}", p.services)));
    o.insert("servicesnames".into(), json!(service_names(p.services)));
    o.insert("relaytxes".into(), json!(p.relaytxes));
    o.insert("lastsend".into(), json!(p.lastsend));
    o.insert("lastrecv".into(), json!(p.lastrecv));
    o.insert("last_transaction".into(), json!(p.last_transaction));
    o.insert("last_block".into(), json!(p.last_block));
    o.insert("bytessent".into(), json!(p.bytessent));
    o.insert("bytesrecv".into(), json!(p.bytesrecv));
    o.insert("conntime".into(), json!(p.conntime));
    o.insert("timeoffset".into(), json!(0));
    if let Some(t) = p.pingtime {
        o.insert("pingtime".into(), secs(t));
    }
    if let Some(t) = p.minping {
        o.insert("minping".into(), secs(t));
    }
    if let Some(t) = p.pingwait {
        o.insert("pingwait".into(), secs(t));
    }
    o.insert("version".into(), json!(p.version));
    o.insert("subver".into(), json!(p.subver));
    o.insert("inbound".into(), json!(p.inbound));
    o.insert("bip152_hb_to".into(), json!(false));
    o.insert("bip152_hb_from".into(), json!(false));
    o.insert("startingheight".into(), json!(p.start_height));
    o.insert("presynced_headers".into(), json!(-1));
    o.insert("synced_headers".into(), json!(p.synced_headers));
    o.insert("synced_blocks".into(), json!(p.synced_blocks));
    o.insert("inflight".into(), json!([]));
    o.insert("addr_relay_enabled".into(), json!(false));
    o.insert("addr_processed".into(), json!(0));
    o.insert("addr_rate_limited".into(), json!(0));
    o.insert("permissions".into(), json!([]));
    o.insert("minfeefilter".into(), ferronode_httprpc::amount(0));
    o.insert("bytessent_per_msg".into(), json!(p.bytessent_per_msg));
    o.insert("bytesrecv_per_msg".into(), json!(p.bytesrecv_per_msg));
    o.insert("connection_type".into(), json!(p.connection_type));
    o.insert("transport_protocol_type".into(), json!("v1"));
    o.insert("session_id".into(), json!(""));
    Value::Object(o)
}

/// Registers the network RPCs. `subversion` is the node's user agent.
#[allow(clippy::too_many_lines)]
pub fn register(table: &mut RpcTable, slot: &NetSlot, subversion: &str) {
    let s = Arc::clone(slot);
    table.add(Command::sync(
        "network",
        "getpeerinfo",
        "Returns data about each connected network peer as a json array of objects.",
        move |_, _| Ok(Value::Array(net(&s)?.peers().iter().map(peer_json).collect())),
    ));
    let s = Arc::clone(slot);
    table.add(
        Command::sync(
            "network",
            "getconnectioncount",
            "Returns the number of connections to other nodes.",
            move |_, _| {
                let (i, o) = net(&s)?.connection_counts();
                Ok(json!(i + o))
            },
        )
        .result_help("Result:\nn    (numeric) The connection count"),
    );
    let s = Arc::clone(slot);
    table.add(Command::sync(
        "network",
        "ping",
        "Requests that a ping be sent to all other nodes, to measure ping time.\nResults are provided in getpeerinfo, pingtime and pingwait fields are decimal seconds.\nPing command is handled in queue with all other commands, so it measures processing backlog, not just network ping.",
        move |_, _| {
            net(&s)?.ping_all();
            Ok(Value::Null)
        },
    ));
    let s = Arc::clone(slot);
    table.add(
        Command::sync("network", "setnetworkactive", "Disable/enable all p2p network activity.", move |p, _| {
            let n = net(&s)?;
            n.set_network_active(p[0].as_bool().unwrap_or(true));
            Ok(json!(n.network_active()))
        })
        .arg(Arg::required("state", ArgType::Bool, "true to enable networking, false to disable")),
    );
    let s = Arc::clone(slot);
    table.add(Command::sync(
        "network",
        "getnettotals",
        "Returns information about network traffic, including bytes in, bytes out,\nand current system time.",
        move |_, _| {
            let t = net(&s)?.totals();
            let millis = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            Ok(json!({
                "totalbytesrecv": t.recv,
                "totalbytessent": t.sent,
                "timemillis": millis,
                "uploadtarget": {
                    "timeframe": 86400,
                    "target": 0,
                    "target_reached": false,
                    "serve_historical_blocks": true,
                    "bytes_left_in_cycle": 0,
                    "time_left_in_cycle": 0
                }
            }))
        },
    ));
    let s = Arc::clone(slot);
    table.add(
        Command::new(
            "network",
            "addnode",
            "Attempts to add or remove a node from the addnode list.\nOr try a connection to a node once.\nNodes added using addnode (or -connect) are protected from DoS disconnection and are not required to be\nfull nodes/support SegWit as other outbound peers are (though such peers will not be synced from).\nAddnode connections are limited to 8 at a time and are counted separately from the -maxconnections limit.",
            move |p, _| {
                let s = Arc::clone(&s);
                async move {
                    let node = p[0].as_str().unwrap_or_default().to_owned();
                    let command = p[1].as_str().unwrap_or_default().to_owned();
                    if !matches!(command.as_str(), "add" | "remove" | "onetry") {
                        return Err(RpcError::misc("addnode \"node\" \"command\" ( v2transport )\n\nArguments:\n1. node           (string, required) The address of the peer to connect to\n2. command        (string, required) 'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once\n3. v2transport    (boolean, optional, default=set by -v2transport) Attempt to connect using BIP324 v2 transport protocol (ignored for 'remove' command)"));
                    }
                    let n = net(&s)?;
                    // no BIP324 here: NODE_P2P_V2 is never offered
                    if p.get(2).and_then(Value::as_bool) == Some(true) {
                        return Err(RpcError::invalid_parameter(
                            "Error: v2transport requested but not enabled (see -v2transport)",
                        ));
                    }
                    match command.as_str() {
                        "onetry" => n.try_node(&node).await,
                        "add" => n.add_node(&node).map_err(|_| {
                            RpcError::new(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added")
                        })?,
                        _ => n.remove_node(&node).map_err(|_| {
                            RpcError::new(
                                RPC_CLIENT_NODE_NOT_ADDED,
                                "Error: Node could not be removed. It has not been added previously.",
                            )
                        })?,
                    }
                    Ok(Value::Null)
                }
            },
        )
        .arg(Arg::required("node", ArgType::Str, "The address of the peer to connect to"))
        .arg(Arg::required("command", ArgType::Str, "'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once"))
        .arg(Arg::optional("v2transport", ArgType::Bool, "Attempt to connect using BIP324 v2 transport protocol (ignored for 'remove' command)")),
    );
    let s = Arc::clone(slot);
    table.add(
        Command::sync(
            "network",
            "disconnectnode",
            "Immediately disconnects from the specified peer node.\n\nStrictly one out of 'address' and 'nodeid' can be provided to identify the node.\n\nTo disconnect by nodeid, either set 'address' to the empty string, or call using the named 'nodeid' argument only.",
            move |p, _| {
                let n = net(&s)?;
                let address = p.first().and_then(Value::as_str).filter(|a| !a.is_empty());
                let id = p.get(1).filter(|v| !v.is_null());
                let result = match (address, id) {
                    (Some(a), None) => n.disconnect(Some(a), None),
                    (None, Some(id)) => {
                        let id = id.as_u64().ok_or_else(|| RpcError::invalid_parameter("Invalid nodeid"))?;
                        n.disconnect(None, Some(id))
                    }
                    _ => {
                        return Err(RpcError::new(
                            ferronode_httprpc::codes::RPC_INVALID_PARAMS,
                            "Only one of address and nodeid should be provided.",
                        ))
                    }
                };
                result.map_err(|_: NodeListError| {
                    RpcError::new(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")
                })?;
                Ok(Value::Null)
            },
        )
        .arg(Arg::optional("address", ArgType::Str, "The IP address/port of the node"))
        .arg(Arg::optional("nodeid", ArgType::Num, "The node ID (see getpeerinfo for node IDs)")),
    );
    let s = Arc::clone(slot);
    table.add(
        Command::sync(
            "network",
            "getaddednodeinfo",
            "Returns information about the given added node, or all added nodes\n(note that onetry addnodes are not listed here)",
            move |p, _| {
                let mut list = net(&s)?.added_nodes();
                if let Some(node) = p.first().and_then(Value::as_str) {
                    list.retain(|a| a.name == node);
                    if list.is_empty() {
                        return Err(RpcError::new(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added."));
                    }
                }
                Ok(Value::Array(
                    list.into_iter()
                        .map(|a| {
                            let addresses: Vec<Value> = a
                                .connected
                                .iter()
                                .map(|c| json!({"address": c.to_string(), "connected": "outbound"}))
                                .collect();
                            json!({"addednode": a.name, "connected": a.connected.is_some(), "addresses": addresses})
                        })
                        .collect(),
                ))
            },
        )
        .arg(Arg::optional("node", ArgType::Str, "If provided, return information about this specific node, otherwise all nodes are returned.")),
    );
    let s = Arc::clone(slot);
    let subversion = subversion.to_owned();
    table.add(Command::new(
        "network",
        "getnetworkinfo",
        "Returns an object containing various state info regarding P2P networking.",
        move |_, _| {
            let s = Arc::clone(&s);
            let subversion = subversion.clone();
            async move {
                let n = s.get();
                let (cin, cout) = n.map(|n| n.connection_counts()).unwrap_or_default();
                let active = n.is_some_and(|n| n.network_active());
                let services = if n.is_some() { ferronode_net::LOCAL_SERVICES } else { 0 };
                let mut o = Map::new();
                o.insert("version".into(), json!(crate::chain::rpc::CLIENT_VERSION));
                o.insert("subversion".into(), json!(subversion));
                o.insert("protocolversion".into(), json!(ferronode_net::PROTOCOL_VERSION));
                o.insert("localservices".into(), json!(format!("{services:016x}")));
                o.insert("localservicesnames".into(), json!(service_names(services)));
                o.insert("localrelay".into(), json!(true));
                o.insert("timeoffset".into(), json!(0));
                o.insert("networkactive".into(), json!(active));
                o.insert("connections".into(), json!(cin + cout));
                o.insert("connections_in".into(), json!(cin));
                o.insert("connections_out".into(), json!(cout));
                let networks: Vec<Value> = ["ipv4", "ipv6", "onion", "i2p", "cjdns"]
                    .iter()
                    .map(|name| {
                        let reachable = n.is_some() && matches!(*name, "ipv4" | "ipv6");
                        json!({"name": name, "limited": !reachable, "reachable": reachable, "proxy": "", "proxy_randomize_credentials": false})
                    })
                    .collect();
                o.insert("networks".into(), Value::Array(networks));
                o.insert("relayfee".into(), ferronode_httprpc::amount(1000));
                o.insert("incrementalfee".into(), ferronode_httprpc::amount(1000));
                o.insert("localaddresses".into(), json!([]));
                o.insert("warnings".into(), json!([]));
                Ok(Value::Object(o))
            }
        },
    ));
}
