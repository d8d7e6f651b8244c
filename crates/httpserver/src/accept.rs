//! The accept loops: one per listening socket, TCP or Unix, sharing one
//! implementation. Each refuses peers outside the allow list and
//! connections over the cap, and spawns a task per connection it serves.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

use crate::{conn, Peer, Shared, UnixBind};

/// Binds a listening TCP socket with a generous accept backlog, so a burst
/// of connections (or a moment without free descriptors) queues in the
/// kernel instead of stalling clients in SYN retries.
pub(crate) fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accept backlog of listening sockets.
const LISTEN_BACKLOG: u32 = 4096;

pub(crate) fn bind_unix(ub: &UnixBind) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    if let Ok(meta) = std::fs::symlink_metadata(&ub.path) {
        // Replace a stale socket from an earlier run, never a regular file.
        if meta.file_type().is_socket() {
            std::fs::remove_file(&ub.path)?;
        }
    }
    let listener = UnixListener::bind(&ub.path)?;
    std::fs::set_permissions(&ub.path, std::fs::Permissions::from_mode(ub.mode))?;
    Ok(listener)
}

/// A listening socket the accept loop can take connections from.
pub(crate) trait Listener: Send + 'static {
    /// The connections it accepts.
    type Stream: conn::Stream;

    /// The next connection and who is at its other end.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, Peer)>> + Send;

    /// Sets an accepted stream up for serving.
    fn prepare(stream: &Self::Stream) {
        let _ = stream;
    }
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&self) -> io::Result<(Self::Stream, Peer)> {
        let (stream, addr) = TcpListener::accept(self).await?;
        Ok((stream, Peer::Tcp(addr)))
    }

    fn prepare(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;

    async fn accept(&self) -> io::Result<(Self::Stream, Peer)> {
        let (stream, _) = UnixListener::accept(self).await?;
        Ok((stream, Peer::Unix))
    }
}

/// What an accept loop hands to the connections it spawns.
pub(crate) struct AcceptContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) done: mpsc::Sender<()>,
}

/// A canned reply for a connection over the cap: it is answered before it
/// sends anything, then closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nCache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

impl AcceptContext {
    /// Serves an accepted stream, or refuses it when the cap is reached.
    fn spawn<S: conn::Stream>(&self, mut stream: S, peer: Peer) {
        let shared = Arc::clone(&self.shared);
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let open = shared.open_connections.fetch_add(1, Ordering::AcqRel);
        if open >= shared.config.max_connections {
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
            shared.refused_over_capacity.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "http", "Connection from {peer} refused: {open} connections open");
            tokio::spawn(async move {
                let write = stream.write_all(OVER_CAPACITY);
                let _ = tokio::time::timeout(std::time::Duration::from_millis(200), write).await;
            });
            return;
        }
        let close = shared.closer.subscribe();
        let done = self.done.clone();
        tokio::spawn(async move {
            conn::serve(stream, peer, Arc::clone(&shared), close, done).await;
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

impl AcceptContext {
    /// Whether the peer's network may connect (a Unix socket always may).
    fn allows(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Tcp(addr) => self.shared.allow.allows(addr.ip()),
            Peer::Unix => true,
        }
    }
}

/// Accepts connections on `listener` until the server stops.
pub(crate) async fn accept_loop<L: Listener>(listener: L, mut ctx: AcceptContext) {
    loop {
        let res = tokio::select! {
            biased;
            () = stopped(&mut ctx.stop) => break,
            res = listener.accept() => res,
        };
        match res {
            Ok((stream, peer)) => {
                if !ctx.allows(&peer) {
                    ctx.shared.refused_not_allowed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "http", "Connection from {peer} rejected: Client network is not allowed HTTP access");
                    continue;
                }
                L::prepare(&stream);
                ctx.spawn(stream, peer);
            }
            Err(e) => backoff(&e).await,
        }
    }
}

/// A failed accept is typically EMFILE: wait a little instead of spinning,
/// so the process survives descriptor exhaustion.
async fn backoff(e: &io::Error) {
    tracing::warn!(target: "http", "accept failed: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Resolves once the stop flag is set (at once if it already is).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the server value is gone, which also means stop.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
