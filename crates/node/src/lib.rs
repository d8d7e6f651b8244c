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
pub mod logging;
pub mod options;
pub mod p2p;
pub mod rpc;
pub mod shutdown;
pub mod zmq;

use std::sync::Arc;

use ferronode_httprpc::{HttpRpc, RpcServer};
use ferronode_httpserver::{HttpServer, Subnet};

use crate::config::NodeConfig;
use crate::shutdown::{Shutdown, ShutdownRequester};

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

/// The running servers, in the order Core starts them.
struct Servers {
    http: HttpServer,
    rpc: RpcServer,
    http_rpc: HttpRpc,
}

/// Core's `AppInitServers`.
async fn app_init_servers(
    config: &NodeConfig,
    requester: ShutdownRequester,
    slot: &rpc::ChainSlot,
    zmq_slot: &zmq::ZmqSlot,
    net_slot: &p2p::NetSlot,
    log: Option<Arc<logging::LogHandle>>,
) -> Result<Servers, InitError> {
    let http_error = || InitError("Unable to start HTTP server. See debug log for details.".into());
    let mut http_config = config.http.clone();
    for value in &config.rpcallowip {
        match parse_allowip(value, config.cjdns_reachable) {
            Some(subnet) => http_config.allow.push(subnet),
            None => {
                // Core shows this message, then fails init with the generic one.
                report_init_error(&format!("Invalid -rpcallowip subnet specification: {value}. Valid values are a single IP (e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0), a network/CIDR (e.g. 1.2.3.4/24), all ipv4 (0.0.0.0/0), or all ipv6 (::/0). RFC4193 is allowed only if -cjdnsreachable=0."));
                return Err(http_error());
            }
        }
    }
    let mut http = HttpServer::bind(http_config).await.map_err(|_| http_error())?;
    if let Some(v) = &config.bad_cookie_perms {
        if config.auth.password.is_empty() {
            tracing::error!("Invalid -rpccookieperms={v}; must be one of 'owner', 'group', or 'all'.");
            return Err(http_error());
        }
    }
    let log_path = config.log.file.clone().unwrap_or_default();
    let log_path = std::path::absolute(&log_path).unwrap_or(log_path);
    let rpc = RpcServer::with_config(
        rpc::table(rpc::TableState {
            http: Some(http.metrics_handle()),
            chain: slot,
            zmq: zmq_slot,
            net: net_slot,
            identity: &config.identity(),
            log,
        }),
        ferronode_httprpc::RpcConfig { log_path, doc_check: config.rpc_doc_check },
        Arc::new(move || requester.request()),
    );
    rpc.start();
    let http_rpc = match HttpRpc::start(http.routes(), &rpc, &config.auth) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("{e}");
            return Err(http_error());
        }
    };
    if config.rest {
        let source = RestSource { rpc: rpc.clone(), slot: slot.clone(), recent: Arc::default() };
        ferronode_rest::start(&http.routes(), Arc::new(source));
    }
    http.start();
    Ok(Servers { http, rpc, http_rpc })
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

/// Parses one `-rpcallowip` value. With `-cjdnsreachable`, RFC4193
/// addresses without the L bit (`fc00::/8`) would be CJDNS and are refused.
fn parse_allowip(value: &str, cjdns_reachable: bool) -> Option<Subnet> {
    let subnet = Subnet::parse(value)?;
    let cjdns = Subnet::parse("fc00::/8").expect("a valid literal subnet");
    if cjdns_reachable && value.split('/').next().and_then(|a| a.parse().ok()).is_some_and(|ip| cjdns.contains(ip)) {
        return None;
    }
    Some(subnet)
}

/// Core's `LockDirectory`: an exclusive `flock` on `<dir>/.lock`, held for
/// the life of the returned file.
#[allow(unsafe_code)]
fn lock_directory(dir: &std::path::Path) -> Result<std::fs::File, InitError> {
    use std::os::unix::io::AsRawFd as _;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| InitError(format!("Error while attempting to lock directory {}: {e}", dir.display())))?;
    // SAFETY: flock only reads the descriptor, which `file` owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(InitError(format!(
            "Cannot obtain a lock on directory {}. ferronode is probably already running.",
            dir.display()
        )));
    }
    Ok(file)
}

/// Runs `-startupnotify`/`-shutdownnotify` commands through the shell.
fn run_commands(cmds: &[String], wait: bool) {
    for cmd in cmds {
        match std::process::Command::new("sh").arg("-c").arg(cmd).stdin(std::process::Stdio::null()).spawn() {
            Ok(mut child) => {
                if wait {
                    let _ = child.wait();
                } else {
                    std::thread::spawn(move || child.wait());
                }
            }
            Err(e) => tracing::error!("runCommand error: unable to run {cmd}: {e}"),
        }
    }
}

/// Runs the node until shutdown. Returns the process exit code.
pub async fn run(config: NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
    // AppInitSanityChecks: one node per data directory
    let _lock = match lock_directory(&config.net_dir) {
        Ok(f) => f,
        Err(e) => {
            report_init_error(&e.0);
            return 1;
        }
    };
    run_locked(config, shutdown, log).await
}

async fn run_locked(config: NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
    if let Some(path) = &config.settings_file {
        if !path.exists() {
            if let Err(e) = std::fs::write(path, "{\n}\n") {
                report_init_error(&format!("Settings file could not be written: {}: {e}", path.display()));
                return 1;
            }
        }
    }
    if let Some(path) = &config.pid_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            report_init_error(&format!("Unable to create the PID file '{}': {e}", path.display()));
            return 1;
        }
    }
    let code = run_servers(&config, shutdown, log).await;
    if let Some(path) = &config.pid_file {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!("Unable to remove PID file ({}): {e}", path.display());
        }
    }
    tracing::info!("Shutdown: done");
    code
}

async fn run_servers(config: &NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
    let config = config.clone();
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for opt in &config.ignored {
        tracing::info!("Option {opt} is accepted for compatibility but has no effect in ferronode yet");
    }
    tracing::info!("ferronode version v{}", env!("CARGO_PKG_VERSION"));
    tracing::info!("Using data directory {}", config.net_dir.display());
    spawn_signal_handlers(shutdown.requester(), log.clone());

    let slot = rpc::ChainSlot::default();
    let zmq_slot = zmq::ZmqSlot::default();
    let net_slot = p2p::NetSlot::default();
    let servers = if config.server {
        match app_init_servers(&config, shutdown.requester(), &slot, &zmq_slot, &net_slot, log).await {
            Ok(s) => Some(s),
            Err(e) => {
                report_init_error(&e.0);
                return 1;
            }
        }
    } else {
        None
    };

    // Init proper: load the chain while RPC answers -28 with the status.
    let init_message = |text: &str| {
        tracing::info!("init message: {text}");
        if let Some(s) = &servers {
            s.rpc.set_warmup_status(text);
        }
    };
    // ZMQ before the chain, as in Core: a fresh chain's genesis block is
    // announced (and uses up the first sequence numbers)
    let notifier = zmq::start(config.zmq.clone());
    if let Some(n) = &notifier {
        let _ = zmq_slot.set(Arc::clone(n));
    }
    init_message("Loading block index…");
    let fatal_code = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let chain_config = chain_config(&config);
    let fatal = fatal_handler(shutdown.requester(), Arc::clone(&fatal_code));
    let opened = tokio::task::spawn_blocking(move || chain::Chain::open(&chain_config, Some(fatal))).await;
    let mut exit_code = 0;
    let mut net_feed = None;
    match opened {
        Ok(Ok(chain)) => {
            let chain = Arc::new(chain);
            tracing::info!("Loaded best chain: hashBestChain={} height={}", chain.tip().hash, chain.height());
            if let Some(n) = &notifier {
                zmq::connect(&chain, n);
            }
            if config.persist_mempool {
                load_mempool(&chain, &config.net_dir.join(MEMPOOL_FILE), config.mempool_expiry_secs);
            }
            let _ = slot.set(Arc::clone(&chain));
            init_message("Verifying blocks…");
            // StartNode: P2P once the chain is there, as in Core
            let bridge: Arc<dyn ferronode_net::ChainAccess> = Arc::new(p2p::ChainBridge(Arc::clone(&chain)));
            match ferronode_net::Net::start(config.p2p.clone(), bridge).await {
                Ok(net) => {
                    let net = Arc::new(net);
                    net_feed = Some(p2p::connect(&chain, &net));
                    let _ = net_slot.set(net);
                    init_message("Done loading");
                    if let Some(s) = &servers {
                        s.rpc.set_warmup_finished();
                    }
                    run_commands(&config.startupnotify, false);
                    shutdown.requested().await;
                }
                Err(e) => {
                    report_init_error(&e.0);
                    exit_code = 1;
                }
            }
        }
        Ok(Err(e)) => {
            report_init_error(&e.to_string());
            exit_code = 1;
        }
        Err(e) => {
            report_init_error(&format!("Loading the chain failed: {e}"));
            exit_code = 1;
        }
    }

    // Interrupt: -shutdownnotify first, waited for, as in Core
    run_commands(&config.shutdownnotify, true);
    if let Some(s) = &servers {
        s.http.interrupt();
        s.http_rpc.interrupt();
        s.rpc.interrupt();
    }
    // Shutdown: P2P first (Core's StopNode), so no peer feeds the chain
    tracing::info!("Shutdown: In progress...");
    if let Some(net) = net_slot.get() {
        net.shutdown().await;
    }
    if let Some(feed) = net_feed {
        feed.abort();
    }
    if let Some(Servers { http, rpc, http_rpc }) = servers {
        http_rpc.stop();
        if config.rest {
            ferronode_rest::stop(&http.routes());
        }
        rpc.stop();
        http.stop().await;
    }
    if config.persist_mempool {
        if let Some(chain) = slot.get() {
            let _ = chain.save_mempool();
        }
    }
    if let Some(n) = notifier {
        n.shutdown();
    }
    exit_code.max(fatal_code.load(std::sync::atomic::Ordering::SeqCst))
}

/// Core's `LoadMempool`: a missing or damaged file is logged and the node
/// goes on with an empty pool.
/// `mempool.dat`, in the network directory.
const MEMPOOL_FILE: &str = "mempool.dat";

/// The chain's slice of the node's configuration.
fn chain_config(config: &NodeConfig) -> chain::ChainConfig {
    let mut c = chain::ChainConfig::new(&config.net_dir).txindex(config.txindex).block_filters(config.blockfilterindex);
    c.max_mempool_bytes = config.max_mempool_bytes;
    c.mempool_expiry_secs = config.mempool_expiry_secs;
    if let Some(fee) = config.min_relay_fee {
        c.min_relay_fee = fee;
    }
    c.mempool_file = Some((config.net_dir.join(MEMPOOL_FILE), config.persist_mempool_v1));
    c
}

/// Core's `AbortNode` for the chain: the init-error message, exit code 1,
/// and a shutdown request.
fn fatal_handler(requester: ShutdownRequester, fatal_code: Arc<std::sync::atomic::AtomicU8>) -> chain::FatalHandler {
    Box::new(move |message| {
        report_init_error(&format!("A fatal internal error occurred, see debug.log for details: {message}"));
        fatal_code.store(1, std::sync::atomic::Ordering::SeqCst);
        requester.request();
    })
}

fn load_mempool(chain: &chain::Chain, path: &std::path::Path, expiry_secs: u64) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => {
            tracing::info!("Failed to open mempool file. Continuing anyway.");
            return;
        }
    };
    match chain::mempool_file::decode(&bytes) {
        Ok(txs) => {
            tracing::info!("Loading {} mempool transactions from file...", txs.len());
            let (ok, failed, expired, there) = chain.load_mempool(&txs, expiry_secs);
            tracing::info!(
                "Imported mempool transactions from file: {ok} succeeded, {failed} failed, {expired} expired, {there} already there, 0 waiting for initial broadcast"
            );
        }
        Err(e) => tracing::info!("Failed to deserialize mempool data on file: {e}. Continuing anyway."),
    }
}

fn spawn_signal_handlers(requester: ShutdownRequester, log: Option<Arc<logging::LogHandle>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [SignalKind::interrupt(), SignalKind::terminate()];
    for kind in kinds {
        let requester = requester.clone();
        match signal(kind) {
            Ok(mut sig) => {
                tokio::spawn(async move {
                    if sig.recv().await.is_some() {
                        requester.request();
                    }
                });
            }
            Err(e) => tracing::warn!("cannot install signal handler: {e}"),
        }
    }
    // SIGHUP reopens debug.log (log rotation), as in Core.
    if let Ok(mut hup) = signal(SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if let Some(log) = &log {
                    log.reopen();
                }
            }
        });
    }
}
