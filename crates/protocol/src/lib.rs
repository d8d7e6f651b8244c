//! The JSON-RPC vocabulary that ferronode's server and its client share:
//! Core's RPC error codes ([`codes`], `src/rpc/protocol.h`) and UniValue's
//! names for JSON types ([`json_type_name`]).
//!
//! Why a crate of its own: `ferronode-cli` must know these (it waits out
//! `RPC_IN_WARMUP`, explains `RPC_WALLET_NOT_SPECIFIED`, words type errors
//! as Core does) but must not depend on the server crates, which pull in
//! tokio. So this is the one home of the codes; `ferronode-httprpc`
//! re-exports them, and every other crate takes them from here instead of
//! writing its own copy.
//!
//! # Layout
//! - [`codes`]: every `RPCErrorCode` of Core's `protocol.h`, same names and
//!   values.
//! - [`json_type_name`]: Core's `uvTypeName`.

pub mod codes;
mod type_name;

pub use type_name::json_type_name;
