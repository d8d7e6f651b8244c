//! Core's `rawtransactions` commands (src/rpc/rawtransaction.cpp).

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::{Block, BlockHash, Txid};
use ferronode_httprpc::{codes, Arg, ArgType, CallContext, Command, RpcError};
use serde_json::{json, Map, Value};

use super::txjson::{self, parse_hex};
use super::{async_cmd, blocking, database_error, decode_tx, parse_hash, parse_txid, ChainSlot};
use crate::chain::{BlockInfo, Chain};

/// The raw-transaction commands.
pub(crate) fn commands(slot: &ChainSlot) -> Vec<Command> {
    vec![
        async_cmd(slot, "rawtransactions", "decodescript", "Decode a hex-encoded script.", decodescript)
            .arg(Arg::required("hexstring", ArgType::Str, "the hex-encoded script")),
        async_cmd(slot, "rawtransactions", "decoderawtransaction", "Return a JSON object representing the serialized, hex-encoded transaction.", decoderawtransaction)
            .arg(Arg::required("hexstring", ArgType::Str, "The transaction hex string"))
            .arg(Arg::optional("iswitness", ArgType::Bool, "Whether the transaction hex is a serialized witness transaction.")),
        async_cmd(slot, "rawtransactions", "getrawtransaction", "By default, this call only returns a transaction if it is in the mempool. If -txindex is enabled\nand no blockhash argument is passed, it will return the transaction if it is in a block in the blockchain.\n\nHint: Use gettransaction for wallet transactions.", getrawtransaction)
            .arg(Arg::required("txid", ArgType::Str, "The transaction id"))
            .arg(Arg::optional("verbosity|verbose", ArgType::Any, "(default=0) 0 for hex-encoded data, 1 for a JSON object, and 2 for JSON object with fee and prevout"))
            .arg(Arg::optional("blockhash", ArgType::Str, "The block in which to look for the transaction")),
    ]
}

pub(crate) async fn decodescript(_: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let text = p[0].as_str().unwrap_or("");
    let bytes = parse_hex(text)
        .ok_or_else(|| RpcError::invalid_parameter(format!("argument must be hexadecimal string (not '{text}')")))?;
    Ok(txjson::decode_script(&bitcoin::ScriptBuf::from_bytes(bytes)))
}

pub(crate) async fn decoderawtransaction(
    _: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let tx = decode_tx(p[0].as_str().unwrap_or(""))?;
    Ok(txjson::tx_json(&tx, None, false, None, false))
}

pub(crate) async fn getrawtransaction(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let txid = parse_txid(&p[0], "parameter 1")?;
    let verbosity = match p.get(1) {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(_) => return Err(RpcError::type_error("Verbosity was boolean but only integer allowed")),
    };
    let blockhash = match p.get(2) {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_hash(v, "parameter 3")?),
    };
    blocking(&slot, move |c| {
        let genesis = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
        if txid == genesis.txdata[0].compute_txid() {
            return Err(RpcError::invalid_parameter(
                "The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved",
            ));
        }
        if blockhash.is_none() {
            if let Some(tx) = c.with_mempool(|m| m.get(&txid).map(|e| e.tx.clone())) {
                return Ok(if verbosity <= 0 {
                    json!(serialize_hex(&tx))
                } else {
                    txjson::tx_json(&tx, None, true, None, false)
                });
            }
        }
        let given_block = blockhash.is_some();
        let bh = match blockhash {
            Some(bh) => bh,
            None => block_of(c, &txid)?,
        };
        tx_in_block(c, txid, bh, given_block, verbosity)
    })
    .await
}

/// The block `-txindex` has for `txid`, or Core's error without it.
fn block_of(c: &Chain, txid: &Txid) -> Result<BlockHash, RpcError> {
    match c.txindex_lookup(txid).map_err(database_error)? {
        Some(Some(bh)) => Ok(bh),
        Some(None) => Err(RpcError::new(
            codes::RPC_INVALID_ADDRESS_OR_KEY,
            "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
        )),
        None => Err(RpcError::new(
            codes::RPC_INVALID_ADDRESS_OR_KEY,
            "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions.",
        )),
    }
}

/// `getrawtransaction` for a transaction in block `bh`.
fn tx_in_block(c: &Chain, txid: Txid, bh: BlockHash, given_block: bool, verbosity: i64) -> Result<Value, RpcError> {
    let info = c.info(&bh).ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
    let bytes = c.block_bytes(&info).map_err(|_| RpcError::misc("Block not found on disk"))?;
    let block: Block = deserialize(&bytes).map_err(|_| RpcError::misc("Block not found on disk"))?;
    let Some((i, tx)) = block.txdata.iter().enumerate().find(|(_, t)| t.compute_txid() == txid) else {
        return Err(RpcError::new(
            codes::RPC_INVALID_ADDRESS_OR_KEY,
            "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
        ));
    };
    if verbosity <= 0 {
        return Ok(json!(serialize_hex(tx)));
    }
    let undo =
        if verbosity >= 2 && i > 0 { c.block_undo(&info).ok().and_then(|u| u.get(i - 1).cloned()) } else { None };
    let body = txjson::tx_json(tx, None, true, undo.as_deref(), verbosity >= 2);
    let mut o = Map::new();
    let active = c.is_active(&info);
    if given_block {
        o.insert("in_active_chain".into(), json!(active));
    }
    if let Value::Object(m) = body {
        o.extend(m);
    }
    o.insert("blockhash".into(), json!(bh.to_string()));
    o.insert("confirmations".into(), json!(confirmations(c, &info, active)));
    o.insert("time".into(), json!(info.header.time));
    o.insert("blocktime".into(), json!(info.header.time));
    Ok(Value::Object(o))
}

fn confirmations(c: &Chain, info: &BlockInfo, active: bool) -> u32 {
    if active {
        c.tip().height - info.height + 1
    } else {
        0
    }
}
