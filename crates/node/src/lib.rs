//! ferronoded: the regtest node that wires ferronode's server crates together.
//!
//! The node owns every server value and drives them through Bitcoin Core's
//! phases, so the order that Core keeps in comments lives here in code:
//!
//! 1. **AppInitServers**: bind the HTTP server (`InitHTTPServer`), start the
//!    RPC table (`StartRPC`), set up authentication and register `/`
//!    (`StartHTTPRPC`), start serving (`StartHTTPServer`). From here on RPC
//!    answers, with -28 until init is done.
//! 2. **Init**: open the chain (blocks, UTXO set and indexes from the
//!    datadir; genesis on a new one), load `mempool.dat`, start ZMQ and
//!    P2P, then end warmup.
//! 3. **Wait** for the shutdown trigger: the `stop` RPC, SIGINT or SIGTERM.
//! 4. **Interrupt**: HTTP server (new requests get 503), HTTP-RPC, RPC (long
//!    polls stop waiting).
//! 5. **Shutdown**: unregister the RPC handler, stop RPC (deletes the
//!    cookie), stop the HTTP server (waits for in-flight replies, drops idle
//!    connections at once).
//!
//! # Layout
//! - [`options`]: the accepted options (parsed by `ferronode-args`, shared
//!   with `ferronode-cli`); [`config`]: the typed [`config::NodeConfig`]
//!   built from them.
//! - [`logging`]: `debug.log` in Core's format.
//! - [`shutdown`]: the owned shutdown trigger.
//! - [`chain`]: the regtest chain (validation, storage, reorganisations,
//!   mining, mempool, indexes, the validation event stream).
//! - [`rpc`]: every command the node adds to httprpc's table, one file per
//!   Core category, each command a named function.
//! - [`p2p`] and [`zmq`]: the chain behind `ferronode-net` and
//!   `ferronode-zmq-notify`, fed from the validation event stream.

pub mod chain;
pub mod config;
pub mod init;
pub mod logging;
pub mod options;
pub mod p2p;
pub mod rpc;
pub mod shutdown;
pub mod zmq;

use std::sync::Arc;

use ferronode_httprpc::RpcServer;

use crate::config::NodeConfig;
use crate::shutdown::Shutdown;

/// An error that ends init: printed as `Error: <message>` on stderr.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InitError(pub String);

/// Reports an init error the way bitcoind does: an `[error]` line in
/// debug.log and `Error: <message>` on stderr.
pub fn report_init_error(message: &str) {
    tracing::error!("{message}");
    eprintln!("Error: {message}");
}

/// REST reads the chain through the RPC table, so that its JSON is the
/// RPC's JSON (see `ferronode_rest::Source`), and block bytes straight from
/// the block files.
struct RestSource {
    rpc: RpcServer,
    slot: rpc::ChainSlot,
    /// The whole blocks served last, newest first, at most
    /// [`RECENT_BLOCKS`] and [`RECENT_BLOCKS_BYTES`] in all: many clients fetching the same new
    /// block share one read. A block's bytes never change for its hash, so
    /// nothing here ever needs invalidating.
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<(bitcoin::BlockHash, bytes::Bytes)>>>,
}

/// Bounds of [`RestSource::recent`]: bytes and blocks.
const RECENT_BLOCKS_BYTES: usize = 16 << 20;
const RECENT_BLOCKS: usize = 8;

impl ferronode_rest::Source for RestSource {
    fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> ferronode_httpserver::BoxFuture<Result<serde_json::Value, ferronode_rest::RpcFailure>> {
        let rpc = self.rpc.clone();
        let request = ferronode_httprpc::request::JsonRpcRequest {
            method: method.to_owned(),
            params: ferronode_httprpc::request::Params::Positional(params.as_array().cloned().unwrap_or_default()),
        };
        Box::pin(async move {
            let caller = ferronode_httprpc::Caller { user: std::sync::Arc::from(""), uri: "/".into(), peer: None };
            rpc.execute(request, caller).await.map_err(|e| (e.code, e.message))
        })
    }

    fn raw_block(
        &self,
        hash: &str,
        part: Option<(u64, u64)>,
    ) -> ferronode_httpserver::BoxFuture<Result<ferronode_rest::RawBlock, ferronode_rest::RpcFailure>> {
        let slot = self.slot.clone();
        let recent = Arc::clone(&self.recent);
        let hash = hash.parse::<bitcoin::BlockHash>();
        Box::pin(async move {
            let (Some(chain), Ok(hash)) = (slot.get().cloned(), hash) else {
                return Ok(ferronode_rest::RawBlock::NotFound);
            };
            let recent_lock = || recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if part.is_none() {
                if let Some((_, b)) = recent_lock().iter().find(|(h, _)| *h == hash) {
                    return Ok(ferronode_rest::RawBlock::Bytes(b.clone()));
                }
            }
            let read = tokio::task::spawn_blocking(move || chain.raw_block(&hash, part)).await;
            match read {
                Ok(Ok(chain::RawBlock::Bytes(b))) => {
                    let b = bytes::Bytes::from(b);
                    if part.is_none() && b.len() <= RECENT_BLOCKS_BYTES {
                        let mut recent = recent_lock();
                        if !recent.iter().any(|(h, _)| *h == hash) {
                            recent.push_front((hash, b.clone()));
                            let mut total = 0;
                            recent.retain(|(_, x)| {
                                total += x.len();
                                total <= RECENT_BLOCKS_BYTES
                            });
                            recent.truncate(RECENT_BLOCKS);
                        }
                    }
                    Ok(ferronode_rest::RawBlock::Bytes(b))
                }
                Ok(Ok(chain::RawBlock::BadPart)) => Ok(ferronode_rest::RawBlock::BadPart),
                Ok(Ok(chain::RawBlock::Unknown)) => Ok(ferronode_rest::RawBlock::NotFound),
                Ok(Err(e)) => Err((-1, e.to_string())),
                Err(e) => Err((-1, e.to_string())),
            }
        })
    }
}

/// Runs the node until shutdown: Core's init phases, in [`init`]. Returns
/// the process exit code.
pub async fn run(config: NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
    init::run(config, shutdown, log).await
}
