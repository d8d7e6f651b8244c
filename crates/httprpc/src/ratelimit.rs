//! Rate limiting of failed authentication, per client address.
//!
//! Core sleeps 250 ms on a worker thread after every wrong password. Here
//! the delay is spent on the connection (no worker is held), and an address
//! that keeps failing is slowed further and disconnected after each failure,
//! while every other client, and correct credentials from the same address,
//! are served as usual.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferronode_httpserver::Peer;

/// Failures allowed per address within [`WINDOW`] before the penalty applies.
pub(crate) const FREE_FAILURES: u32 = 10;
/// The counting window.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);
/// The delay before a penalised 401 (instead of 250 ms).
pub(crate) const PENALTY_DELAY: Duration = Duration::from_secs(1);
/// Addresses remembered at most; the table is cleared of old windows past it.
const MAX_TRACKED: usize = 4096;

/// Recent failures by address.
#[derive(Debug, Default)]
pub(crate) struct AuthFailures {
    table: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl AuthFailures {
    /// Counts one failure; returns whether this address is now penalised.
    pub(crate) fn record(&self, peer: &Peer) -> bool {
        let key = match peer {
            Peer::Tcp(addr) => Some(addr.ip()),
            Peer::Unix => None,
        };
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= MAX_TRACKED {
            table.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        if table.len() >= MAX_TRACKED {
            // still full of live windows: forget the oldest half
            let mut starts: Vec<Instant> = table.values().map(|(s, _)| *s).collect();
            starts.sort();
            let cut = starts[starts.len() / 2];
            table.retain(|_, (start, _)| *start > cut);
        }
        let entry = table.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let penalised = entry.1 > FREE_FAILURES;
        if entry.1 == FREE_FAILURES + 1 {
            tracing::warn!(
                "Rate-limiting failed RPC authentication from {peer}: more than {FREE_FAILURES} failures in {} s",
                WINDOW.as_secs()
            );
        }
        penalised
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalises_after_the_free_failures_per_address() {
        let f = AuthFailures::default();
        let a = Peer::Tcp("10.0.0.1:1".parse().unwrap());
        let b = Peer::Tcp("10.0.0.2:1".parse().unwrap());
        for _ in 0..FREE_FAILURES {
            assert!(!f.record(&a));
        }
        assert!(f.record(&a));
        assert!(!f.record(&b), "another address is not affected");
    }

    #[test]
    fn table_stays_bounded() {
        let f = AuthFailures::default();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            let ip = std::net::Ipv4Addr::from(i);
            f.record(&Peer::Tcp(std::net::SocketAddr::new(ip.into(), 1)));
        }
        assert!(f.table.lock().unwrap().len() <= MAX_TRACKED);
    }
}
