//! The JSON-RPC handler mounted on the HTTP server (Core's `HTTPReq_JSONRPC`)
//! and its lifecycle (StartHTTPRPC, StopHTTPRPC).

use std::sync::Arc;
use std::time::Duration;

use ferronode_httpserver::header::{self, HeaderValue};
use ferronode_httpserver::{
    record_call, Admission, BoxFuture, Handler, HttpMethod, HttpStatus, Reply, Request, RequestHead, Response, Routes,
};

use serde_json::Value;

use crate::auth::{AuthConfig, AuthError, Credentials, Forbidden, Whitelist};
use crate::request::{
    batch_method, first_byte, parse_body, parse_object, parse_request, Body, JsonRpcRequest, ReplyShape, Version,
};
use crate::server::{Caller, Execution, RpcServer};
use crate::RpcError;

/// How long a client that sent wrong credentials waits for its 401.
pub const AUTH_FAILURE_DELAY: Duration = Duration::from_millis(250);

const WWW_AUTHENTICATE: &str = "Basic realm=\"jsonrpc\"";

/// Serves JSON-RPC on `/` (and, later, `/wallet/`).
#[derive(Debug)]
pub struct JsonRpcHandler {
    /// What a request's reply future needs, behind one `Arc`.
    calls: Arc<Calls>,
    credentials: Credentials,
    failures: crate::ratelimit::AuthFailures,
}

#[derive(Debug)]
struct Calls {
    rpc: RpcServer,
    whitelist: Whitelist,
}

fn unauthorized() -> Response {
    Response::empty(HttpStatus::UNAUTHORIZED)
        .header(header::WWW_AUTHENTICATE, HeaderValue::from_static(WWW_AUTHENTICATE))
}

/// Replies up to this size are written into a per-thread buffer and copied
/// out at their exact size; larger ones keep the buffer they were written in.
const COPY_REPLIES_UP_TO: usize = 4096;

thread_local! {
    /// Where small replies are written before being copied out.
    static REPLY_BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A JSON reply whose text `write` appends to an empty buffer. The body is
/// that text and a newline, in an allocation of exactly its size when it is
/// small (a buffer with spare room would cost `Bytes` an allocation of its
/// own).
fn json_reply(status: HttpStatus, write: impl FnOnce(&mut String)) -> Response {
    let reply = REPLY_BUFFER.with_borrow_mut(|buf| {
        buf.clear();
        write(buf);
        buf.push('\n');
        if buf.len() <= COPY_REPLIES_UP_TO {
            Response::with_body(status, buf.as_bytes().to_vec())
        } else {
            // the big text leaves with the reply; the next reply starts a
            // new buffer, so an idle thread does not keep a big one
            Response::with_body(status, std::mem::take(buf))
        }
    });
    with_json_type(reply)
}

fn with_json_type(reply: Response) -> Response {
    reply.header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

impl Handler for JsonRpcHandler {
    fn admit(&self, head: &mut RequestHead) -> Admission {
        if head.method != HttpMethod::POST {
            return Admission::Reply(Box::pin(async {
                Response::with_body(HttpStatus::METHOD_NOT_ALLOWED, "JSONRPC server handles only POST requests")
            }));
        }
        let Some(authorization) = head.headers.get(header::AUTHORIZATION) else {
            return Admission::Reply(Box::pin(async { unauthorized() }));
        };
        match authorization.to_str().ok().and_then(|a| self.credentials.check(a)) {
            Some(user) => {
                head.principal = Some(user);
                Admission::Proceed
            }
            None => {
                tracing::warn!("ThreadRPCServer incorrect password attempt from {}", head.peer);
                // The delay deters brute force; it holds this connection only,
                // never a worker. An address that keeps failing waits longer
                // and is disconnected; other clients are not affected.
                let penalised = self.failures.record(&head.peer);
                Admission::Reply(Box::pin(async move {
                    if penalised {
                        tokio::time::sleep(crate::ratelimit::PENALTY_DELAY).await;
                        unauthorized().header(header::CONNECTION, HeaderValue::from_static("close"))
                    } else {
                        tokio::time::sleep(AUTH_FAILURE_DELAY).await;
                        unauthorized()
                    }
                }))
            }
        }
    }

    fn handle(&self, req: Request) -> BoxFuture<Response> {
        match self.respond(req) {
            Reply::Now(reply) => Box::pin(std::future::ready(reply)),
            Reply::Later(reply) => reply,
        }
    }

    fn respond(&self, req: Request) -> Reply {
        let Request { mut head, body } = req;
        let caller = Caller {
            user: head.principal.take().unwrap_or_else(|| Arc::from("")),
            uri: head.target,
            peer: Some(head.peer),
        };
        // The usual request, one call to a command that answers at once, is
        // answered here without a future; the rest wait on one.
        match settle(&self.calls, &body, caller) {
            Settled::Reply(reply) => Reply::Now(reply),
            Settled::Call { req, shape, caller } => {
                let calls = Arc::clone(&self.calls);
                Reply::Later(Box::pin(async move { single_reply(&shape, calls.rpc.execute(req, caller).await) }))
            }
            Settled::Batch(caller) => {
                let calls = Arc::clone(&self.calls);
                Reply::Later(Box::pin(async move { execute_batch(&calls, &body, caller).await }))
            }
        }
    }
}

/// How far a request body got without waiting.
enum Settled {
    /// Answered.
    Reply(Response),
    /// A single call to a command that may wait.
    Call { req: JsonRpcRequest, shape: ReplyShape, caller: Caller },
    /// A batch, run element by element by [`execute_batch`].
    Batch(Caller),
}

/// Core's `ExecuteHTTPRPC` plus the reply writing of `HTTPReq_JSONRPC`, in
/// Core's order: parse the JSON (500 on failure), whitelist (403), then the
/// single request, as far as it goes without waiting. A batch is left to
/// [`execute_batch`] unparsed. The method (or `batch`) is named in the
/// request's log span as soon as it is known, before the whitelist check,
/// so that the log lines of the request (the whitelist's warning, a
/// command's own lines) name it.
fn settle(calls: &Calls, body: &[u8], caller: Caller) -> Settled {
    if first_byte(body) == Some(b'[') {
        record_call("batch");
        return Settled::Batch(caller);
    }
    let mut shape = ReplyShape::default();
    let parsed = match parse_body(body) {
        Ok(parsed) => parsed,
        Err(e) => return Settled::Reply(legacy_error(&shape, e)),
    };
    if let Err(f) = calls.whitelist.check_user(&caller.user) {
        return Settled::Reply(forbidden(&caller.user, &f));
    }
    match parsed {
        Body::Other => Settled::Reply(legacy_error(&shape, RpcError::parse("Top-level object parse error"))),
        Body::Single(object) => {
            let req = match parse_object(object, &mut shape) {
                Ok(req) => req,
                Err(e) => return Settled::Reply(legacy_error(&shape, e)),
            };
            record_call(&req.method);
            if let Err(f) = calls.whitelist.check_method(&caller.user, &req.method) {
                return Settled::Reply(forbidden(&caller.user, &f));
            }
            match calls.rpc.execute_now(req, caller) {
                Execution::Done(outcome) => Settled::Reply(single_reply(&shape, outcome)),
                Execution::Pending(req, caller) => Settled::Call { req, shape, caller },
            }
        }
        // not reached (a batch starts with `[`), but correct if it were
        Body::Batch(_) => {
            record_call("batch");
            Settled::Batch(caller)
        }
    }
}

/// The reply to a single request: 204 for a notification, the legacy
/// status mapping for a legacy error, 200 otherwise.
fn single_reply(shape: &ReplyShape, outcome: Result<Value, RpcError>) -> Response {
    if shape.is_notification() {
        return Response::empty(HttpStatus::NO_CONTENT);
    }
    match outcome {
        Err(e) if shape.version == Version::Legacy => legacy_error(shape, e),
        outcome => json_reply(HttpStatus::OK, |out| shape.write_reply(&outcome, out)),
    }
}

/// A batch body, in Core's order: parse, whitelist the user, then (with a
/// whitelist) every element's method before any runs, then each element.
async fn execute_batch(calls: &Calls, body: &[u8], caller: Caller) -> Response {
    let (rpc, whitelist) = (&calls.rpc, &calls.whitelist);
    let shape = ReplyShape::default();
    let items = match parse_body(body) {
        Ok(Body::Batch(items)) => items,
        Ok(_) => return legacy_error(&shape, RpcError::parse("Top-level object parse error")),
        Err(e) => return legacy_error(&shape, e),
    };
    if let Err(f) = whitelist.check_user(&caller.user) {
        return forbidden(&caller.user, &f);
    }
    // With a whitelist, every element is checked before any runs.
    if whitelist.has_list(&caller.user) {
        for raw in &items {
            match batch_method(raw) {
                Ok(method) => {
                    if let Err(f) = whitelist.check_method(&caller.user, &method) {
                        return forbidden(&caller.user, &f);
                    }
                }
                Err(e) => return legacy_error(&shape, e),
            }
        }
    }
    let mut shape = shape;
    let count = items.len();
    let mut text = String::from("[");
    let mut replies = 0usize;
    for raw in items {
        let outcome = match parse_request(raw, &mut shape) {
            Ok(req) => rpc.execute(req, caller.clone()).await,
            Err(e) => Err(e),
        };
        if !shape.is_notification() {
            if replies > 0 {
                text.push(',');
            }
            shape.write_reply(&outcome, &mut text);
            replies += 1;
        }
    }
    if replies == 0 && count > 0 {
        return Response::empty(HttpStatus::NO_CONTENT);
    }
    text.push_str("]\n");
    with_json_type(Response::with_body(HttpStatus::OK, text))
}

/// 403 with an empty body, and Core's warning.
fn forbidden(user: &str, f: &Forbidden) -> Response {
    match f {
        Forbidden::AnyMethod => tracing::warn!("RPC User {user} not allowed to call any methods"),
        Forbidden::Method(m) => tracing::warn!("RPC User {user} not allowed to call method {m}"),
    }
    Response::empty(HttpStatus::FORBIDDEN)
}

/// An error sent with the legacy HTTP status mapping.
fn legacy_error(shape: &ReplyShape, e: RpcError) -> Response {
    json_reply(e.legacy_http_status(), |out| shape.write_reply(&Err(e), out))
}

/// The JSON-RPC handlers registered on an HTTP server (Core's StartHTTPRPC /
/// StopHTTPRPC pair).
#[derive(Debug)]
pub struct HttpRpc {
    routes: Arc<Routes>,
}

impl HttpRpc {
    /// StartHTTPRPC: sets authentication up (writing the cookie when no
    /// password is configured; StopRPC deletes it) and registers `/`.
    ///
    /// # Errors
    /// A bad `-rpcauth` or a cookie that cannot be written.
    pub fn start(routes: Arc<Routes>, rpc: &RpcServer, auth: &AuthConfig) -> Result<Self, AuthError> {
        tracing::debug!(target: "rpc", "Starting HTTP RPC server");
        let (credentials, cookie) = Credentials::init(auth)?;
        if let Some(cookie) = cookie {
            rpc.adopt_cookie(cookie);
        }
        let whitelist = Whitelist::new(&auth.rpcwhitelist, auth.rpcwhitelistdefault);
        let handler = Arc::new(JsonRpcHandler {
            calls: Arc::new(Calls { rpc: rpc.clone(), whitelist }),
            credentials,
            failures: crate::ratelimit::AuthFailures::default(),
        });
        routes.register("/", true, handler);
        Ok(Self { routes })
    }

    /// InterruptHTTPRPC: nothing to do but log, as in Core.
    pub fn interrupt(&self) {
        tracing::debug!(target: "rpc", "Interrupting HTTP RPC server");
    }

    /// StopHTTPRPC: unregisters the handlers.
    pub fn stop(self) {
        tracing::debug!(target: "rpc", "Stopping HTTP RPC server");
        self.routes.unregister("/", true);
    }
}
