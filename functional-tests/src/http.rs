//! A small HTTP/1.1 client over a plain TCP stream, so tests see exactly
//! what goes over the wire (status, headers, connection reuse and close).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::RpcError;

/// A parsed reply.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct HttpConn {
    reader: BufReader<TcpStream>,
}

/// `Basic <base64(user:pass)>`.
pub fn basic_auth(user_pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
}

impl HttpConn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Self { reader: BufReader::new(stream) })
    }

    /// The underlying stream.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Sends a request with the given extra header lines.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// Reads one reply.
    pub fn read_response(&mut self) -> io::Result<HttpResponse> {
        self.read_reply(false)
    }

    /// Reads the reply to a `HEAD` request: status and headers only, the
    /// `Content-Length` being the length of the body a `GET` would get.
    pub fn read_head_response(&mut self) -> io::Result<HttpResponse> {
        self.read_reply(true)
    }

    fn read_reply(&mut self, head: bool) -> io::Result<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a reply"));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let mut resp = HttpResponse { status, headers, body: Vec::new() };
        if head {
            return Ok(resp);
        }
        if let Some(len) = resp.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            resp.body.resize(len, 0);
            self.reader.read_exact(&mut resp.body)?;
        } else if status != 204 && status != 304 {
            self.reader.read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// Sends a request and reads its reply.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        self.send(method, path, headers, body)?;
        self.read_response()
    }

    /// POSTs a JSON-RPC body with Basic auth.
    pub fn post_json(&mut self, user_pass: &str, body: &str) -> io::Result<HttpResponse> {
        let auth = basic_auth(user_pass);
        self.request("POST", "/", &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes())
    }

    /// A JSON-RPC 1.0 call (as bitcoin-cli makes it).
    pub fn call(&mut self, user_pass: &str, method: &str, params: Value) -> io::Result<Result<Value, RpcError>> {
        let body = json!({ "jsonrpc": "1.0", "id": 1, "method": method, "params": params }).to_string();
        let resp = self.post_json(user_pass, &body)?;
        let v = resp.json();
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let e = &v["error"];
            return Ok(Err(RpcError {
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or("").to_owned(),
            }));
        }
        match v.get("result") {
            Some(r) => Ok(Ok(r.clone())),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a JSON-RPC reply: {} {}", resp.status, resp.text()),
            )),
        }
    }

    /// Whether the server has closed the connection (EOF within `wait`).
    pub fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let s = self.reader.get_ref();
        let _ = s.set_read_timeout(Some(wait));
        let mut buf = [0u8; 1];
        let closed = match self.reader.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
        };
        let _ = self.reader.get_ref().set_read_timeout(Some(Duration::from_secs(60)));
        closed
    }

    /// Half-closes the writing side.
    pub fn shutdown_write(&self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Write);
    }
}
