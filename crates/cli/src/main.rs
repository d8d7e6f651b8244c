//! ferronode-cli: bitcoin-cli for ferronoded. All the work is in
//! [`ferronode_cli::run`]; this maps its result to the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    ExitCode::from(ferronode_cli::run(&argv))
}
