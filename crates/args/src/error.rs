//! What can be wrong with the options beyond their syntax.

/// An error in the options, worded as Core words it (printed after
/// `Error: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `-datadir` names a directory that does not exist.
    #[error("Specified data directory \"{0}\" does not exist.")]
    DatadirMissing(String),
    /// More than one of `-regtest`, `-testnet`, ..., `-chain`.
    #[error("Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. Can use at most one.")]
    ConflictingChains,
}
