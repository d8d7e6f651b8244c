//! The bounded work queue: `workers` slots to run handlers, and at most
//! `depth` requests waiting for one. A slot is held as a [`Permit`], which
//! gives it back when dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

/// The queue is full: the request must be answered 503 at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueFull;

/// `waiting` is kept in the high half of the state word, `free` in the low.
const ONE_WAITING: u64 = 1 << 32;

fn free(state: u64) -> u64 {
    state & (ONE_WAITING - 1)
}

fn waiting(state: u64) -> u64 {
    state >> 32
}

/// Core's `WorkQueue`: `workers` slots to run handlers, and at most `depth`
/// requests waiting for one, served first in, first out.
///
/// Free slots and waiting requests share one atomic word. While nobody
/// waits, taking and returning a slot is one compare-and-swap each and
/// touches no lock (a `tokio::sync::Semaphore` takes its lock on every
/// release, and every request on every connection would meet there). Only
/// when all slots are busy do requests queue under the mutex, and a
/// returned slot then goes straight to the oldest waiter, so a newcomer
/// never overtakes a request that is already waiting.
#[derive(Debug)]
pub(crate) struct WorkQueue {
    depth: u64,
    state: AtomicU64,
    /// Changed only with `state`'s `waiting` half, under this lock.
    waiters: Mutex<Waiters>,
    pub(crate) rejected: AtomicU64,
}

#[derive(Debug, Default)]
struct Waiters {
    queue: VecDeque<Waiter>,
    next_id: u64,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    grant: oneshot::Sender<()>,
}

impl WorkQueue {
    pub(crate) fn new(workers: usize, depth: usize) -> Self {
        let workers = u64::try_from(workers.max(1)).unwrap_or(u64::MAX).min(ONE_WAITING - 1);
        Self {
            depth: u64::try_from(depth.max(1)).unwrap_or(u64::MAX),
            state: AtomicU64::new(workers),
            waiters: Mutex::new(Waiters::default()),
            rejected: AtomicU64::new(0),
        }
    }

    /// Takes a free slot if nobody is waiting for one.
    fn try_take(&self, mut state: u64) -> Result<(), u64> {
        while waiting(state) == 0 && free(state) > 0 {
            match self.state.compare_exchange_weak(state, state - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(now) => state = now,
            }
        }
        Err(state)
    }

    /// Waits for a worker slot, or fails at once when the queue is full.
    /// The slot is held until the permit is dropped.
    pub(crate) async fn acquire(&self) -> Result<Permit<&Self>, QueueFull> {
        let Err(_) = self.try_take(self.state.load(Ordering::Acquire)) else { return Ok(Permit::new(self)) };
        let (id, grant) = {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            let mut state = self.state.load(Ordering::Acquire);
            loop {
                state = match self.try_take(state) {
                    Ok(()) => return Ok(Permit::new(self)),
                    Err(state) => state,
                };
                if waiting(state) >= self.depth {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    return Err(QueueFull);
                }
                match self.state.compare_exchange(state, state + ONE_WAITING, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(now) => state = now,
                }
            }
            let (tx, rx) = oneshot::channel();
            let id = waiters.next_id;
            waiters.next_id += 1;
            waiters.queue.push_back(Waiter { id, grant: tx });
            (id, rx)
        };
        let mut wait = Wait { queue: self, id, grant: Some(grant) };
        let granted = match wait.grant.as_mut() {
            Some(grant) => grant.await.is_ok(),
            None => false,
        };
        wait.grant = None;
        // The sender is only dropped unsent once the queue itself is gone.
        if granted {
            Ok(Permit::new(self))
        } else {
            Err(QueueFull)
        }
    }

    /// Returns a slot: to the oldest waiter if there is one, else to the pool.
    fn release(&self) {
        let mut state = self.state.load(Ordering::Acquire);
        while waiting(state) == 0 {
            match self.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let Some(waiter) = waiters.queue.pop_front() else {
                // Nobody is left waiting (`waiting` only changes under the lock).
                self.state.fetch_add(1, Ordering::AcqRel);
                return;
            };
            self.state.fetch_sub(ONE_WAITING, Ordering::AcqRel);
            if waiter.grant.send(()).is_ok() {
                return;
            }
        }
    }

    /// Requests waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        usize::try_from(waiting(self.state.load(Ordering::Acquire))).unwrap_or(usize::MAX)
    }

    /// Handlers running now.
    pub(crate) fn running(&self, workers: usize) -> usize {
        let free = usize::try_from(free(self.state.load(Ordering::Acquire))).unwrap_or(usize::MAX);
        workers.max(1).saturating_sub(free)
    }
}

/// What a [`Permit`] reaches its queue through: a borrow of it, or an
/// owner that keeps it alive (and whatever else must live as long as the
/// slot is held).
pub(crate) trait QueueRef {
    /// The queue the slot came from.
    fn work_queue(&self) -> &WorkQueue;
}

impl QueueRef for &WorkQueue {
    #[inline]
    fn work_queue(&self) -> &WorkQueue {
        self
    }
}

/// One worker slot, taken from a [`WorkQueue`] and returned to it when the
/// permit is dropped (or [`release`](Self::release)d).
///
/// A permit starts as a borrow of the queue, which costs nothing to make.
/// A holder that must outlive the borrow (a handler that waits, and may be
/// moved to a task of its own) passes the slot on to an owner with
/// [`keep_with`](Self::keep_with). `None` inside means the slot has been
/// passed on or returned; it takes no room (the references have a niche).
#[must_use = "the slot goes back to the queue when the permit is dropped"]
#[derive(Debug)]
pub(crate) struct Permit<Q: QueueRef> {
    queue: Option<Q>,
}

impl<Q: QueueRef> Permit<Q> {
    #[inline]
    fn new(queue: Q) -> Self {
        Self { queue: Some(queue) }
    }

    /// The same slot, from now on returned through `owner`, which must
    /// reach the same queue.
    #[inline]
    pub(crate) fn keep_with<O: QueueRef>(mut self, owner: O) -> Permit<O> {
        let queue = self.queue.take();
        Permit {
            queue: queue.map(|queue| {
                debug_assert!(std::ptr::eq(queue.work_queue(), owner.work_queue()), "a slot stays in its queue");
                owner
            }),
        }
    }

    /// Returns the slot now; dropping the permit afterwards does nothing.
    #[inline]
    pub(crate) fn release(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.work_queue().release();
        }
    }

    /// Moves the slot out into a new permit, leaving this one empty.
    #[inline]
    pub(crate) fn take(&mut self) -> Self {
        Self { queue: self.queue.take() }
    }
}

impl<Q: QueueRef> Drop for Permit<Q> {
    #[inline]
    fn drop(&mut self) {
        self.release();
    }
}

/// A request waiting in the queue. Dropped before it got its slot (the
/// client went away), it leaves the queue; dropped just after the slot was
/// handed to it, it hands the slot on.
struct Wait<'a> {
    queue: &'a WorkQueue,
    id: u64,
    grant: Option<oneshot::Receiver<()>>,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let Some(mut grant) = self.grant.take() else { return };
        {
            let mut waiters = self.queue.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(pos) = waiters.queue.iter().position(|w| w.id == self.id) {
                waiters.queue.remove(pos);
                self.queue.state.fetch_sub(ONE_WAITING, Ordering::AcqRel);
                return;
            }
        }
        // Not in the queue any more: a slot was sent (under the lock, so it
        // has arrived by now). Pass it on.
        if grant.try_recv().is_ok() {
            self.queue.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_beyond_workers_plus_depth() {
        let q = WorkQueue::new(2, 1);
        let first = q.acquire().await.expect("free worker");
        let _second = q.acquire().await.expect("free worker");
        // third waits in the queue
        let waiter = q.acquire();
        tokio::pin!(waiter);
        assert!(futures_poll_once(waiter.as_mut()).await.is_none());
        assert_eq!(q.queued(), 1);
        // fourth finds the queue full
        assert_eq!(q.acquire().await.err(), Some(QueueFull));
        drop(first);
        let _third = waiter.await.expect("granted");
        assert_eq!(q.running(2), 2, "the slot went to the waiter");
        assert_eq!(q.rejected.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn waiters_are_served_in_order_and_newcomers_queue_behind_them() {
        let q = WorkQueue::new(1, 3);
        let held = q.acquire().await.expect("free worker");
        let first = q.acquire();
        let second = q.acquire();
        tokio::pin!(first, second);
        assert!(futures_poll_once(first.as_mut()).await.is_none());
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        drop(held);
        // the slot went to `first`; a newcomer finds nothing free
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        let newcomer = q.acquire();
        tokio::pin!(newcomer);
        assert!(futures_poll_once(newcomer.as_mut()).await.is_none());
        drop(first.await.expect("granted"));
        let second = second.await.expect("granted");
        assert!(futures_poll_once(newcomer.as_mut()).await.is_none());
        drop(second);
        drop(newcomer.await.expect("granted"));
        assert_eq!((q.running(1), q.queued()), (0, 0));
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_leaves_its_place() {
        let q = WorkQueue::new(1, 1);
        let held = q.acquire().await.expect("free worker");
        {
            let gone = q.acquire();
            tokio::pin!(gone);
            assert!(futures_poll_once(gone.as_mut()).await.is_none());
            assert_eq!(q.queued(), 1);
        }
        assert_eq!(q.queued(), 0, "a dropped waiter leaves the queue");
        let next = q.acquire();
        tokio::pin!(next);
        assert!(futures_poll_once(next.as_mut()).await.is_none(), "its place can be taken");
        drop(held);
        drop(next.await.expect("granted"));
        assert_eq!(q.running(1), 0);
    }

    #[test]
    fn never_more_running_than_workers_under_contention() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
        let q = Arc::new(WorkQueue::new(3, 1000));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..400)
                .map(|i| {
                    let (q, running, peak) = (Arc::clone(&q), Arc::clone(&running), Arc::clone(&peak));
                    tokio::spawn(async move {
                        if i % 7 == 0 {
                            // some give up while waiting
                            let waited = tokio::time::timeout(std::time::Duration::from_micros(50), q.acquire()).await;
                            drop(waited);
                            return;
                        }
                        let permit = q.acquire().await.expect("depth 1000 is never full here");
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("no panic");
            }
        });
        // Timed-out waiters may have been granted a slot as they left; they
        // must have handed it on, so everything is free at the end.
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!((q.running(3), q.queued()), (0, 0));
    }

    #[tokio::test]
    async fn a_permit_returns_its_slot_once_wherever_it_went() {
        let q = WorkQueue::new(1, 1);
        let mut permit = q.acquire().await.expect("free worker");
        assert_eq!(q.running(1), 1);
        let moved = permit.take();
        drop(permit);
        assert_eq!(q.running(1), 1, "an emptied permit returns nothing");
        let mut owned = moved.keep_with(&q);
        assert_eq!(q.running(1), 1, "passing the slot on keeps it taken");
        owned.release();
        assert_eq!(q.running(1), 0);
        drop(owned);
        assert_eq!(free(q.state.load(Ordering::Acquire)), 1, "a released permit returns nothing when dropped");
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
