//! The typed configuration slice the HTTP server takes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::Subnet;

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
/// Default time a client has to send a whole request head once it started.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;

/// A Unix domain socket to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixBind {
    /// The socket's path; an existing socket file there is replaced, and the
    /// file is removed at stop.
    pub path: PathBuf,
    /// File mode bits of the socket (0o600 by default).
    pub mode: u32,
}

/// A default for the connection cap: most of the file-descriptor limit,
/// keeping room for the node's own files.
#[must_use]
pub fn default_max_connections() -> usize {
    let limit = fd_limit().unwrap_or(1024);
    limit.saturating_sub(limit / 8 + 64).max(16)
}

#[allow(unsafe_code)]
fn fd_limit() -> Option<usize> {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl) };
    (rc == 0).then(|| usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX))
}

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
    /// Unix domain sockets to listen on, besides `bind`.
    pub unix: Vec<UnixBind>,
    /// Networks allowed to connect, besides `127.0.0.0/8` and `::1` (which
    /// are always allowed). Others are closed at accept.
    pub allow: Vec<Subnet>,
    /// A connection with nothing in flight and no traffic for this long is
    /// closed silently. `None` disables the timer.
    pub idle_timeout: Option<Duration>,
    /// Once a client has sent the first byte of a request head, it has this
    /// long to send the rest (cuts off slowloris clients). `None` disables it.
    pub header_timeout: Option<Duration>,
    /// An idle keep-alive connection is parked after this long: hyper's
    /// buffers are released until the client sends again. `None` never
    /// parks.
    pub park_idle_after: Option<Duration>,
    /// Most connections open at once; beyond it a new connection gets 503
    /// and is closed.
    pub max_connections: usize,
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
            unix: Vec::new(),
            allow: Vec::new(),
            header_timeout: Some(Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS)),
            max_connections: default_max_connections(),
            park_idle_after: Some(Duration::from_millis(250)),
            workers: DEFAULT_WORKERS,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            idle_timeout: Some(Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS)),
            max_body_size: MAX_BODY_SIZE,
            max_header_size: MAX_HEADERS_SIZE,
            shutdown_flush_timeout: Duration::from_secs(5),
        }
    }
}
