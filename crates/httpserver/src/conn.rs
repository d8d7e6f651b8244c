//! One connection: hyper's HTTP/1.1 state machine over a socket wrapper
//! that reports activity and completed flushes to the request tracker
//! ([`crate::tracker`]), the connection's timers (idle, slow request heads,
//! unread replies), and parking of idle connections.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::close::CloseWatch;
use crate::routes::Table;
use crate::tracker::{ConnState, RequestGuard};

/// hyper answers malformed requests on its own (400, 431 for an oversize
/// head, 414 for an oversize target); Core answers 400 to all of them, with
/// `Cache-Control: no-store` and its default Content-Type. Replies made by
/// the server's own pipeline always carry a Content-Type, hyper's never do,
/// which tells them apart.
const CORE_BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nCache-Control: no-store\r\nContent-Length: 0\r\nContent-Type: text/html; charset=ISO-8859-1\r\n\r\n";

fn is_hyper_error_head(buf: &[u8]) -> bool {
    let status =
        buf.starts_with(b"HTTP/1.1 431 ") || buf.starts_with(b"HTTP/1.1 414 ") || buf.starts_with(b"HTTP/1.1 400 ");
    status && buf.ends_with(b"\r\n\r\n") && !buf.windows(13).any(|w| w.eq_ignore_ascii_case(b"content-type:"))
}

/// The socket, watched for activity and for completed flushes.
#[derive(Debug)]
pub(crate) struct TrackedIo<S> {
    inner: S,
    state: Arc<ConnState>,
    /// Bytes that replace what hyper wrote, still to be sent.
    pending: Vec<u8>,
    /// Bytes read by an earlier hyper connection but not used, served
    /// before reading the stream again.
    prefix: Bytes,
}

impl<S: AsyncWrite + Unpin> TrackedIo<S> {
    /// Sends `pending` before anything else.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
            self.state.touch();
        }
        Poll::Ready(Ok(()))
    }

    /// Replaces one of hyper's own error heads by Core's reply.
    fn intercept(&mut self, head: &[u8]) -> bool {
        if is_hyper_error_head(head) {
            self.pending.extend_from_slice(CORE_BAD_REQUEST);
            true
        } else {
            false
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.received();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        if self.intercept(buf) {
            std::task::ready!(self.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if self.intercept(first) {
                std::task::ready!(self.poll_pending(cx))?;
                return Poll::Ready(Ok(first.len()));
            }
        }
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        // hyper calls this only once its own write buffer is empty.
        let res = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(res, Poll::Ready(Ok(()))) {
            self.state.settle();
        }
        res
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        let res = Pin::new(&mut self.inner).poll_shutdown(cx);
        if matches!(res, Poll::Ready(Ok(()))) {
            self.state.settle();
        }
        res
    }
}

/// A stream the server can serve: TCP or Unix, readable-readiness included
/// (a parked connection waits for it without reading).
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl Stream for tokio::net::TcpStream {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }
}

impl Stream for tokio::net::UnixStream {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }
}

/// How a stretch of serving with hyper ended.
enum Served<S> {
    /// The connection is finished; drop it.
    Closed,
    /// Idle long enough: hyper's buffers were released and the stream is
    /// handed back, with any bytes hyper had read but not used.
    Parked(TrackedIo<S>),
}

/// Serves one accepted connection until it closes, times out or the server
/// closes it. `close` is set by `stop()` once no request is in flight
/// anywhere: quiet connections then close at once, busy ones as soon as their
/// reply is written.
///
/// A connection that stays idle for `park_idle_after` is *parked*: hyper's
/// connection (and its read and write buffers) is dropped and only the socket
/// is kept, waiting for readability; the next request gets a fresh hyper
/// connection. Ten thousand idle keep-alive clients then cost little more
/// than their sockets.
pub(crate) async fn serve<S: Stream>(
    stream: S,
    peer: crate::Peer,
    shared: Arc<crate::Shared>,
    close: CloseWatch,
    done: mpsc::Sender<()>,
) {
    let state = Arc::new(ConnState::new(Arc::clone(&shared.inflight)));
    state.touch();
    let ctx = Arc::new(ConnContext::new(shared, peer, done));
    let (shared, peer) = (&ctx.shared, &ctx.peer);
    let mut io = TrackedIo { inner: stream, state: Arc::clone(&state), pending: Vec::new(), prefix: Bytes::new() };
    loop {
        let served = Box::pin(serve_hyper(io, &ctx, &close)).await;
        let Served::Parked(parked) = served else { break };
        io = parked;
        if !io.prefix.is_empty() {
            continue;
        }
        // Parked: wait for the next request, the idle timeout or stop.
        let idle_deadline =
            shared.config.idle_timeout.map(|d| tokio::time::Instant::from_std(state.last_activity() + d));
        let _parked = ParkedGuard::new(&shared.parked);
        tokio::select! {
            biased;
            () = close.closed() => break,
            res = std::future::poll_fn(|cx| io.inner.poll_readable(cx)) => {
                if res.is_err() {
                    break;
                }
            }
            () = sleep_until_opt(idle_deadline), if idle_deadline.is_some() => {
                tracing::debug!(target: "http", "closing idle connection from {peer}");
                break;
            }
        }
    }
    state.abandon();
}

/// Counts parked connections for the metrics.
struct ParkedGuard<'a>(&'a AtomicUsize);

impl<'a> ParkedGuard<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for ParkedGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The next time the connection's timers need a look.
fn next_check(state: &ConnState, config: &crate::HttpConfig, stopping: bool) -> tokio::time::Instant {
    let now = Instant::now();
    if stopping {
        return tokio::time::Instant::from_std(now + Duration::from_millis(50));
    }
    let last = state.last_activity();
    let candidates = [
        config.idle_timeout.map(|d| last + d),
        config.park_idle_after.map(|d| last + d),
        config.header_timeout.and_then(|d| state.head_started().map(|t| t + d)),
    ];
    let soonest = candidates.into_iter().flatten().filter(|t| *t > now).min();
    // Nothing due (or only due while busy): look again after the shortest
    // interval, at most a second from now.
    let fallback = [config.idle_timeout, config.park_idle_after, config.header_timeout]
        .into_iter()
        .flatten()
        .chain(std::iter::once(Duration::from_secs(1)))
        .min()
        .unwrap_or(Duration::from_secs(1));
    tokio::time::Instant::from_std(soonest.unwrap_or(now + fallback).max(now + Duration::from_millis(1)))
}

/// What every request on one connection shares. Requests clone this `Arc`,
/// which only their own connection touches, rather than the server-wide
/// ones inside it.
#[derive(Debug)]
pub(crate) struct ConnContext {
    pub(crate) shared: Arc<crate::Shared>,
    pub(crate) peer: crate::Peer,
    /// The routes as this connection last saw them, and their generation.
    pub(crate) routes: Arc<Table>,
    routes_generation: u64,
    /// Keeps `stop()` waiting while the connection or one of its handlers
    /// is alive; never sent on.
    _done: mpsc::Sender<()>,
}

impl ConnContext {
    fn new(shared: Arc<crate::Shared>, peer: crate::Peer, done: mpsc::Sender<()>) -> Self {
        let (routes_generation, routes) = shared.routes.snapshot();
        Self { shared, peer, routes, routes_generation, _done: done }
    }

    /// This context, or a copy with the current routes if they changed
    /// since it was made.
    fn current(this: &mut Arc<Self>) -> Arc<Self> {
        if this.shared.routes.generation() != this.routes_generation {
            let fresh = Self::new(Arc::clone(&this.shared), this.peer.clone(), this._done.clone());
            *this = Arc::new(fresh);
        }
        Arc::clone(this)
    }
}

async fn serve_hyper<S: Stream>(io: TrackedIo<S>, ctx: &Arc<ConnContext>, close: &CloseWatch) -> Served<S> {
    let (shared, peer) = (&ctx.shared, &ctx.peer);
    let state = Arc::clone(&io.state);
    let service = {
        let state = Arc::clone(&state);
        // Requests on one connection come one at a time; this cell is only
        // ever borrowed for the moment it takes to clone the context.
        let ctx = std::cell::RefCell::new(Arc::clone(ctx));
        hyper::service::service_fn(move |req| {
            let guard = RequestGuard::new(&state);
            let ctx = ConnContext::current(&mut ctx.borrow_mut());
            // Boxed so that hyper's connection is Unpin and can be taken
            // apart when the connection is parked.
            Box::pin(crate::pipeline::dispatch(ctx, req, guard))
        })
    };
    let mut conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // Core writes `Content-Type`, not `content-type`; naive clients grep for it.
        .title_case_headers(true)
        .max_buf_size(shared.config.max_header_size.max(8192))
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);

    let config = &shared.config;
    let mut stopping = false;
    let mut parking = false;
    let mut flush_deadline: Option<Instant> = None;
    let timer = tokio::time::sleep_until(next_check(&state, config, false));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            // the connection first: it is what wakes the task nearly every
            // time, and a fixed order needs no random number per poll
            biased;
            res = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
                if let Err(e) = res {
                    tracing::debug!(target: "http", "connection from {peer} ended: {e}");
                    return Served::Closed;
                }
                if parking && !stopping {
                    let parts = conn.into_parts();
                    let mut io = parts.io.into_inner();
                    io.prefix = parts.read_buf;
                    return Served::Parked(io);
                }
                return Served::Closed;
            }
            () = close.closed(), if !stopping => {
                stopping = true;
                state.watch();
                if state.is_quiet() {
                    return Served::Closed;
                }
                Pin::new(&mut conn).graceful_shutdown();
                timer.as_mut().reset(next_check(&state, config, true));
            }
            () = state.quieted(), if stopping => {
                if state.is_quiet() {
                    return Served::Closed;
                }
            }
            () = &mut timer => {
                let now = Instant::now();
                let quiet = state.is_quiet();
                if stopping {
                    if quiet {
                        return Served::Closed;
                    }
                    // Handlers still running are waited for without a
                    // deadline (they are woken by the layer that owns them);
                    // a finished reply the client does not read gets
                    // `shutdown_flush_timeout`.
                    if state.has_finished_reply() {
                        let deadline = *flush_deadline.get_or_insert(now + config.shutdown_flush_timeout);
                        if now >= deadline {
                            tracing::debug!(target: "http", "client {peer} did not read its reply; closing");
                            return Served::Closed;
                        }
                    }
                } else if !quiet
                    && state.has_finished_reply()
                    && config.idle_timeout.is_some_and(|d| now.saturating_duration_since(state.last_activity()) >= d)
                {
                    // The reply is complete but the client stopped reading it.
                    tracing::debug!(target: "http", "closing connection from {peer}: reply not read within the timeout");
                    return Served::Closed;
                } else if quiet && !parking {
                    let idle_for = now.saturating_duration_since(state.last_activity());
                    if let Some(started) = state.head_started() {
                        if config.header_timeout.is_some_and(|limit| now.saturating_duration_since(started) >= limit) {
                            tracing::debug!(target: "http", "closing connection from {peer}: request head not complete within {:?}", config.header_timeout.unwrap_or_default());
                            return Served::Closed;
                        }
                    } else if config.idle_timeout.is_some_and(|d| idle_for >= d) {
                        tracing::debug!(target: "http", "closing idle connection from {peer}");
                        return Served::Closed;
                    } else if config.park_idle_after.is_some_and(|d| idle_for >= d) {
                        parking = true;
                        Pin::new(&mut conn).graceful_shutdown();
                    }
                }
                timer.as_mut().reset(next_check(&state, config, stopping));
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
