//! Property tests over everything that parses network input or its
//! configuration: arbitrary request bytes sent to a running server, request
//! targets, and allow-list values. No input may panic the server or stop it
//! from serving the next client.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ferronode_httpserver::{BoxFuture, Handler, HttpConfig, HttpServer, HttpStatus, Request, Response, Routes, Subnet};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ok200;
impl Handler for Ok200 {
    fn handle(&self, req: Request) -> BoxFuture<Response> {
        Box::pin(async move { Response::with_body(HttpStatus::OK, format!("{}", req.body.len())) })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Request-shaped noise: mostly valid-looking pieces glued in random order.
fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"POST /p/x?y HTTP/1.0\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Content-Length: 99999999999999999999\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: close\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,40}".prop_map(|t| format!("GET {t} HTTP/1.1\r\n").into_bytes()),
        "[ -~]{0,20}".prop_map(|t| format!("{t}: {t}\r\n").into_bytes()),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_break_the_server(inputs in proptest::collection::vec(request_bytes(), 1..4)) {
        let rt = runtime();
        rt.block_on(async {
            let mut config = HttpConfig::loopback(0);
            config.bind = vec!["127.0.0.1:0".parse().unwrap()];
            config.header_timeout = Some(Duration::from_millis(300));
            let mut server = HttpServer::bind(config).await.unwrap();
            server.routes().register("/", false, Arc::new(Ok200));
            server.start();
            let addr = server.local_addrs()[0];
            for input in &inputs {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let _ = s.write_all(input).await;
                let _ = s.shutdown().await;
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut sink)).await;
            }
            // still serving
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await.unwrap();
            let mut reply = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await.unwrap().unwrap();
            assert!(reply.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&reply));
            tokio::time::timeout(Duration::from_secs(5), server.stop()).await.expect("stop is bounded");
        });
    }

    #[test]
    fn subnet_parsing_never_panics(s in "\\PC{0,40}", t in "[0-9a-f.:/]{0,40}") {
        for input in [&s, &t] {
            if let Some(subnet) = Subnet::parse(input) {
                // a parsed subnet prints as something that parses to itself
                prop_assert_eq!(Subnet::parse(&subnet.to_string()), Some(subnet));
            }
        }
    }

    #[test]
    fn routing_never_panics(prefixes in proptest::collection::vec("\\PC{0,8}", 0..6), target in "\\PC{0,24}") {
        let routes = Routes::default();
        for (i, p) in prefixes.iter().enumerate() {
            routes.register(p.clone(), i % 2 == 0, Arc::new(Ok200));
        }
        for p in &prefixes {
            routes.unregister(p, false);
        }
        let _ = format!("{routes:?}{target}");
    }
}
