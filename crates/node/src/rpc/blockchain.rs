//! Core's `blockchain` commands (src/rpc/blockchain.cpp): blocks, headers,
//! tips, the UTXO set and the tip long polls.

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::{Block, BlockHash};
use ferronode_httprpc::{amount_unsigned, codes, Arg, ArgType, CallContext, Command, RpcError};
use serde_json::{json, Map, Value};

use super::txjson::{self, hex};
use super::{
    async_cmd, block_not_found, blocking, chain, chain_ref, database_error, parse_hash, parse_txid, sync_cmd, ChainSlot,
};
use crate::chain::{deployments, BlockError, BlockInfo, Chain, REGTEST_BITS};

/// The note every tip long poll's help ends with.
macro_rules! wait_note {
    () => {
        "\n\nReturns the current block on timeout or exit.\n\nMake sure to use no RPC timeout (bitcoin-cli -rpcclienttimeout=0)"
    };
}

/// The blockchain commands.
pub(crate) fn commands(slot: &ChainSlot) -> Vec<Command> {
    let timeout = || {
        Arg::optional(
            "timeout",
            ArgType::Num,
            "(default=0) Time in milliseconds to wait for a response. 0 indicates no timeout.",
        )
    };
    vec![
        sync_cmd(slot, "blockchain", "getdifficulty", "Returns the proof-of-work difficulty as a multiple of the minimum difficulty.", getdifficulty)
            .result_help("Result:\nn    (numeric) the proof-of-work difficulty as a multiple of the minimum difficulty."),
        sync_cmd(slot, "blockchain", "getchaintips", "Return information about all known tips in the block tree, including the main chain as well as orphaned branches.", getchaintips),
        async_cmd(slot, "hidden", "syncwithvalidationinterfacequeue", "Waits for the validation interface queue to catch up on everything that was there when we entered this function.", syncwithvalidationinterfacequeue),
        async_cmd(slot, "blockchain", "getblockfilter", "Retrieve a BIP 157 content filter for a particular block.", getblockfilter)
            .arg(Arg::required("blockhash", ArgType::Str, "The hash of the block"))
            .arg(Arg::optional("filtertype", ArgType::Str, "(default=basic) The type name of the filter"))
            .result_help("Result:\n{                      (json object)\n  \"filter\" : \"hex\",    (string) the hex-encoded filter data\n  \"header\" : \"hex\"     (string) the hex-encoded filter header\n}"),
        sync_cmd(slot, "blockchain", "getblockcount", "Returns the height of the most-work fully-validated chain.\nThe genesis block has height 0.", getblockcount)
            .result_help("Result:\nn    (numeric) The current block count"),
        async_cmd(slot, "hidden", "invalidateblock", "Permanently marks a block as invalid, as if it violated a consensus rule.", invalidateblock)
            .arg(Arg::required("blockhash", ArgType::Str, "the hash of the block to mark as invalid")),
        async_cmd(slot, "hidden", "reconsiderblock", "Removes invalidity status of a block, its ancestors and its descendants, reconsider them for activation.\nThis can be used to undo the effects of invalidateblock.", reconsiderblock)
            .arg(Arg::required("blockhash", ArgType::Str, "the hash of the block to reconsider")),
        sync_cmd(slot, "blockchain", "getbestblockhash", "Returns the hash of the best (tip) block in the most-work fully-validated chain.", getbestblockhash)
            .result_help("Result:\n\"hex\"    (string) the block hash, hex-encoded"),
        sync_cmd(slot, "blockchain", "getblockhash", "Returns hash of block in best-block-chain at height provided.", getblockhash)
            .arg(Arg::required("height", ArgType::Num, "The height index"))
            .result_help("Result:\n\"hex\"    (string) The block hash"),
        sync_cmd(slot, "blockchain", "getblockheader", "If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'.\nIf verbose is true, returns an Object with information about blockheader <hash>.", getblockheader)
            .arg(Arg::required("blockhash", ArgType::Str, "The block hash"))
            .arg(Arg::optional("verbose", ArgType::Bool, "(default=true) true for a json object, false for the hex-encoded data")),
        async_cmd(slot, "blockchain", "getblock", "If verbosity is 0, returns a string that is serialized, hex-encoded data for block 'hash'.\nIf verbosity is 1, returns an Object with information about block <hash>.", getblock)
            .arg(Arg::required("blockhash", ArgType::Str, "The block hash"))
            .arg(Arg::optional("verbosity|verbose", ArgType::Any, "(default=1) 0 for hex-encoded data, 1 for a JSON object, 2 for JSON object with transaction data, and 3 for JSON object with transaction data including prevout information for inputs")),
        async_cmd(slot, "blockchain", "getblockchaininfo", "Returns an object containing various state info regarding blockchain processing.", getblockchaininfo),
        async_cmd(slot, "blockchain", "waitfornewblock", concat!("Waits for any new block and returns useful info about it.", wait_note!()), waitfornewblock)
            .arg(timeout())
            .arg(Arg::optional("current_tip", ArgType::Str, "Method waits for the chain tip to differ from this.")),
        async_cmd(slot, "blockchain", "waitforblock", concat!("Waits for a specific new block and returns useful info about it.", wait_note!()), waitforblock)
            .arg(Arg::required("blockhash", ArgType::Str, "Block hash to wait for."))
            .arg(timeout()),
        async_cmd(slot, "blockchain", "waitforblockheight", concat!("Waits for (at least) block height and returns the height and hash\nof the current tip.", wait_note!()), waitforblockheight)
            .arg(Arg::required("height", ArgType::Num, "Block height to wait for."))
            .arg(timeout()),
        async_cmd(slot, "blockchain", "getdeploymentinfo", "Returns an object containing various state info regarding deployments of consensus changes.\nConsensus changes for which the new rules are enforced from genesis are not listed in \"deployments\".", getdeploymentinfo)
            .arg(Arg::optional("blockhash", ArgType::Str, "(default=hash of current chain tip) The block hash at which to query deployment state")),
        async_cmd(slot, "blockchain", "gettxout", "Returns details about an unspent transaction output.", gettxout)
            .arg(Arg::required("txid", ArgType::Str, "The transaction id"))
            .arg(Arg::required("n", ArgType::Num, "vout number"))
            .arg(Arg::optional("include_mempool", ArgType::Bool, "(default=true) Whether to include the mempool (there is none yet)")),
        async_cmd(slot, "blockchain", "gettxoutsetinfo", "Returns statistics about the unspent transaction output set.\nNote this call may take some time.", gettxoutsetinfo)
            .arg(Arg::optional("hash_type", ArgType::Str, "(default=\"hash_serialized_3\") Which UTXO set hash should be calculated. Only \"none\" is supported yet."))
            .arg(Arg::optional("hash_or_height", ArgType::Any, "The block hash or height of the target height (not supported yet)"))
            .arg(Arg::optional("use_index", ArgType::Bool, "Use coinstatsindex, if available.")),
    ]
}

pub(crate) fn getdifficulty(slot: &ChainSlot, _: &[Value]) -> Result<Value, RpcError> {
    Ok(univalue_double(difficulty(chain_ref(slot)?.tip().header.bits.to_consensus())))
}

pub(crate) fn getchaintips(slot: &ChainSlot, _: &[Value]) -> Result<Value, RpcError> {
    let tips = chain_ref(slot)?.tips();
    Ok(Value::Array(
        tips.into_iter()
            .map(|(info, len, status)| {
                json!({"height": info.height, "hash": info.hash.to_string(), "branchlen": len, "status": status})
            })
            .collect(),
    ))
}

pub(crate) async fn syncwithvalidationinterfacequeue(
    slot: ChainSlot,
    _: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    // broadcast subscribers have every event already; sinks (ZMQ) are flushed
    blocking(&slot, |c| {
        c.flush_events();
        Ok(Value::Null)
    })
    .await
}

pub(crate) async fn getblockfilter(slot: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let hash = parse_hash(&p[0], "blockhash")?;
    let kind = match p.get(1) {
        None | Some(Value::Null) => "basic".to_owned(),
        Some(v) => v.as_str().unwrap_or_default().to_owned(),
    };
    if kind != "basic" {
        return Err(RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Unknown filtertype"));
    }
    blocking(&slot, move |c| {
        if !c.has_filter_index() {
            return Err(RpcError::misc(format!("Index is not enabled for filtertype {kind}")));
        }
        let info = c.info(&hash).ok_or_else(block_not_found)?;
        match c.block_filter(&hash).map_err(|e| RpcError::misc(e.to_string()))? {
            Some((mut header, filter)) => {
                header.reverse();
                Ok(json!({"filter": hex(&filter), "header": hex(&header)}))
            }
            // the index is built before warmup ends and kept in step with
            // the chain, so it is never behind
            None if !c.is_active(&info) => {
                Err(RpcError::misc("Filter not found. Block was not connected to active chain."))
            }
            None => Err(RpcError::misc("Filter not found. This error is unexpected and indicates index corruption.")),
        }
    })
    .await
}

pub(crate) fn getblockcount(slot: &ChainSlot, _: &[Value]) -> Result<Value, RpcError> {
    chain_ref(slot).map(|c| json!(c.height()))
}

pub(crate) async fn invalidateblock(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    mark_block(slot, &p, true).await
}

pub(crate) async fn reconsiderblock(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    mark_block(slot, &p, false).await
}

/// `invalidateblock` (`invalidate`) or `reconsiderblock`.
async fn mark_block(slot: ChainSlot, p: &[Value], invalidate: bool) -> Result<Value, RpcError> {
    let hash = parse_hash(&p[0], "blockhash")?;
    blocking(&slot, move |c| {
        let done = if invalidate { c.invalidate(&hash) } else { c.reconsider(&hash) };
        done.map(|()| Value::Null).map_err(|e| match e {
            BlockError::Invalid("Block not found") => block_not_found(),
            other => database_error(other),
        })
    })
    .await
}

pub(crate) fn getbestblockhash(slot: &ChainSlot, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(chain_ref(slot)?.tip().hash.to_string()))
}

pub(crate) fn getblockhash(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let height = p[0].as_i64().unwrap_or(-1);
    let c = chain_ref(slot)?;
    u32::try_from(height)
        .ok()
        .and_then(|h| c.hash_at(h))
        .map(|h| json!(h.to_string()))
        .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))
}

pub(crate) fn getblockheader(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let hash = parse_hash(&p[0], "hash")?;
    let verbose = p.get(1).and_then(Value::as_bool).unwrap_or(true);
    let c = chain_ref(slot)?;
    let info = c.info(&hash).ok_or_else(block_not_found)?;
    if verbose {
        Ok(Value::Object(header_json(c, &info)))
    } else {
        Ok(json!(serialize_hex(&info.header)))
    }
}

pub(crate) async fn getblock(slot: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let hash = parse_hash(&p[0], "blockhash")?;
    let verbosity = match p.get(1) {
        None | Some(Value::Null) => 1,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(v) => v.as_i64().unwrap_or(1),
    };
    blocking(&slot, move |c| {
        let info = c.info(&hash).ok_or_else(block_not_found)?;
        let bytes = c.block_bytes(&info).map_err(|_| RpcError::misc("Block not found on disk"))?;
        if verbosity <= 0 {
            return Ok(json!(hex(&bytes)));
        }
        let block: Block = deserialize(&bytes).map_err(|_| RpcError::misc("Block not found on disk"))?;
        let mut json = block_json(c, &info, &block);
        if verbosity >= 2 {
            json["tx"] = block_txs_json(c, &info, &block, verbosity >= 3);
        }
        Ok(json)
    })
    .await
}

/// `getblock`'s transactions at verbosity 2 and 3: Core shows fees (and with
/// 3, prevouts) when undo data is there.
fn block_txs_json(c: &Chain, info: &BlockInfo, block: &Block, prevouts: bool) -> Value {
    let undo = c.block_undo(info).ok();
    let txs = block.txdata.iter().enumerate().map(|(i, tx)| {
        let spent = if i == 0 { None } else { undo.as_ref().and_then(|u| u.get(i - 1)).map(Vec::as_slice) };
        txjson::tx_json(tx, None, true, spent, prevouts)
    });
    Value::Array(txs.collect())
}

pub(crate) async fn getblockchaininfo(
    slot: ChainSlot,
    _: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    blocking(&slot, |c| Ok(blockchain_info_json(c))).await
}

/// `getblockchaininfo`'s result (REST's `/rest/chaininfo` too).
pub(crate) fn blockchain_info_json(c: &Chain) -> Value {
    let tip = c.tip();
    let mut o = Map::new();
    o.insert("chain".into(), json!("regtest"));
    o.insert("blocks".into(), json!(tip.height));
    o.insert("headers".into(), json!(tip.height));
    o.insert("bestblockhash".into(), json!(tip.hash.to_string()));
    o.insert("bits".into(), json!(format!("{REGTEST_BITS:08x}")));
    o.insert("target".into(), json!(target_hex(REGTEST_BITS)));
    o.insert("difficulty".into(), univalue_double(difficulty(REGTEST_BITS)));
    o.insert("time".into(), json!(tip.header.time));
    o.insert("mediantime".into(), json!(c.median_time_past(&tip)));
    o.insert("verificationprogress".into(), json!(1));
    o.insert("initialblockdownload".into(), json!(c.initial_block_download()));
    o.insert("chainwork".into(), json!(chainwork_hex(tip.height)));
    o.insert("size_on_disk".into(), json!(c.size_on_disk()));
    o.insert("pruned".into(), json!(false));
    o.insert("warnings".into(), json!(c.warnings()));
    Value::Object(o)
}

pub(crate) async fn waitfornewblock(
    slot: ChainSlot,
    p: Vec<Value>,
    ctx: CallContext<'static>,
) -> Result<Value, RpcError> {
    let timeout = p.first().and_then(Value::as_i64).unwrap_or(0);
    let from = match p.get(1) {
        None | Some(Value::Null) => chain(&slot)?.tip().hash,
        Some(v) => parse_hash(v, "current_tip")?,
    };
    wait_for_tip(&slot, &ctx, timeout, |(h, _)| *h != from).await
}

pub(crate) async fn waitforblock(slot: ChainSlot, p: Vec<Value>, ctx: CallContext<'static>) -> Result<Value, RpcError> {
    let want = parse_hash(&p[0], "blockhash")?;
    let timeout = p.get(1).and_then(Value::as_i64).unwrap_or(0);
    wait_for_tip(&slot, &ctx, timeout, |(h, _)| *h == want).await
}

pub(crate) async fn waitforblockheight(
    slot: ChainSlot,
    p: Vec<Value>,
    ctx: CallContext<'static>,
) -> Result<Value, RpcError> {
    let want = p[0].as_i64().unwrap_or(0);
    let timeout = p.get(1).and_then(Value::as_i64).unwrap_or(0);
    wait_for_tip(&slot, &ctx, timeout, |(_, h)| i64::from(*h) >= want).await
}

pub(crate) async fn getdeploymentinfo(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let hash = match p.first() {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_hash(v, "blockhash")?),
    };
    blocking(&slot, move |c| {
        let info = match hash {
            None => c.tip(),
            Some(h) => c.info(&h).ok_or_else(block_not_found)?,
        };
        Ok(deployment_info_json(c, &info))
    })
    .await
}

/// `getdeploymentinfo`'s result for `info` (REST's `/rest/deploymentinfo` too).
pub(crate) fn deployment_info_json(c: &Chain, info: &BlockInfo) -> Value {
    let h = info.height;
    let mut deployments = Map::new();
    for (name, height) in deployments::BURIED {
        deployments.insert(name.into(), json!({"type": "buried", "active": h + 1 >= height, "height": height}));
    }
    let d = deployments::testdummy(c, info);
    let mut bip9 = Map::new();
    if d.statistics.is_some() {
        bip9.insert("bit".into(), json!(d.bit));
    }
    bip9.insert("start_time".into(), json!(0));
    bip9.insert("timeout".into(), json!(i64::MAX));
    bip9.insert("min_activation_height".into(), json!(0));
    bip9.insert("status".into(), json!(d.status));
    bip9.insert("since".into(), json!(d.since));
    bip9.insert("status_next".into(), json!(d.status_next));
    if let Some(st) = &d.statistics {
        let mut stats = Map::new();
        stats.insert("period".into(), json!(st.period));
        stats.insert("elapsed".into(), json!(st.elapsed));
        stats.insert("count".into(), json!(st.count));
        if let Some((threshold, possible)) = st.threshold {
            stats.insert("threshold".into(), json!(threshold));
            stats.insert("possible".into(), json!(possible));
        }
        bip9.insert("statistics".into(), Value::Object(stats));
        bip9.insert("signalling".into(), json!(st.signalling));
    }
    let mut rv = Map::new();
    rv.insert("type".into(), json!("bip9"));
    if let Some(a) = d.active_since {
        rv.insert("height".into(), json!(a));
    }
    rv.insert("active".into(), json!(d.active_since.is_some_and(|a| a <= h + 1)));
    rv.insert("bip9".into(), Value::Object(bip9));
    deployments.insert("testdummy".into(), Value::Object(rv));
    json!({
        "hash": info.hash.to_string(),
        "height": h,
        "script_flags": deployments::script_flags(h),
        "deployments": deployments,
    })
}

pub(crate) async fn gettxout(slot: ChainSlot, p: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    let txid = parse_txid(&p[0], "txid")?;
    let vout = u32::try_from(p[1].as_i64().unwrap_or(-1))
        .map_err(|_| RpcError::invalid_parameter("Invalid parameter, vout cannot be negative"))?;
    let include_mempool = p.get(2).and_then(Value::as_bool).unwrap_or(true);
    blocking(&slot, move |c| {
        let op = bitcoin::OutPoint { txid, vout };
        if include_mempool {
            if c.with_mempool(|m| m.spender(&op).is_some()) {
                return Ok(Value::Null);
            }
            let in_pool = c.with_mempool(|m| m.get(&txid).and_then(|e| e.tx.output.get(vout as usize).cloned()));
            if let Some(out) = in_pool {
                return Ok(txout_json(&c.tip().hash, 0, &out, false));
            }
        }
        let Some(coin) = c.coin(&op).map_err(database_error)? else { return Ok(Value::Null) };
        let tip = c.tip();
        Ok(txout_json(&tip.hash, tip.height - coin.height + 1, &coin.txout, coin.coinbase))
    })
    .await
}

/// One `gettxout` result.
fn txout_json(best: &BlockHash, confirmations: u32, out: &bitcoin::TxOut, coinbase: bool) -> Value {
    let mut o = Map::new();
    o.insert("bestblock".into(), json!(best.to_string()));
    o.insert("confirmations".into(), json!(confirmations));
    o.insert("value".into(), amount_unsigned(out.value.to_sat()));
    o.insert("scriptPubKey".into(), txjson::script_pubkey_json(&out.script_pubkey));
    o.insert("coinbase".into(), json!(coinbase));
    Value::Object(o)
}

pub(crate) async fn gettxoutsetinfo(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    match p.first().and_then(Value::as_str) {
        None | Some("none") => {}
        Some(other) => {
            return Err(RpcError::invalid_parameter(format!(
                "hash_type '{other}' is not supported yet by ferronode (only 'none')"
            )))
        }
    }
    blocking(&slot, |c| {
        let tip = c.tip();
        let coins = c.coins().map_err(database_error)?;
        let bogosize: u64 = coins.iter().map(|(_, coin)| 50 + coin.txout.script_pubkey.len() as u64).sum();
        let total: u64 = coins.iter().map(|(_, coin)| coin.txout.value.to_sat()).sum();
        let mut o = Map::new();
        o.insert("height".into(), json!(tip.height));
        o.insert("bestblock".into(), json!(tip.hash.to_string()));
        o.insert("txouts".into(), json!(coins.len()));
        o.insert("bogosize".into(), json!(bogosize));
        o.insert("total_amount".into(), amount_unsigned(total));
        Ok(Value::Object(o))
    })
    .await
}

/// Waits until `done` holds for the tip, the timeout (ms, 0 = none) passes
/// or RPC is interrupted; returns the tip then, as Core's long polls do.
async fn wait_for_tip(
    slot: &ChainSlot,
    ctx: &CallContext<'_>,
    timeout_ms: i64,
    done: impl Fn(&(BlockHash, u32)) -> bool,
) -> Result<Value, RpcError> {
    if timeout_ms < 0 {
        return Err(RpcError::misc("Negative timeout"));
    }
    let mut rx = chain(slot)?.subscribe_tip();
    let deadline = (timeout_ms > 0)
        .then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.unsigned_abs()));
    loop {
        let current = *rx.borrow_and_update();
        if done(&current) {
            break;
        }
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break },
            () = timer => break,
            () = ctx.interrupted() => break,
        }
    }
    let (hash, height) = *rx.borrow();
    Ok(json!({"hash": hash.to_string(), "height": height}))
}

/// Core's `GetDifficulty`.
pub(crate) fn difficulty(bits: u32) -> f64 {
    let mut shift = (bits >> 24) & 0xff;
    let mut diff = f64::from(0x0000_ffff) / f64::from(bits & 0x00ff_ffff);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

/// A double as UniValue prints it (`std::setprecision(16)`, like `%.16g`),
/// e.g. `4.656542373906925e-10`.
pub(crate) fn univalue_double(v: f64) -> Value {
    let sci = format!("{v:.15e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let text = if (-5..16).contains(&exp) {
        let decimals = usize::try_from(15 - exp).unwrap_or(0);
        let fixed = format!("{v:.decimals$}");
        if fixed.contains('.') {
            fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            fixed
        }
    } else {
        let m = if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The 256-bit target of `bits`, as 64 hex digits.
fn target_hex(bits: u32) -> String {
    let target = bitcoin::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits));
    hex(&target.to_be_bytes())
}

/// Work per regtest block is 2, so chain work is 2 × (height + 1).
fn chainwork_hex(height: u32) -> String {
    format!("{:064x}", 2 * (u128::from(height) + 1))
}

/// Core's `blockheaderToJSON`.
pub(crate) fn header_json(chain: &Chain, info: &BlockInfo) -> Map<String, Value> {
    let tip = chain.tip();
    let active = chain.is_active(info);
    let confirmations: i64 = if active { i64::from(tip.height) - i64::from(info.height) + 1 } else { -1 };
    let mut o = Map::new();
    o.insert("hash".into(), json!(info.hash.to_string()));
    o.insert("confirmations".into(), json!(confirmations));
    o.insert("height".into(), json!(info.height));
    let version = info.header.version.to_consensus();
    o.insert("version".into(), json!(version));
    o.insert("versionHex".into(), json!(format!("{version:08x}")));
    o.insert("merkleroot".into(), json!(info.header.merkle_root.to_string()));
    o.insert("time".into(), json!(info.header.time));
    o.insert("mediantime".into(), json!(chain.median_time_past(info)));
    o.insert("nonce".into(), json!(info.header.nonce));
    let bits = info.header.bits.to_consensus();
    o.insert("bits".into(), json!(format!("{bits:08x}")));
    o.insert("target".into(), json!(target_hex(bits)));
    o.insert("difficulty".into(), univalue_double(difficulty(bits)));
    o.insert("chainwork".into(), json!(chainwork_hex(info.height)));
    o.insert("nTx".into(), json!(info.n_tx));
    if info.height > 0 {
        o.insert("previousblockhash".into(), json!(info.header.prev_blockhash.to_string()));
    }
    if active {
        if let Some(next) = chain.hash_at(info.height + 1) {
            o.insert("nextblockhash".into(), json!(next.to_string()));
        }
    }
    o
}

/// Core's `blockToJSON` at verbosity 1 (transaction ids only).
pub(crate) fn block_json(chain: &Chain, info: &BlockInfo, block: &Block) -> Value {
    let mut o = header_json(chain, info);
    let stripped = bitcoin::consensus::encode::serialize(&block.header).len()
        + block.txdata.iter().map(bitcoin::Transaction::base_size).sum::<usize>()
        + bitcoin::consensus::encode::VarInt(block.txdata.len() as u64).size();
    o.insert("strippedsize".into(), json!(stripped));
    o.insert("size".into(), json!(info.size));
    o.insert("weight".into(), json!(block.weight().to_wu()));
    if let Some(cb) = block.txdata.first() {
        o.insert("coinbase_tx".into(), coinbase_json(cb));
    }
    o.insert("tx".into(), json!(block.txdata.iter().map(|t| t.compute_txid().to_string()).collect::<Vec<_>>()));
    Value::Object(o)
}

/// `getblock`'s `coinbase_tx` object.
fn coinbase_json(cb: &bitcoin::Transaction) -> Value {
    let vin = &cb.input[0];
    let mut c = Map::new();
    c.insert("version".into(), json!(cb.version.0));
    c.insert("locktime".into(), json!(cb.lock_time.to_consensus_u32()));
    c.insert("sequence".into(), json!(vin.sequence.0));
    c.insert("coinbase".into(), json!(hex(vin.script_sig.as_bytes())));
    if let Some(w) = vin.witness.iter().next() {
        c.insert("witness".into(), json!(hex(w)));
    }
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_univalue() {
        assert_eq!(univalue_double(difficulty(REGTEST_BITS)).to_string(), "4.656542373906925e-10");
        assert_eq!(univalue_double(1.0).to_string(), "1");
        assert_eq!(univalue_double(0.5).to_string(), "0.5");
        assert_eq!(univalue_double(123456.789).to_string(), "123456.789");
        assert_eq!(univalue_double(1e20).to_string(), "1e+20");
        assert_eq!(target_hex(REGTEST_BITS), format!("7fffff{}", "0".repeat(58)));
        assert_eq!(chainwork_hex(0), format!("{}2", "0".repeat(63)));
    }

    #[test]
    fn commands_answer_on_a_fresh_chain() {
        let dir = std::env::temp_dir().join(format!("ferronode-rpc-blockchain-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let slot = ChainSlot::default();
        let opened = Chain::open(&crate::chain::ChainConfig::new(&dir), None).expect("a fresh chain opens");
        slot.set(std::sync::Arc::new(opened)).expect("the slot is empty");
        assert_eq!(getblockcount(&slot, &[]).unwrap(), json!(0));
        let genesis = getbestblockhash(&slot, &[]).unwrap();
        assert_eq!(getblockhash(&slot, &[json!(0)]).unwrap(), genesis);
        let e = getblockhash(&slot, &[json!(1)]).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (codes::RPC_INVALID_PARAMETER, "Block height out of range"));
        let header = getblockheader(&slot, std::slice::from_ref(&genesis)).unwrap();
        assert_eq!(header["height"], json!(0));
        assert_eq!(header["confirmations"], json!(1));
        assert!(header.get("previousblockhash").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
