//! Core's mempool commands (src/rpc/mempool.cpp): the pool's contents and
//! limits, `sendrawtransaction` and `testmempoolaccept`.

use bitcoin::Transaction;
use ferronode_httprpc::{amount_unsigned, codes, Arg, ArgType, CallContext, Command, RpcError};
use serde_json::{json, Map, Value};

use super::{async_cmd, blocking, chain_ref, decode_tx, optional_amount, parse_txid, sync_cmd, ChainSlot};
use crate::chain::mempool::{Entry, Mempool};
use crate::chain::{Accepted, Chain, Reject, RejectKind, INCREMENTAL_RELAY_FEE};

/// Core's default `maxfeerate`, 0.10 BTC/kvB, in sat/kvB.
const DEFAULT_MAX_FEE_RATE: u64 = 10_000_000;

/// The mempool commands.
pub(crate) fn commands(slot: &ChainSlot) -> Vec<Command> {
    let txid = || Arg::required("txid", ArgType::Str, "The transaction id (must be in mempool)");
    let verbose = || {
        Arg::optional(
            "verbose",
            ArgType::Bool,
            "(default=false) True for a json object, false for array of transaction ids",
        )
    };
    let entry_help =
        "Returns mempool data for given transaction (getmempoolentry), or its in-mempool ancestors or descendants.";
    vec![
        async_cmd(slot, "rawtransactions", "sendrawtransaction", "Submit a raw transaction (serialized, hex-encoded) to local node and network.", sendrawtransaction)
            .arg(Arg::required("hexstring", ArgType::Str, "The hex string of the raw transaction"))
            .arg(Arg::optional("maxfeerate", ArgType::Amount, "(default=\"0.10\") Reject transactions whose fee rate is higher than the specified value, expressed in BTC/kvB."))
            .arg(Arg::optional("maxburnamount", ArgType::Amount, "(default=\"0.00\") Reject transactions with provably unspendable outputs (e.g. 'datacarrier' outputs that use the OP_RETURN opcode) greater than the specified value, expressed in BTC.")),
        async_cmd(slot, "rawtransactions", "testmempoolaccept", "Returns result of mempool acceptance tests indicating if raw transaction(s) (serialized, hex-encoded) would be accepted by mempool.", testmempoolaccept)
            .arg(Arg::required("rawtxs", ArgType::Arr, "An array of hex strings of raw transactions."))
            .arg(Arg::optional("maxfeerate", ArgType::Amount, "(default=\"0.10\") Reject transactions whose fee rate is higher than the specified value, expressed in BTC/kvB")),
        sync_cmd(slot, "blockchain", "getrawmempool", "Returns all transaction ids in memory pool as a json array of string transaction ids.", getrawmempool)
            .arg(Arg::optional("verbose", ArgType::Bool, "(default=false) True for a json object, false for array of transaction ids"))
            .arg(Arg::optional("mempool_sequence", ArgType::Bool, "(default=false) If verbose=false, returns a json object with transaction list and mempool sequence number attached.")),
        async_cmd(slot, "blockchain", "savemempool", "Dumps the mempool to disk. It will fail until the previous dump is fully loaded.", savemempool)
            .result_help("Result:\n{                    (json object)\n  \"filename\" : \"str\"    (string) the directory and file where the mempool was saved\n}"),
        sync_cmd(slot, "blockchain", "getmempoolinfo", "Returns details on the active state of the TX memory pool.", getmempoolinfo),
        sync_cmd(slot, "blockchain", "getmempoolentry", entry_help, getmempoolentry).arg(txid()),
        sync_cmd(slot, "blockchain", "getmempoolancestors", entry_help, getmempoolancestors).arg(txid()).arg(verbose()),
        sync_cmd(slot, "blockchain", "getmempooldescendants", entry_help, getmempooldescendants).arg(txid()).arg(verbose()),
    ]
}

pub(crate) async fn sendrawtransaction(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let tx = decode_tx(p[0].as_str().unwrap_or("")).map_err(|_| {
        RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input.")
    })?;
    let max_rate = optional_amount(&p, 1, DEFAULT_MAX_FEE_RATE)?;
    let max_burn = optional_amount(&p, 2, 0)?;
    let burns = |o: &bitcoin::TxOut| o.script_pubkey.is_op_return() || o.script_pubkey.len() > 10_000;
    if tx.output.iter().any(|o| burns(o) && o.value.to_sat() > max_burn) {
        return Err(RpcError::new(
            codes::RPC_VERIFY_ERROR,
            "Unspendable output exceeds maximum configured by user (maxburnamount)",
        ));
    }
    blocking(&slot, move |c| {
        let txid = tx.compute_txid();
        if c.with_mempool(|m| m.get(&txid).is_some()) {
            return Ok(json!(txid.to_string()));
        }
        let probe = c.accept(&tx, true).map_err(|r| reject_error(&r))?;
        if exceeds_max_rate(&probe, max_rate) {
            return Err(RpcError::new(
                codes::RPC_VERIFY_ERROR,
                "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
            ));
        }
        let ok = c.accept(&tx, false).map_err(|r| reject_error(&r))?;
        Ok(json!(ok.txid.to_string()))
    })
    .await
}

/// Whether an accepted transaction pays more than `max_rate` sat/kvB (0: no limit).
fn exceeds_max_rate(a: &Accepted, max_rate: u64) -> bool {
    max_rate > 0 && a.fee > max_rate * a.vsize / 1000
}

pub(crate) async fn testmempoolaccept(
    slot: ChainSlot,
    p: Vec<Value>,
    _: CallContext<'static>,
) -> Result<Value, RpcError> {
    let raws = p[0].as_array().cloned().unwrap_or_default();
    if raws.is_empty() || raws.len() > 25 {
        return Err(RpcError::invalid_parameter("Array must contain between 1 and 25 transactions."));
    }
    let max_rate = optional_amount(&p, 1, DEFAULT_MAX_FEE_RATE)?;
    let mut txs = Vec::new();
    for r in &raws {
        let text = r.as_str().unwrap_or("");
        txs.push(decode_tx(text).map_err(|_| {
            RpcError::new(
                codes::RPC_DESERIALIZATION_ERROR,
                format!("TX decode failed: {text} Make sure the tx has at least one input."),
            )
        })?);
    }
    blocking(&slot, move |c| Ok(Value::Array(txs.iter().map(|tx| test_accept_json(c, tx, max_rate)).collect()))).await
}

/// One element of `testmempoolaccept`'s result.
fn test_accept_json(c: &Chain, tx: &Transaction, max_rate: u64) -> Value {
    let mut o = Map::new();
    o.insert("txid".into(), json!(tx.compute_txid().to_string()));
    o.insert("wtxid".into(), json!(tx.compute_wtxid().to_string()));
    match c.accept(tx, true) {
        Ok(a) if exceeds_max_rate(&a, max_rate) => {
            o.insert("allowed".into(), json!(false));
            o.insert("reject-reason".into(), json!("max-fee-exceeded"));
        }
        Ok(a) => {
            o.insert("allowed".into(), json!(true));
            o.insert("vsize_adjusted".into(), json!(a.vsize));
            o.insert("vsize".into(), json!(a.vsize));
            o.insert("vsize_bip141".into(), json!(a.vsize));
            o.insert(
                "fees".into(),
                json!({
                    "base": amount_unsigned(a.fee),
                    "effective-feerate": amount_unsigned(a.fee * 1000 / a.vsize.max(1)),
                    "effective-includes": [a.wtxid.to_string()],
                }),
            );
        }
        Err(r) => {
            o.insert("allowed".into(), json!(false));
            if r.kind == RejectKind::MissingInputs {
                o.insert("reject-reason".into(), json!("missing-inputs"));
            } else {
                o.insert("reject-reason".into(), json!(r.reason));
                o.insert("reject-details".into(), json!(r.details));
            }
        }
    }
    Value::Object(o)
}

pub(crate) fn getrawmempool(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let verbose = p.first().and_then(Value::as_bool).unwrap_or(false);
    let with_seq = p.get(1).and_then(Value::as_bool).unwrap_or(false);
    if verbose && with_seq {
        return Err(RpcError::invalid_parameter("Verbose results cannot contain mempool sequence values."));
    }
    chain_ref(slot)?.with_mempool(|m| {
        if verbose {
            return Ok(verbose_entries(m, m.entries().iter().map(|e| e.txid)));
        }
        let ids: Vec<String> = m.entries().iter().map(|e| e.txid.to_string()).collect();
        if with_seq {
            Ok(json!({"txids": ids, "mempool_sequence": m.sequence()}))
        } else {
            Ok(json!(ids))
        }
    })
}

pub(crate) async fn savemempool(slot: ChainSlot, _: Vec<Value>, _: CallContext<'static>) -> Result<Value, RpcError> {
    blocking(&slot, |c| {
        let path = c.save_mempool().map_err(|_| RpcError::misc("Unable to dump mempool to disk"))?;
        Ok(json!({"filename": path.display().to_string()}))
    })
    .await
}

pub(crate) fn getmempoolinfo(slot: &ChainSlot, _: &[Value]) -> Result<Value, RpcError> {
    Ok(mempool_info_json(chain_ref(slot)?))
}

/// `getmempoolinfo`'s result (REST's `/rest/mempool/info` too).
pub(crate) fn mempool_info_json(c: &Chain) -> Value {
    let min = c.min_relay_fee();
    let (max_mempool, pool_min) = c.mempool_limits();
    c.with_mempool(|m| {
        let (bytes, fees, usage) = m.totals();
        json!({
            "loaded": true,
            "size": m.len(),
            "bytes": bytes,
            "usage": usage,
            "total_fee": amount_unsigned(fees),
            "maxmempool": max_mempool,
            "mempoolminfee": amount_unsigned(min.max(pool_min)),
            "minrelaytxfee": amount_unsigned(min),
            "incrementalrelayfee": amount_unsigned(INCREMENTAL_RELAY_FEE),
            "unbroadcastcount": 0,
            "permitbaremultisig": true,
            "maxdatacarriersize": 100_000,
            "limitclustercount": 64,
            "limitclustersize": 101_000,
            "optimal": true,
        })
    })
}

pub(crate) fn getmempoolentry(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let txid = parse_txid(&p[0], "txid")?;
    chain_ref(slot)?.with_mempool(|m| Ok(mempool_entry_json(m, in_pool(m, &txid)?)))
}

pub(crate) fn getmempoolancestors(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    relatives(slot, p, Mempool::ancestors)
}

pub(crate) fn getmempooldescendants(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    relatives(slot, p, Mempool::descendants)
}

/// `getmempoolancestors` or `getmempooldescendants`, as `which` finds them.
fn relatives(
    slot: &ChainSlot,
    p: &[Value],
    which: fn(&Mempool, &bitcoin::Txid) -> Vec<bitcoin::Txid>,
) -> Result<Value, RpcError> {
    let txid = parse_txid(&p[0], "txid")?;
    let verbose = p.get(1).and_then(Value::as_bool).unwrap_or(false);
    chain_ref(slot)?.with_mempool(|m| {
        in_pool(m, &txid)?;
        let ids = which(m, &txid);
        if verbose {
            Ok(verbose_entries(m, ids.into_iter()))
        } else {
            Ok(json!(ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
        }
    })
}

fn in_pool<'m>(m: &'m Mempool, txid: &bitcoin::Txid) -> Result<&'m Entry, RpcError> {
    m.get(txid).ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool"))
}

/// The verbose form: txid to entry, for the given pool transactions.
fn verbose_entries(m: &Mempool, ids: impl Iterator<Item = bitcoin::Txid>) -> Value {
    let o: Map<String, Value> =
        ids.filter_map(|t| m.get(&t)).map(|x| (x.txid.to_string(), mempool_entry_json(m, x))).collect();
    Value::Object(o)
}

/// Core's error for a transaction the pool refused.
fn reject_error(r: &Reject) -> RpcError {
    match r.kind {
        RejectKind::MissingInputs => RpcError::new(codes::RPC_VERIFY_ERROR, r.details.clone()),
        RejectKind::Rejected => RpcError::new(codes::RPC_VERIFY_REJECTED, r.details.clone()),
        RejectKind::AlreadyInUtxoSet => {
            RpcError::new(codes::RPC_VERIFY_ALREADY_IN_UTXO_SET, "Transaction outputs already in utxo set")
        }
    }
}

/// Core's `entryToJSON` for one pool entry.
pub(crate) fn mempool_entry_json(pool: &Mempool, e: &Entry) -> Value {
    let anc = pool.ancestors(&e.txid);
    let desc = pool.descendants(&e.txid);
    let sum = |ids: &[bitcoin::Txid], f: &dyn Fn(&Entry) -> u64| -> u64 {
        ids.iter().filter_map(|t| pool.get(t)).map(f).sum::<u64>()
    };
    let mut o = Map::new();
    o.insert("vsize_adjusted".into(), json!(e.vsize));
    o.insert("vsize".into(), json!(e.vsize));
    o.insert("vsize_bip141".into(), json!(e.vsize));
    o.insert("weight".into(), json!(e.weight));
    o.insert("time".into(), json!(e.time));
    o.insert("height".into(), json!(e.height));
    o.insert("descendantcount".into(), json!(desc.len() + 1));
    o.insert("descendantsize".into(), json!(e.vsize + sum(&desc, &|x| x.vsize)));
    o.insert("ancestorcount".into(), json!(anc.len() + 1));
    o.insert("ancestorsize".into(), json!(e.vsize + sum(&anc, &|x| x.vsize)));
    o.insert("wtxid".into(), json!(e.wtxid.to_string()));
    o.insert("chunkweight".into(), json!(e.weight));
    o.insert(
        "fees".into(),
        json!({
            "base": amount_unsigned(e.fee),
            "modified": amount_unsigned(e.fee),
            "ancestor": amount_unsigned(e.fee + sum(&anc, &|x| x.fee)),
            "descendant": amount_unsigned(e.fee + sum(&desc, &|x| x.fee)),
            "chunk": amount_unsigned(e.fee),
        }),
    );
    o.insert("depends".into(), json!(pool.parents(e).iter().map(ToString::to_string).collect::<Vec<_>>()));
    o.insert("spentby".into(), json!(pool.children(&e.txid).iter().map(ToString::to_string).collect::<Vec<_>>()));
    o.insert("unbroadcast".into(), json!(false));
    Value::Object(o)
}
