//! The mempool: the pool itself ([`Mempool`], in `pool.rs`) and
//! `mempool.dat` ([`file`]). Acceptance, which needs the UTXO set and the
//! tip, is the chain's (`Chain::accept`, in the crate root).

pub mod file;
mod pool;

pub use pool::*;
