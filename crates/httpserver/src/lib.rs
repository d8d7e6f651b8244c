//! HTTP/1.1 server core with Bitcoin Core's semantics, on tokio and hyper.
//!
//! Bitcoin Core's HTTP server is small but particular: handlers are mounted by
//! exact path or prefix, requests wait in a bounded work queue (503 `Work
//! queue depth exceeded` when it is full), and shutdown happens in two steps,
//! *interrupt* (refuse new requests) and *stop* (wait for the replies in
//! flight, then drop every connection). This crate provides exactly that as a
//! library: it knows nothing of JSON-RPC or REST, which mount themselves as
//! [`Handler`]s.
//!
//! # Layout
//! - [`HttpConfig`]: the typed configuration slice (bind addresses, workers,
//!   queue depth, timeouts, limits).
//! - [`HttpServer`]: the owned server value. [`HttpServer::bind`] (Core's
//!   `InitHTTPServer`), [`HttpServer::start`] (`StartHTTPServer`),
//!   [`HttpServer::interrupt`] (`InterruptHTTPServer`) and
//!   [`HttpServer::stop`] (`StopHTTPServer`). There is no global state; two
//!   servers can run in one process.
//! - [`Routes`]: the handler table, shared with whoever registers handlers.
//! - [`Handler`]: a two-step handler. `admit` runs on the connection without a
//!   worker (method checks, authentication, the delay after a bad password);
//!   `respond` runs holding a worker slot and either answers at once
//!   ([`Reply::Now`]) or returns the future of `handle`.
//! - [`record_call`]: a handler names what a request calls (the JSON-RPC
//!   method) in the request's log span (`-debug=http`), whose other fields
//!   are the HTTP method, the target and the peer.
//!
//! Inside, one module per concept:
//! - `accept`: binding the listening sockets, and the accept loop (one
//!   implementation for TCP and Unix sockets) with the allow list and the
//!   connection cap.
//! - `conn`: one connection: hyper's state machine over a socket wrapper
//!   that reports activity and flushes, the timers, parking.
//! - `pipeline`: one request: route, `admit`, body, worker slot, `respond`,
//!   and the server's headers on the reply.
//! - `queue`: the work queue (Core's `g_work_queue`); a worker slot is an
//!   RAII `Permit`.
//! - `tracker`: the request tracker (Core's `g_requests`): requests in
//!   flight server-wide (`Inflight`), per connection (`ConnState`) and per
//!   request (`RequestGuard`, and `TrackedBody`, the reply body that says
//!   when hyper has taken it all).
//! - `close`: the signal that closes every connection; `clock`: the coarse
//!   clock that stamps activity; `routes`, `subnet`, `config`, `handler`.
//!
//! # Why connections are tracked
//! Stopping must neither cut a reply in half nor wait for idle clients. Every
//! request is counted from the moment hyper hands it over until its reply's
//! last byte has been written to the socket; `stop()` closes quiet connections
//! at once and busy ones as soon as their reply is out. Idle keep-alive
//! connections and clients stuck halfway through their headers therefore
//! never delay shutdown.

mod accept;
mod clock;
mod close;
mod config;
mod conn;
mod handler;
mod pipeline;
mod queue;
mod routes;
mod subnet;
mod tracker;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

pub use config::{
    default_max_connections, HttpConfig, UnixBind, DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS,
    DEFAULT_QUEUE_DEPTH, DEFAULT_WORKERS, MAX_BODY_SIZE, MAX_HEADERS_SIZE,
};
pub use handler::{record_call, Admission, BoxFuture, Handler, Reply, Request, RequestHead, Response};
pub use hyper::{header, HeaderMap};
/// Re-exported so handlers need no direct dependency on `http`.
pub use hyper::{Method as HttpMethod, StatusCode as HttpStatus};
pub use routes::Routes;
pub use subnet::{AllowList, Subnet};

use accept::{accept_loop, bind_unix, listen, AcceptContext};
use queue::WorkQueue;

/// Who is at the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A client on a Unix domain socket.
    Unix,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => addr.fmt(f),
            Self::Unix => f.write_str("unix"),
        }
    }
}

/// Errors from starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Not one of the configured endpoints could be bound.
    #[error("unable to bind any endpoint for RPC server")]
    NoEndpoint,
}

/// A snapshot of the server's load, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Metrics {
    /// Connections open now.
    pub open_connections: usize,
    /// Requests waiting for a worker.
    pub queued: usize,
    /// Handlers running now.
    pub running: usize,
    /// Requests answered 503 because the queue was full, since start.
    pub rejected: u64,
    /// Idle connections parked (holding only their socket).
    pub parked: usize,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections closed at accept because their network is not allowed.
    pub refused_not_allowed: u64,
    /// Connections answered 503 at accept because too many were open.
    pub refused_over_capacity: u64,
}

/// Reads a server's [`Metrics`].
#[derive(Debug, Clone)]
pub struct MetricsHandle {
    shared: Arc<Shared>,
}

impl MetricsHandle {
    /// The current load.
    #[must_use]
    pub fn snapshot(&self) -> Metrics {
        let s = &self.shared;
        Metrics {
            open_connections: s.open_connections.load(Ordering::Relaxed),
            queued: s.queue.queued(),
            running: s.queue.running(s.config.workers),
            rejected: s.queue.rejected.load(Ordering::Relaxed),
            parked: s.parked.load(Ordering::Relaxed),
            accepted: s.accepted.load(Ordering::Relaxed),
            refused_not_allowed: s.refused_not_allowed.load(Ordering::Relaxed),
            refused_over_capacity: s.refused_over_capacity.load(Ordering::Relaxed),
        }
    }
}

/// State shared by the accept loops, the connections and the owner.
#[derive(Debug)]
pub(crate) struct Shared {
    config: HttpConfig,
    routes: Arc<Routes>,
    queue: WorkQueue,
    /// Set by `interrupt()`: new requests are refused, replies close.
    interrupted: AtomicBool,
    open_connections: AtomicUsize,
    parked: AtomicUsize,
    accepted: AtomicU64,
    refused_not_allowed: AtomicU64,
    refused_over_capacity: AtomicU64,
    inflight: Arc<tracker::Inflight>,
    /// Tells connections to close (once nothing is in flight).
    closer: Arc<close::Closer>,
    allow: AllowList,
}

/// The HTTP server, owned by the program that embeds it.
#[derive(Debug)]
pub struct HttpServer {
    shared: Arc<Shared>,
    /// Bound but not yet serving (between `bind` and `start`).
    listeners: Vec<TcpListener>,
    unix_listeners: Vec<UnixListener>,
    local_addrs: Vec<SocketAddr>,
    /// Unix socket files to remove at stop.
    unix_paths: Vec<PathBuf>,
    /// Tells the accept loops to stop accepting.
    stop_tx: watch::Sender<bool>,
    /// Every task holds a clone; `stop()` waits until all are dropped.
    done_tx: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
}

impl HttpServer {
    /// Binds every configured endpoint (Core's `InitHTTPServer`). Failures
    /// are logged and tolerated as long as one endpoint binds.
    ///
    /// # Errors
    /// [`HttpError::NoEndpoint`] when nothing could be bound.
    pub async fn bind(config: HttpConfig) -> Result<Self, HttpError> {
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        let mut chosen_port = None;
        for &addr in &config.bind {
            let mut addr = addr;
            if addr.port() == 0 {
                if let Some(port) = chosen_port {
                    addr.set_port(port);
                }
            }
            tracing::info!("Binding RPC on address {} port {}", addr.ip(), addr.port());
            match listen(addr) {
                Ok(listener) => {
                    let local = listener.local_addr().unwrap_or(addr);
                    chosen_port.get_or_insert(local.port());
                    local_addrs.push(local);
                    listeners.push(listener);
                }
                Err(e) => {
                    tracing::warn!("Binding RPC on address {addr} failed: {e}");
                }
            }
            if addr.ip().is_unspecified() {
                tracing::warn!(
                    "The RPC server is not safe to expose to untrusted networks such as the public internet"
                );
            }
        }
        let mut unix_listeners = Vec::new();
        let mut unix_paths = Vec::new();
        for ub in &config.unix {
            tracing::info!("Binding RPC on unix socket {}", ub.path.display());
            match bind_unix(ub) {
                Ok(l) => {
                    unix_listeners.push(l);
                    unix_paths.push(ub.path.clone());
                }
                Err(e) => tracing::warn!("Binding RPC on unix socket {} failed: {e}", ub.path.display()),
            }
        }
        if listeners.is_empty() && unix_listeners.is_empty() {
            tracing::error!("Unable to bind any endpoint for RPC server");
            return Err(HttpError::NoEndpoint);
        }
        let allow = AllowList::new(&config.allow);
        tracing::debug!(target: "http", "Allowing HTTP connections from: {allow}");
        let shared = Arc::new(Shared {
            allow,
            refused_not_allowed: AtomicU64::new(0),
            refused_over_capacity: AtomicU64::new(0),
            queue: WorkQueue::new(config.workers, config.queue_depth),
            config,
            routes: Arc::new(Routes::default()),
            interrupted: AtomicBool::new(false),
            open_connections: AtomicUsize::new(0),
            parked: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            inflight: Arc::default(),
            closer: Arc::default(),
        });
        let (stop_tx, _) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        Ok(Self {
            shared,
            listeners,
            unix_listeners,
            local_addrs,
            unix_paths,
            stop_tx,
            done_tx: Some(done_tx),
            done_rx,
        })
    }

    /// The addresses actually bound (with the ports the system chose).
    #[must_use]
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The handler table, to register and unregister handlers.
    #[must_use]
    pub fn routes(&self) -> Arc<Routes> {
        Arc::clone(&self.shared.routes)
    }

    /// The current load.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.metrics_handle().snapshot()
    }

    /// A handle that reads the metrics later, from anywhere (an RPC command,
    /// for instance) without holding the server.
    #[must_use]
    pub fn metrics_handle(&self) -> MetricsHandle {
        MetricsHandle { shared: Arc::clone(&self.shared) }
    }

    /// Starts accepting connections (Core's `StartHTTPServer`). Must be
    /// called from within a tokio runtime. Calling it twice does nothing.
    pub fn start(&mut self) {
        let Some(done) = self.done_tx.as_ref() else { return };
        tracing::debug!(target: "http", "Starting HTTP server");
        for listener in self.listeners.drain(..) {
            let ctx =
                AcceptContext { shared: Arc::clone(&self.shared), stop: self.stop_tx.subscribe(), done: done.clone() };
            tokio::spawn(accept_loop(listener, ctx));
        }
        for listener in self.unix_listeners.drain(..) {
            let ctx =
                AcceptContext { shared: Arc::clone(&self.shared), stop: self.stop_tx.subscribe(), done: done.clone() };
            tokio::spawn(accept_loop(listener, ctx));
        }
    }

    /// Refuses new requests (Core's `InterruptHTTPServer`): from now on every
    /// new request gets 503 and every reply carries `Connection: close`.
    /// Requests already queued still run. Connections are still accepted.
    pub fn interrupt(&self) {
        tracing::debug!(target: "http", "Interrupting HTTP server");
        self.shared.interrupted.store(true, Ordering::SeqCst);
    }

    /// Stops the server (Core's `StopHTTPServer`): stops accepting, waits
    /// until every request in flight has run and its reply has been written
    /// (meanwhile new requests get 503 and `Connection: close`), then closes
    /// every connection at once, idle keep-alive and half-sent ones included,
    /// and returns when nothing is left. Implies
    /// [`interrupt`](Self::interrupt).
    pub async fn stop(mut self) {
        tracing::debug!(target: "http", "Stopping HTTP server");
        self.interrupt();
        self.listeners.clear();
        self.unix_listeners.clear();
        self.stop_tx.send_replace(true);
        let inflight = self.shared.inflight.get();
        if inflight > 0 {
            tracing::debug!(target: "http", "Waiting for {inflight} requests to stop HTTP server");
        }
        // Handlers get all the time they need (long polls are woken by the
        // layer that owns them); a client that does not read its reply gets
        // `shutdown_flush_timeout`.
        self.shared.inflight.handlers_done().await;
        let flush = self.shared.inflight.replies_written();
        if tokio::time::timeout(self.shared.config.shutdown_flush_timeout, flush).await.is_err() {
            tracing::debug!(target: "http", "Timeout waiting for HTTP clients to read their replies, continuing shutdown");
        }
        self.shared.closer.close();
        drop(self.done_tx.take());
        // Returns None once every accept loop, connection and handler task
        // has dropped its sender.
        while self.done_rx.recv().await.is_some() {}
        for path in &self.unix_paths {
            let _ = std::fs::remove_file(path);
        }
        tracing::debug!(target: "http", "Stopped HTTP server");
    }
}

impl Drop for HttpServer {
    /// A server dropped without [`stop`](Self::stop) still closes its
    /// connections (the accept loops end as their stop channel closes).
    fn drop(&mut self) {
        self.shared.closer.close();
    }
}
