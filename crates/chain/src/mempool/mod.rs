//! The mempool: the pool itself ([`Mempool`], in `pool.rs`) and
//! `mempool.dat` ([`file`]). Acceptance, which needs the UTXO set and the
//! tip, is in `accept.rs` (called through `Chain::accept`).

pub(crate) mod accept;
pub mod file;
mod pool;

pub use pool::*;
