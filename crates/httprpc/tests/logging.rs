//! The RPC method names the request's log span: every line logged while a
//! request is served (a command's own lines, the whitelist's warning) says
//! which method it is for, and `batch` for a batch. In process on
//! 127.0.0.1:0, with a subscriber that writes into a buffer (this test
//! binary's only test, so the global subscriber is its own).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferronode_httprpc::{AuthConfig, Command, HttpRpc, RpcServer, RpcTable};
use ferronode_httpserver::{HttpConfig, HttpServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The captured line that contains `needle`.
    fn line_with(&self, needle: &str) -> String {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_owned()
    }
}

async fn post(addr: std::net::SocketAddr, body: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // "u:p" in base64
    let req = format!(
        "POST / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn table() -> RpcTable {
    let mut table = RpcTable::new();
    table.add(Command::sync("test", "logsnow", "Logs a line and answers at once.", |_, _| {
        tracing::debug!(target: "rpc", "a line from logsnow");
        Ok(json!(1))
    }));
    table.add(Command::new("test", "logslater", "Logs a line after waiting.", |_, _| async {
        tokio::task::yield_now().await;
        tracing::debug!(target: "rpc", "a line from logslater");
        Ok(json!(2))
    }));
    table.add(Command::sync("test", "secret", "Not on the user's whitelist.", |_, _| Ok(json!(3))));
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_of_a_request_name_its_rpc_method() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();

    let mut config = HttpConfig::loopback(0);
    config.bind = vec!["127.0.0.1:0".parse().unwrap()];
    let mut http = HttpServer::bind(config).await.unwrap();
    let addr = http.local_addrs()[0];
    let rpc = RpcServer::new(table(), "/tmp/debug.log".into(), Arc::new(|| {}));
    rpc.start();
    rpc.set_warmup_finished();
    let auth = AuthConfig {
        user: "u".into(),
        password: "p".into(),
        rpcwhitelist: vec!["u:logsnow,logslater".into()],
        ..AuthConfig::default()
    };
    let http_rpc = HttpRpc::start(http.routes(), &rpc, &auth).unwrap();
    http.start();

    assert_eq!(post(addr, r#"{"method":"logsnow","id":1}"#).await, 200);
    assert_eq!(post(addr, r#"{"method":"logslater","id":1}"#).await, 200);
    assert_eq!(post(addr, r#"{"method":"secret","id":1}"#).await, 403);
    assert_eq!(post(addr, r#"[{"method":"logsnow","id":1},{"method":"logslater","id":2}]"#).await, 200);

    let now = captured.line_with("a line from logsnow");
    assert!(now.contains(r#"call="logsnow""#), "{now}");
    assert!(now.contains("method=POST"), "the HTTP method stays in the span: {now}");
    let later = captured.line_with("a line from logslater");
    assert!(later.contains(r#"call="logslater""#), "{later}");
    let refused = captured.line_with("not allowed to call method secret");
    assert!(refused.contains(r#"call="secret""#), "{refused}");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines().any(|l| l.contains("a line from logsnow") && l.contains(r#"call="batch""#)),
        "a batch's lines name the batch:\n{text}"
    );

    http_rpc.stop();
    rpc.stop();
    http.stop().await;
}
