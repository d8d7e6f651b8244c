//! Bitcoin Core's REST interface for ferronode.
//!
//! The `/rest/...` endpoints in Core's three formats (`.bin`, `.hex`,
//! `.json`), mounted on `ferronode-httpserver` as prefix handlers in Core's
//! order, without authentication (as Core: `-rest` is a deliberate opt-in
//! for a trusted network).
//!
//! The crate knows nothing of the chain. It reads it through [`Source`]:
//! chiefly one method that calls a bitcoind RPC by name. That is deliberately
//! narrow: REST's JSON must be identical, field for field, to the matching
//! RPC (`getblock`, `getrawtransaction`, `getblockchaininfo`, ...), so
//! asking the RPC for it is the one way that cannot drift; the binary forms
//! are the RPCs' hex forms decoded. Another Rust node serves the same
//! endpoints by answering those few RPCs. The one exception is a block's
//! raw bytes ([`Source::raw_block`], with a default built on `getblock`):
//! a node reads those straight from the block file, without decoding the
//! block or going through hex, because they are the largest and most
//! requested replies. Block bodies carry an `ETag` and are immutable for
//! caches; `If-None-Match` with that tag is answered `304` without reading
//! the block.
//!
//! Served: `tx`, `block`, `block/notxdetails`, `blockpart`, `blockfilter`,
//! `blockfilterheaders`, `headers` (the last two also in the deprecated
//! `<count>/<hash>` form), `blockhashbyheight`, `chaininfo`, `mempool/info`,
//! `mempool/contents`, `deploymentinfo`, `getutxos` and `spenttxouts`.

use std::sync::Arc;

use bytes::Bytes;
use ferronode_httpserver::header::{HeaderValue, CONTENT_TYPE};
use ferronode_httpserver::{BoxFuture, Handler, HttpStatus, Request, Response, Routes};
use ferronode_protocol::codes::RPC_IN_WARMUP;
use serde_json::{json, Value};

/// An RPC failure: Core's code and message.
pub type RpcFailure = (i32, String);

/// What [`Source::raw_block`] found.
#[derive(Debug, Clone)]
pub enum RawBlock {
    /// The stored bytes (or the asked part of them).
    Bytes(Bytes),
    /// No block with that hash, or its data is not available.
    NotFound,
    /// The asked part is empty or runs past the end of the block.
    BadPart,
}

/// Where the endpoints get their data: bitcoind's RPCs, by name, and a
/// block's raw bytes.
pub trait Source: Send + Sync + 'static {
    /// Calls `method` with positional `params`, as a JSON-RPC client would.
    fn call(&self, method: &str, params: Value) -> BoxFuture<Result<Value, RpcFailure>>;

    /// The serialized block `hash` (64 hex digits, display order) as
    /// stored, or `size` bytes of it from `offset` on when `part` is
    /// `Some((offset, size))`. A node should read them straight from its
    /// block file; this default asks `getblock <hash> 0` and decodes the hex.
    fn raw_block(&self, hash: &str, part: Option<(u64, u64)>) -> BoxFuture<Result<RawBlock, RpcFailure>> {
        let reply = self.call("getblock", json!([hash, 0]));
        Box::pin(async move {
            let bytes = match reply.await {
                Ok(v) => Bytes::from(v.as_str().and_then(from_hex).unwrap_or_default()),
                Err((RPC_IN_WARMUP, m)) => return Err((RPC_IN_WARMUP, m)),
                Err(_) => return Ok(RawBlock::NotFound),
            };
            let Some((offset, size)) = part else { return Ok(RawBlock::Bytes(bytes)) };
            let len = bytes.len() as u64;
            match offset.checked_add(size) {
                Some(end) if size > 0 && end <= len => Ok(RawBlock::Bytes(
                    bytes.slice(usize::try_from(offset).unwrap_or(0)..usize::try_from(end).unwrap_or(0)),
                )),
                _ => Ok(RawBlock::BadPart),
            }
        })
    }
}

/// Core's `MAX_REST_HEADERS_RESULTS`.
const MAX_HEADERS: u64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Bin,
    Hex,
    Json,
    Undefined,
}

/// Core's `ParseDataFormat`: drop the query, then take a known extension.
fn parse_format(subpath: &str) -> (String, Format) {
    let path = subpath.split('?').next().unwrap_or("");
    if let Some((param, ext)) = path.rsplit_once('.') {
        let f = match ext {
            "bin" => Format::Bin,
            "hex" => Format::Hex,
            "json" => Format::Json,
            _ => return (path.to_owned(), Format::Undefined),
        };
        return (param.to_owned(), f);
    }
    (path.to_owned(), Format::Undefined)
}

fn query_param<'a>(subpath: &'a str, name: &str) -> Option<&'a str> {
    let query = subpath.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

fn error(status: HttpStatus, message: impl AsRef<str>) -> Response {
    Response::with_body(status, format!("{}\r\n", message.as_ref()))
        .header(CONTENT_TYPE, HeaderValue::from_static("text/plain"))
}

fn format_missing(json_only: bool) -> Response {
    error(
        HttpStatus::NOT_FOUND,
        if json_only {
            "output format not found (available: json)"
        } else {
            "output format not found (available: .bin, .hex, .json)"
        },
    )
}

fn reply_json(v: &Value) -> Response {
    Response::with_body(HttpStatus::OK, format!("{v}\n"))
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

/// A binary body in the asked format (`bin` or `hex`).
fn reply_bytes(format: Format, bytes: impl Into<Bytes>) -> Response {
    let bytes: Bytes = bytes.into();
    match format {
        Format::Bin => Response::with_body(HttpStatus::OK, bytes)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        _ => Response::with_body(HttpStatus::OK, format!("{}\n", to_hex(&bytes)))
            .header(CONTENT_TYPE, HeaderValue::from_static("text/plain")),
    }
}

/// Marks a response that can never change: a block's bytes by its hash
/// (the hash commits to every byte, witnesses included through the
/// coinbase's commitment), so any HTTP cache may keep it for good. JSON
/// forms carry `confirmations` and transactions by txid may change their
/// witness, so neither gets this.
fn immutable(response: Response, tag: &str) -> Response {
    match HeaderValue::from_str(&format!("\"{tag}\"")) {
        Ok(etag) => response.header(ferronode_httpserver::header::ETAG, etag).header(
            ferronode_httpserver::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        Err(_) => response,
    }
}

/// Lowercase hex, by `bitcoin_hashes`' encoder (the workspace's one codec).
fn to_hex(bytes: &[u8]) -> String {
    use bitcoin_hashes::hex::DisplayHex as _;
    bytes.to_lower_hex_string()
}

/// Bytes from hex of even length, digits of either case (Core's `IsHex`).
fn from_hex(text: &str) -> Option<Vec<u8>> {
    use bitcoin_hashes::hex::FromHex as _;
    Vec::<u8>::from_hex(text).ok()
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The endpoints, as data: prefix, and the function serving it.
type Endpoint = fn(Arc<dyn Source>, Request) -> BoxFuture<Response>;

const ENDPOINTS: &[(&str, Endpoint)] = &[
    ("/rest/tx/", |s, r| Box::pin(tx(s, r.head.subpath))),
    ("/rest/block/notxdetails/", |s, r| Box::pin(block(s, r, false))),
    ("/rest/block/", |s, r| Box::pin(block(s, r, true))),
    ("/rest/blockpart/", |s, r| Box::pin(blockpart(s, r))),
    ("/rest/blockfilter/", |s, r| Box::pin(blockfilter(s, r.head.subpath))),
    ("/rest/blockfilterheaders/", |s, r| Box::pin(blockfilterheaders(s, r.head.subpath))),
    ("/rest/chaininfo", |s, r| Box::pin(chaininfo(s, r.head.subpath))),
    ("/rest/mempool/", |s, r| Box::pin(mempool(s, r.head.subpath))),
    ("/rest/headers/", |s, r| Box::pin(headers(s, r.head.subpath))),
    ("/rest/getutxos", |s, r| Box::pin(getutxos(s, r.head.subpath, r.body))),
    ("/rest/deploymentinfo/", |s, r| Box::pin(deploymentinfo(s, r.head.subpath))),
    ("/rest/deploymentinfo", |s, r| Box::pin(deploymentinfo(s, r.head.subpath))),
    ("/rest/blockhashbyheight/", |s, r| Box::pin(blockhashbyheight(s, r.head.subpath))),
    ("/rest/spenttxouts/", |s, r| Box::pin(spenttxouts(s, r.head.subpath))),
];

struct Mount {
    source: Arc<dyn Source>,
    serve: Endpoint,
}

impl Handler for Mount {
    fn handle(&self, req: Request) -> BoxFuture<Response> {
        (self.serve)(Arc::clone(&self.source), req)
    }
}

/// Registers every endpoint on `routes` (Core's `StartREST`).
pub fn start(routes: &Routes, source: Arc<dyn Source>) {
    for (prefix, serve) in ENDPOINTS {
        routes.register(*prefix, false, Arc::new(Mount { source: Arc::clone(&source), serve: *serve }));
    }
}

/// Unregisters them (Core's `StopREST`).
pub fn stop(routes: &Routes) {
    for (prefix, _) in ENDPOINTS {
        routes.unregister(prefix, false);
    }
}

/// Calls the source; warmup becomes Core's 503.
async fn call(source: &Arc<dyn Source>, method: &str, params: Value) -> Result<Result<Value, RpcFailure>, Response> {
    match source.call(method, params).await {
        Err((RPC_IN_WARMUP, status)) => {
            Err(error(HttpStatus::SERVICE_UNAVAILABLE, format!("Service temporarily unavailable: {status}")))
        }
        other => Ok(other),
    }
}

/// The warmup check every handler starts with.
async fn check_warmup(source: &Arc<dyn Source>) -> Result<(), Response> {
    call(source, "getblockcount", json!([])).await.map(|_| ())
}

async fn tx(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (txid, format) = parse_format(&subpath);
    if !is_hash(&txid) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {txid}"));
    }
    let verbose = u8::from(format == Format::Json);
    match call(&source, "getrawtransaction", json!([txid, verbose])).await {
        Err(r) => r,
        Ok(Err(_)) => error(HttpStatus::NOT_FOUND, format!("{txid} not found")),
        Ok(Ok(v)) => match format {
            Format::Json => reply_json(&v),
            Format::Undefined => format_missing(false),
            f => reply_bytes(f, v.as_str().and_then(from_hex).unwrap_or_default()),
        },
    }
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare
/// equal too, as RFC 9110 asks for this header.
fn none_match(req: &Request, tag: &str) -> bool {
    req.head.headers.get_all(ferronode_httpserver::header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == tag)
    })
}

async fn block(source: Arc<dyn Source>, req: Request, tx_details: bool) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let subpath = req.head.subpath.clone();
    let (hash, format) = parse_format(&subpath);
    if !is_hash(&hash) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {hash}"));
    }
    if format == Format::Json {
        let verbosity = if tx_details { 3 } else { 1 };
        return match call(&source, "getblock", json!([hash, verbosity])).await {
            Err(r) => r,
            Ok(Err(_)) => error(HttpStatus::NOT_FOUND, format!("{hash} not found")),
            Ok(Ok(v)) => reply_json(&v),
        };
    }
    let tag = format!("{hash}.{}", if format == Format::Hex { "hex" } else { "bin" });
    if format != Format::Undefined && none_match(&req, &tag) {
        // the client holds these very bytes: check the block is ours, then
        // answer without reading it
        if let Ok(Ok(_)) = call(&source, "getblockheader", json!([hash, false])).await {
            // the 200's content type, not the server's default
            let kind = if format == Format::Hex { "text/plain" } else { "application/octet-stream" };
            let reply = Response::empty(HttpStatus::NOT_MODIFIED).header(CONTENT_TYPE, HeaderValue::from_static(kind));
            return immutable(reply, &tag);
        }
    }
    match source.raw_block(&hash, None).await {
        Err((RPC_IN_WARMUP, status)) => {
            error(HttpStatus::SERVICE_UNAVAILABLE, format!("Service temporarily unavailable: {status}"))
        }
        Err(_) | Ok(RawBlock::NotFound | RawBlock::BadPart) => {
            error(HttpStatus::NOT_FOUND, format!("{hash} not found"))
        }
        Ok(RawBlock::Bytes(bytes)) => match format {
            Format::Undefined | Format::Json => format_missing(false),
            f => immutable(reply_bytes(f, bytes), &tag),
        },
    }
}

/// Core's `ToIntegral<size_t>` (`std::from_chars`): decimal digits only,
/// no sign, no overflow. (Rust's own parse would also take a leading `+`.)
fn to_integral(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A `offset`/`size` query value, parsed as Core does.
fn size_param(subpath: &str, name: &str) -> Option<u64> {
    to_integral(query_param(subpath, name)?)
}

/// `/rest/blockpart/<hash>.<bin|hex>?offset=<n>&size=<m>` (Core v31): a
/// byte range of the stored block, read from the block file.
async fn blockpart(source: Arc<dyn Source>, req: Request) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let subpath = req.head.subpath;
    let Some(offset) = size_param(&subpath, "offset") else {
        return error(HttpStatus::BAD_REQUEST, "Block part offset missing or invalid");
    };
    let Some(size) = size_param(&subpath, "size") else {
        return error(HttpStatus::BAD_REQUEST, "Block part size missing or invalid");
    };
    let (hash, format) = parse_format(&subpath);
    if !is_hash(&hash) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {hash}"));
    }
    match source.raw_block(&hash, Some((offset, size))).await {
        Err((RPC_IN_WARMUP, status)) => {
            error(HttpStatus::SERVICE_UNAVAILABLE, format!("Service temporarily unavailable: {status}"))
        }
        Err(_) | Ok(RawBlock::NotFound) => error(HttpStatus::NOT_FOUND, format!("{hash} not found")),
        Ok(RawBlock::BadPart) => {
            error(HttpStatus::BAD_REQUEST, format!("Bad block part offset/size {offset}/{size} for {hash}"))
        }
        Ok(RawBlock::Bytes(bytes)) => match format {
            Format::Json => error(HttpStatus::BAD_REQUEST, "JSON output is not supported for this request type"),
            Format::Undefined => format_missing(false),
            f => reply_bytes(f, bytes),
        },
    }
}

/// Core's only block filter type.
const BASIC_FILTER: &str = "basic";
/// `getindexinfo`'s name for the basic filter index.
const BASIC_FILTER_INDEX: &str = "basic block filter index";

/// The filter type checks both filter endpoints make, in Core's order:
/// known type, then index enabled.
async fn check_filter_type(source: &Arc<dyn Source>, kind: &str) -> Result<(), Response> {
    if kind != BASIC_FILTER {
        return Err(error(HttpStatus::BAD_REQUEST, format!("Unknown filtertype {kind}")));
    }
    match call(source, "getindexinfo", json!([BASIC_FILTER_INDEX])).await? {
        Ok(v) if v.get(BASIC_FILTER_INDEX).is_some() => Ok(()),
        _ => Err(error(HttpStatus::BAD_REQUEST, format!("Index is not enabled for filtertype {kind}"))),
    }
}

/// `/rest/blockfilter/<type>/<hash>.<ext>`: the block's BIP158 filter;
/// bin is Core's `BlockFilter` serialization (type byte, block hash,
/// length-prefixed filter), json `{"filter": "<hex>"}`.
async fn blockfilter(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    let [kind, hash] = param.split('/').collect::<Vec<_>>()[..] else {
        return error(
            HttpStatus::BAD_REQUEST,
            "Invalid URI format. Expected /rest/blockfilter/<filtertype>/<blockhash>",
        );
    };
    if !is_hash(hash) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {hash}"));
    }
    if let Err(r) = check_filter_type(&source, kind).await {
        return r;
    }
    match call(&source, "getblockheader", json!([hash, false])).await {
        Err(r) => return r,
        Ok(Err(_)) => return error(HttpStatus::NOT_FOUND, format!("{hash} not found")),
        Ok(Ok(_)) => {}
    }
    let filter = match call(&source, "getblockfilter", json!([hash, kind])).await {
        Err(r) => return r,
        Ok(Err((_, m))) => return error(HttpStatus::NOT_FOUND, m),
        Ok(Ok(v)) => v["filter"].as_str().unwrap_or_default().to_owned(),
    };
    match format {
        Format::Json => reply_json(&json!({ "filter": filter })),
        Format::Undefined => format_missing(false),
        f => {
            let filter = from_hex(&filter).unwrap_or_default();
            let mut out = Vec::with_capacity(filter.len() + 42);
            out.push(0); // BlockFilterType::BASIC
            let mut internal = from_hex(hash).unwrap_or_default();
            internal.reverse();
            out.extend_from_slice(&internal);
            write_compact_size(&mut out, filter.len() as u64);
            out.extend_from_slice(&filter);
            reply_bytes(f, out)
        }
    }
}

/// `/rest/blockfilterheaders/<type>/<hash>.<ext>?count=<n>` (and the
/// deprecated `<type>/<count>/<hash>`): filter headers walking up the
/// active chain from `hash`, as `headers` does for block headers.
async fn blockfilterheaders(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    let parts: Vec<&str> = param.split('/').collect();
    let (kind, hash, raw_count) =
        match parts.as_slice() {
            [kind, count, hash] => (*kind, *hash, (*count).to_owned()),
            [kind, hash] => (*kind, *hash, query_param(&subpath, "count").unwrap_or("5").to_owned()),
            _ => return error(
                HttpStatus::BAD_REQUEST,
                "Invalid URI format. Expected /rest/blockfilterheaders/<filtertype>/<blockhash>.<ext>?count=<count>",
            ),
        };
    let count = match header_count(&raw_count) {
        Ok(n) => n,
        Err(text) => return error(HttpStatus::BAD_REQUEST, text),
    };
    if !is_hash(hash) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {hash}"));
    }
    if let Err(r) = check_filter_type(&source, kind).await {
        return r;
    }
    let mut found = Vec::new();
    for block in match active_from(&source, hash, count).await {
        Ok(b) => b,
        Err(r) => return r,
    } {
        match call(&source, "getblockfilter", json!([block, kind])).await {
            Err(r) => return r,
            Ok(Err((_, m))) => return error(HttpStatus::NOT_FOUND, m),
            Ok(Ok(v)) => found.push(v["header"].as_str().unwrap_or_default().to_owned()),
        }
    }
    match format {
        Format::Json => reply_json(&json!(found)),
        Format::Undefined => format_missing(false),
        f => reply_bytes(
            f,
            found
                .iter()
                .flat_map(|h| {
                    let mut internal = from_hex(h).unwrap_or_default();
                    internal.reverse();
                    internal
                })
                .collect::<Vec<u8>>(),
        ),
    }
}

/// Up to `count` block hashes of the active chain from `hash` on; empty
/// when `hash` is unknown or not on the active chain.
async fn active_from(source: &Arc<dyn Source>, hash: &str, count: u64) -> Result<Vec<String>, Response> {
    let mut out = Vec::new();
    if let Ok(first) = call(source, "getblockheader", json!([hash, true])).await? {
        if first["confirmations"].as_i64().is_some_and(|c| c > 0) {
            let start = first["height"].as_u64().unwrap_or(0);
            for height in start..start + count {
                match call(source, "getblockhash", json!([height])).await? {
                    Ok(h) => out.push(h.as_str().unwrap_or_default().to_owned()),
                    Err(_) => break,
                }
            }
        }
    }
    Ok(out)
}

async fn chaininfo(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    if parse_format(&subpath).1 != Format::Json {
        return format_missing(true);
    }
    match call(&source, "getblockchaininfo", json!([])).await {
        Err(r) => r,
        Ok(Ok(v)) => reply_json(&v),
        Ok(Err((_, m))) => error(HttpStatus::INTERNAL_SERVER_ERROR, m),
    }
}

async fn mempool(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    if param != "info" && param != "contents" {
        return error(HttpStatus::BAD_REQUEST, "Invalid URI format. Expected /rest/mempool/<info|contents>.json");
    }
    if format != Format::Json {
        return format_missing(true);
    }
    let (method, params) = if param == "info" {
        ("getmempoolinfo", json!([]))
    } else {
        let flag = |name: &str, default: bool| match query_param(&subpath, name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(format!("The \"{name}\" query parameter must be either \"true\" or \"false\".")),
        };
        let (verbose, sequence) = match (flag("verbose", true), flag("mempool_sequence", false)) {
            (Ok(v), Ok(s)) => (v, s),
            (Err(m), _) | (_, Err(m)) => return error(HttpStatus::BAD_REQUEST, m),
        };
        if verbose && sequence {
            return error(
                HttpStatus::BAD_REQUEST,
                "Verbose results cannot contain mempool sequence values. (hint: set \"verbose=false\")",
            );
        }
        ("getrawmempool", json!([verbose, sequence]))
    };
    match call(&source, method, params).await {
        Err(r) => r,
        Ok(Ok(v)) => reply_json(&v),
        Ok(Err(_)) => error(HttpStatus::NOT_FOUND, "Mempool disabled or instance not found"),
    }
}

async fn headers(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    let parts: Vec<&str> = param.split('/').collect();
    let (hash, raw_count) = match parts.as_slice() {
        [hash] => (*hash, query_param(&subpath, "count").unwrap_or("5").to_owned()),
        [count, hash] => (*hash, (*count).to_owned()),
        _ => {
            return error(
                HttpStatus::BAD_REQUEST,
                "Invalid URI format. Expected /rest/headers/<hash>.<ext>?count=<count>",
            )
        }
    };
    let count = match header_count(&raw_count) {
        Ok(n) => n,
        Err(text) => return error(HttpStatus::BAD_REQUEST, text),
    };
    if !is_hash(hash) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {hash}"));
    }
    // walk up the active chain from `hash`; unknown or inactive: empty
    let mut found = Vec::new();
    if let Ok(Ok(first)) = call(&source, "getblockheader", json!([hash, true])).await {
        if first["confirmations"].as_i64().is_some_and(|c| c > 0) {
            let start = first["height"].as_u64().unwrap_or(0);
            for height in start..start + count {
                let Ok(Ok(h)) = call(&source, "getblockhash", json!([height])).await else { break };
                let verbose = format == Format::Json;
                match call(&source, "getblockheader", json!([h, verbose])).await {
                    Ok(Ok(v)) => found.push(v),
                    _ => break,
                }
            }
        }
    }
    match format {
        Format::Json => reply_json(&Value::Array(found)),
        Format::Undefined => format_missing(false),
        f => reply_bytes(f, found.iter().filter_map(|v| v.as_str().and_then(from_hex)).flatten().collect::<Vec<u8>>()),
    }
}

/// Core's `MAX_GETUTXOS_OUTPOINTS`.
const MAX_OUTPOINTS: usize = 15;
/// The height Core reports for a coin created in the mempool.
const MEMPOOL_HEIGHT: u32 = 0x7FFF_FFFF;

/// Reads a Bitcoin compact size.
fn compact_size(bytes: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = bytes.split_first()?;
    *bytes = rest;
    let width = match first {
        0xfd => 2,
        0xfe => 4,
        0xff => 8,
        n => return Some(u64::from(n)),
    };
    let (num, rest) = bytes.split_at_checked(width)?;
    *bytes = rest;
    Some(num.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(u8::try_from(n).unwrap_or(0xfc)),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_le_bytes());
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        }
    }
}

/// Satoshis from an RPC amount (`50.00000000`).
fn sats(v: &Value) -> Option<u64> {
    let text = v.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<8}");
    int.parse::<u64>().ok()?.checked_mul(100_000_000)?.checked_add(frac.get(..8)?.parse().ok()?)
}

/// `/rest/getutxos[/checkmempool]/<txid>-<n>/...` and the BIP64 body form.
async fn getutxos(source: Arc<dyn Source>, subpath: String, body: Bytes) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    let parts: Vec<&str> = if param.len() > 1 { param[1..].split('/').collect() } else { Vec::new() };
    if body.is_empty() && parts.is_empty() {
        return error(HttpStatus::BAD_REQUEST, "Error: empty request");
    }
    let mut check_mempool = parts.first() == Some(&"checkmempool");
    let mut outpoints: Vec<(String, u32)> = Vec::new();
    for part in parts.iter().skip(usize::from(check_mempool)) {
        let parsed = part.split_once('-').filter(|(t, n)| is_hash(t) && !n.contains('-')).and_then(|(t, n)| {
            n.parse::<u32>().ok().filter(|_| n.bytes().all(|b| b.is_ascii_digit())).map(|n| (t.to_owned(), n))
        });
        match parsed {
            Some(op) => outpoints.push(op),
            None => return error(HttpStatus::BAD_REQUEST, "Parse error"),
        }
    }
    let from_uri = !outpoints.is_empty();
    if !parts.is_empty() && !from_uri {
        return error(HttpStatus::BAD_REQUEST, "Error: empty request");
    }
    match format {
        Format::Bin | Format::Hex => {
            let raw = if format == Format::Hex {
                from_hex(String::from_utf8_lossy(&body).trim()).unwrap_or_default()
            } else {
                body.to_vec()
            };
            if !raw.is_empty() {
                if from_uri {
                    return error(
                        HttpStatus::BAD_REQUEST,
                        "Combination of URI scheme inputs and raw post data is not allowed",
                    );
                }
                let mut rest: &[u8] = &raw;
                let parsed = (|| {
                    let (&flag, tail) = rest.split_first()?;
                    rest = tail;
                    check_mempool = flag != 0;
                    let n = compact_size(&mut rest)?;
                    let mut ops = Vec::new();
                    for _ in 0..n {
                        let (op, tail) = rest.split_at_checked(36)?;
                        rest = tail;
                        let mut txid = op[..32].to_vec();
                        txid.reverse();
                        ops.push((to_hex(&txid), u32::from_le_bytes(op[32..].try_into().ok()?)));
                    }
                    Some(ops)
                })();
                match parsed {
                    Some(ops) => outpoints = ops,
                    None => return error(HttpStatus::BAD_REQUEST, "Parse error"),
                }
            }
        }
        Format::Json if !from_uri => return error(HttpStatus::BAD_REQUEST, "Error: empty request"),
        Format::Json => {}
        Format::Undefined => return format_missing(false),
    }
    if outpoints.len() > MAX_OUTPOINTS {
        return error(
            HttpStatus::BAD_REQUEST,
            format!("Error: max outpoints exceeded (max: {MAX_OUTPOINTS}, tried: {})", outpoints.len()),
        );
    }
    let info = match call(&source, "getblockchaininfo", json!([])).await {
        Err(r) => return r,
        Ok(Ok(v)) => v,
        Ok(Err((_, m))) => return error(HttpStatus::INTERNAL_SERVER_ERROR, m),
    };
    let height = info["blocks"].as_u64().unwrap_or(0);
    let tip = info["bestblockhash"].as_str().unwrap_or_default().to_owned();
    let mut bitmap = String::new();
    let mut coins = Vec::new();
    for (txid, n) in &outpoints {
        match call(&source, "gettxout", json!([txid, n, check_mempool])).await {
            Err(r) => return r,
            Ok(Ok(coin)) if !coin.is_null() => {
                let confirmations = coin["confirmations"].as_u64().unwrap_or(0);
                let coin_height = if confirmations == 0 {
                    MEMPOOL_HEIGHT
                } else {
                    u32::try_from(height + 1 - confirmations).unwrap_or(MEMPOOL_HEIGHT)
                };
                bitmap.push('1');
                coins.push((coin_height, coin));
            }
            Ok(_) => bitmap.push('0'),
        }
    }
    if format == Format::Json {
        let utxos: Vec<Value> = coins
            .iter()
            .map(|(h, c)| json!({"height": h, "value": c["value"], "scriptPubKey": c["scriptPubKey"]}))
            .collect();
        return reply_json(&json!({
            "chainHeight": height,
            "chaintipHash": tip,
            "bitmap": bitmap,
            "utxos": utxos,
        }));
    }
    let mut out = Vec::new();
    out.extend_from_slice(&i32::try_from(height).unwrap_or(i32::MAX).to_le_bytes());
    let mut tip_internal = from_hex(&tip).unwrap_or_default();
    tip_internal.reverse();
    out.extend_from_slice(&tip_internal);
    let mut bits = vec![0u8; bitmap.len().div_ceil(8)];
    for (i, c) in bitmap.chars().enumerate() {
        if c == '1' {
            bits[i / 8] |= 1 << (i % 8);
        }
    }
    write_compact_size(&mut out, bits.len() as u64);
    out.extend_from_slice(&bits);
    write_compact_size(&mut out, coins.len() as u64);
    for (h, c) in &coins {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&h.to_le_bytes());
        write_txout(&mut out, c);
    }
    reply_bytes(format, out)
}

/// The `count` of `headers` and `blockfilterheaders`: 1 to
/// [`MAX_HEADERS`], written as Core's `ToIntegral` accepts it.
/// The error is Core's 400 text.
fn header_count(raw: &str) -> Result<u64, String> {
    match to_integral(raw) {
        Some(n) if (1..=MAX_HEADERS).contains(&n) => Ok(n),
        _ => Err(format!("Header count is invalid or out of acceptable range (1-{MAX_HEADERS}): {raw}")),
    }
}

/// A `CTxOut` (amount, then the script with its length) from the RPC's
/// JSON form of an output (`value`, `scriptPubKey.hex`).
fn write_txout(out: &mut Vec<u8>, o: &Value) {
    out.extend_from_slice(&sats(&o["value"]).unwrap_or(0).to_le_bytes());
    let script = o["scriptPubKey"]["hex"].as_str().and_then(from_hex).unwrap_or_default();
    write_compact_size(out, script.len() as u64);
    out.extend_from_slice(&script);
}

/// `/rest/spenttxouts/<hash>`: the outputs each transaction of the block
/// spent (from its undo data), the coinbase's list always empty. Read from
/// `getblock` verbosity 3, whose `prevout`s are that undo data.
async fn spenttxouts(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    if param.contains('/') {
        return error(HttpStatus::BAD_REQUEST, "Invalid URI format. Expected /rest/spenttxouts/<hash>.<ext>");
    }
    if !is_hash(&param) {
        return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {param}"));
    }
    let block = match call(&source, "getblock", json!([param, 3])).await {
        Err(r) => return r,
        Ok(Err(_)) => return error(HttpStatus::NOT_FOUND, format!("{param} not found")),
        Ok(Ok(b)) => b,
    };
    let txs = block["tx"].as_array().cloned().unwrap_or_default();
    let mut spent: Vec<Vec<&Value>> = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        let inputs = tx["vin"].as_array().map(Vec::as_slice).unwrap_or_default();
        let prevouts: Option<Vec<&Value>> =
            if i == 0 { Some(Vec::new()) } else { inputs.iter().map(|v| v.get("prevout")).collect() };
        match prevouts {
            Some(p) => spent.push(p),
            None => return error(HttpStatus::NOT_FOUND, format!("{param} undo not available")),
        }
    }
    match format {
        Format::Json => reply_json(&Value::Array(
            spent
                .iter()
                .map(|outs| {
                    Value::Array(
                        outs.iter().map(|o| json!({"value": o["value"], "scriptPubKey": o["scriptPubKey"]})).collect(),
                    )
                })
                .collect(),
        )),
        Format::Undefined => format_missing(false),
        f => {
            let mut out = Vec::new();
            write_compact_size(&mut out, spent.len() as u64);
            for outs in &spent {
                write_compact_size(&mut out, outs.len() as u64);
                for o in outs {
                    write_txout(&mut out, o);
                }
            }
            reply_bytes(f, out)
        }
    }
}

/// `/rest/deploymentinfo.json` (at the tip) and
/// `/rest/deploymentinfo/<hash>.json`. Both prefixes reach here; the
/// sub-path after `/rest/deploymentinfo` tells them apart.
async fn deploymentinfo(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    if format != Format::Json {
        return format_missing(true);
    }
    let params = if param.is_empty() {
        json!([])
    } else {
        if !is_hash(&param) {
            return error(HttpStatus::BAD_REQUEST, format!("Invalid hash: {param}"));
        }
        json!([param])
    };
    match call(&source, "getdeploymentinfo", params).await {
        Err(r) => r,
        Ok(Ok(v)) => reply_json(&v),
        Ok(Err(_)) => error(HttpStatus::BAD_REQUEST, "Block not found"),
    }
}

async fn blockhashbyheight(source: Arc<dyn Source>, subpath: String) -> Response {
    if let Err(r) = check_warmup(&source).await {
        return r;
    }
    let (param, format) = parse_format(&subpath);
    let height = match param.parse::<i32>() {
        Ok(h) if h >= 0 => h,
        _ => {
            let shown: String =
                param.chars().filter(|c| c.is_ascii_alphanumeric() || " .,;-_/:?@()".contains(*c)).collect();
            return error(HttpStatus::BAD_REQUEST, format!("Invalid height: {shown}"));
        }
    };
    let hash = match call(&source, "getblockhash", json!([height])).await {
        Err(r) => return r,
        Ok(Err(_)) => return error(HttpStatus::NOT_FOUND, "Block height out of range"),
        Ok(Ok(v)) => v.as_str().unwrap_or_default().to_owned(),
    };
    match format {
        Format::Json => reply_json(&json!({ "blockhash": hash })),
        Format::Hex => Response::with_body(HttpStatus::OK, format!("{hash}\n"))
            .header(CONTENT_TYPE, HeaderValue::from_static("text/plain")),
        Format::Bin => {
            let mut internal = from_hex(&hash).unwrap_or_default();
            internal.reverse();
            reply_bytes(Format::Bin, internal)
        }
        Format::Undefined => format_missing(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_core_parses_them() {
        assert_eq!(parse_format("abc.json"), ("abc".into(), Format::Json));
        assert_eq!(parse_format("abc.bin?count=3"), ("abc".into(), Format::Bin));
        assert_eq!(parse_format("abc.txt"), ("abc.txt".into(), Format::Undefined));
        assert_eq!(parse_format("abc"), ("abc".into(), Format::Undefined));
        assert_eq!(query_param("x.json?verbose=false&mempool_sequence=true", "mempool_sequence"), Some("true"));
    }

    /// A source that only knows `getblock <hash> 0` of one block.
    struct OneBlock;

    impl Source for OneBlock {
        fn call(&self, method: &str, params: Value) -> BoxFuture<Result<Value, RpcFailure>> {
            let known = method == "getblock" && params[0] == "aa".repeat(32) && params[1] == 0;
            Box::pin(async move {
                if known {
                    Ok(json!("00010203"))
                } else {
                    Err((ferronode_protocol::codes::RPC_INVALID_ADDRESS_OR_KEY, "Block not found".into()))
                }
            })
        }
    }

    #[test]
    fn default_raw_block_slices_the_rpc_hex() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let hash = "aa".repeat(32);
        let bytes = |r: RawBlock| match r {
            RawBlock::Bytes(b) => Some(b.to_vec()),
            _ => None,
        };
        rt.block_on(async {
            assert_eq!(bytes(OneBlock.raw_block(&hash, None).await.unwrap()), Some(vec![0, 1, 2, 3]));
            assert_eq!(bytes(OneBlock.raw_block(&hash, Some((1, 2))).await.unwrap()), Some(vec![1, 2]));
            assert_eq!(bytes(OneBlock.raw_block(&hash, Some((3, 1))).await.unwrap()), Some(vec![3]));
            for part in [(3, 2), (4, 1), (0, 0), (u64::MAX, 2)] {
                assert!(matches!(OneBlock.raw_block(&hash, Some(part)).await.unwrap(), RawBlock::BadPart), "{part:?}");
            }
            assert!(matches!(OneBlock.raw_block(&"bb".repeat(32), None).await.unwrap(), RawBlock::NotFound));
        });
    }

    #[test]
    fn size_params_as_core_parses_them() {
        assert_eq!(size_param("h.bin?offset=12&size=3", "offset"), Some(12));
        for bad in [
            "h.bin?offset=+12",
            "h.bin?offset=-1",
            "h.bin?offset=",
            "h.bin?offset=1x",
            "h.bin?offset=99999999999999999999",
            "h.bin",
        ] {
            assert_eq!(size_param(bad, "offset"), None, "{bad}");
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex(&to_hex(&[0, 1, 0xab, 0xff])).unwrap(), [0, 1, 0xab, 0xff]);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
        assert!(from_hex("+f").is_none(), "a sign is not a hex digit");
        assert_eq!(from_hex("ABcd").unwrap(), [0xab, 0xcd]);
    }
}
