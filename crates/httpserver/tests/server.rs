//! In-process tests of the HTTP server on 127.0.0.1:0, with raw bytes on
//! the wire where a client library would hide the behaviour.

#![allow(clippy::unwrap_used)] // helpers of a test file panic on failure by design

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferronode_httpserver::{
    header, Admission, BoxFuture, Handler, HttpConfig, HttpServer, HttpStatus, Reply, Request, RequestHead, Response,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Echoes method, sub-path and body length; sleeps when the body says so.
struct Echo {
    ran: Arc<AtomicUsize>,
}

impl Handler for Echo {
    fn handle(&self, req: Request) -> BoxFuture<Response> {
        let ran = Arc::clone(&self.ran);
        Box::pin(async move {
            ran.fetch_add(1, Ordering::SeqCst);
            if let Some(ms) = std::str::from_utf8(&req.body).ok().and_then(|b| b.strip_prefix("sleep ")) {
                tokio::time::sleep(Duration::from_millis(ms.trim().parse().unwrap_or(0))).await;
            }
            let text = format!("{} {} {}", req.head.method, req.head.subpath, req.body.len());
            Response::with_body(HttpStatus::OK, text)
        })
    }
}

/// Answers 401 from `admit` unless the request has `X-Key: ok`.
struct Guarded;

impl Handler for Guarded {
    fn admit(&self, head: &mut RequestHead) -> Admission {
        if head.header("x-key") == Some("ok") {
            Admission::Proceed
        } else {
            Admission::Reply(Box::pin(async { Response::empty(HttpStatus::UNAUTHORIZED) }))
        }
    }
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        Box::pin(async { Response::with_body(HttpStatus::OK, "in") })
    }
}

/// A 16 MiB reply, more than socket buffers hold.
struct Big;
impl Handler for Big {
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        Box::pin(async { Response::with_body(HttpStatus::OK, vec![b'x'; 16 << 20]) })
    }
}

struct Panics;
impl Handler for Panics {
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        Box::pin(async { panic!("handler bug") })
    }
}

/// Answers at once through `respond`, or panics there when the sub-path
/// says so.
struct Immediate;
impl Handler for Immediate {
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        Box::pin(async { Response::with_body(HttpStatus::OK, "later") })
    }
    fn respond(&self, req: Request) -> Reply {
        assert!(req.head.subpath != "panic", "handler bug");
        Reply::Now(Response::with_body(HttpStatus::OK, "now"))
    }
}

fn config() -> HttpConfig {
    let mut c = HttpConfig::loopback(0);
    c.bind = vec!["127.0.0.1:0".parse().unwrap()];
    c
}

async fn server_with(mut c: impl FnMut(&mut HttpConfig)) -> (HttpServer, Arc<AtomicUsize>) {
    let mut cfg = config();
    c(&mut cfg);
    let mut server = HttpServer::bind(cfg).await.unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let routes = server.routes();
    routes.register("/", true, Arc::new(Echo { ran: Arc::clone(&ran) }));
    routes.register("/p/", false, Arc::new(Echo { ran: Arc::clone(&ran) }));
    routes.register("/guarded", true, Arc::new(Guarded));
    routes.register("/panic", true, Arc::new(Panics));
    routes.register("/big", true, Arc::new(Big));
    routes.register("/now/", false, Arc::new(Immediate));
    server.start();
    (server, ran)
}

async fn connect(server: &HttpServer) -> TcpStream {
    TcpStream::connect(server.local_addrs()[0]).await.unwrap()
}

/// Reads one reply: status line and headers, then Content-Length bytes (or
/// to EOF without one). Returns (status, head text, body).
async fn read_reply(s: &mut TcpStream) -> Option<(u16, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let len = head.lines().find_map(|l| {
        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
    });
    let mut body = vec![0u8; len.unwrap_or(0)];
    match len {
        Some(_) => {
            s.read_exact(&mut body).await.ok()?;
        }
        None => {
            s.read_to_end(&mut body).await.ok()?;
        }
    }
    Some((status, head, body))
}

async fn roundtrip(server: &HttpServer, raw: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = connect(server).await;
    s.write_all(raw).await.unwrap();
    read_reply(&mut s).await.expect("a reply")
}

async fn is_closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 64];
    matches!(tokio::time::timeout(within, s.read(&mut b)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn tolerates_a_failed_bind_but_not_all() {
    let mut c = config();
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine
    c.bind = vec!["192.0.2.1:0".parse().unwrap(), "127.0.0.1:0".parse().unwrap()];
    let server = HttpServer::bind(c).await.expect("one endpoint is enough");
    assert_eq!(server.local_addrs().len(), 1);
    server.stop().await;
    let mut c = config();
    c.bind = vec!["192.0.2.1:0".parse().unwrap()];
    assert!(HttpServer::bind(c).await.is_err());
}

#[tokio::test]
async fn dispatch_methods_and_404() {
    let (server, _) = server_with(|_| {}).await;
    let (st, head, body) = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((st, body.as_slice()), (200, &b"GET  0"[..]));
    assert!(head.contains("Content-Type: text/html; charset=ISO-8859-1"), "{head}");
    assert!(head.contains("Date: "));
    // exact handlers match the whole target, query included
    assert_eq!(roundtrip(&server, b"GET /?x HTTP/1.1\r\n\r\n").await.0, 404);
    assert_eq!(roundtrip(&server, b"GET /foo HTTP/1.1\r\n\r\n").await.0, 404);
    // prefix handlers get the rest, query included
    let (st, _, body) = roundtrip(&server, b"PUT /p/a/b?c=d HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").await;
    assert_eq!((st, body.as_slice()), (200, &b"PUT a/b?c=d 3"[..]));
    // HEAD reaches the handler; the reply keeps Content-Length and has no body
    let mut s = connect(&server).await;
    s.write_all(b"HEAD /p/x HTTP/1.1\r\n\r\nGET /p/y HTTP/1.1\r\n\r\n").await.unwrap();
    let mut text = vec![0u8; 4096];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = s.read(&mut text).await.unwrap();
    let text = String::from_utf8_lossy(&text[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 8\r\n"), "{text}");
    assert!(text.ends_with("GET y 0"), "HEAD reply carried a body: {text}");
    for m in ["DELETE", "OPTIONS", "PATCH", "TRACE"] {
        let (st, head, _) = roundtrip(&server, format!("{m} / HTTP/1.1\r\n\r\n").as_bytes()).await;
        assert_eq!(st, 405, "{m}");
        assert!(head.contains("Cache-Control: no-store"));
    }
    server.stop().await;
}

#[tokio::test]
async fn register_and_unregister_while_serving() {
    let (server, _) = server_with(|_| {}).await;
    assert_eq!(roundtrip(&server, b"GET /late HTTP/1.1\r\n\r\n").await.0, 404);
    let ran = Arc::new(AtomicUsize::new(0));
    server.routes().register("/late", false, Arc::new(Echo { ran: Arc::clone(&ran) }));
    assert_eq!(roundtrip(&server, b"GET /late/x HTTP/1.1\r\n\r\n").await.0, 200);
    assert!(server.routes().unregister("/late", false));
    assert_eq!(roundtrip(&server, b"GET /late/x HTTP/1.1\r\n\r\n").await.0, 404);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_keep_alive_connection_sees_routes_change_between_its_requests() {
    let (server, _) = server_with(|_| {}).await;
    let mut s = connect(&server).await;
    let ask = async |s: &mut TcpStream| {
        s.write_all(b"GET /late/x HTTP/1.1\r\n\r\n").await.unwrap();
        read_reply(s).await.expect("the connection stays open").0
    };
    assert_eq!(ask(&mut s).await, 404);
    let ran = Arc::new(AtomicUsize::new(0));
    server.routes().register("/late", false, Arc::new(Echo { ran: Arc::clone(&ran) }));
    assert_eq!(ask(&mut s).await, 200);
    assert_eq!(ask(&mut s).await, 200);
    assert!(server.routes().unregister("/late", false));
    assert_eq!(ask(&mut s).await, 404);
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    server.stop().await;
}

#[tokio::test]
async fn admit_answers_without_reading_the_body_or_taking_a_worker() {
    let (server, _) = server_with(|c| {
        c.workers = 1;
        c.queue_depth = 1;
    })
    .await;
    // occupy the only worker and the only queue place
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server).await;
        s.write_all(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nsleep 500").await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (st, _, _) = roundtrip(&server, b"POST /guarded HTTP/1.1\r\nContent-Length: 2\r\n\r\nxx").await;
    assert_eq!(st, 401, "admit replied although no worker was free");
    let (st, _, body) = roundtrip(&server, b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").await;
    assert_eq!((st, body.as_slice()), (503, &b"Work queue depth exceeded"[..]));
    for mut s in busy {
        assert_eq!(read_reply(&mut s).await.unwrap().0, 200);
    }
    let (st, head, _) = roundtrip(&server, b"POST /guarded HTTP/1.1\r\nX-Key: ok\r\n\r\n").await;
    assert_eq!(st, 200, "{head}");
    server.stop().await;
}

#[tokio::test]
async fn queue_full_503_carries_retry_after_and_keeps_the_connection() {
    let (server, _) = server_with(|c| {
        c.workers = 1;
        c.queue_depth = 1;
    })
    .await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server).await;
        s.write_all(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nsleep 300").await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut s = connect(&server).await;
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let (st, head, _) = read_reply(&mut s).await.unwrap();
    assert_eq!(st, 503);
    assert!(head.contains("Retry-After: 1"), "{head}");
    assert!(server.metrics().rejected >= 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().0, 200, "the connection stays usable");
    server.stop().await;
}

#[tokio::test]
async fn limits_oversize_head_and_body() {
    let (server, ran) = server_with(|_| {}).await;
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let mut s = connect(&server).await;
    s.write_all(big.as_bytes()).await.unwrap();
    let (st, head, _) = read_reply(&mut s).await.unwrap();
    assert_eq!(st, 400, "{head}");
    assert!(head.contains("Cache-Control: no-store"));
    assert!(is_closed(&mut s, Duration::from_secs(2)).await);
    // a 1 GB Content-Length is refused at once, before any body is sent
    let started = Instant::now();
    let (st, head, _) = roundtrip(&server, b"POST / HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n").await;
    assert_eq!(st, 413);
    assert!(head.starts_with("HTTP/1.1 413 Content too large\r\n"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // a chunked body is cut off as soon as it passes the limit
    let mut s = connect(&server).await;
    s.write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut status = None;
    for _ in 0..40 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    if let Some((st, _, _)) = read_reply(&mut s).await {
        status = Some(st);
    }
    assert_eq!(status, Some(413));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no handler ran for refused requests");
    server.stop().await;
}

#[tokio::test]
async fn framing_keepalive_close_chunked_pipelining_malformed() {
    let (server, _) = server_with(|_| {}).await;
    // HTTP/1.0 closes unless keep-alive
    let mut s = connect(&server).await;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().0, 200);
    assert!(is_closed(&mut s, Duration::from_secs(2)).await);
    let mut s = connect(&server).await;
    s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await.unwrap();
    let (_, head, _) = read_reply(&mut s).await.unwrap();
    assert!(head.to_ascii_lowercase().contains("connection: keep-alive"), "{head}");
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().0, 200, "kept alive for a second request");
    // Connection: close is honoured
    let mut s = connect(&server).await;
    s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await.unwrap();
    let (_, head, _) = read_reply(&mut s).await.unwrap();
    assert!(head.contains("Connection: close") || head.contains("connection: close"), "{head}");
    assert!(is_closed(&mut s, Duration::from_secs(2)).await);
    // chunked request body
    let (st, _, body) = roundtrip(
        &server,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!((st, body.as_slice()), (200, &b"POST  5"[..]));
    // pipelined requests are answered in order
    let mut s = connect(&server).await;
    s.write_all(
        b"POST /p/1 HTTP/1.1\r\nContent-Length: 8\r\n\r\nsleep 50GET /p/2 HTTP/1.1\r\n\r\nGET /p/3 HTTP/1.1\r\n\r\n",
    )
    .await
    .unwrap();
    for want in ["POST 1 8", "GET 2 0", "GET 3 0"] {
        let (_, _, body) = read_reply(&mut s).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&body), want);
    }
    // malformed request → 400 and close
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let mut s = connect(&server).await;
        s.write_all(bad).await.unwrap();
        let (st, _, _) = read_reply(&mut s).await.unwrap();
        assert_eq!(st, 400, "{}", String::from_utf8_lossy(bad));
        assert!(is_closed(&mut s, Duration::from_secs(2)).await);
    }
    server.stop().await;
}

#[tokio::test]
async fn idle_timeout_closes_quiet_connections_but_not_long_requests() {
    let (server, _) = server_with(|c| c.idle_timeout = Some(Duration::from_millis(500))).await;
    let mut idle = connect(&server).await;
    let mut long = connect(&server).await;
    long.write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nsleep 1200").await.unwrap();
    assert!(is_closed(&mut idle, Duration::from_secs(3)).await, "idle connection closed");
    assert_eq!(read_reply(&mut long).await.unwrap().0, 200, "a running request is not cut off");
    server.stop().await;
}

#[tokio::test]
async fn slowloris_is_cut_off_and_others_are_served() {
    let (server, _) = server_with(|c| {
        c.header_timeout = Some(Duration::from_millis(700));
        c.idle_timeout = Some(Duration::from_secs(600));
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = connect(&server).await;
        s.write_all(b"POST / HTTP/1.1\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    let started = Instant::now();
    // trickle a byte now and then: the idle timer alone would never fire
    let mut served = 0;
    while started.elapsed() < Duration::from_millis(600) {
        for s in slow.iter_mut().take(20) {
            let _ = s.write_all(b"a").await;
        }
        assert_eq!(roundtrip(&server, b"GET / HTTP/1.1\r\n\r\n").await.0, 200);
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served >= 3);
    for s in &mut slow {
        assert!(is_closed(s, Duration::from_secs(3)).await, "slowloris connection left open");
    }
    server.stop().await;
}

#[tokio::test]
async fn connection_cap_answers_503_and_closes() {
    let (server, _) = server_with(|c| c.max_connections = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&server).await;
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(read_reply(&mut s).await.unwrap().0, 200);
        open.push(s);
    }
    let mut s = connect(&server).await;
    let (st, head, _) = read_reply(&mut s).await.unwrap();
    assert_eq!(st, 503);
    assert!(head.contains("Retry-After: 1"));
    assert!(is_closed(&mut s, Duration::from_secs(2)).await);
    assert_eq!(server.metrics().refused_over_capacity, 1);
    drop(open);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(roundtrip(&server, b"GET / HTTP/1.1\r\n\r\n").await.0, 200, "room again after others closed");
    server.stop().await;
}

#[tokio::test]
async fn loopback_stays_allowed_with_an_allow_list() {
    // Refusals themselves are covered by the allow-list unit tests and the
    // network-namespace functional test.
    let (server, _) =
        server_with(|c| c.allow = vec![ferronode_httpserver::Subnet::parse("10.9.0.0/16").unwrap()]).await;
    assert_eq!(roundtrip(&server, b"GET / HTTP/1.1\r\n\r\n").await.0, 200);
    assert_eq!(server.metrics().refused_not_allowed, 0);
    server.stop().await;
}

#[tokio::test]
async fn client_gone_while_queued_is_not_run() {
    let (server, ran) = server_with(|c| {
        c.workers = 1;
        c.queue_depth = 4;
    })
    .await;
    let mut busy = connect(&server).await;
    busy.write_all(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nsleep 400").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    {
        let mut gone = connect(&server).await;
        gone.write_all(b"POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\nsleep 0").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(server.metrics().queued, 1);
    } // dropped: the client hangs up while its request waits
    assert_eq!(read_reply(&mut busy).await.unwrap().0, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the abandoned request must not run");
    server.stop().await;
}

#[tokio::test]
async fn handler_panic_is_a_500() {
    let (server, _) = server_with(|_| {}).await;
    let (st, _, body) = roundtrip(&server, b"GET /panic HTTP/1.1\r\n\r\n").await;
    assert_eq!((st, body.as_slice()), (500, &b"unknown error"[..]));
    server.stop().await;
}

#[tokio::test]
async fn an_immediate_reply_or_panic_gives_its_worker_back() {
    let (server, _) = server_with(|c| {
        c.workers = 1;
        c.queue_depth = 1;
    })
    .await;
    // with one worker, a slot not given back would make the later requests
    // wait for ever (the timeout below turns that into a failure)
    for _ in 0..3 {
        let (st, _, body) = roundtrip(&server, b"GET /now/x HTTP/1.1\r\n\r\n").await;
        assert_eq!((st, body.as_slice()), (200, &b"now"[..]));
        let (st, _, body) = roundtrip(&server, b"GET /now/panic HTTP/1.1\r\n\r\n").await;
        assert_eq!((st, body.as_slice()), (500, &b"unknown error"[..]));
    }
    let (st, _, body) =
        tokio::time::timeout(Duration::from_secs(5), roundtrip(&server, b"GET / HTTP/1.1\r\n\r\n")).await.unwrap();
    assert_eq!((st, body.as_slice()), (200, &b"GET  0"[..]));
    server.stop().await;
}

#[tokio::test]
async fn interrupt_then_stop() {
    let (server, _) = server_with(|_| {}).await;
    let mut idle = connect(&server).await;
    idle.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut idle).await.unwrap().0, 200);
    let mut slow = connect(&server).await;
    slow.write_all(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nsleep 300").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.interrupt();
    idle.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let (st, head, _) = read_reply(&mut idle).await.unwrap();
    assert_eq!(st, 503);
    assert!(head.contains("Connection: close") || head.contains("connection: close"), "{head}");
    let mut half = connect(&server).await;
    half.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let started = Instant::now();
    let stop = tokio::spawn(server.stop());
    let (st, head, _) = read_reply(&mut slow).await.unwrap();
    assert_eq!(st, 200, "queued work still runs after interrupt");
    assert!(head.contains("Connection: close"), "{head}");
    stop.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(is_closed(&mut half, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn unix_socket_serves_the_same_handlers() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("ferronode-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rpc.sock");
    let p = path.clone();
    let (server, _) =
        server_with(move |c| c.unix = vec![ferronode_httpserver::UnixBind { path: p.clone(), mode: 0o600 }]).await;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
    s.write_all(b"GET /p/u HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("GET u 0"));
    server.stop().await;
    assert!(!path.exists(), "the socket file is removed at stop");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn metrics_count_connections() {
    let (server, _) = server_with(|_| {}).await;
    let _a = connect(&server).await;
    let _b = connect(&server).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let m = server.metrics();
    assert_eq!(m.open_connections, 2);
    assert_eq!(m.accepted, 2);
    let _ = header::CONTENT_TYPE;
    server.stop().await;
}

#[tokio::test]
async fn parked_connections_keep_working() {
    let (server, _) = server_with(|c| {
        c.park_idle_after = Some(Duration::from_millis(100));
        c.idle_timeout = Some(Duration::from_secs(2));
    })
    .await;
    let mut s = connect(&server).await;
    s.write_all(b"GET /p/1 HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().2, b"GET 1 0");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.metrics().parked, 1, "the idle connection is parked");
    // a parked connection serves the next request, pipelined ones included
    s.write_all(b"POST /p/2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /p/3 HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().2, b"POST 2 2");
    assert_eq!(read_reply(&mut s).await.unwrap().2, b"GET 3 0");
    assert_eq!(server.metrics().parked, 0);
    // a request head split across the park boundary still works
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.write_all(b"GET /p/4 HT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"TP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(read_reply(&mut s).await.unwrap().2, b"GET 4 0");
    // the idle timeout still closes a parked connection
    assert!(is_closed(&mut s, Duration::from_secs(4)).await);
    // and stop closes parked connections at once
    let mut p = connect(&server).await;
    p.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    read_reply(&mut p).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.metrics().parked, 1);
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(is_closed(&mut p, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_timeout() {
    let (server, _) = server_with(|c| c.idle_timeout = Some(Duration::from_millis(500))).await;
    let mut s = connect(&server).await;
    s.write_all(b"GET /big HTTP/1.1\r\n\r\n").await.unwrap();
    // never read: the reply cannot be flushed
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.metrics().open_connections > 0 {
        assert!(Instant::now() < deadline, "the stalled connection was never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// Sleeps, then counts its completion.
struct SlowMark(Arc<AtomicUsize>);
impl Handler for SlowMark {
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        let done = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            done.fetch_add(1, Ordering::SeqCst);
            Response::empty(HttpStatus::OK)
        })
    }
}

#[tokio::test]
async fn a_running_handler_finishes_after_its_client_leaves_and_stop_waits_for_it() {
    let (server, _) = server_with(|_| {}).await;
    let finished = Arc::new(AtomicUsize::new(0));
    server.routes().register("/slowmark", true, Arc::new(SlowMark(Arc::clone(&finished))));
    {
        let mut s = connect(&server).await;
        s.write_all(b"GET /slowmark HTTP/1.1\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    } // the client hangs up while the handler runs
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.stop().await;
    assert_eq!(finished.load(Ordering::SeqCst), 1, "the handler ran to the end and stop waited for it");
    assert!(started.elapsed() >= Duration::from_millis(100));
}
