//! The node's RPC commands, one file per Core category, each command a
//! named function.
//!
//! Every category file has one short `commands` table that pairs a name,
//! its help and its arguments with the function that serves it; [`table`]
//! puts the tables together with httprpc's own control commands. A command
//! function takes the state it reads (the chain slot, the P2P slot, ...) and
//! its positional parameters, so it can be called and tested alone.
//!
//! # Layout
//! - [`blockchain`]: blocks, headers, tips, the UTXO set, long polls.
//! - [`mempool`]: the pool, `sendrawtransaction`, `testmempoolaccept`.
//! - [`mining`]: `generate*` and `submitblock`.
//! - [`rawtransaction`]: decoding and `getrawtransaction`.
//! - [`network`]: peers and connections (over `crate::p2p`'s slot).
//! - [`control`]: `logging`, `setmocktime`, `gethttpmetrics`.
//! - [`util`]: the index status, `getindexinfo`.
//! - [`zmq`]: the ZMQ notifier's state.
//! - [`txjson`]: transactions and scripts as Core's JSON; [`descriptor`]:
//!   the descriptors `generatetodescriptor` takes.

pub(crate) mod blockchain;
pub(crate) mod control;
pub(crate) mod descriptor;
pub(crate) mod mempool;
pub(crate) mod mining;
pub(crate) mod network;
pub(crate) mod rawtransaction;
pub mod txjson;
pub(crate) mod util;
pub(crate) mod zmq;

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash as _;
use bitcoin::BlockHash;
use ferronode_httprpc::{codes, CallContext, Command, RpcError, RpcTable};
use ferronode_httpserver::MetricsHandle;
use serde_json::Value;

use crate::chain::Chain;
use crate::logging::LogHandle;

/// `getnetworkinfo`'s version: ferronode 0.1.0 in Core's encoding.
pub const CLIENT_VERSION: u32 = 100;

/// The chain is set once init has loaded it; commands only run after
/// warmup, so it is always there when they run.
pub type ChainSlot = Arc<OnceLock<Arc<Chain>>>;

/// What `getnetworkinfo` reports about this node (see `crate::p2p`).
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// The BIP14 user agent, with `-uacomment`s.
    pub subversion: String,
}

/// The state the node's commands read, handed to [`table`].
#[derive(Debug)]
pub struct TableState<'a> {
    /// The HTTP server's load, for `gethttpmetrics`.
    pub http: Option<MetricsHandle>,
    /// The chain, once init has loaded it.
    pub chain: &'a ChainSlot,
    /// The ZMQ notifier, if any.
    pub zmq: &'a crate::zmq::ZmqSlot,
    /// The P2P layer, if any.
    pub net: &'a crate::p2p::NetSlot,
    /// Who this node says it is.
    pub identity: &'a NodeIdentity,
    /// The log configuration, for `logging`.
    pub log: Option<Arc<LogHandle>>,
}

/// Every RPC command the node serves.
#[must_use]
pub fn table(state: TableState<'_>) -> RpcTable {
    let mut table = RpcTable::new();
    let files = [
        zmq::commands(state.zmq),
        network::commands(state.net, &state.identity.subversion),
        control::commands(state.chain, state.http, state.log),
        blockchain::commands(state.chain),
        mempool::commands(state.chain),
        mining::commands(state.chain),
        rawtransaction::commands(state.chain),
        util::commands(state.chain),
    ];
    for command in files.into_iter().flatten() {
        table.add(command);
    }
    ferronode_httprpc::control::register_control_commands(&mut table);
    table
}

/// A command that answers at once from `state`.
pub(crate) fn sync_cmd<S: Clone + Send + Sync + 'static>(
    state: &S,
    category: &'static str,
    name: &'static str,
    description: &'static str,
    f: fn(&S, &[Value]) -> Result<Value, RpcError>,
) -> Command {
    let s = state.clone();
    Command::sync(category, name, description, move |p, _| f(&s, &p))
}

/// A command that may wait (for the chain's blocking work, a long poll).
pub(crate) fn async_cmd<S, Fut>(
    state: &S,
    category: &'static str,
    name: &'static str,
    description: &'static str,
    f: fn(S, Vec<Value>, CallContext<'static>) -> Fut,
) -> Command
where
    S: Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, RpcError>> + Send + 'static,
{
    let s = state.clone();
    Command::new(category, name, description, move |p, ctx| f(s.clone(), p, ctx))
}

/// The chain, owned, for commands that hand it to blocking work.
pub(crate) fn chain(slot: &ChainSlot) -> Result<Arc<Chain>, RpcError> {
    chain_ref(slot).cloned()
}

/// The chain, borrowed, for commands that finish before they return.
pub(crate) fn chain_ref(slot: &ChainSlot) -> Result<&Arc<Chain>, RpcError> {
    slot.get().ok_or_else(|| RpcError::new(codes::RPC_IN_WARMUP, "Loading block index…"))
}

/// Runs blocking chain work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    slot: &ChainSlot,
    f: impl FnOnce(&Chain) -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    let chain = chain(slot)?;
    tokio::task::spawn_blocking(move || f(&chain)).await.map_err(|e| RpcError::misc(e.to_string()))?
}

/// Core's `ParseHashV`: 64 hex digits, or -8 naming the parameter.
pub(crate) fn parse_hash(v: &Value, name: &str) -> Result<BlockHash, RpcError> {
    let s = v.as_str().unwrap_or("");
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RpcError::invalid_parameter(format!("{name} must be of length 64 (not {}, for '{s}')", s.len())));
    }
    BlockHash::from_str(s)
        .map_err(|_| RpcError::invalid_parameter(format!("{name} must be hexadecimal string (not '{s}')")))
}

/// [`parse_hash`] for a transaction id.
pub(crate) fn parse_txid(v: &Value, name: &str) -> Result<bitcoin::Txid, RpcError> {
    parse_hash(v, name).map(|h| bitcoin::Txid::from_byte_array(h.to_byte_array()))
}

/// A transaction from hex, or Core's -22 `TX decode failed`.
pub(crate) fn decode_tx(hexstr: &str) -> Result<bitcoin::Transaction, RpcError> {
    txjson::parse_hex(hexstr)
        .and_then(|b| deserialize(&b).ok())
        .ok_or_else(|| RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "TX decode failed"))
}

/// Core's -5 `Block not found`.
pub(crate) fn block_not_found() -> RpcError {
    RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
}

/// -20 for a storage error.
pub(crate) fn database_error(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(codes::RPC_DATABASE_ERROR, e.to_string())
}

/// Core's `AmountFromValue`: a JSON number or string in BTC with at most
/// eight decimals, as satoshis.
pub(crate) fn parse_amount(v: &Value) -> Result<u64, RpcError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(RpcError::type_error("Amount is not a number or string")),
    };
    let invalid = || RpcError::type_error("Invalid amount");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 8
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| invalid())? };
    let frac_sats: u64 = format!("{frac:0<8}").parse().map_err(|_| invalid())?;
    whole
        .checked_mul(100_000_000)
        .and_then(|w| w.checked_add(frac_sats))
        .filter(|s| *s <= bitcoin::Amount::MAX_MONEY.to_sat())
        .ok_or_else(|| RpcError::type_error("Amount out of range"))
}

/// An optional amount parameter, `default` when absent or null.
pub(crate) fn optional_amount(p: &[Value], i: usize, default: u64) -> Result<u64, RpcError> {
    match p.get(i) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => parse_amount(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_parse_like_core() {
        assert_eq!(parse_amount(&json!(1)).unwrap(), 100_000_000);
        assert_eq!(parse_amount(&json!("0.00000001")).unwrap(), 1);
        assert_eq!(parse_amount(&json!(".5")).unwrap(), 50_000_000);
        assert_eq!(parse_amount(&json!("0.000000001")).unwrap_err().message, "Invalid amount");
        assert_eq!(parse_amount(&json!(21_000_001)).unwrap_err().message, "Amount out of range");
        assert_eq!(parse_amount(&json!(true)).unwrap_err().message, "Amount is not a number or string");
        assert_eq!(optional_amount(&[json!(null)], 0, 7).unwrap(), 7);
    }

    #[test]
    fn hashes_are_checked_like_parse_hash_v() {
        let e = parse_hash(&json!("ab"), "blockhash").unwrap_err();
        assert_eq!(e.message, "blockhash must be of length 64 (not 2, for 'ab')");
        assert!(parse_txid(&json!("00".repeat(32)), "txid").is_ok());
    }

    #[test]
    fn commands_wait_for_the_chain() {
        let slot = ChainSlot::default();
        assert_eq!(chain_ref(&slot).unwrap_err().code, codes::RPC_IN_WARMUP);
    }
}
