//! What a handler sees and returns.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, StatusCode, Version};

/// A boxed, sendable future, the return type of handlers.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The request line, headers and peer of a request, before its body is read.
#[derive(Debug)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// The raw request target, query included, as sent by the client.
    pub target: String,
    /// The part of the target after the handler's prefix.
    pub subpath: String,
    /// HTTP version of the request.
    pub version: Version,
    /// Request headers.
    pub headers: HeaderMap,
    /// The client.
    pub peer: crate::Peer,
    /// Who the handler's [`Handler::admit`] step authenticated the client
    /// as (the user name of HTTP Basic authentication, say), for its
    /// [`Handler::handle`] step. Shared, so passing it on costs no copy.
    pub principal: Option<std::sync::Arc<str>>,
    /// Other values a handler's [`Handler::admit`] step hands to its
    /// [`Handler::handle`] step.
    pub extensions: Extensions,
}

impl RequestHead {
    /// The first value of header `name`, if it is present and valid text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A whole request: head and body.
#[derive(Debug)]
pub struct Request {
    /// Request line, headers and peer.
    pub head: RequestHead,
    /// The complete body (bounded by the configured maximum).
    pub body: Bytes,
}

/// A reply: status, headers and a complete body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers set by the handler. The server adds `Date`, `Content-Length`,
    /// a default `Content-Type` and, during shutdown, `Connection: close`.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Response {
    /// A reply with an empty body.
    #[must_use]
    pub fn empty(status: StatusCode) -> Self {
        Self { status, headers: HeaderMap::new(), body: Bytes::new() }
    }

    /// A reply with the given body and no Content-Type of its own.
    #[must_use]
    pub fn with_body(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Self { status, headers: HeaderMap::new(), body: body.into() }
    }

    /// Adds a header (builder style).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }
}

/// The outcome of a handler's cheap first look at a request.
#[allow(missing_debug_implementations)] // holds a future
pub enum Admission {
    /// Read the body and queue the request for a worker.
    Proceed,
    /// Answer with this reply without reading the body and without taking a
    /// worker. The future may wait (a delay after a failed password) without
    /// holding anything but its connection.
    Reply(BoxFuture<Response>),
}

/// A handler's reply: ready now, or a future to wait for.
#[allow(missing_debug_implementations)] // holds a future
pub enum Reply {
    /// The reply, produced without waiting: no future is allocated.
    Now(Response),
    /// A reply still being produced.
    Later(BoxFuture<Response>),
}

/// A request handler mounted at a path.
///
/// Handlers run in two steps. [`admit`](Handler::admit) sees only the head and
/// runs on the connection, before the body is read and before a worker is
/// taken: this is where method checks and authentication belong, so that a
/// client with a wrong password never occupies a worker or makes the server
/// buffer its body. [`handle`](Handler::handle) runs on a worker from the
/// bounded pool.
pub trait Handler: Send + Sync + 'static {
    /// First look at the request head. The default admits everything.
    fn admit(&self, head: &mut RequestHead) -> Admission {
        let _ = head;
        Admission::Proceed
    }

    /// Produce the reply. Runs while holding one of the worker slots.
    fn handle(&self, req: Request) -> BoxFuture<Response>;

    /// What the server calls: [`handle`](Handler::handle), unless the
    /// handler can answer some requests at once. A handler whose usual
    /// request needs no waiting (a JSON-RPC call that reads a counter)
    /// overrides this and returns [`Reply::Now`], sparing the allocation
    /// and polling of a future. Runs while holding a worker slot.
    fn respond(&self, req: Request) -> Reply {
        Reply::Later(self.handle(req))
    }
}

/// Names what the request being served calls (a JSON-RPC method, say) in
/// the `call` field of the request's log span, so that every line logged
/// while the request is served names it. A handler calls this from `admit`,
/// `respond` or `handle`, as soon as it knows the name.
///
/// The request span only exists while `http` debug logging is on; until
/// then this costs one check of that category (a cached answer).
#[inline]
pub fn record_call(name: &str) {
    if tracing::enabled!(target: "http", tracing::Level::DEBUG) {
        tracing::Span::current().record("call", name);
    }
}
