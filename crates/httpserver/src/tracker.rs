//! The request tracker (Core's `g_requests`): which requests are in flight,
//! server-wide and on each connection, so that `stop()` can wait for
//! exactly the replies in flight and then close every other connection.
//!
//! A request is *in flight* from the moment hyper hands it to us until the
//! last byte of its reply has been passed to the socket. The reply body
//! ([`TrackedBody`]) marks itself finished when hyper has taken its last
//! frame; the next successful flush of the socket (hyper flushes after
//! encoding a reply) settles it. A connection with nothing in flight is
//! *quiet*: idle keep-alive, never sent a byte, or stuck halfway through a
//! request head. Quiet connections are closed at once when the server stops;
//! busy ones are closed as soon as they turn quiet.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

use crate::clock::coarse_now_ms;

/// One connection's requests in flight and its activity, shared by the
/// connection's task, its socket wrapper and the replies it sends.
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
    pub(crate) fn new(total: Arc<Inflight>) -> Self {
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

    pub(crate) fn touch(&self) {
        self.last_activity_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: if no request is in flight they begin a request head.
    pub(crate) fn received(&self) {
        let now = self.now_ms();
        self.last_activity_ms.store(now, Ordering::Relaxed);
        if self.is_quiet() {
            let _ = self.head_started_ms.compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// When the request head now arriving began, if one is.
    pub(crate) fn head_started(&self) -> Option<Instant> {
        match self.head_started_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(self.epoch + Duration::from_millis(ms - 1)),
        }
    }

    pub(crate) fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.inflight.load(Ordering::Acquire) == 0
    }

    /// All bytes handed to the socket so far are written: every finished
    /// reply is now complete.
    pub(crate) fn settle(&self) {
        let done = self.finished.swap(0, Ordering::AcqRel);
        if done > 0 {
            if self.inflight.fetch_sub(done, Ordering::AcqRel) == done && self.watching.load(Ordering::Acquire) {
                self.quiet.notify_one();
            }
            self.total.sub(self.shard, done);
        }
    }

    /// A reply is complete but not yet flushed (its client may not be
    /// reading it).
    #[inline]
    pub(crate) fn has_finished_reply(&self) -> bool {
        self.finished.load(Ordering::Acquire) > 0
    }

    /// The server stops: from now on the connection task hears about every
    /// settled reply through [`quieted`](Self::quieted).
    #[inline]
    pub(crate) fn watch(&self) {
        self.watching.store(true, Ordering::Release);
    }

    /// Resolves when the last request in flight settles, once
    /// [`watch`](Self::watch)ed.
    #[inline]
    pub(crate) fn quieted(&self) -> tokio::sync::futures::Notified<'_> {
        self.quiet.notified()
    }

    /// The connection is gone: requests that never settled (the client went
    /// away) no longer count.
    pub(crate) fn abandon(&self) {
        self.finished.store(0, Ordering::Release);
        self.total.sub(self.shard, self.inflight.swap(0, Ordering::AcqRel));
    }
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
