//! The typed configuration slice the HTTP server takes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Default number of worker slots (`-rpcthreads`), as in Bitcoin Core v29+.
pub const DEFAULT_WORKERS: usize = 16;
/// Default depth of the work queue (`-rpcworkqueue`), as in Bitcoin Core v29+.
pub const DEFAULT_QUEUE_DEPTH: usize = 64;
/// Default inactivity timeout (`-rpcservertimeout`), in seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30;
/// Largest request body accepted (Core's `MAX_SIZE`, 32 MiB).
pub const MAX_BODY_SIZE: usize = 0x0200_0000;
/// Largest request head (request line plus headers) accepted.
pub const MAX_HEADERS_SIZE: usize = 8192;

/// Everything the server needs to know, parsed once by the embedding program.
///
/// The server reads nothing from the environment or from global options: a
/// program embeds it by filling in this struct.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Endpoints to listen on. A failed bind is logged and tolerated; the
    /// server fails to start only when none binds. A port of 0 takes the port
    /// that the first successful bind was given, so `127.0.0.1:0` and
    /// `[::1]:0` end up on the same free port.
    pub bind: Vec<SocketAddr>,
    /// How many requests may run their handler at the same time.
    pub workers: usize,
    /// How many requests may wait for a worker before new ones get 503.
    pub queue_depth: usize,
    /// A connection with nothing in flight and no traffic for this long is
    /// closed silently. `None` disables the timer.
    pub idle_timeout: Option<Duration>,
    /// Largest request body, in bytes.
    pub max_body_size: usize,
    /// Read-buffer bound for the request head, in bytes.
    pub max_header_size: usize,
    /// During `stop()`, how long a finished reply may take to reach a client
    /// that does not read it before the connection is cut anyway.
    pub shutdown_flush_timeout: Duration,
}

impl HttpConfig {
    /// Listen on `127.0.0.1` and `::1` at `port` with Core's defaults.
    #[must_use]
    pub fn loopback(port: u16) -> Self {
        Self {
            bind: vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            ],
            workers: DEFAULT_WORKERS,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            idle_timeout: Some(Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS)),
            max_body_size: MAX_BODY_SIZE,
            max_header_size: MAX_HEADERS_SIZE,
            shutdown_flush_timeout: Duration::from_secs(5),
        }
    }
}
