//! Core's `mining` and `generating` commands (src/rpc/mining.cpp).

use std::str::FromStr;

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::{Address, Block, ScriptBuf, Transaction};
use ferronode_httprpc::{codes, Arg, ArgType, CallContext, Command, RpcError};
use serde_json::{json, Map, Value};

use super::txjson::parse_hex;
use super::{async_cmd, blocking, chain, decode_tx, descriptor, ChainSlot};
use crate::chain::BlockError;

/// `maxtries`' default.
const DEFAULT_MAX_TRIES: u64 = 1_000_000;

/// The mining and generating commands.
pub(crate) fn commands(slot: &ChainSlot) -> Vec<Command> {
    let maxtries = || Arg::optional("maxtries", ArgType::Num, "(default=1000000) How many iterations to try.");
    vec![
        async_cmd(
            slot,
            "generating",
            "generatetoaddress",
            "Mine blocks immediately to a specified address (before the RPC call returns)",
            generatetoaddress,
        )
        .arg(Arg::required("nblocks", ArgType::Num, "How many blocks are generated."))
        .arg(Arg::required("address", ArgType::Str, "The address to send the newly generated bitcoin to."))
        .arg(maxtries()),
        async_cmd(
            slot,
            "generating",
            "generatetodescriptor",
            "Mine to a specified descriptor and return the block hashes.",
            generatetodescriptor,
        )
        .arg(Arg::required("num_blocks", ArgType::Num, "How many blocks are generated."))
        .arg(Arg::required("descriptor", ArgType::Str, "The descriptor to send the newly generated bitcoin to."))
        .arg(maxtries()),
        async_cmd(
            slot,
            "generating",
            "generateblock",
            "Mine a set of ordered transactions to a specified address or descriptor and return the block hash.",
            generateblock,
        )
        .arg(Arg::required("output", ArgType::Str, "The address or descriptor to send the newly generated bitcoin to."))
        .arg(Arg::required(
            "transactions",
            ArgType::Arr,
            "An array of hex strings which are either txids or raw transactions.",
        ))
        .arg(Arg::optional(
            "submit",
            ArgType::Bool,
            "(default=true) Whether to submit the block before the RPC call returns or to return it as hex.",
        )),
        async_cmd(slot, "mining", "submitblock", "Attempts to submit new block to network.", submitblock)
            .arg(Arg::required("hexdata", ArgType::Str, "the hex-encoded block data to submit"))
            .arg(Arg::optional(
                "dummy",
                ArgType::Any,
                "dummy value, for compatibility with BIP22. This value is ignored.",
            )),
    ]
}

pub(crate) async fn generatetoaddress(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let n = p[0].as_i64().unwrap_or(0);
    let addr = p[1].as_str().unwrap_or("");
    let max_tries = p.get(2).and_then(Value::as_u64).unwrap_or(DEFAULT_MAX_TRIES);
    let script = regtest_script(addr)
        .ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?;
    generate(&slot, script, n, max_tries).await
}

pub(crate) async fn generatetodescriptor(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let n = p[0].as_i64().unwrap_or(0);
    let script = descriptor::script_of(p[1].as_str().unwrap_or(""))
        .map_err(|e| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, e))?;
    let max_tries = p.get(2).and_then(Value::as_u64).unwrap_or(DEFAULT_MAX_TRIES);
    generate(&slot, script, n, max_tries).await
}

pub(crate) async fn generateblock(slot: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let output = p[0].as_str().unwrap_or("");
    let script = regtest_script(output)
        .or_else(|| descriptor::script_of(output).ok())
        .ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor"))?;
    let mut txs = Vec::new();
    for t in p[1].as_array().cloned().unwrap_or_default() {
        txs.push(block_transaction(&slot, t.as_str().unwrap_or(""))?);
    }
    let submit = p.get(2).and_then(Value::as_bool).unwrap_or(true);
    blocking(&slot, move |c| {
        let block = c.generate_block(&script, &txs, submit).map_err(|e| match e {
            BlockError::Invalid(r) => RpcError::new(codes::RPC_VERIFY_ERROR, format!("TestBlockValidity failed: {r}")),
            other => RpcError::misc(other.to_string()),
        })?;
        let mut o = Map::new();
        o.insert("hash".into(), json!(block.block_hash().to_string()));
        if !submit {
            o.insert("hex".into(), json!(serialize_hex(&block)));
        }
        Ok(Value::Object(o))
    })
    .await
}

/// One of `generateblock`'s transactions: a txid, taken from the mempool as
/// in Core, or a raw transaction.
fn block_transaction(slot: &ChainSlot, text: &str) -> Result<Transaction, RpcError> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let missing =
            || RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, format!("Transaction {text} not in mempool."));
        let txid = bitcoin::Txid::from_str(text).map_err(|_| missing())?;
        return chain(slot)?.with_mempool(|m| m.get(&txid).map(|e| e.tx.clone())).ok_or_else(missing);
    }
    decode_tx(text).ok().filter(|tx| !tx.input.is_empty()).ok_or_else(|| {
        RpcError::new(
            codes::RPC_DESERIALIZATION_ERROR,
            format!("Transaction decode failed for {text}. Make sure the tx has at least one input."),
        )
    })
}

pub(crate) async fn submitblock(slot: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let hexdata = p[0].as_str().unwrap_or("");
    let block: Block = parse_hex(hexdata)
        .and_then(|b| deserialize(&b).ok())
        .ok_or_else(|| RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "Block decode failed"))?;
    if block.txdata.first().is_none_or(|t| !t.is_coinbase()) {
        return Err(RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase"));
    }
    blocking(&slot, move |c| {
        Ok(match c.submit(&block) {
            Ok(_) => Value::Null,
            Err(BlockError::Store(e)) => return Err(RpcError::misc(e)),
            Err(e) => json!(e.to_string()),
        })
    })
    .await
}

/// The output script of a regtest address.
fn regtest_script(text: &str) -> Option<ScriptBuf> {
    Address::from_str(text).ok()?.require_network(bitcoin::Network::Regtest).ok().map(|a| a.script_pubkey())
}

/// Mines up to `n` blocks to `script` (`generatetoaddress`,
/// `generatetodescriptor`); returns their hashes.
async fn generate(slot: &ChainSlot, script: ScriptBuf, n: i64, max_tries: u64) -> Result<Value, RpcError> {
    blocking(slot, move |c| {
        let mut hashes = Vec::new();
        for _ in 0..n.max(0) {
            match c.mine(&script, max_tries).map_err(mining_error)? {
                Some(h) => hashes.push(json!(h.to_string())),
                None => break,
            }
        }
        Ok(Value::Array(hashes))
    })
    .await
}

/// What Core answers when a mined block cannot be stored.
fn mining_error(e: BlockError) -> RpcError {
    match e {
        BlockError::Store(_) | BlockError::Duplicate | BlockError::Invalid("duplicate-invalid") => {
            RpcError::new(codes::RPC_INTERNAL_ERROR, "ProcessNewBlock, block not accepted")
        }
        other => RpcError::misc(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regtest_addresses_are_mined_to() {
        assert!(regtest_script("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").is_some());
        assert!(regtest_script("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").is_none());
        assert!(regtest_script("nonsense").is_none());
    }
}
