//! Core's JSON-RPC error codes (`RPCErrorCode` in `src/rpc/protocol.h`),
//! with Core's names and values; clients match on the numbers.

// Standard JSON-RPC 2.0 errors.

/// The request is not a valid JSON-RPC request; answered with HTTP 400 in
/// JSON-RPC 1.0 replies.
pub const RPC_INVALID_REQUEST: i32 = -32600;
/// No such method; answered with HTTP 404 in JSON-RPC 1.0 replies.
pub const RPC_METHOD_NOT_FOUND: i32 = -32601;
/// Invalid method parameters.
pub const RPC_INVALID_PARAMS: i32 = -32602;
/// A genuine internal error of the server (for example datadir corruption).
pub const RPC_INTERNAL_ERROR: i32 = -32603;
/// The request body is not valid JSON.
pub const RPC_PARSE_ERROR: i32 = -32700;

// General application defined errors.

/// Any other failure while handling a command.
pub const RPC_MISC_ERROR: i32 = -1;
/// Unexpected type was passed as parameter.
pub const RPC_TYPE_ERROR: i32 = -3;
/// Invalid address or key.
pub const RPC_INVALID_ADDRESS_OR_KEY: i32 = -5;
/// Ran out of memory during operation.
pub const RPC_OUT_OF_MEMORY: i32 = -7;
/// Invalid, missing or duplicate parameter.
pub const RPC_INVALID_PARAMETER: i32 = -8;
/// Database error.
pub const RPC_DATABASE_ERROR: i32 = -20;
/// Error parsing or validating structure in raw format.
pub const RPC_DESERIALIZATION_ERROR: i32 = -22;
/// General error during transaction or block submission.
pub const RPC_VERIFY_ERROR: i32 = -25;
/// Transaction or block was rejected by network rules.
pub const RPC_VERIFY_REJECTED: i32 = -26;
/// Transaction already in utxo set.
pub const RPC_VERIFY_ALREADY_IN_UTXO_SET: i32 = -27;
/// The server is still warming up.
pub const RPC_IN_WARMUP: i32 = -28;
/// RPC method is deprecated.
pub const RPC_METHOD_DEPRECATED: i32 = -32;
/// A bounded resource is currently at capacity.
pub const RPC_LIMIT_EXCEEDED: i32 = -37;
/// Alias of [`RPC_VERIFY_ERROR`], kept for backward compatibility.
pub const RPC_TRANSACTION_ERROR: i32 = RPC_VERIFY_ERROR;
/// Alias of [`RPC_VERIFY_REJECTED`], kept for backward compatibility.
pub const RPC_TRANSACTION_REJECTED: i32 = RPC_VERIFY_REJECTED;

// P2P client errors.

/// Not connected (also `Shutting down` after InterruptRPC).
pub const RPC_CLIENT_NOT_CONNECTED: i32 = -9;
/// Still downloading initial blocks.
pub const RPC_CLIENT_IN_INITIAL_DOWNLOAD: i32 = -10;
/// Node is already added.
pub const RPC_CLIENT_NODE_ALREADY_ADDED: i32 = -23;
/// Node has not been added before.
pub const RPC_CLIENT_NODE_NOT_ADDED: i32 = -24;
/// Node to disconnect not found in connected nodes.
pub const RPC_CLIENT_NODE_NOT_CONNECTED: i32 = -29;
/// Invalid IP/Subnet.
pub const RPC_CLIENT_INVALID_IP_OR_SUBNET: i32 = -30;
/// No valid connection manager instance found.
pub const RPC_CLIENT_P2P_DISABLED: i32 = -31;
/// Max number of outbound or block-relay connections already open.
pub const RPC_CLIENT_NODE_CAPACITY_REACHED: i32 = -34;

// Chain errors.

/// No mempool instance found.
pub const RPC_CLIENT_MEMPOOL_DISABLED: i32 = -33;

// Wallet errors.

/// Unspecified problem with wallet (key not found etc.).
pub const RPC_WALLET_ERROR: i32 = -4;
/// Not enough funds in wallet or account.
pub const RPC_WALLET_INSUFFICIENT_FUNDS: i32 = -6;
/// Invalid label name.
pub const RPC_WALLET_INVALID_LABEL_NAME: i32 = -11;
/// Keypool ran out, call keypoolrefill first.
pub const RPC_WALLET_KEYPOOL_RAN_OUT: i32 = -12;
/// Enter the wallet passphrase with walletpassphrase first.
pub const RPC_WALLET_UNLOCK_NEEDED: i32 = -13;
/// The wallet passphrase entered was incorrect.
pub const RPC_WALLET_PASSPHRASE_INCORRECT: i32 = -14;
/// Command given in wrong wallet encryption state.
pub const RPC_WALLET_WRONG_ENC_STATE: i32 = -15;
/// Failed to encrypt the wallet.
pub const RPC_WALLET_ENCRYPTION_FAILED: i32 = -16;
/// Wallet is already unlocked.
pub const RPC_WALLET_ALREADY_UNLOCKED: i32 = -17;
/// Invalid wallet specified.
pub const RPC_WALLET_NOT_FOUND: i32 = -18;
/// No wallet specified (error when there are multiple wallets loaded).
pub const RPC_WALLET_NOT_SPECIFIED: i32 = -19;
/// This same wallet is already loaded.
pub const RPC_WALLET_ALREADY_LOADED: i32 = -35;
/// There is already a wallet with the same name.
pub const RPC_WALLET_ALREADY_EXISTS: i32 = -36;
/// Alias of [`RPC_WALLET_INVALID_LABEL_NAME`], kept for backward
/// compatibility.
pub const RPC_WALLET_INVALID_ACCOUNT_NAME: i32 = RPC_WALLET_INVALID_LABEL_NAME;

// Unused reserved codes, kept so that nobody reuses them.

/// Server is in safe mode, and command is not allowed in safe mode.
pub const RPC_FORBIDDEN_BY_SAFE_MODE: i32 = -2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cores() {
        assert_eq!(
            [RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR, RPC_IN_WARMUP, RPC_WALLET_NOT_SPECIFIED],
            [-32600, -32601, -32700, -28, -19]
        );
        assert_eq!((RPC_TRANSACTION_ERROR, RPC_WALLET_INVALID_ACCOUNT_NAME), (-25, -11));
    }
}
