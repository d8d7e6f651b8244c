//! The RPC layer as a library, in process on 127.0.0.1:0: a command added by
//! the embedding program, warmup, InterruptRPC (-9 `Shutting down`), StopRPC
//! waking long polls, and StopHTTPRPC unregistering the handler.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ferronode_httprpc::{control, Arg, ArgType, AuthConfig, Command, HttpRpc, RpcServer, RpcTable};
use ferronode_httpserver::{HttpConfig, HttpServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(addr: std::net::SocketAddr, body: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // "u:p" in base64
    let req = format!(
        "POST / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn table() -> RpcTable {
    let mut table = RpcTable::new();
    control::register_control_commands(&mut table);
    table.add(
        Command::new("test", "custom", "A command from the embedding program.", |params, _| async move {
            Ok(json!({ "got": params }))
        })
        .arg(Arg::required("first", ArgType::Num, "a number"))
        .arg(Arg::optional("second", ArgType::Str, "a string")),
    );
    table.add(Command::new("test", "busyloop", "Works until interrupted.", |_, ctx| async move {
        loop {
            ctx.interruption_point()?;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }));
    table.add(Command::new("test", "longpoll", "Waits until StopRPC.", |_, ctx| async move {
        ctx.stopped().await;
        Ok(json!("woken"))
    }));
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_interrupt_stop() {
    let mut config = HttpConfig::loopback(0);
    config.bind = vec!["127.0.0.1:0".parse().unwrap()];
    let mut http = HttpServer::bind(config).await.unwrap();
    let addr = http.local_addrs()[0];
    let rpc = RpcServer::new(table(), "/tmp/debug.log".into(), Arc::new(|| {}));
    rpc.start();
    let auth = AuthConfig { user: "u".into(), password: "p".into(), ..AuthConfig::default() };
    let http_rpc = HttpRpc::start(http.routes(), &rpc, &auth).unwrap();
    http.start();

    // warmup: every command, help and stop included, answers -28
    for method in ["help", "stop", "custom", "nope"] {
        let (st, v) = post(addr, &format!(r#"{{"method":"{method}","id":1}}"#)).await;
        assert_eq!(st, 500, "{method}");
        assert_eq!(v["error"], json!({"code": -28, "message": "RPC server started"}));
        let (st, v) = post(addr, &format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#)).await;
        assert_eq!((st, v["error"]["code"].clone()), (200, json!(-28)));
    }
    rpc.set_warmup_status("Loading block index…");
    let (_, v) = post(addr, r#"{"method":"help","id":1}"#).await;
    assert_eq!(v["error"]["message"], "Loading block index…");
    rpc.set_warmup_finished();
    let (st, v) = post(addr, r#"{"method":"custom","params":[1,"a"],"id":1}"#).await;
    assert_eq!((st, v["result"].clone()), (200, json!({"got": [1, "a"]})));
    let (_, v) = post(addr, r#"{"method":"custom","params":{"second":"b","first":2},"id":1}"#).await;
    assert_eq!(v["result"], json!({"got": [2, "b"]}), "named parameters by the command's argument names");

    // InterruptRPC: long-running commands end with -9
    let busy = tokio::spawn(post(addr, r#"{"jsonrpc":"2.0","method":"busyloop","id":1}"#));
    let poll = tokio::spawn(post(addr, r#"{"jsonrpc":"2.0","method":"longpoll","id":2}"#));
    tokio::time::sleep(Duration::from_millis(100)).await;
    http_rpc.interrupt();
    rpc.interrupt();
    assert!(!rpc.is_running());
    let (_, v) = busy.await.unwrap();
    assert_eq!(v["error"], json!({"code": -9, "message": "Shutting down"}));
    // StopRPC wakes long polls, which return normally
    rpc.stop();
    let (_, v) = poll.await.unwrap();
    assert_eq!(v["result"], "woken");
    // StopHTTPRPC unregisters the handler
    http_rpc.stop();
    let (st, _) = post(addr, r#"{"method":"help","id":1}"#).await;
    assert_eq!(st, 404);
    http.stop().await;
}
