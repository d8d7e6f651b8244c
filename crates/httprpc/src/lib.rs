//! JSON-RPC over HTTP in bitcoind's dialect.
//!
//! bitcoind's JSON-RPC is not plain JSON-RPC 2.0: requests without a
//! `jsonrpc` member are legacy 1.0 requests whose errors become HTTP errors
//! (400, 404, 500), 2.0 errors come with HTTP 200, notifications get 204, and
//! batches mix both. Clients such as bitcoin-cli, python-bitcoinrpc and Core's
//! test framework rely on every detail, and no off-the-shelf JSON-RPC server
//! speaks the dialect, so this crate implements it on top of
//! `ferronode-httpserver`.
//!
//! # Layout
//! - [`request`]: parsing request bodies and building replies (no I/O).
//! - [`table`]: the command table. Commands are data: name, category,
//!   arguments (for named parameters, type checks and help) and a handler.
//!   Any crate adds its commands through [`RpcTable::add`]. A handler that
//!   may wait is async ([`Command::new`]); one that answers from what it
//!   can read at once is a plain function ([`Command::sync`]), called
//!   inline with no future to allocate.
//! - [`schema`]: a command's help schema as data (Core's `RPCHelpMan`):
//!   arguments, results with alternatives, examples, category.
//! - [`help`]: the `help <command>` text laid out from a schema as Core
//!   lays it out.
//! - [`named`]: named parameters to positions, with `args` and the options
//!   of an `OBJ_NAMED_PARAMS` argument.
//! - [`doccheck`]: `-rpcdoccheck`, results checked against their schema,
//!   and Core's internal-bug error.
//! - [`RpcServer`]: the table's lifecycle (Core's StartRPC, InterruptRPC,
//!   StopRPC), warmup and the list of running commands.
//! - [`HttpRpc`]: the HTTP side (StartHTTPRPC, StopHTTPRPC): authentication
//!   and the handler registered at `/`.
//! - [`auth`]: cookie, `-rpcuser`/`-rpcpassword`, `-rpcauth`.
//! - [`control`]: `help`, `stop`, `uptime`, `getrpcinfo` and the hidden test
//!   commands.
//!
//! # Why authentication happens in `admit`
//! The HTTP server lets a handler look at the request head before the body is
//! read and before a worker is taken. Authentication runs there, so a client
//! with a wrong password waits its 250 ms on its own connection and never
//! occupies one of the workers that serve everyone else.

mod amount;
pub mod auth;
pub mod control;
pub mod doccheck;
mod error;
pub mod help;
mod http;
pub mod named;
mod ratelimit;
pub mod request;
pub mod schema;
mod server;
pub mod table;

pub use amount::{amount, amount_unsigned};
pub use auth::{AuthConfig, AuthError, CookieConfig, Whitelist};
pub use error::{codes, RpcError};
pub use http::{HttpRpc, JsonRpcHandler, AUTH_FAILURE_DELAY};
pub use schema::{Example, Fallback, Param, ParamType, ResultDoc, ResultType, Schema};
pub use server::RpcConfig;
pub use server::{CallContext, Caller, Execution, RpcServer, ShutdownRequest, WARMUP_STARTED};
pub use table::{Arg, ArgType, Command, RpcTable};
