//! Core's `network` commands (src/rpc/net.cpp) over the P2P layer's slot.

use std::sync::Arc;

use ferronode_httprpc::{codes, Arg, ArgType, CallContext, Command, RpcError};
use ferronode_net::{Net, NodeListError};
use serde_json::{json, Map, Value};

use super::{async_cmd, sync_cmd};
use crate::p2p::NetSlot;

/// `getnetworkinfo`'s state: the P2P slot and the node's user agent.
#[derive(Debug, Clone)]
pub(crate) struct NetworkInfoState {
    net: NetSlot,
    subversion: Arc<str>,
}

/// The network commands. `subversion` is the node's user agent.
pub(crate) fn commands(slot: &NetSlot, subversion: &str) -> Vec<Command> {
    let info = NetworkInfoState { net: Arc::clone(slot), subversion: Arc::from(subversion) };
    vec![
        sync_cmd(slot, "network", "getpeerinfo", "Returns data about each connected network peer as a json array of objects.", getpeerinfo),
        sync_cmd(slot, "network", "getconnectioncount", "Returns the number of connections to other nodes.", getconnectioncount)
            .result_help("Result:\nn    (numeric) The connection count"),
        sync_cmd(slot, "network", "ping", "Requests that a ping be sent to all other nodes, to measure ping time.\nResults are provided in getpeerinfo, pingtime and pingwait fields are decimal seconds.\nPing command is handled in queue with all other commands, so it measures processing backlog, not just network ping.", ping),
        sync_cmd(slot, "network", "setnetworkactive", "Disable/enable all p2p network activity.", setnetworkactive)
            .arg(Arg::required("state", ArgType::Bool, "true to enable networking, false to disable")),
        sync_cmd(slot, "network", "getnettotals", "Returns information about network traffic, including bytes in, bytes out,\nand current system time.", getnettotals),
        async_cmd(slot, "network", "addnode", "Attempts to add or remove a node from the addnode list.\nOr try a connection to a node once.\nNodes added using addnode (or -connect) are protected from DoS disconnection and are not required to be\nfull nodes/support SegWit as other outbound peers are (though such peers will not be synced from).\nAddnode connections are limited to 8 at a time and are counted separately from the -maxconnections limit.", addnode)
            .arg(Arg::required("node", ArgType::Str, "The address of the peer to connect to"))
            .arg(Arg::required("command", ArgType::Str, "'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once"))
            .arg(Arg::optional("v2transport", ArgType::Bool, "Attempt to connect using BIP324 v2 transport protocol (ignored for 'remove' command)")),
        sync_cmd(slot, "network", "disconnectnode", "Immediately disconnects from the specified peer node.\n\nStrictly one out of 'address' and 'nodeid' can be provided to identify the node.\n\nTo disconnect by nodeid, either set 'address' to the empty string, or call using the named 'nodeid' argument only.", disconnectnode)
            .arg(Arg::optional("address", ArgType::Str, "The IP address/port of the node"))
            .arg(Arg::optional("nodeid", ArgType::Num, "The node ID (see getpeerinfo for node IDs)")),
        sync_cmd(slot, "network", "getaddednodeinfo", "Returns information about the given added node, or all added nodes\n(note that onetry addnodes are not listed here)", getaddednodeinfo)
            .arg(Arg::optional("node", ArgType::Str, "If provided, return information about this specific node, otherwise all nodes are returned.")),
        async_cmd(&info, "network", "getnetworkinfo", "Returns an object containing various state info regarding P2P networking.", getnetworkinfo),
    ]
}

pub(crate) fn getpeerinfo(slot: &NetSlot, _: &[Value]) -> Result<Value, RpcError> {
    Ok(Value::Array(net(slot)?.peers().iter().map(peer_json).collect()))
}

pub(crate) fn getconnectioncount(slot: &NetSlot, _: &[Value]) -> Result<Value, RpcError> {
    let (i, o) = net(slot)?.connection_counts();
    Ok(json!(i + o))
}

pub(crate) fn ping(slot: &NetSlot, _: &[Value]) -> Result<Value, RpcError> {
    net(slot)?.ping_all();
    Ok(Value::Null)
}

pub(crate) fn setnetworkactive(slot: &NetSlot, p: &[Value]) -> Result<Value, RpcError> {
    let n = net(slot)?;
    n.set_network_active(p[0].as_bool().unwrap_or(true));
    Ok(json!(n.network_active()))
}

pub(crate) fn getnettotals(slot: &NetSlot, _: &[Value]) -> Result<Value, RpcError> {
    let t = net(slot)?.totals();
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
}

/// `addnode`'s help, which Core answers with for an unknown command.
const ADDNODE_USAGE: &str = "addnode \"node\" \"command\" ( v2transport )\n\nArguments:\n1. node           (string, required) The address of the peer to connect to\n2. command        (string, required) 'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once\n3. v2transport    (boolean, optional, default=set by -v2transport) Attempt to connect using BIP324 v2 transport protocol (ignored for 'remove' command)";

pub(crate) async fn addnode(slot: NetSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let node = p[0].as_str().unwrap_or_default().to_owned();
    let command = p[1].as_str().unwrap_or_default().to_owned();
    if !matches!(command.as_str(), "add" | "remove" | "onetry") {
        return Err(RpcError::misc(ADDNODE_USAGE));
    }
    let n = net(&slot)?;
    // no BIP324 here: NODE_P2P_V2 is never offered
    if p.get(2).and_then(Value::as_bool) == Some(true) {
        return Err(RpcError::invalid_parameter("Error: v2transport requested but not enabled (see -v2transport)"));
    }
    match command.as_str() {
        "onetry" => n.try_node(&node).await,
        "add" => n
            .add_node(&node)
            .map_err(|_| RpcError::new(codes::RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added"))?,
        _ => n.remove_node(&node).map_err(|_| {
            RpcError::new(
                codes::RPC_CLIENT_NODE_NOT_ADDED,
                "Error: Node could not be removed. It has not been added previously.",
            )
        })?,
    }
    Ok(Value::Null)
}

pub(crate) fn disconnectnode(slot: &NetSlot, p: &[Value]) -> Result<Value, RpcError> {
    let n = net(slot)?;
    let address = p.first().and_then(Value::as_str).filter(|a| !a.is_empty());
    let id = p.get(1).filter(|v| !v.is_null());
    let result = match (address, id) {
        (Some(a), None) => n.disconnect(Some(a), None),
        (None, Some(id)) => {
            let id = id.as_u64().ok_or_else(|| RpcError::invalid_parameter("Invalid nodeid"))?;
            n.disconnect(None, Some(id))
        }
        _ => {
            return Err(RpcError::new(codes::RPC_INVALID_PARAMS, "Only one of address and nodeid should be provided."))
        }
    };
    result.map_err(|_: NodeListError| {
        RpcError::new(codes::RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")
    })?;
    Ok(Value::Null)
}

pub(crate) fn getaddednodeinfo(slot: &NetSlot, p: &[Value]) -> Result<Value, RpcError> {
    let mut list = net(slot)?.added_nodes();
    if let Some(node) = p.first().and_then(Value::as_str) {
        list.retain(|a| a.name == node);
        if list.is_empty() {
            return Err(RpcError::new(codes::RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added."));
        }
    }
    let entry = |a: ferronode_net::AddedNode| {
        let addresses: Vec<Value> =
            a.connected.iter().map(|c| json!({"address": c.to_string(), "connected": "outbound"})).collect();
        json!({"addednode": a.name, "connected": a.connected.is_some(), "addresses": addresses})
    };
    Ok(Value::Array(list.into_iter().map(entry).collect()))
}

pub(crate) async fn getnetworkinfo(
    state: NetworkInfoState,
    _: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let n = state.net.get();
    let (cin, cout) = n.map(|n| n.connection_counts()).unwrap_or_default();
    let active = n.is_some_and(|n| n.network_active());
    let services = if n.is_some() { ferronode_net::LOCAL_SERVICES } else { 0 };
    let mut o = Map::new();
    o.insert("version".into(), json!(super::CLIENT_VERSION));
    o.insert("subversion".into(), json!(&*state.subversion));
    o.insert("protocolversion".into(), json!(ferronode_net::PROTOCOL_VERSION));
    o.insert("localservices".into(), json!(format!("{services:016x}")));
    o.insert("localservicesnames".into(), json!(service_names(services)));
    o.insert("localrelay".into(), json!(true));
    o.insert("timeoffset".into(), json!(0));
    o.insert("networkactive".into(), json!(active));
    o.insert("connections".into(), json!(cin + cout));
    o.insert("connections_in".into(), json!(cin));
    o.insert("connections_out".into(), json!(cout));
    o.insert("networks".into(), networks_json(n.is_some()));
    o.insert("relayfee".into(), ferronode_httprpc::amount(1000));
    o.insert("incrementalfee".into(), ferronode_httprpc::amount(1000));
    o.insert("localaddresses".into(), json!([]));
    o.insert("warnings".into(), json!([]));
    Ok(Value::Object(o))
}

/// `getnetworkinfo`'s `networks`: IPv4 and IPv6 are reachable when P2P runs.
fn networks_json(p2p: bool) -> Value {
    let networks = ["ipv4", "ipv6", "onion", "i2p", "cjdns"].iter().map(|name| {
        let reachable = p2p && matches!(*name, "ipv4" | "ipv6");
        json!({"name": name, "limited": !reachable, "reachable": reachable, "proxy": "", "proxy_randomize_credentials": false})
    });
    Value::Array(networks.collect())
}

fn net(slot: &NetSlot) -> Result<Arc<Net>, RpcError> {
    slot.get().cloned().ok_or_else(|| {
        RpcError::new(codes::RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled")
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_bits_have_core_names() {
        assert_eq!(service_names(1 | 8 | 1024), vec!["NETWORK", "WITNESS", "NETWORK_LIMITED"]);
        assert!(service_names(0).is_empty());
    }

    #[test]
    fn commands_without_p2p_say_so() {
        let slot = NetSlot::default();
        let e = getpeerinfo(&slot, &[]).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (-31, "Error: Peer-to-peer functionality missing or disabled"));
    }
}
