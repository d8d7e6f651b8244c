//! The chain's RPC commands, with Core's field names, order and errors.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::hashes::Hash as _;
use bitcoin::{Address, Block, BlockHash};
use ferronode_httprpc::{codes, Arg, ArgType, Command, RpcError, RpcTable};
use serde_json::{json, Map, Value};

use super::txjson::{hex, parse_hex};
use super::{BlockError, BlockInfo, Chain, REGTEST_BITS};

/// `getnetworkinfo`'s version: ferronode 0.1.0 in Core's encoding.
pub const CLIENT_VERSION: u32 = 100;

/// The chain is set once init has loaded it; commands only run after
/// warmup, so it is always there when they run.
pub type ChainSlot = Arc<OnceLock<Arc<Chain>>>;

fn chain(slot: &ChainSlot) -> Result<Arc<Chain>, RpcError> {
    chain_ref(slot).cloned()
}

/// The chain, borrowed, for commands that finish before they return.
fn chain_ref(slot: &ChainSlot) -> Result<&Arc<Chain>, RpcError> {
    slot.get().ok_or_else(|| RpcError::new(codes::RPC_IN_WARMUP, "Loading block index…"))
}

/// Runs blocking chain work off the async workers.
async fn blocking<T: Send + 'static>(
    slot: &ChainSlot,
    f: impl FnOnce(&Chain) -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    let chain = chain(slot)?;
    tokio::task::spawn_blocking(move || f(&chain)).await.map_err(|e| RpcError::misc(e.to_string()))?
}

fn parse_hash(v: &Value, name: &str) -> Result<BlockHash, RpcError> {
    let s = v.as_str().unwrap_or("");
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RpcError::invalid_parameter(format!("{name} must be of length 64 (not {}, for '{s}')", s.len())));
    }
    BlockHash::from_str(s)
        .map_err(|_| RpcError::invalid_parameter(format!("{name} must be hexadecimal string (not '{s}')")))
}

fn decode_tx(hexstr: &str) -> Result<bitcoin::Transaction, RpcError> {
    parse_hex(hexstr)
        .and_then(|b| deserialize(&b).ok())
        .ok_or_else(|| RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "TX decode failed"))
}

/// What Core answers when a mined block cannot be stored.
/// The output script of a regtest address.
fn regtest_script(text: &str) -> Option<bitcoin::ScriptBuf> {
    Address::from_str(text).ok()?.require_network(bitcoin::Network::Regtest).ok().map(|a| a.script_pubkey())
}

/// Mines up to `n` blocks to `script` (`generatetoaddress`,
/// `generatetodescriptor`); returns their hashes.
async fn generate(slot: &ChainSlot, script: bitcoin::ScriptBuf, n: i64, max_tries: u64) -> Result<Value, RpcError> {
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

fn mining_error(e: BlockError) -> RpcError {
    match e {
        BlockError::Store(_) | BlockError::Duplicate | BlockError::Invalid("duplicate-invalid") => {
            RpcError::new(codes::RPC_INTERNAL_ERROR, "ProcessNewBlock, block not accepted")
        }
        other => RpcError::misc(other.to_string()),
    }
}

fn block_not_found() -> RpcError {
    RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
}

/// Core's `GetDifficulty`.
fn difficulty(bits: u32) -> f64 {
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
fn univalue_double(v: f64) -> Value {
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
    target.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Work per regtest block is 2, so chain work is 2 × (height + 1).
fn chainwork_hex(height: u32) -> String {
    format!("{:064x}", 2 * (u128::from(height) + 1))
}

fn header_json(chain: &Chain, info: &BlockInfo) -> Map<String, Value> {
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

fn block_json(chain: &Chain, info: &BlockInfo, block: &Block) -> Value {
    let mut o = header_json(chain, info);
    let stripped = bitcoin::consensus::encode::serialize(&block.header).len()
        + block.txdata.iter().map(Block::base_size_of_tx).sum::<usize>()
        + bitcoin::consensus::encode::VarInt(block.txdata.len() as u64).size();
    o.insert("strippedsize".into(), json!(stripped));
    o.insert("size".into(), json!(info.size));
    o.insert("weight".into(), json!(block.weight().to_wu()));
    if let Some(cb) = block.txdata.first() {
        let vin = &cb.input[0];
        let mut c = Map::new();
        c.insert("version".into(), json!(cb.version.0));
        c.insert("locktime".into(), json!(cb.lock_time.to_consensus_u32()));
        c.insert("sequence".into(), json!(vin.sequence.0));
        c.insert("coinbase".into(), json!(hex(vin.script_sig.as_bytes())));
        if let Some(w) = vin.witness.iter().next() {
            c.insert("witness".into(), json!(hex(w)));
        }
        o.insert("coinbase_tx".into(), Value::Object(c));
    }
    o.insert("tx".into(), json!(block.txdata.iter().map(|t| t.compute_txid().to_string()).collect::<Vec<_>>()));
    Value::Object(o)
}

/// Tiny extension used by `block_json` for Core's `strippedsize`.
trait BaseSize {
    fn base_size_of_tx(tx: &bitcoin::Transaction) -> usize;
}

impl BaseSize for Block {
    fn base_size_of_tx(tx: &bitcoin::Transaction) -> usize {
        tx.base_size()
    }
}

/// What `getnetworkinfo` reports about this node (see `crate::p2p`).
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// The BIP14 user agent, with `-uacomment`s.
    pub subversion: String,
}

/// Waits until `done` holds for the tip, the timeout (ms, 0 = none) passes
/// or RPC is interrupted; returns the tip then, as Core's long polls do.
async fn wait_for_tip(
    slot: &ChainSlot,
    ctx: &ferronode_httprpc::CallContext<'_>,
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

/// Core's `AmountFromValue`: a JSON number or string in BTC with at most
/// eight decimals, as satoshis.
fn amount_sats(v: &Value) -> Result<u64, RpcError> {
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
        .filter(|s| *s <= 21_000_000 * 100_000_000)
        .ok_or_else(|| RpcError::type_error("Amount out of range"))
}

fn reject_error(r: &super::Reject) -> RpcError {
    match r.kind {
        super::RejectKind::MissingInputs => RpcError::new(codes::RPC_VERIFY_ERROR, r.details.clone()),
        super::RejectKind::Rejected => RpcError::new(codes::RPC_VERIFY_REJECTED, r.details.clone()),
        super::RejectKind::AlreadyInUtxoSet => {
            RpcError::new(codes::RPC_VERIFY_ALREADY_IN_UTXO_SET, "Transaction outputs already in utxo set")
        }
    }
}

/// Core's `entryToJSON` for one pool entry.
fn mempool_entry_json(pool: &super::mempool::Mempool, e: &super::mempool::Entry) -> Value {
    let amount = |s: u64| ferronode_httprpc::amount(i64::try_from(s).unwrap_or(i64::MAX));
    let anc = pool.ancestors(&e.txid);
    let desc = pool.descendants(&e.txid);
    let sum = |ids: &[bitcoin::Txid], f: &dyn Fn(&super::mempool::Entry) -> u64| -> u64 {
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
            "base": amount(e.fee),
            "modified": amount(e.fee),
            "ancestor": amount(e.fee + sum(&anc, &|x| x.fee)),
            "descendant": amount(e.fee + sum(&desc, &|x| x.fee)),
            "chunk": amount(e.fee),
        }),
    );
    o.insert("depends".into(), json!(pool.parents(e).iter().map(ToString::to_string).collect::<Vec<_>>()));
    o.insert("spentby".into(), json!(pool.children(&e.txid).iter().map(ToString::to_string).collect::<Vec<_>>()));
    o.insert("unbroadcast".into(), json!(false));
    Value::Object(o)
}

/// Adds the mempool commands to `table`.
#[allow(clippy::too_many_lines)] // one table of commands
fn register_mempool_commands(table: &mut RpcTable, slot: &ChainSlot) {
    let s = slot.clone();
    table.add(
        Command::new("rawtransactions", "sendrawtransaction", "Submit a raw transaction (serialized, hex-encoded) to local node and network.", move |p, _| {
            let s = s.clone();
            async move {
                let tx = decode_tx(p[0].as_str().unwrap_or(""))
                    .map_err(|_| RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input."))?;
                let max_rate = match p.get(1) { None | Some(Value::Null) => 10_000_000, Some(v) => amount_sats(v)? };
                let max_burn = match p.get(2) { None | Some(Value::Null) => 0, Some(v) => amount_sats(v)? };
                if tx.output.iter().any(|o| (o.script_pubkey.is_op_return() || o.script_pubkey.len() > 10_000) && o.value.to_sat() > max_burn) {
                    return Err(RpcError::new(codes::RPC_VERIFY_ERROR, "Unspendable output exceeds maximum configured by user (maxburnamount)"));
                }
                blocking(&s, move |c| {
                    let txid = tx.compute_txid();
                    if c.with_mempool(|m| m.get(&txid).is_some()) {
                        return Ok(json!(txid.to_string()));
                    }
                    let probe = c.accept(&tx, true).map_err(|r| reject_error(&r))?;
                    if max_rate > 0 && probe.fee > max_rate * probe.vsize / 1000 {
                        return Err(RpcError::new(codes::RPC_VERIFY_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"));
                    }
                    let ok = c.accept(&tx, false).map_err(|r| reject_error(&r))?;
                    Ok(json!(ok.txid.to_string()))
                })
                .await
            }
        })
        .arg(Arg::required("hexstring", ArgType::Str, "The hex string of the raw transaction"))
        .arg(Arg::optional("maxfeerate", ArgType::Amount, "(default=\"0.10\") Reject transactions whose fee rate is higher than the specified value, expressed in BTC/kvB."))
        .arg(Arg::optional("maxburnamount", ArgType::Amount, "(default=\"0.00\") Reject transactions with provably unspendable outputs (e.g. 'datacarrier' outputs that use the OP_RETURN opcode) greater than the specified value, expressed in BTC.")),
    );
    let s = slot.clone();
    table.add(
        Command::new("rawtransactions", "testmempoolaccept", "Returns result of mempool acceptance tests indicating if raw transaction(s) (serialized, hex-encoded) would be accepted by mempool.", move |p, _| {
            let s = s.clone();
            async move {
                let raws = p[0].as_array().cloned().unwrap_or_default();
                if raws.is_empty() || raws.len() > 25 {
                    return Err(RpcError::invalid_parameter("Array must contain between 1 and 25 transactions."));
                }
                let max_rate = match p.get(1) { None | Some(Value::Null) => 10_000_000, Some(v) => amount_sats(v)? };
                let mut txs = Vec::new();
                for r in &raws {
                    txs.push(decode_tx(r.as_str().unwrap_or("")).map_err(|_| {
                        RpcError::new(codes::RPC_DESERIALIZATION_ERROR, format!("TX decode failed: {} Make sure the tx has at least one input.", r.as_str().unwrap_or("")))
                    })?);
                }
                blocking(&s, move |c| {
                    let out: Vec<Value> = txs
                        .iter()
                        .map(|tx| {
                            let mut o = Map::new();
                            o.insert("txid".into(), json!(tx.compute_txid().to_string()));
                            o.insert("wtxid".into(), json!(tx.compute_wtxid().to_string()));
                            match c.accept(tx, true) {
                                Ok(a) if max_rate > 0 && a.fee > max_rate * a.vsize / 1000 => {
                                    o.insert("allowed".into(), json!(false));
                                    o.insert("reject-reason".into(), json!("max-fee-exceeded"));
                                }
                                Ok(a) => {
                                    o.insert("allowed".into(), json!(true));
                                    o.insert("vsize_adjusted".into(), json!(a.vsize));
                                    o.insert("vsize".into(), json!(a.vsize));
                                    o.insert("vsize_bip141".into(), json!(a.vsize));
                                    o.insert("fees".into(), json!({
                                        "base": ferronode_httprpc::amount(i64::try_from(a.fee).unwrap_or(0)),
                                        "effective-feerate": ferronode_httprpc::amount(i64::try_from(a.fee * 1000 / a.vsize.max(1)).unwrap_or(0)),
                                        "effective-includes": [a.wtxid.to_string()],
                                    }));
                                }
                                Err(r) => {
                                    o.insert("allowed".into(), json!(false));
                                    if r.kind == super::RejectKind::MissingInputs {
                                        o.insert("reject-reason".into(), json!("missing-inputs"));
                                    } else {
                                        o.insert("reject-reason".into(), json!(r.reason));
                                        o.insert("reject-details".into(), json!(r.details));
                                    }
                                }
                            }
                            Value::Object(o)
                        })
                        .collect();
                    Ok(Value::Array(out))
                })
                .await
            }
        })
        .arg(Arg::required("rawtxs", ArgType::Arr, "An array of hex strings of raw transactions."))
        .arg(Arg::optional("maxfeerate", ArgType::Amount, "(default=\"0.10\") Reject transactions whose fee rate is higher than the specified value, expressed in BTC/kvB")),
    );
    let s = slot.clone();
    table.add(
        Command::sync("blockchain", "getrawmempool", "Returns all transaction ids in memory pool as a json array of string transaction ids.", move |p, _| {
            let verbose = p.first().and_then(Value::as_bool).unwrap_or(false);
            let with_seq = p.get(1).and_then(Value::as_bool).unwrap_or(false);
            if verbose && with_seq {
                return Err(RpcError::invalid_parameter("Verbose results cannot contain mempool sequence values."));
            }
            chain(&s)?.with_mempool(|m| {
                if verbose {
                    let o: Map<String, Value> = m.entries().into_iter().map(|e| (e.txid.to_string(), mempool_entry_json(m, e))).collect();
                    return Ok(Value::Object(o));
                }
                let ids: Vec<String> = m.entries().iter().map(|e| e.txid.to_string()).collect();
                if with_seq {
                    Ok(json!({"txids": ids, "mempool_sequence": m.sequence()}))
                } else {
                    Ok(json!(ids))
                }
            })
        })
        .arg(Arg::optional("verbose", ArgType::Bool, "(default=false) True for a json object, false for array of transaction ids"))
        .arg(Arg::optional("mempool_sequence", ArgType::Bool, "(default=false) If verbose=false, returns a json object with transaction list and mempool sequence number attached.")),
    );
    let s = slot.clone();
    table.add(
        Command::new("blockchain", "savemempool", "Dumps the mempool to disk. It will fail until the previous dump is fully loaded.", move |_, _| {
            let s = s.clone();
            async move {
                blocking(&s, |c| {
                    let path = c.save_mempool().map_err(|_| RpcError::misc("Unable to dump mempool to disk"))?;
                    Ok(json!({"filename": path.display().to_string()}))
                })
                .await
            }
        })
        .result_help("Result:\n{                    (json object)\n  \"filename\" : \"str\"    (string) the directory and file where the mempool was saved\n}"),
    );
    let s = slot.clone();
    table.add(Command::sync(
        "blockchain",
        "getmempoolinfo",
        "Returns details on the active state of the TX memory pool.",
        move |_, _| {
            let c = chain(&s)?;
            let min = c.min_relay_fee();
            let (max_mempool, pool_min) = c.mempool_limits();
            c.with_mempool(|m| {
                let (bytes, fees, usage) = m.totals();
                let amount = |x: u64| ferronode_httprpc::amount(i64::try_from(x).unwrap_or(i64::MAX));
                Ok(json!({
                    "loaded": true,
                    "size": m.len(),
                    "bytes": bytes,
                    "usage": usage,
                    "total_fee": amount(fees),
                    "maxmempool": max_mempool,
                    "mempoolminfee": amount(min.max(pool_min)),
                    "minrelaytxfee": amount(min),
                    "incrementalrelayfee": amount(super::INCREMENTAL_RELAY_FEE),
                    "unbroadcastcount": 0,
                    "permitbaremultisig": true,
                    "maxdatacarriersize": 100_000,
                    "limitclustercount": 64,
                    "limitclustersize": 101_000,
                    "optimal": true,
                }))
            })
        },
    ));
    for (name, what) in [("getmempoolentry", 0), ("getmempoolancestors", 1), ("getmempooldescendants", 2)] {
        let s = slot.clone();
        let mut cmd = Command::sync(
            "blockchain",
            name,
            "Returns mempool data for given transaction (getmempoolentry), or its in-mempool ancestors or descendants.",
            move |p, _| {
                let txid = parse_hash(&p[0], "txid").map(|h| bitcoin::Txid::from_byte_array(h.to_byte_array()))?;
                let verbose = p.get(1).and_then(Value::as_bool).unwrap_or(false);
                chain(&s)?.with_mempool(|m| {
                    let e = m.get(&txid).ok_or_else(|| {
                        RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
                    })?;
                    if what == 0 {
                        return Ok(mempool_entry_json(m, e));
                    }
                    let ids = if what == 1 { m.ancestors(&txid) } else { m.descendants(&txid) };
                    if verbose {
                        let o: Map<String, Value> = ids
                            .iter()
                            .filter_map(|t| m.get(t))
                            .map(|x| (x.txid.to_string(), mempool_entry_json(m, x)))
                            .collect();
                        Ok(Value::Object(o))
                    } else {
                        Ok(json!(ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
                    }
                })
            },
        )
        .arg(Arg::required("txid", ArgType::Str, "The transaction id (must be in mempool)"));
        if what != 0 {
            cmd = cmd.arg(Arg::optional(
                "verbose",
                ArgType::Bool,
                "(default=false) True for a json object, false for array of transaction ids",
            ));
        }
        table.add(cmd);
    }
}

/// Adds the chain commands to `table`.
#[allow(clippy::too_many_lines)] // one table of commands
pub fn register_chain_commands(table: &mut RpcTable, slot: &ChainSlot) {
    register_mempool_commands(table, slot);
    let s = slot.clone();
    table.add(
        Command::sync(
            "blockchain",
            "getdifficulty",
            "Returns the proof-of-work difficulty as a multiple of the minimum difficulty.",
            move |_, _| Ok(univalue_double(difficulty(chain(&s)?.tip().header.bits.to_consensus()))),
        )
        .result_help("Result:\nn    (numeric) the proof-of-work difficulty as a multiple of the minimum difficulty."),
    );
    let s = slot.clone();
    table.add(
        Command::sync("blockchain", "getchaintips", "Return information about all known tips in the block tree, including the main chain as well as orphaned branches.", move |_, _| {
            let tips = chain(&s)?.tips();
            Ok(Value::Array(
                tips.into_iter()
                    .map(|(info, len, status)| {
                        json!({"height": info.height, "hash": info.hash.to_string(), "branchlen": len, "status": status})
                    })
                    .collect(),
            ))
        }),
    );
    let s = slot.clone();
    table.add(Command::new(
        "hidden",
        "syncwithvalidationinterfacequeue",
        "Waits for the validation interface queue to catch up on everything that was there when we entered this function.",
        move |_, _| {
            let s = s.clone();
            async move {
                // broadcast subscribers have every event already; sinks
                // (ZMQ) are flushed
                blocking(&s, |c| {
                    c.flush_events();
                    Ok(Value::Null)
                })
                .await
            }
        },
    ));
    let s = slot.clone();
    table.add(
        Command::sync(
            "util",
            "getindexinfo",
            "Returns the status of one or all available indices currently running in the node.",
            move |p, _| {
                let c = chain(&s)?;
                let mut o = Map::new();
                let wanted = p.first().and_then(Value::as_str).map(str::to_owned);
                if c.has_txindex() && wanted.as_deref().is_none_or(|w| w == "txindex") {
                    o.insert("txindex".into(), json!({"synced": true, "best_block_height": c.height()}));
                }
                let name = "basic block filter index";
                if c.has_filter_index() && wanted.as_deref().is_none_or(|w| w == name) {
                    o.insert(name.into(), json!({"synced": true, "best_block_height": c.height()}));
                }
                Ok(Value::Object(o))
            },
        )
        .arg(Arg::optional("index_name", ArgType::Str, "Filter results for an index with a specific name.")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "getblockfilter",
            "Retrieve a BIP 157 content filter for a particular block.",
            move |p, _| {
                let s = s.clone();
                async move {
                    let hash = parse_hash(&p[0], "blockhash")?;
                    let kind = match p.get(1) {
                        None | Some(Value::Null) => "basic".to_owned(),
                        Some(v) => v.as_str().unwrap_or_default().to_owned(),
                    };
                    if kind != "basic" {
                        return Err(RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Unknown filtertype"));
                    }
                    blocking(&s, move |c| {
                        if !c.has_filter_index() {
                            return Err(RpcError::misc(format!("Index is not enabled for filtertype {kind}")));
                        }
                        let info = c.info(&hash).ok_or_else(block_not_found)?;
                        match c.block_filter(&hash).map_err(|e| RpcError::misc(e.to_string()))? {
                            Some((mut header, filter)) => {
                                header.reverse();
                                Ok(json!({"filter": hex(&filter), "header": hex(&header)}))
                            }
                            // the index is built before warmup ends and kept in
                            // step with the chain, so it is never behind
                            None if !c.is_active(&info) => {
                                Err(RpcError::misc("Filter not found. Block was not connected to active chain."))
                            }
                            None => Err(RpcError::misc(
                                "Filter not found. This error is unexpected and indicates index corruption.",
                            )),
                        }
                    })
                    .await
                }
            },
        )
        .arg(Arg::required("blockhash", ArgType::Str, "The hash of the block"))
        .arg(Arg::optional("filtertype", ArgType::Str, "(default=basic) The type name of the filter"))
        .result_help("Result:\n{                      (json object)\n  \"filter\" : \"hex\",    (string) the hex-encoded filter data\n  \"header\" : \"hex\"     (string) the hex-encoded filter header\n}"),
    );
    let s = slot.clone();
    table.add(
        Command::sync(
            "blockchain",
            "getblockcount",
            "Returns the height of the most-work fully-validated chain.\nThe genesis block has height 0.",
            move |_, _| chain_ref(&s).map(|c| json!(c.height())),
        )
        .result_help("Result:\nn    (numeric) The current block count"),
    );
    for (name, help, invalidate) in [
        ("invalidateblock", "Permanently marks a block as invalid, as if it violated a consensus rule.", true),
        ("reconsiderblock", "Removes invalidity status of a block, its ancestors and its descendants, reconsider them for activation.\nThis can be used to undo the effects of invalidateblock.", false),
    ] {
        let s = slot.clone();
        table.add(
            Command::new("hidden", name, help, move |p, _| {
                let s = s.clone();
                async move {
                    let hash = parse_hash(&p[0], "blockhash")?;
                    blocking(&s, move |c| {
                        let done = if invalidate { c.invalidate(&hash) } else { c.reconsider(&hash) };
                        done.map(|()| Value::Null).map_err(|e| match e {
                            BlockError::Invalid("Block not found") => RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Block not found"),
                            other => RpcError::new(codes::RPC_DATABASE_ERROR, other.to_string()),
                        })
                    })
                    .await
                }
            })
            .arg(Arg::required("blockhash", ArgType::Str, if invalidate { "the hash of the block to mark as invalid" } else { "the hash of the block to reconsider" })),
        );
    }
    let s = slot.clone();
    table.add(
        Command::sync(
            "blockchain",
            "getbestblockhash",
            "Returns the hash of the best (tip) block in the most-work fully-validated chain.",
            move |_, _| Ok(json!(chain(&s)?.tip().hash.to_string())),
        )
        .result_help("Result:\n\"hex\"    (string) the block hash, hex-encoded"),
    );
    let s = slot.clone();
    table.add(
        Command::sync(
            "blockchain",
            "getblockhash",
            "Returns hash of block in best-block-chain at height provided.",
            move |p, _| {
                let height = p[0].as_i64().unwrap_or(-1);
                let c = chain(&s)?;
                u32::try_from(height)
                    .ok()
                    .and_then(|h| c.hash_at(h))
                    .map(|h| json!(h.to_string()))
                    .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))
            },
        )
        .arg(Arg::required("height", ArgType::Num, "The height index"))
        .result_help("Result:\n\"hex\"    (string) The block hash"),
    );
    let s = slot.clone();
    table.add(
        Command::sync(
            "blockchain",
            "getblockheader",
            "If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'.\nIf verbose is true, returns an Object with information about blockheader <hash>.",
            move |p, _| {
                let hash = parse_hash(&p[0], "hash")?;
                let verbose = p.get(1).and_then(Value::as_bool).unwrap_or(true);
                let c = chain(&s)?;
                let info = c.info(&hash).ok_or_else(block_not_found)?;
                if verbose {
                    Ok(Value::Object(header_json(&c, &info)))
                } else {
                    Ok(json!(serialize_hex(&info.header)))
                }
            },
        )
        .arg(Arg::required("blockhash", ArgType::Str, "The block hash"))
        .arg(Arg::optional("verbose", ArgType::Bool, "(default=true) true for a json object, false for the hex-encoded data")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "getblock",
            "If verbosity is 0, returns a string that is serialized, hex-encoded data for block 'hash'.\nIf verbosity is 1, returns an Object with information about block <hash>.",
            move |p, _| {
                let s = s.clone();
                async move {
                    let hash = parse_hash(&p[0], "blockhash")?;
                    let verbosity = match p.get(1) {
                        None | Some(Value::Null) => 1,
                        Some(Value::Bool(b)) => i64::from(*b),
                        Some(v) => v.as_i64().unwrap_or(1),
                    };
                    blocking(&s, move |c| {
                        let info = c.info(&hash).ok_or_else(block_not_found)?;
                        let bytes = c.block_bytes(&info).map_err(|_| RpcError::misc("Block not found on disk"))?;
                        if verbosity <= 0 {
                            return Ok(json!(hex(&bytes)));
                        }
                        let block: Block = deserialize(&bytes).map_err(|_| RpcError::misc("Block not found on disk"))?;
                        let mut json = block_json(c, &info, &block);
                        if verbosity >= 2 {
                            // Core shows fees (and with 3, prevouts) when undo data is there.
                            let undo = c.block_undo(&info).ok();
                            let txs: Vec<Value> = block
                                .txdata
                                .iter()
                                .enumerate()
                                .map(|(i, tx)| {
                                    let spent = if i == 0 { None } else { undo.as_ref().and_then(|u| u.get(i - 1)).map(Vec::as_slice) };
                                    super::txjson::tx_json(tx, None, true, spent, verbosity >= 3)
                                })
                                .collect();
                            json["tx"] = Value::Array(txs);
                        }
                        Ok(json)
                    })
                    .await
                }
            },
        )
        .arg(Arg::required("blockhash", ArgType::Str, "The block hash"))
        .arg(Arg::optional("verbosity|verbose", ArgType::Any, "(default=1) 0 for hex-encoded data, 1 for a JSON object, 2 for JSON object with transaction data, and 3 for JSON object with transaction data including prevout information for inputs")),
    );
    let s = slot.clone();
    table.add(Command::new(
        "blockchain",
        "getblockchaininfo",
        "Returns an object containing various state info regarding blockchain processing.",
        move |_, _| {
            let s = s.clone();
            async move {
                blocking(&s, |c| {
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
                    Ok(Value::Object(o))
                })
                .await
            }
        },
    ));
    let s = slot.clone();
    table.add(
        Command::new(
            "generating",
            "generatetoaddress",
            "Mine blocks immediately to a specified address (before the RPC call returns)",
            move |p, _| {
                let s = s.clone();
                async move {
                    let n = p[0].as_i64().unwrap_or(0);
                    let addr = p[1].as_str().unwrap_or("");
                    let max_tries = p.get(2).and_then(Value::as_u64).unwrap_or(1_000_000);
                    let script = regtest_script(addr)
                        .ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))?;
                    generate(&s, script, n, max_tries).await
                }
            },
        )
        .arg(Arg::required("nblocks", ArgType::Num, "How many blocks are generated."))
        .arg(Arg::required("address", ArgType::Str, "The address to send the newly generated bitcoin to."))
        .arg(Arg::optional("maxtries", ArgType::Num, "(default=1000000) How many iterations to try.")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "waitfornewblock",
            "Waits for any new block and returns useful info about it.\n\nReturns the current block on timeout or exit.\n\nMake sure to use no RPC timeout (bitcoin-cli -rpcclienttimeout=0)",
            move |p, ctx| {
                let s = s.clone();
                async move {
                    let timeout = p.first().and_then(Value::as_i64).unwrap_or(0);
                    let from = match p.get(1) {
                        None | Some(Value::Null) => chain(&s)?.tip().hash,
                        Some(v) => parse_hash(v, "current_tip")?,
                    };
                    wait_for_tip(&s, &ctx, timeout, |(h, _)| *h != from).await
                }
            },
        )
        .arg(Arg::optional("timeout", ArgType::Num, "(default=0) Time in milliseconds to wait for a response. 0 indicates no timeout."))
        .arg(Arg::optional("current_tip", ArgType::Str, "Method waits for the chain tip to differ from this.")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "waitforblock",
            "Waits for a specific new block and returns useful info about it.\n\nReturns the current block on timeout or exit.\n\nMake sure to use no RPC timeout (bitcoin-cli -rpcclienttimeout=0)",
            move |p, ctx| {
                let s = s.clone();
                async move {
                    let want = parse_hash(&p[0], "blockhash")?;
                    let timeout = p.get(1).and_then(Value::as_i64).unwrap_or(0);
                    wait_for_tip(&s, &ctx, timeout, |(h, _)| *h == want).await
                }
            },
        )
        .arg(Arg::required("blockhash", ArgType::Str, "Block hash to wait for."))
        .arg(Arg::optional("timeout", ArgType::Num, "(default=0) Time in milliseconds to wait for a response. 0 indicates no timeout.")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "waitforblockheight",
            "Waits for (at least) block height and returns the height and hash\nof the current tip.\n\nReturns the current block on timeout or exit.\n\nMake sure to use no RPC timeout (bitcoin-cli -rpcclienttimeout=0)",
            move |p, ctx| {
                let s = s.clone();
                async move {
                    let want = p[0].as_i64().unwrap_or(0);
                    let timeout = p.get(1).and_then(Value::as_i64).unwrap_or(0);
                    wait_for_tip(&s, &ctx, timeout, |(_, h)| i64::from(*h) >= want).await
                }
            },
        )
        .arg(Arg::required("height", ArgType::Num, "Block height to wait for."))
        .arg(Arg::optional("timeout", ArgType::Num, "(default=0) Time in milliseconds to wait for a response. 0 indicates no timeout.")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "getdeploymentinfo",
            "Returns an object containing various state info regarding deployments of consensus changes.\nConsensus changes for which the new rules are enforced from genesis are not listed in \"deployments\".",
            move |p, _| {
                let s = s.clone();
                async move {
                    let hash = match p.first() {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(parse_hash(v, "blockhash")?),
                    };
                    blocking(&s, move |c| {
                        let info = match hash {
                            None => c.tip(),
                            Some(h) => c.info(&h).ok_or_else(block_not_found)?,
                        };
                        Ok(super::deployments::deployment_info(c, &info))
                    })
                    .await
                }
            },
        )
        .arg(Arg::optional("blockhash", ArgType::Str, "(default=hash of current chain tip) The block hash at which to query deployment state")),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "generating",
            "generatetodescriptor",
            "Mine to a specified descriptor and return the block hashes.",
            move |p, _| {
                let s = s.clone();
                async move {
                    let n = p[0].as_i64().unwrap_or(0);
                    let script = super::descriptor::script_of(p[1].as_str().unwrap_or(""))
                        .map_err(|e| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, e))?;
                    let max_tries = p.get(2).and_then(Value::as_u64).unwrap_or(1_000_000);
                    generate(&s, script, n, max_tries).await
                }
            },
        )
        .arg(Arg::required("num_blocks", ArgType::Num, "How many blocks are generated."))
        .arg(Arg::required("descriptor", ArgType::Str, "The descriptor to send the newly generated bitcoin to."))
        .arg(Arg::optional("maxtries", ArgType::Num, "(default=1000000) How many iterations to try.")),
    );
    let s = slot.clone();
    table.add(
        Command::new("generating", "generateblock", "Mine a set of ordered transactions to a specified address or descriptor and return the block hash.", move |p, _| {
            let s = s.clone();
            async move {
                let output = p[0].as_str().unwrap_or("");
                let script = regtest_script(output)
                    .or_else(|| super::descriptor::script_of(output).ok())
                    .ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor"))?;
                let mut txs = Vec::new();
                for t in p[1].as_array().cloned().unwrap_or_default() {
                    let text = t.as_str().unwrap_or("").to_owned();
                    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                        // a txid: taken from the mempool, as in Core
                        let missing = || RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, format!("Transaction {text} not in mempool."));
                        let txid = bitcoin::Txid::from_str(&text).map_err(|_| missing())?;
                        txs.push(chain(&s)?.with_mempool(|m| m.get(&txid).map(|e| e.tx.clone())).ok_or_else(missing)?);
                        continue;
                    }
                    let tx = decode_tx(&text).ok().filter(|tx: &bitcoin::Transaction| !tx.input.is_empty()).ok_or_else(|| {
                        RpcError::new(codes::RPC_DESERIALIZATION_ERROR, format!("Transaction decode failed for {text}. Make sure the tx has at least one input."))
                    })?;
                    txs.push(tx);
                }
                let submit = p.get(2).and_then(Value::as_bool).unwrap_or(true);
                blocking(&s, move |c| {
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
        })
        .arg(Arg::required("output", ArgType::Str, "The address or descriptor to send the newly generated bitcoin to."))
        .arg(Arg::required("transactions", ArgType::Arr, "An array of hex strings which are either txids or raw transactions."))
        .arg(Arg::optional("submit", ArgType::Bool, "(default=true) Whether to submit the block before the RPC call returns or to return it as hex.")),
    );
    let s = slot.clone();
    table.add(
        Command::new("blockchain", "gettxout", "Returns details about an unspent transaction output.", move |p, _| {
            let s = s.clone();
            async move {
                let txid = parse_hash(&p[0], "txid").map(|h| bitcoin::Txid::from_byte_array(h.to_byte_array()))?;
                let vout = u32::try_from(p[1].as_i64().unwrap_or(-1))
                    .map_err(|_| RpcError::invalid_parameter("Invalid parameter, vout cannot be negative"))?;
                let include_mempool = p.get(2).and_then(Value::as_bool).unwrap_or(true);
                blocking(&s, move |c| {
                    let op = bitcoin::OutPoint { txid, vout };
                    if include_mempool {
                        if c.with_mempool(|m| m.spender(&op).is_some()) {
                            return Ok(Value::Null);
                        }
                        if let Some(out) =
                            c.with_mempool(|m| m.get(&txid).and_then(|e| e.tx.output.get(vout as usize).cloned()))
                        {
                            let mut o = Map::new();
                            o.insert("bestblock".into(), json!(c.tip().hash.to_string()));
                            o.insert("confirmations".into(), json!(0));
                            o.insert(
                                "value".into(),
                                ferronode_httprpc::amount(i64::try_from(out.value.to_sat()).unwrap_or(i64::MAX)),
                            );
                            o.insert("scriptPubKey".into(), super::txjson::script_pubkey_json(&out.script_pubkey));
                            o.insert("coinbase".into(), json!(false));
                            return Ok(Value::Object(o));
                        }
                    }
                    let coin = c
                        .coin(&bitcoin::OutPoint { txid, vout })
                        .map_err(|e| RpcError::new(codes::RPC_DATABASE_ERROR, e.to_string()))?;
                    let Some(coin) = coin else { return Ok(Value::Null) };
                    let tip = c.tip();
                    let mut o = Map::new();
                    o.insert("bestblock".into(), json!(tip.hash.to_string()));
                    o.insert("confirmations".into(), json!(tip.height - coin.height + 1));
                    o.insert(
                        "value".into(),
                        ferronode_httprpc::amount(i64::try_from(coin.txout.value.to_sat()).unwrap_or(i64::MAX)),
                    );
                    o.insert("scriptPubKey".into(), super::txjson::script_pubkey_json(&coin.txout.script_pubkey));
                    o.insert("coinbase".into(), json!(coin.coinbase));
                    Ok(Value::Object(o))
                })
                .await
            }
        })
        .arg(Arg::required("txid", ArgType::Str, "The transaction id"))
        .arg(Arg::required("n", ArgType::Num, "vout number"))
        .arg(Arg::optional(
            "include_mempool",
            ArgType::Bool,
            "(default=true) Whether to include the mempool (there is none yet)",
        )),
    );
    let s = slot.clone();
    table.add(
        Command::new("mining", "submitblock", "Attempts to submit new block to network.", move |p, _| {
            let s = s.clone();
            async move {
                let hexdata = p[0].as_str().unwrap_or("").to_owned();
                let bytes = parse_hex(&hexdata);
                let block: Block = bytes
                    .and_then(|b| deserialize(&b).ok())
                    .ok_or_else(|| RpcError::new(codes::RPC_DESERIALIZATION_ERROR, "Block decode failed"))?;
                if block.txdata.first().is_none_or(|t| !t.is_coinbase()) {
                    return Err(RpcError::new(
                        codes::RPC_DESERIALIZATION_ERROR,
                        "Block does not start with a coinbase",
                    ));
                }
                blocking(&s, move |c| {
                    Ok(match c.submit(&block) {
                        Ok(_) => Value::Null,
                        Err(BlockError::Store(e)) => return Err(RpcError::misc(e)),
                        Err(e) => json!(e.to_string()),
                    })
                })
                .await
            }
        })
        .arg(Arg::required("hexdata", ArgType::Str, "the hex-encoded block data to submit"))
        .arg(Arg::optional(
            "dummy",
            ArgType::Any,
            "dummy value, for compatibility with BIP22. This value is ignored.",
        )),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "blockchain",
            "gettxoutsetinfo",
            "Returns statistics about the unspent transaction output set.\nNote this call may take some time.",
            move |p, _| {
                let s = s.clone();
                async move {
                    match p.first().and_then(Value::as_str) {
                        None | Some("none") => {}
                        Some(other) => {
                            return Err(RpcError::invalid_parameter(format!(
                                "hash_type '{other}' is not supported yet by ferronode (only 'none')"
                            )))
                        }
                    }
                    blocking(&s, |c| {
                        let tip = c.tip();
                        let coins = c.coins().map_err(|e| RpcError::new(codes::RPC_DATABASE_ERROR, e.to_string()))?;
                        let bogosize: u64 =
                            coins.iter().map(|(_, coin)| 50 + coin.txout.script_pubkey.len() as u64).sum();
                        let total: u64 = coins.iter().map(|(_, coin)| coin.txout.value.to_sat()).sum();
                        let mut o = Map::new();
                        o.insert("height".into(), json!(tip.height));
                        o.insert("bestblock".into(), json!(tip.hash.to_string()));
                        o.insert("txouts".into(), json!(coins.len()));
                        o.insert("bogosize".into(), json!(bogosize));
                        o.insert(
                            "total_amount".into(),
                            ferronode_httprpc::amount(i64::try_from(total).unwrap_or(i64::MAX)),
                        );
                        Ok(Value::Object(o))
                    })
                    .await
                }
            },
        )
        .arg(Arg::optional(
            "hash_type",
            ArgType::Str,
            "(default=\"hash_serialized_3\") Which UTXO set hash should be calculated. Only \"none\" is supported yet.",
        ))
        .arg(Arg::optional(
            "hash_or_height",
            ArgType::Any,
            "The block hash or height of the target height (not supported yet)",
        ))
        .arg(Arg::optional("use_index", ArgType::Bool, "Use coinstatsindex, if available.")),
    );
    table.add(
        Command::new("rawtransactions", "decodescript", "Decode a hex-encoded script.", |p, _| async move {
            let text = p[0].as_str().unwrap_or("");
            let bytes = parse_hex(text).ok_or_else(|| {
                RpcError::invalid_parameter(format!("argument must be hexadecimal string (not '{text}')"))
            })?;
            Ok(super::txjson::decode_script(&bitcoin::ScriptBuf::from_bytes(bytes)))
        })
        .arg(Arg::required("hexstring", ArgType::Str, "the hex-encoded script")),
    );
    table.add(
        Command::new(
            "rawtransactions",
            "decoderawtransaction",
            "Return a JSON object representing the serialized, hex-encoded transaction.",
            |p, _| async move {
                let tx = decode_tx(p[0].as_str().unwrap_or(""))?;
                Ok(super::txjson::tx_json(&tx, None, false, None, false))
            },
        )
        .arg(Arg::required("hexstring", ArgType::Str, "The transaction hex string"))
        .arg(Arg::optional(
            "iswitness",
            ArgType::Bool,
            "Whether the transaction hex is a serialized witness transaction.",
        )),
    );
    let s = slot.clone();
    table.add(
        Command::new(
            "rawtransactions",
            "getrawtransaction",
            "By default, this call only returns a transaction if it is in the mempool. If -txindex is enabled\nand no blockhash argument is passed, it will return the transaction if it is in a block in the blockchain.\n\nHint: Use gettransaction for wallet transactions.",
            move |p, _| {
                let s = s.clone();
                async move {
                    let txid = parse_hash(&p[0], "parameter 1")
                        .map(|h| bitcoin::Txid::from_byte_array(h.to_byte_array()))?;
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
                    blocking(&s, move |c| {
                        let genesis_cb = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest).txdata[0].compute_txid();
                        if txid == genesis_cb {
                            return Err(RpcError::invalid_parameter("The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved"));
                        }
                        if blockhash.is_none() {
                            if let Some(tx) = c.with_mempool(|m| m.get(&txid).map(|e| e.tx.clone())) {
                                return Ok(if verbosity <= 0 {
                                    json!(serialize_hex(&tx))
                                } else {
                                    super::txjson::tx_json(&tx, None, true, None, false)
                                });
                            }
                        }
                        let given_block = blockhash.is_some();
                        let bh = match blockhash {
                            Some(bh) => bh,
                            None => match c.txindex_lookup(&txid).map_err(|e| RpcError::new(codes::RPC_DATABASE_ERROR, e.to_string()))? {
                                Some(Some(bh)) => bh,
                                Some(None) => {
                                    return Err(RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions."));
                                }
                                None => {
                                    return Err(RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions."));
                                }
                            },
                        };
                        let info = c.info(&bh).ok_or_else(|| RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
                        let bytes = c.block_bytes(&info).map_err(|_| RpcError::misc("Block not found on disk"))?;
                        let block: Block = deserialize(&bytes).map_err(|_| RpcError::misc("Block not found on disk"))?;
                        let Some((i, tx)) = block.txdata.iter().enumerate().find(|(_, t)| t.compute_txid() == txid) else {
                            return Err(RpcError::new(codes::RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block. Use gettransaction for wallet transactions."));
                        };
                        if verbosity <= 0 {
                            return Ok(json!(serialize_hex(tx)));
                        }
                        let undo = if verbosity >= 2 && i > 0 { c.block_undo(&info).ok().and_then(|u| u.get(i - 1).cloned()) } else { None };
                        let body = super::txjson::tx_json(tx, None, true, undo.as_deref(), verbosity >= 2);
                        let mut o = Map::new();
                        let active = c.is_active(&info);
                        if given_block {
                            o.insert("in_active_chain".into(), json!(active));
                        }
                        if let Value::Object(m) = body {
                            o.extend(m);
                        }
                        o.insert("blockhash".into(), json!(bh.to_string()));
                        let tip = c.tip();
                        let confirmations = if active { tip.height - info.height + 1 } else { 0 };
                        o.insert("confirmations".into(), json!(confirmations));
                        o.insert("time".into(), json!(info.header.time));
                        o.insert("blocktime".into(), json!(info.header.time));
                        Ok(Value::Object(o))
                    })
                    .await
                }
            },
        )
        .arg(Arg::required("txid", ArgType::Str, "The transaction id"))
        .arg(Arg::optional("verbosity|verbose", ArgType::Any, "(default=0) 0 for hex-encoded data, 1 for a JSON object, and 2 for JSON object with fee and prevout"))
        .arg(Arg::optional("blockhash", ArgType::Str, "The block in which to look for the transaction")),
    );
    let s = slot.clone();
    table.add(
        Command::sync("hidden", "setmocktime", "Set the local time to given timestamp (-regtest only)", move |p, _| {
            let t = p[0].as_i64().unwrap_or(0);
            if t < 0 {
                return Err(RpcError::invalid_parameter(
                    "Mocktime cannot be negative: ".to_owned() + &t.to_string() + ".",
                ));
            }
            chain(&s)?.set_mocktime(u64::try_from(t).unwrap_or(0));
            Ok(Value::Null)
        })
        .arg(Arg::required(
            "timestamp",
            ArgType::Num,
            "UNIX epoch time. Pass 0 to go back to using the system time.",
        )),
    );
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
}
