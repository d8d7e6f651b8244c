//! A blocking HTTP/1.1 client for one request per connection, as
//! bitcoin-cli makes them (`Connection: close`).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What the server answered.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

/// Why no reply arrived. The texts and numbers are libevent's, which
/// bitcoin-cli quotes after `Could not connect to the server`.
#[derive(Debug)]
pub enum Failure {
    /// Nothing accepted the connection (refused, unreachable, unknown host).
    Connect,
    /// The client timeout passed.
    Timeout,
    /// The server closed the connection before a complete reply.
    Eof,
    /// The reply was not HTTP.
    BadHeader,
    /// Reading or writing failed otherwise.
    Buffer,
}

impl Failure {
    /// The ` (error code N - "text")` suffix bitcoin-cli adds; empty when
    /// the connection itself failed.
    #[must_use]
    pub fn detail(&self) -> String {
        let (code, text) = match self {
            Self::Connect => return String::new(),
            Self::Timeout => (0, "timeout reached"),
            Self::Eof => (1, "EOF reached"),
            Self::BadHeader => (2, "error while reading header, or invalid header"),
            Self::Buffer => (3, "error encountered while reading or writing"),
        };
        format!(" (error code {code} - \"{text}\")")
    }
}

fn classify(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            Failure::Eof
        }
        io::ErrorKind::InvalidData => Failure::BadHeader,
        _ => Failure::Buffer,
    }
}

/// One request: where to send it and what.
#[derive(Debug)]
pub struct Request<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Path, `/` or `/wallet/<name>`.
    pub path: &'a str,
    /// The JSON body.
    pub body: &'a str,
    /// Limit for connecting and for each read or write; `None` waits forever.
    pub timeout: Option<Duration>,
}

/// Connects, sends `req`, and reads the whole reply.
///
/// `credentials` gives the `Authorization` header's value; it is called
/// once the connection is up, so a cookie written
/// by a node that is just starting is read as late as possible.
///
/// # Errors
/// A [`Failure`] when no complete reply arrived.
pub fn post(req: &Request<'_>, credentials: impl FnOnce() -> String) -> Result<Reply, Failure> {
    let stream = connect(req.host, req.port, req.timeout)?;
    stream.set_read_timeout(req.timeout).map_err(|e| classify(&e))?;
    stream.set_write_timeout(req.timeout).map_err(|e| classify(&e))?;
    let _ = stream.set_nodelay(true);
    let authorization = credentials();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        req.path,
        req.host,
        authorization,
        req.body.len()
    );
    let mut writer = &stream;
    writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(req.body.as_bytes())).map_err(|e| classify(&e))?;
    read_reply(&mut BufReader::new(&stream)).map_err(|e| classify(&e))
}

fn connect(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, Failure> {
    let addrs = (host, port).to_socket_addrs().map_err(|_| Failure::Connect)?;
    let mut timed_out = false;
    for addr in addrs {
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => timed_out = true,
            Err(_) => {}
        }
    }
    Err(if timed_out { Failure::Timeout } else { Failure::Connect })
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let status_line = read_line(r)?;
    let mut parts = status_line.split(' ');
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code.parse::<u16>().map_err(|_| bad("status"))?,
        _ => return Err(bad("status line")),
    };
    let mut length = None;
    let mut chunked = false;
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = read_line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // trailers, then the blank line
                while !read_line(r)?.is_empty() {}
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            read_line(r)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        r.read_to_end(&mut body)?;
    }
    Ok(Reply { status, body: String::from_utf8_lossy(&body).into_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_chunked_and_close_delimited_replies() {
        let mut r = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdXX".as_bytes();
        let rep = read_reply(&mut r).unwrap();
        assert_eq!((rep.status, rep.body.as_str()), (200, "abcd"));
        let mut r =
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .as_bytes();
        let rep = read_reply(&mut r).unwrap();
        assert_eq!((rep.status, rep.body.as_str()), (503, "abcde"));
        let mut r = "HTTP/1.0 404 Not Found\r\n\r\nrest".as_bytes();
        assert_eq!(read_reply(&mut r).unwrap().body, "rest");
        let mut r = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort".as_bytes();
        assert_eq!(read_reply(&mut r).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let mut r = "garbage\r\n\r\n".as_bytes();
        assert_eq!(read_reply(&mut r).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
