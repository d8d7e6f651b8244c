//! The bounded work queue: `workers` slots to run handlers, and at most
//! `depth` requests waiting for one.

use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The queue is full: the request must be answered 503 at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueFull;

/// Core's `WorkQueue`, as two semaphores.
///
/// A request first tries to take a worker slot. If none is free it needs a
/// waiting slot; with none of those either, it is rejected. Tokio's semaphore
/// is fair (first in, first out), so waiting requests run in arrival order and
/// a newcomer never overtakes one that is already waiting.
#[derive(Debug)]
pub(crate) struct WorkQueue {
    workers: Arc<Semaphore>,
    waiting: Semaphore,
    pub(crate) rejected: AtomicU64,
}

impl WorkQueue {
    pub(crate) fn new(workers: usize, depth: usize) -> Self {
        Self {
            workers: Arc::new(Semaphore::new(workers.max(1))),
            waiting: Semaphore::new(depth.max(1)),
            rejected: AtomicU64::new(0),
        }
    }

    /// Waits for a worker slot, or fails at once when the queue is full.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, QueueFull> {
        if let Ok(worker) = Arc::clone(&self.workers).try_acquire_owned() {
            return Ok(worker);
        }
        let Ok(place) = self.waiting.try_acquire() else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(QueueFull);
        };
        // The semaphore is never closed, so acquire cannot fail.
        let worker = Arc::clone(&self.workers).acquire_owned().await.map_err(|_| QueueFull)?;
        drop(place);
        Ok(worker)
    }

    /// Requests waiting for a worker.
    pub(crate) fn queued(&self, depth: usize) -> usize {
        depth.max(1) - self.waiting.available_permits()
    }

    /// Handlers running now.
    pub(crate) fn running(&self, workers: usize) -> usize {
        workers.max(1) - self.workers.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_beyond_workers_plus_depth() {
        let q = WorkQueue::new(2, 1);
        let a = q.acquire().await.expect("free worker");
        let _b = q.acquire().await.expect("free worker");
        // third waits in the queue
        let waiter = q.acquire();
        tokio::pin!(waiter);
        assert!(futures_poll_once(waiter.as_mut()).await.is_none());
        assert_eq!(q.queued(1), 1);
        // fourth finds the queue full
        assert_eq!(q.acquire().await.err(), Some(QueueFull));
        drop(a);
        assert!(waiter.await.is_ok());
        assert_eq!(q.rejected.load(Ordering::Relaxed), 1);
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
