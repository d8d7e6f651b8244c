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
//!
//! # Why connections are tracked
//! Stopping must neither cut a reply in half nor wait for idle clients. Every
//! request is counted from the moment hyper hands it over until its reply's
//! last byte has been written to the socket; `stop()` closes quiet connections
//! at once and busy ones as soon as their reply is out. Idle keep-alive
//! connections and clients stuck halfway through their headers therefore
//! never delay shutdown.

mod close;
mod config;
mod conn;
mod handler;
mod queue;
mod routes;
mod subnet;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

pub use config::{
    default_max_connections, HttpConfig, UnixBind, DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS,
    DEFAULT_QUEUE_DEPTH, DEFAULT_WORKERS, MAX_BODY_SIZE, MAX_HEADERS_SIZE,
};
pub use handler::{Admission, BoxFuture, Handler, Reply, Request, RequestHead, Response};
pub use hyper::{header, HeaderMap};
/// Re-exported so handlers need no direct dependency on `http`.
pub use hyper::{Method as HttpMethod, StatusCode as HttpStatus};
pub use routes::Routes;
pub use subnet::{AllowList, Subnet};

use conn::{BodyError, RequestGuard, TrackedBody};
use queue::{QueueFull, WorkQueue};

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
    inflight: Arc<conn::Inflight>,
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
            tokio::spawn(accept_tcp(listener, ctx));
        }
        for listener in self.unix_listeners.drain(..) {
            let ctx =
                AcceptContext { shared: Arc::clone(&self.shared), stop: self.stop_tx.subscribe(), done: done.clone() };
            tokio::spawn(accept_unix(listener, ctx));
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

/// Binds a listening TCP socket with a generous accept backlog, so a burst
/// of connections (or a moment without free descriptors) queues in the
/// kernel instead of stalling clients in SYN retries.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accept backlog of listening sockets.
const LISTEN_BACKLOG: u32 = 4096;

fn bind_unix(ub: &UnixBind) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    if let Ok(meta) = std::fs::symlink_metadata(&ub.path) {
        // Replace a stale socket from an earlier run, never a regular file.
        if meta.file_type().is_socket() {
            std::fs::remove_file(&ub.path)?;
        }
    }
    let listener = UnixListener::bind(&ub.path)?;
    std::fs::set_permissions(&ub.path, std::fs::Permissions::from_mode(ub.mode))?;
    Ok(listener)
}

/// What an accept loop hands to the connections it spawns.
struct AcceptContext {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
}

/// A canned reply for a connection over the cap: it is answered before it
/// sends anything, then closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nCache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

impl AcceptContext {
    /// Serves an accepted stream, or refuses it when the cap is reached.
    fn spawn<S: conn::Stream>(&self, mut stream: S, peer: Peer) {
        let shared = Arc::clone(&self.shared);
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let open = shared.open_connections.fetch_add(1, Ordering::AcqRel);
        if open >= shared.config.max_connections {
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
            shared.refused_over_capacity.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "http", "Connection from {peer} refused: {open} connections open");
            tokio::spawn(async move {
                let write = stream.write_all(OVER_CAPACITY);
                let _ = tokio::time::timeout(std::time::Duration::from_millis(200), write).await;
            });
            return;
        }
        let close = shared.closer.subscribe();
        let done = self.done.clone();
        tokio::spawn(async move {
            conn::serve(stream, peer, Arc::clone(&shared), close, done).await;
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

async fn accept_tcp(listener: TcpListener, mut ctx: AcceptContext) {
    loop {
        let res = tokio::select! {
            biased;
            () = stopped(&mut ctx.stop) => break,
            res = listener.accept() => res,
        };
        match res {
            Ok((stream, addr)) => {
                if !ctx.shared.allow.allows(addr.ip()) {
                    ctx.shared.refused_not_allowed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "http", "Connection from {addr} rejected: Client network is not allowed HTTP access");
                    continue;
                }
                let _ = stream.set_nodelay(true);
                ctx.spawn(stream, Peer::Tcp(addr));
            }
            Err(e) => backoff(&e).await,
        }
    }
}

async fn accept_unix(listener: UnixListener, mut ctx: AcceptContext) {
    loop {
        let res = tokio::select! {
            biased;
            () = stopped(&mut ctx.stop) => break,
            res = listener.accept() => res,
        };
        match res {
            Ok((stream, _)) => ctx.spawn(stream, Peer::Unix),
            Err(e) => backoff(&e).await,
        }
    }
}

/// A failed accept is typically EMFILE: wait a little instead of spinning,
/// so the process survives descriptor exhaustion.
async fn backoff(e: &std::io::Error) {
    tracing::warn!(target: "http", "accept failed: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Resolves once the stop flag is set (at once if it already is).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the server value is gone, which also means stop.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// A reply generated by the server itself (not by a handler).
fn server_reply(status: StatusCode, body: &'static str) -> Response {
    let reply = Response::with_body(status, body).header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Tell clients when trying again makes sense.
        reply.header(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"))
    } else {
        reply
    }
}

/// Routes one request through the pipeline and turns the reply into hyper's.
///
/// What needs no waiting (the target, the checks, the route, the request
/// head) is done here, before the future is made: the future then holds
/// one copy of the head rather than one per layer of `async fn`, which
/// keeps it small enough for the allocator's fast path.
pub(crate) fn dispatch(
    conn: Arc<conn::ConnContext>,
    req: hyper::Request<hyper::body::Incoming>,
    guard: RequestGuard,
) -> impl std::future::Future<Output = Result<hyper::Response<TrackedBody>, std::convert::Infallible>> + Send {
    let (parts, body) = req.into_parts();
    // origin-form (`/path?query`), the usual case, without formatting
    let target = match (parts.uri.scheme(), parts.uri.path_and_query()) {
        (None, Some(pq)) => pq.as_str().to_owned(),
        _ => parts.uri.to_string(),
    };
    let peer = conn.peer.clone();
    let span = tracing::debug_span!(target: "http", "request", method = %parts.method, %target, %peer);
    let route = span.in_scope(|| {
        tracing::debug!(target: "http", "Received a {} request for {} from {}", parts.method, target, peer);
        pick_route(&conn, &parts.method, &target)
    });
    let subpath = route.as_ref().map_or_else(|_| String::new(), |&(_, at)| target[at..].to_owned());
    let head = RequestHead {
        method: parts.method,
        target,
        subpath,
        version: parts.version,
        headers: parts.headers,
        peer,
        principal: None,
        extensions: parts.extensions,
    };
    tracing::Instrument::instrument(serve_request(conn, head, body, guard, route.map(|(index, _)| index)), span)
}

/// The route for a request (its index in the connection's table, and where
/// the sub-path begins), or the status of the server's own reply: 503 while
/// shutting down, 405 for a method no handler takes, 404 for an unknown
/// path.
fn pick_route(conn: &conn::ConnContext, method: &Method, target: &str) -> Result<(usize, usize), StatusCode> {
    if conn.shared.interrupted.load(Ordering::SeqCst) {
        tracing::debug!(target: "http", "Rejecting request while shutting down");
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    if !matches!(*method, Method::GET | Method::POST | Method::HEAD | Method::PUT) {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    conn.routes.lookup(target).ok_or(StatusCode::NOT_FOUND)
}

/// The rest of the pipeline: admission, body, worker slot, handler.
///
/// An `async` block rather than an `async fn`: an `async fn` copies its
/// arguments into locals of its own, so the future would hold the request
/// head twice.
#[allow(clippy::manual_async_fn)] // on purpose, as said above
fn serve_request(
    conn: Arc<conn::ConnContext>,
    mut head: RequestHead,
    body: hyper::body::Incoming,
    guard: RequestGuard,
    route: Result<usize, StatusCode>,
) -> impl std::future::Future<Output = Result<hyper::Response<TrackedBody>, std::convert::Infallible>> + Send {
    async move {
        let reply = 'reply: {
            let handler = match route {
                Ok(index) => conn.routes.handler(index),
                Err(status) => break 'reply server_reply(status, ""),
            };
            if let Admission::Reply(reply) = handler.admit(&mut head) {
                break 'reply reply.await;
            }
            let body = match conn::read_body(body, conn.shared.config.max_body_size).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => break 'reply server_reply(StatusCode::PAYLOAD_TOO_LARGE, ""),
                Err(BodyError::Malformed) => break 'reply server_reply(StatusCode::BAD_REQUEST, ""),
            };
            if let Err(QueueFull) = conn.shared.queue.acquire().await {
                tracing::warn!("Request rejected because http work queue depth exceeded, it can be increased with the -rpcworkqueue= setting");
                break 'reply server_reply(StatusCode::SERVICE_UNAVAILABLE, "Work queue depth exceeded");
            }
            // The handler runs inline on the connection's task (no extra task
            // per request); a panic becomes a 500, and if the client goes
            // away mid-way the rest of the handler is moved to a task of its
            // own, as Core lets handlers finish whatever happens to their
            // client.
            let held = HeldSlot(&conn.shared);
            let req = Request { head, body };
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.respond(req))) {
                Ok(Reply::Now(reply)) => Ok(reply),
                Ok(Reply::Later(work)) => RunOrDetach::new(work, held.keep_for(&conn)).await,
                Err(_) => Err(()),
            };
            outcome.unwrap_or_else(|()| {
                tracing::error!(target: "http", "handler panicked");
                server_reply(StatusCode::INTERNAL_SERVER_ERROR, "unknown error")
            })
        };
        Ok(finalize(&conn.shared, reply, guard))
    }
}

/// A worker slot held while a handler answers at once; returned when
/// dropped.
struct HeldSlot<'a>(&'a Shared);

impl HeldSlot<'_> {
    /// The same slot, held for a handler that waits.
    fn keep_for(self, conn: &Arc<conn::ConnContext>) -> WorkSlot {
        // the slot passes to the `WorkSlot`, which returns it when dropped
        std::mem::forget(self);
        WorkSlot(Arc::clone(conn))
    }
}

impl Drop for HeldSlot<'_> {
    fn drop(&mut self) {
        self.0.queue.release();
    }
}

/// A worker slot held by a handler that waits, returned when dropped. It
/// keeps its connection's context (and so a `done` sender) alive: `stop()`
/// waits for every handler, even one whose client has gone.
struct WorkSlot(Arc<conn::ConnContext>);

impl Drop for WorkSlot {
    fn drop(&mut self) {
        self.0.shared.queue.release();
    }
}

/// Runs a handler inline while holding its worker slot. Dropped before the
/// handler finished (the client went away), it hands the handler and the
/// slot to a new task, so the work completes and `stop()` still waits for
/// it.
struct RunOrDetach {
    work: Option<CatchUnwind>,
    slot: Option<WorkSlot>,
}

impl RunOrDetach {
    fn new(work: BoxFuture<Response>, slot: WorkSlot) -> Self {
        Self { work: Some(CatchUnwind(work)), slot: Some(slot) }
    }
}

impl std::future::Future for RunOrDetach {
    type Output = Result<Response, ()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            return std::task::Poll::Ready(Err(()));
        };
        let outcome = std::task::ready!(std::pin::Pin::new(work).poll(cx));
        self.work = None;
        self.slot = None;
        std::task::Poll::Ready(outcome)
    }
}

impl Drop for RunOrDetach {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            let slot = self.slot.take();
            tokio::spawn(async move {
                let finished = work.await;
                drop((finished, slot));
            });
        }
    }
}

/// Polls a future, turning a panic into `Err`.
struct CatchUnwind(BoxFuture<Response>);

impl std::future::Future for CatchUnwind {
    type Output = Result<Response, ()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(p) => p.map(Ok),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

fn finalize(shared: &Shared, reply: Response, guard: RequestGuard) -> hyper::Response<TrackedBody> {
    let Response { status, mut headers, body } = reply;
    let body_allowed = !(status.is_informational() || status == StatusCode::NO_CONTENT);
    if body_allowed && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=ISO-8859-1"));
    }
    if !body_allowed {
        headers.remove(CONTENT_LENGTH);
    }
    if shared.interrupted.load(Ordering::SeqCst) {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let mut response = hyper::Response::new(TrackedBody::new(body, guard));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // Core master's wording.
        response.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(b"Content too large"));
    }
    response
}
