//! JSON-RPC errors: Core's codes, and the one place that maps an error to an
//! HTTP status.

use ferronode_httpserver::HttpStatus;
use serde_json::{json, Value};

/// Core's error codes (`src/rpc/protocol.h`); their one home is
/// [`ferronode_protocol::codes`].
pub use ferronode_protocol::codes;

/// A JSON-RPC error object: a code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// One of [`codes`].
    pub code: i32,
    /// Human-readable text, exactly as Core words it.
    pub message: String,
}

impl RpcError {
    /// An error with any code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// -32600 with the given text.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(codes::RPC_INVALID_REQUEST, message)
    }

    /// -32601 `Method not found`.
    #[must_use]
    pub fn method_not_found() -> Self {
        Self::new(codes::RPC_METHOD_NOT_FOUND, "Method not found")
    }

    /// -32700 with the given text.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(codes::RPC_PARSE_ERROR, message)
    }

    /// -1, what Core answers for any other failure of a command.
    pub fn misc(message: impl Into<String>) -> Self {
        Self::new(codes::RPC_MISC_ERROR, message)
    }

    /// -3, a JSON value of the wrong type.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new(codes::RPC_TYPE_ERROR, message)
    }

    /// -8, an invalid parameter.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(codes::RPC_INVALID_PARAMETER, message)
    }

    /// -9 `Shutting down`, returned by long-running commands after
    /// InterruptRPC.
    #[must_use]
    pub fn shutting_down() -> Self {
        Self::new(codes::RPC_CLIENT_NOT_CONNECTED, "Shutting down")
    }

    /// The HTTP status of a legacy (JSON-RPC 1.0) error reply: 400 for an
    /// invalid request, 404 for an unknown method, 500 for everything else.
    /// JSON-RPC 2.0 errors are always sent with 200.
    #[must_use]
    pub fn legacy_http_status(&self) -> HttpStatus {
        match self.code {
            codes::RPC_INVALID_REQUEST => HttpStatus::BAD_REQUEST,
            codes::RPC_METHOD_NOT_FOUND => HttpStatus::NOT_FOUND,
            _ => HttpStatus::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `{"code":…,"message":…}` object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}
