//! One connection: hyper's HTTP/1.1 state machine, plus the request tracking
//! that lets `stop()` wait for exactly the replies in flight.
//!
//! A request is *in flight* from the moment hyper hands it to us until the
//! last byte of its reply has been passed to the socket. The reply body marks
//! itself finished when hyper has taken its last frame; the next successful
//! flush of the socket (hyper flushes after encoding a reply) settles it. A
//! connection with nothing in flight is *quiet*: idle keep-alive, never sent a
//! byte, or stuck halfway through a request head. Quiet connections are closed
//! at once when the server stops; busy ones are closed as soon as they turn
//! quiet.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, Notify};

use crate::close::CloseWatch;
use crate::routes::Table;

/// Bookkeeping shared by a connection's task, its socket wrapper and the
/// replies it sends.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Requests that arrived and whose reply has not been fully written.
    inflight: AtomicUsize,
    /// Replies whose body hyper has consumed but which await a flush.
    finished: AtomicUsize,
    /// Milliseconds since `epoch` of the last byte read or written.
    last_activity_ms: AtomicU64,
    /// 1 + milliseconds since `epoch` when the current request head began
    /// to arrive; 0 when no head is in progress.
    head_started_ms: AtomicU64,
    epoch: Instant,
    /// `epoch` on the coarse clock.
    epoch_coarse_ms: u64,
    /// Signalled when `inflight` drops to zero while `watching`.
    quiet: Notify,
    /// Set while the server stops: only then does the connection task need
    /// to hear about every settled reply.
    watching: AtomicBool,
    /// The server-wide count of requests in flight.
    total: Arc<Inflight>,
    /// This connection's shard of `total`.
    shard: usize,
}

/// Requests in flight across all connections, so that `stop()` can wait for
/// exactly them before closing idle connections.
///
/// The counts are split over shards, each on a cache line of its own, and a
/// connection always counts on the same shard. Two cores serving different
/// connections then rarely write the same line, and a shard's count is
/// never below the requests of its connections that are in flight, so the
/// sum `stop()` reads cannot miss one.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    shards: [InflightShard; INFLIGHT_SHARDS],
    /// Hands out shards to new connections in turn.
    next_shard: AtomicUsize,
    changed: Notify,
    /// Set once `stop()` waits: only then do the counters going down
    /// need to wake anyone. (Waking takes the `Notify`'s lock, which every
    /// connection would otherwise meet whenever a count falls.)
    watched: AtomicBool,
}

const INFLIGHT_SHARDS: usize = 16;

#[derive(Debug, Default)]
#[repr(align(128))]
struct InflightShard {
    /// Requests whose reply has not been fully written.
    count: AtomicUsize,
    /// Requests whose handler has not produced its whole reply yet.
    unfinished: AtomicUsize,
}

impl Inflight {
    /// The shard for a new connection.
    fn assign_shard(&self) -> usize {
        self.next_shard.fetch_add(1, Ordering::Relaxed) % INFLIGHT_SHARDS
    }

    fn add(&self, shard: usize) {
        let shard = &self.shards[shard];
        shard.count.fetch_add(1, Ordering::AcqRel);
        shard.unfinished.fetch_add(1, Ordering::AcqRel);
    }

    fn finish(&self, shard: usize) {
        self.shards[shard].unfinished.fetch_sub(1, Ordering::SeqCst);
        self.changed_if_watched();
    }

    fn sub(&self, shard: usize, n: usize) {
        if n > 0 {
            self.shards[shard].count.fetch_sub(n, Ordering::SeqCst);
            self.changed_if_watched();
        }
    }

    fn changed_if_watched(&self) {
        if self.watched.load(Ordering::SeqCst) {
            self.changed.notify_waiters();
        }
    }

    fn sum(&self, counter: fn(&InflightShard) -> &AtomicUsize) -> usize {
        self.shards.iter().map(|s| counter(s).load(Ordering::SeqCst)).sum()
    }

    async fn wait(&self, counter: fn(&InflightShard) -> &AtomicUsize) {
        // Set before the counters are read: a request that ends after the
        // read sees the flag and wakes us (both sides are SeqCst).
        self.watched.store(true, Ordering::SeqCst);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.sum(counter) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Resolves once every handler has produced its reply.
    pub(crate) async fn handlers_done(&self) {
        self.wait(|s| &s.unfinished).await;
    }

    /// Resolves once every reply has been written.
    pub(crate) async fn replies_written(&self) {
        self.wait(|s| &s.count).await;
    }

    pub(crate) fn get(&self) -> usize {
        self.sum(|s| &s.count)
    }
}

impl ConnState {
    fn new(total: Arc<Inflight>) -> Self {
        Self {
            shard: total.assign_shard(),
            total,
            inflight: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
            watching: AtomicBool::new(false),
            epoch: Instant::now(),
            epoch_coarse_ms: coarse_now_ms(),
            quiet: Notify::new(),
        }
    }

    /// Milliseconds since `epoch`, to within a scheduler tick.
    fn now_ms(&self) -> u64 {
        coarse_now_ms().saturating_sub(self.epoch_coarse_ms).min(u64::MAX - 1)
    }

    fn touch(&self) {
        self.last_activity_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: if no request is in flight they begin a request head.
    fn received(&self) {
        let now = self.now_ms();
        self.last_activity_ms.store(now, Ordering::Relaxed);
        if self.is_quiet() {
            let _ = self.head_started_ms.compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// When the request head now arriving began, if one is.
    fn head_started(&self) -> Option<Instant> {
        match self.head_started_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(self.epoch + Duration::from_millis(ms - 1)),
        }
    }

    fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.inflight.load(Ordering::Acquire) == 0
    }

    /// All bytes handed to the socket so far are written: every finished
    /// reply is now complete.
    fn settle(&self) {
        let done = self.finished.swap(0, Ordering::AcqRel);
        if done > 0 {
            if self.inflight.fetch_sub(done, Ordering::AcqRel) == done && self.watching.load(Ordering::Acquire) {
                self.quiet.notify_one();
            }
            self.total.sub(self.shard, done);
        }
    }
}

/// The coarse monotonic clock in milliseconds. Activity is stamped on every
/// read and write of every connection but only ever compared with timeouts
/// of seconds, so a clock that is a scheduler tick (a few ms) behind will do;
/// reading it costs no time-stamp counter read (which in a virtual machine
/// can be a paravirtual clock read).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn coarse_now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec, and clock_gettime writes
    // nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &raw mut ts) };
    if rc != 0 {
        // Not expected on Linux; every call then takes the precise clock.
        return precise_now_ms();
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

#[cfg(not(target_os = "linux"))]
fn coarse_now_ms() -> u64 {
    precise_now_ms()
}

/// Milliseconds since the first call, on the precise monotonic clock.
fn precise_now_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Counts one request from arrival until its reply is settled.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    state: Arc<ConnState>,
    done: bool,
}

impl RequestGuard {
    pub(crate) fn new(state: &Arc<ConnState>) -> Self {
        state.inflight.fetch_add(1, Ordering::AcqRel);
        state.head_started_ms.store(0, Ordering::Release);
        state.total.add(state.shard);
        Self { state: Arc::clone(state), done: false }
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.state.finished.fetch_add(1, Ordering::AcqRel);
            self.state.total.finish(self.state.shard);
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A reply body that tells the connection when hyper has taken all of it.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    data: Option<Bytes>,
    guard: RequestGuard,
}

impl TrackedBody {
    pub(crate) fn new(data: Bytes, guard: RequestGuard) -> Self {
        let data = (!data.is_empty()).then_some(data);
        let mut body = Self { data, guard };
        if body.data.is_none() {
            body.guard.finish();
        }
        body
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = self.data.take().map(|d| Ok(Frame::data(d)));
        self.guard.finish();
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

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
    // Requests that never settled (the client went away) no longer count.
    state.finished.store(0, Ordering::Release);
    state.total.sub(state.shard, state.inflight.swap(0, Ordering::AcqRel));
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
            Box::pin(crate::dispatch(ctx, req, guard))
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
                state.watching.store(true, Ordering::Release);
                if state.is_quiet() {
                    return Served::Closed;
                }
                Pin::new(&mut conn).graceful_shutdown();
                timer.as_mut().reset(next_check(&state, config, true));
            }
            () = state.quiet.notified(), if stopping => {
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
                    if state.finished.load(Ordering::Acquire) > 0 {
                        let deadline = *flush_deadline.get_or_insert(now + config.shutdown_flush_timeout);
                        if now >= deadline {
                            tracing::debug!(target: "http", "client {peer} did not read its reply; closing");
                            return Served::Closed;
                        }
                    }
                } else if !quiet
                    && state.finished.load(Ordering::Acquire) > 0
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

/// Reads a request body, refusing more than `limit` bytes.
pub(crate) async fn read_body(mut body: hyper::body::Incoming, limit: usize) -> Result<Bytes, BodyError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    // Most bodies arrive as one chunk: keep it as it is; copy only when a
    // second one comes.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<bytes::BytesMut> = None;
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyError::Malformed)?.into_data() else { continue };
        len += data.len();
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        match (&mut joined, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(head)) => {
                let mut buf = bytes::BytesMut::with_capacity(head.len() + data.len());
                buf.extend_from_slice(&head);
                buf.extend_from_slice(&data);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or_else(|| first.unwrap_or_default(), bytes::BytesMut::freeze))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooLarge,
    Malformed,
}
