//! The signal that tells every connection to close.
//!
//! A connection's task checks this signal each time it is polled, which is
//! several times per request. A `tokio::sync::watch` or `Notify` shared by
//! all connections takes one lock, the same lock for every connection, on
//! each of those polls; with two workers serving at once that lock and its
//! cache line pass between the cores on every request. Here a connection
//! registers a waker of its own once and then checks one flag: the only
//! shared write is the registration when the connection opens and closes.

use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// Owned by the server; [`close`](Closer::close) wakes every subscriber.
#[derive(Debug, Default)]
pub(crate) struct Closer {
    closed: AtomicBool,
    next_id: AtomicU64,
    subscribers: Mutex<HashMap<u64, Arc<AtomicWaker>>>,
}

impl Closer {
    /// A watch for one connection, registered until it is dropped.
    pub(crate) fn subscribe(self: &Arc<Self>) -> CloseWatch {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let waker = Arc::new(AtomicWaker::new());
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::clone(&waker));
        CloseWatch { closer: Arc::clone(self), id, waker }
    }

    /// Sets the signal and wakes every subscriber. Calling it again does
    /// nothing more.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        for waker in subscribers.values() {
            waker.wake();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// One connection's view of the [`Closer`].
#[derive(Debug)]
pub(crate) struct CloseWatch {
    closer: Arc<Closer>,
    id: u64,
    waker: Arc<AtomicWaker>,
}

impl CloseWatch {
    /// Ready once the server closes connections.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.closer.is_closed() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // `close` may have run between the check and the registration.
        if self.closer.is_closed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Resolves once the server closes connections (at once if it has).
    pub(crate) async fn closed(&self) {
        poll_fn(|cx| self.poll_closed(cx)).await;
    }
}

impl Drop for CloseWatch {
    fn drop(&mut self) {
        self.closer.subscribers.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn close_wakes_waiting_subscribers_and_later_ones_see_it() {
        let closer = Arc::new(Closer::default());
        let watches: Vec<_> = (0..3).map(|_| closer.subscribe()).collect();
        let waiting: Vec<_> = watches.into_iter().map(|w| tokio::spawn(async move { w.closed().await })).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(waiting.iter().all(|t| !t.is_finished()), "nobody is woken before close");
        closer.close();
        for task in waiting {
            tokio::time::timeout(Duration::from_secs(5), task).await.expect("woken by close").expect("no panic");
        }
        assert!(
            closer.subscribers.lock().unwrap_or_else(PoisonError::into_inner).is_empty(),
            "dropped watches unregister"
        );
        let late = closer.subscribe();
        tokio::time::timeout(Duration::from_secs(5), late.closed())
            .await
            .expect("a late subscriber sees the signal at once");
    }
}
