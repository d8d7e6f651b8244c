//! bitcoind's option syntax and `bitcoin.conf` reader, following Core's
//! ArgsManager, for both of ferronode's programs.
//!
//! clap cannot express bitcoind's conventions (`-regtest`, `-rpcport=1`,
//! `-noX`, `--X`, repeated options, config sections), so this crate
//! implements them. It is a crate of its own so that `ferronoded` and
//! `ferronode-cli` read options and config files by the same rules while the
//! client builds none of the node's dependencies: it depends on nothing but
//! `thiserror`. Each program keeps its own option list as data
//! ([`OptionSpec`]s) and its own typed configuration.
//!
//! # Layout
//! - [`spec`]: [`OptionSpec`], one accepted option, and the `-help` layout.
//! - [`args`]: [`Args`], the parsed command line and config values with
//!   Core's precedence and getters.
//! - [`conf`]: locating and reading `bitcoin.conf` ([`ConfFile`]), with
//!   `includeconf=`.
//! - [`datadir`]: `-datadir` ([`datadir::locate`]), its default and paths
//!   relative to it.
//! - [`chain`]: the chain the options select (also the name of its
//!   directory) and the regtest defaults.
//! - [`host_port`]: Core's `SplitHostPort`.
//! - [`Error`]: what can be wrong beyond syntax.

pub mod args;
pub mod chain;
pub mod conf;
pub mod datadir;
mod error;
pub mod host_port;
pub mod spec;

pub use args::{atoi, Args};
pub use chain::{select_chain, REGTEST_RPC_PORT};
pub use conf::ConfFile;
pub use error::Error;
pub use host_port::split_host_port;
pub use spec::{options_help, OptionSpec};
