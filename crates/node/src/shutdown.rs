//! The node's shutdown trigger: one owner, narrow requesters.
//!
//! Core signals shutdown through a `SignalInterrupt` object that anything may
//! trigger (the `stop` RPC, SIGINT/SIGTERM, a fatal error). Here the node owns
//! the single [`Shutdown`] value, which is not `Clone`; whoever may ask for a
//! stop gets a [`ShutdownRequester`], which can only request. Nothing polls a
//! flag: waiting is a future that resolves when the request is made.

use std::sync::Arc;

use tokio::sync::watch;

/// The owned trigger. Only the node holds it.
#[derive(Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

/// A handle that can ask for shutdown and nothing else.
#[derive(Debug, Clone)]
pub struct ShutdownRequester {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger that has not fired.
    #[must_use]
    pub fn new() -> Self {
        Self { tx: Arc::new(watch::channel(false).0) }
    }

    /// A handle for whoever may request shutdown.
    #[must_use]
    pub fn requester(&self) -> ShutdownRequester {
        ShutdownRequester { tx: Arc::clone(&self.tx) }
    }

    /// Whether shutdown has been requested.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once shutdown has been requested (at once if it already was).
    pub async fn requested(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = rx.wait_for(|v| *v).await.map(|_| ());
    }
}

impl ShutdownRequester {
    /// Asks the node to shut down. Idempotent.
    pub fn request(&self) {
        self.tx.send_replace(true);
    }
}
