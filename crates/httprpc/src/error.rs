//! JSON-RPC errors: Core's codes, and the one place that maps an error to an
//! HTTP status.

use ferronode_httpserver::HttpStatus;
use serde_json::{json, Value};

/// Core's error codes (`src/rpc/protocol.h`).
#[allow(missing_docs)]
pub mod codes {
    pub const RPC_INVALID_REQUEST: i32 = -32600;
    pub const RPC_METHOD_NOT_FOUND: i32 = -32601;
    pub const RPC_INVALID_PARAMS: i32 = -32602;
    pub const RPC_INTERNAL_ERROR: i32 = -32603;
    pub const RPC_PARSE_ERROR: i32 = -32700;
    pub const RPC_MISC_ERROR: i32 = -1;
    pub const RPC_TYPE_ERROR: i32 = -3;
    pub const RPC_INVALID_ADDRESS_OR_KEY: i32 = -5;
    pub const RPC_OUT_OF_MEMORY: i32 = -7;
    pub const RPC_INVALID_PARAMETER: i32 = -8;
    pub const RPC_CLIENT_NOT_CONNECTED: i32 = -9;
    pub const RPC_CLIENT_IN_INITIAL_DOWNLOAD: i32 = -10;
    pub const RPC_DATABASE_ERROR: i32 = -20;
    pub const RPC_DESERIALIZATION_ERROR: i32 = -22;
    pub const RPC_VERIFY_ERROR: i32 = -25;
    pub const RPC_VERIFY_REJECTED: i32 = -26;
    pub const RPC_VERIFY_ALREADY_IN_UTXO_SET: i32 = -27;
    pub const RPC_IN_WARMUP: i32 = -28;
    pub const RPC_METHOD_DEPRECATED: i32 = -32;
}

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
