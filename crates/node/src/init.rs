//! Core's `init.cpp` phases, in Core's order: `AppInitServers`, init proper,
//! `Interrupt`, `Shutdown` (see `node-lifecycle.md`).
//!
//! The order is carried by types. [`app_init_servers`] returns [`Servers`];
//! the only way forward from it is the consuming [`Servers::interrupt`],
//! which returns [`Interrupted`]; the only thing an [`Interrupted`] can do is
//! the consuming [`Interrupted::shutdown`]. So `shutdown` cannot be called
//! before `interrupt`, nor anything after `shutdown`:
//!
//! ```compile_fail
//! # async fn f(servers: ferronode_node::init::Servers) {
//! servers.shutdown().await; // no such method: interrupt first
//! # }
//! ```

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use ferronode_httprpc::{HttpRpc, RpcServer};
use ferronode_httpserver::{HttpServer, Subnet};

use crate::config::NodeConfig;
use crate::shutdown::{Shutdown, ShutdownRequester};
use crate::{chain, logging, p2p, report_init_error, rpc, zmq, InitError};

/// The running servers, in the order Core starts them. Its only way
/// forward is [`Servers::interrupt`].
#[derive(Debug)]
pub struct Servers {
    http: HttpServer,
    rpc: RpcServer,
    http_rpc: HttpRpc,
    /// Whether REST was registered, so that shutdown unregisters it.
    rest: bool,
}

/// The servers after Core's `Interrupt`: new requests get 503, long polls
/// stop waiting. Its only way forward is [`Interrupted::shutdown`].
#[derive(Debug)]
#[must_use = "interrupted servers must be shut down"]
pub struct Interrupted(Servers);

impl Servers {
    /// The RPC server, for the warmup status during init.
    #[must_use]
    pub fn rpc(&self) -> &RpcServer {
        &self.rpc
    }

    /// The addresses the HTTP server listens on.
    #[must_use]
    pub fn local_addrs(&self) -> &[std::net::SocketAddr] {
        self.http.local_addrs()
    }

    /// Core's `Interrupt` for the servers: `InterruptHTTPServer`,
    /// `InterruptHTTPRPC`, `InterruptRPC`.
    pub fn interrupt(self) -> Interrupted {
        self.http.interrupt();
        self.http_rpc.interrupt();
        self.rpc.interrupt();
        Interrupted(self)
    }
}

impl Interrupted {
    /// Core's `Shutdown` for the servers: `StopHTTPRPC` (and REST),
    /// `StopRPC` (deletes the cookie), `StopHTTPServer` (waits for the
    /// replies in flight).
    pub async fn shutdown(self) {
        let Servers { http, rpc, http_rpc, rest } = self.0;
        http_rpc.stop();
        if rest {
            ferronode_rest::stop(&http.routes());
        }
        rpc.stop();
        http.stop().await;
    }
}

/// What the servers need from the node besides its config.
#[derive(Debug, Clone, Default)]
pub struct Slots {
    /// Receives the chain once init has loaded it.
    pub chain: rpc::ChainSlot,
    /// Receives the ZMQ notifier.
    pub zmq: zmq::ZmqSlot,
    /// Receives the P2P network.
    pub net: p2p::NetSlot,
}

/// Core's `AppInitServers`.
///
/// # Errors
/// Core's "Unable to start HTTP server" when a bind, `-rpcallowip`,
/// `-rpccookieperms` or the authentication setup fails.
pub async fn app_init_servers(
    config: &NodeConfig,
    requester: ShutdownRequester,
    slots: &Slots,
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
            chain: &slots.chain,
            zmq: &slots.zmq,
            net: &slots.net,
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
        let source = crate::RestSource { rpc: rpc.clone(), slot: slots.chain.clone(), recent: Arc::default() };
        ferronode_rest::start(&http.routes(), Arc::new(source));
    }
    http.start();
    Ok(Servers { http, rpc, http_rpc, rest: config.rest })
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
pub(crate) async fn run(config: NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
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

/// The startup lines of debug.log: config warnings, ignored options,
/// version and data directory.
fn log_startup(config: &NodeConfig) {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for opt in &config.ignored {
        tracing::info!("Option {opt} is accepted for compatibility but has no effect in ferronode yet");
    }
    tracing::info!("ferronode version v{}", env!("CARGO_PKG_VERSION"));
    tracing::info!("Using data directory {}", config.net_dir.display());
}

/// What init proper leaves for shutdown.
struct Running {
    /// The exit code of init (1 when it failed).
    exit_code: u8,
    /// The task that feeds chain events to P2P, when P2P started.
    net_feed: Option<tokio::task::JoinHandle<()>>,
    /// The ZMQ notifier, when `-zmqpub*` asked for one.
    notifier: Option<Arc<ferronode_zmq_notify::ZmqNotifier>>,
}

async fn run_servers(config: &NodeConfig, shutdown: Shutdown, log: Option<Arc<logging::LogHandle>>) -> u8 {
    let config = config.clone();
    log_startup(&config);
    spawn_signal_handlers(shutdown.requester(), log.clone());

    let slots = Slots::default();
    let servers = if config.server {
        match app_init_servers(&config, shutdown.requester(), &slots, log).await {
            Ok(s) => Some(s),
            Err(e) => {
                report_init_error(&e.0);
                return 1;
            }
        }
    } else {
        None
    };
    let fatal_code = Arc::new(AtomicU8::new(0));
    let running = init_main(&config, &shutdown, servers.as_ref(), &slots, &fatal_code).await;

    // Interrupt: -shutdownnotify first, waited for, as in Core
    run_commands(&config.shutdownnotify, true);
    let interrupted = servers.map(Servers::interrupt);
    shutdown_all(&config, interrupted, &slots, running.net_feed, running.notifier).await;
    running.exit_code.max(fatal_code.load(Ordering::SeqCst))
}

/// Init proper (Core's `AppInitMain`): load the chain while RPC answers -28
/// with the status, start P2P, end warmup, then wait for the shutdown
/// request.
async fn init_main(
    config: &NodeConfig,
    shutdown: &Shutdown,
    servers: Option<&Servers>,
    slots: &Slots,
    fatal_code: &Arc<AtomicU8>,
) -> Running {
    let init_message = |text: &str| {
        tracing::info!("init message: {text}");
        if let Some(s) = servers {
            s.rpc.set_warmup_status(text);
        }
    };
    // ZMQ before the chain, as in Core: a fresh chain's genesis block is
    // announced (and uses up the first sequence numbers)
    let notifier = zmq::start(config.zmq.clone());
    if let Some(n) = &notifier {
        let _ = slots.zmq.set(Arc::clone(n));
    }
    init_message("Loading block index…");
    let mut running = Running { exit_code: 0, net_feed: None, notifier };
    let chain = match open_chain(config, shutdown.requester(), Arc::clone(fatal_code)).await {
        Ok(chain) => chain,
        Err(e) => {
            report_init_error(&e.0);
            running.exit_code = 1;
            return running;
        }
    };
    tracing::info!("Loaded best chain: hashBestChain={} height={}", chain.tip().hash, chain.height());
    if let Some(n) = &running.notifier {
        zmq::connect(&chain, n);
    }
    if config.persist_mempool {
        load_mempool(&chain, &config.net_dir.join(MEMPOOL_FILE), config.mempool_expiry_secs);
    }
    let _ = slots.chain.set(Arc::clone(&chain));
    init_message("Verifying blocks…");
    match start_node(config, &chain, slots).await {
        Ok(feed) => {
            running.net_feed = Some(feed);
            init_message("Done loading");
            if let Some(s) = servers {
                s.rpc.set_warmup_finished();
            }
            run_commands(&config.startupnotify, false);
            shutdown.requested().await;
        }
        Err(e) => {
            report_init_error(&e.0);
            running.exit_code = 1;
        }
    }
    running
}

/// `mempool.dat`, in the network directory.
const MEMPOOL_FILE: &str = "mempool.dat";

/// Opens the chain with its slice of the node's configuration; a fatal
/// chain error is reported, sets the exit code in `fatal_code` and
/// requests shutdown.
async fn open_chain(
    config: &NodeConfig,
    requester: ShutdownRequester,
    fatal_code: Arc<AtomicU8>,
) -> Result<Arc<chain::Chain>, InitError> {
    let chain_config = chain_config(config);
    let fatal = fatal_handler(requester, fatal_code);
    match tokio::task::spawn_blocking(move || chain::Chain::open(&chain_config, Some(fatal))).await {
        Ok(Ok(chain)) => Ok(Arc::new(chain)),
        Ok(Err(e)) => Err(InitError(e.to_string())),
        Err(e) => Err(InitError(format!("Loading the chain failed: {e}"))),
    }
}

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
fn fatal_handler(requester: ShutdownRequester, fatal_code: Arc<AtomicU8>) -> chain::FatalHandler {
    Box::new(move |message| {
        report_init_error(&format!("A fatal internal error occurred, see debug.log for details: {message}"));
        fatal_code.store(1, Ordering::SeqCst);
        requester.request();
    })
}

/// Core's `StartNode`: P2P once the chain is there. Returns the task that
/// feeds it the chain's events.
async fn start_node(
    config: &NodeConfig,
    chain: &Arc<chain::Chain>,
    slots: &Slots,
) -> Result<tokio::task::JoinHandle<()>, InitError> {
    let bridge: Arc<dyn ferronode_net::ChainAccess> = Arc::new(p2p::ChainBridge(Arc::clone(chain)));
    let net = ferronode_net::Net::start(config.p2p.clone(), bridge).await.map_err(|e| InitError(e.0))?;
    let net = Arc::new(net);
    let feed = p2p::connect(chain, &net);
    let _ = slots.net.set(net);
    Ok(feed)
}

/// Core's `Shutdown`: P2P first (Core's `StopNode`), so no peer feeds the
/// chain, then the servers, then `mempool.dat`, then ZMQ.
async fn shutdown_all(
    config: &NodeConfig,
    servers: Option<Interrupted>,
    slots: &Slots,
    net_feed: Option<tokio::task::JoinHandle<()>>,
    notifier: Option<Arc<ferronode_zmq_notify::ZmqNotifier>>,
) {
    tracing::info!("Shutdown: In progress...");
    if let Some(net) = slots.net.get() {
        net.shutdown().await;
    }
    if let Some(feed) = net_feed {
        feed.abort();
    }
    if let Some(servers) = servers {
        servers.shutdown().await;
    }
    if config.persist_mempool {
        if let Some(chain) = slots.chain.get() {
            let _ = chain.save_mempool();
        }
    }
    if let Some(n) = notifier {
        n.shutdown();
    }
}
/// Core's `LoadMempool`: a missing or damaged file is logged and the node
/// goes on with an empty pool.
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
