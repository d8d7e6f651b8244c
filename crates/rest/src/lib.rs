//! Bitcoin Core's REST interface for ferronode.
//!
//! This crate will hold the `/rest/...` endpoints (`tx`, `block`, `headers`,
//! `blockhashbyheight`, `chaininfo`, `mempool`, `getutxos`, ...) in the three
//! formats Core serves: `.bin`, `.hex` and `.json`. It will mount on
//! `ferronode-httpserver` as prefix handlers, exactly as `ferronode-httprpc`
//! mounts the JSON-RPC handler, and read the chain through a narrow trait so
//! that another Rust node can serve the same endpoints from its own chain.
//!
//! It is empty for now: the walking skeleton serves JSON-RPC only.
