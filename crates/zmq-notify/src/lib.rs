//! Bitcoin Core's ZMQ notifier for ferronode.
//!
//! This crate will publish the five topics of `-zmqpub<topic>=<address>`
//! (`hashblock`, `hashtx`, `rawblock`, `rawtx`, `sequence`) on ZMQ PUB
//! sockets, framed as `[topic][body][4-byte little-endian sequence]`, fed by
//! a small notification API (block connected/disconnected, transaction added
//! or removed) so that any Rust node can produce bitcoind-compatible
//! notifications. It does not use HTTP and does not depend on the other
//! server crates.
//!
//! It is empty for now: the walking skeleton has no chain to notify about.
