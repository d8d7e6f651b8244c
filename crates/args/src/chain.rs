//! Which chain the options select, and its defaults.

use crate::{Args, Error};

/// The regtest RPC port.
pub const REGTEST_RPC_PORT: u16 = 18443;

/// The chain picked by `-regtest`, `-testnet`, `-testnet4`, `-signet` and
/// `-chain` (regtest when none is given). Its name is also the name of the
/// chain's directory inside the data directory.
///
/// # Errors
/// [`Error::ConflictingChains`] when more than one is given.
pub fn select_chain(args: &Args) -> Result<String, Error> {
    let mut picked: Vec<String> = ["regtest", "testnet", "testnet4", "signet"]
        .iter()
        .filter(|n| args.get_bool(n, false))
        .map(|n| if *n == "testnet" { "test".to_owned() } else { (*n).to_owned() })
        .collect();
    if let Some(c) = args.get("chain") {
        picked.push(c);
    }
    match picked.len() {
        // ferronode's default chain is regtest (bitcoind's is main).
        0 => Ok("regtest".to_owned()),
        1 => Ok(picked.remove(0)),
        _ => Err(Error::ConflictingChains),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptionSpec;

    fn chain(argv: &[&str]) -> Result<String, Error> {
        let specs: Vec<OptionSpec> = ["regtest", "testnet", "testnet4", "signet", "chain"]
            .iter()
            .map(|name| OptionSpec { name, help: "", network_only: false, category: "" })
            .collect();
        let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
        select_chain(&Args::parse_command_line(&argv, &specs, "x").unwrap())
    }

    #[test]
    fn chain_selection_like_core() {
        assert_eq!(chain(&[]).unwrap(), "regtest");
        assert_eq!(chain(&["-testnet"]).unwrap(), "test");
        assert_eq!(chain(&["-chain=main"]).unwrap(), "main");
        assert_eq!(chain(&["-noregtest", "-chain=regtest"]).unwrap(), "regtest");
        assert_eq!(
            chain(&["-regtest", "-chain=regtest"]).unwrap_err().to_string(),
            "Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. Can use at most one."
        );
    }
}
