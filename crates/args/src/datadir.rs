//! The data directory: `-datadir` or `~/.ferronode`, and paths relative to
//! it (or to the chain's directory inside it).

use std::path::{Path, PathBuf};

use crate::{Args, Error};

/// `~/.ferronode` (bitcoind: `~/.bitcoin`).
#[must_use]
pub fn default_datadir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(".ferronode"), |h| PathBuf::from(h).join(".ferronode"))
}

/// Resolves `value` against `base` unless it is absolute.
#[must_use]
pub fn abs(base: &Path, value: &str) -> PathBuf {
    let p = PathBuf::from(value);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// The data directory `-datadir` names (which must exist), or
/// [`default_datadir`] when it is unset or empty.
///
/// # Errors
/// [`Error::DatadirMissing`] when the named directory does not exist.
pub fn locate(args: &Args) -> Result<PathBuf, Error> {
    match args.get("datadir").filter(|d| !d.is_empty()) {
        Some(d) if !Path::new(&d).is_dir() => Err(Error::DatadirMissing(d)),
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(default_datadir()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::tests::cli;

    #[test]
    fn relative_paths_and_the_datadir() {
        assert_eq!(abs(Path::new("/d"), "x/y"), PathBuf::from("/d/x/y"));
        assert_eq!(abs(Path::new("/d"), "/x"), PathBuf::from("/x"));
        assert!(default_datadir().ends_with(".ferronode"));
        assert_eq!(locate(&cli(&[]).unwrap()).unwrap(), default_datadir());
        let tmp = std::env::temp_dir();
        assert_eq!(locate(&cli(&[&format!("-datadir={}", tmp.display())]).unwrap()).unwrap(), tmp);
        let err = locate(&cli(&["-datadir=/nonexistent/ferronode"]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Specified data directory \"/nonexistent/ferronode\" does not exist.");
    }
}
