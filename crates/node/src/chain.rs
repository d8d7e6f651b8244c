//! The chain, from `ferronode-chain`, under the node's name for it: the
//! RPC, REST, P2P and ZMQ glue refer to `crate::chain::*`.

pub use ferronode_chain::*;
