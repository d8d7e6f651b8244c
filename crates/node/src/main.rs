//! ferronoded: parse the options, set up the data directory and logging, run
//! the node, map the outcome to an exit code.

use std::process::ExitCode;

use ferronode_node::config::{self, Invocation};
use ferronode_node::shutdown::Shutdown;
use ferronode_node::{logging, report_init_error, run};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let cfg = match config::parse(&argv) {
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Run(cfg)) => cfg,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for dir in [cfg.net_dir.clone(), cfg.net_dir.join("wallets")] {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            // Core's message when the data directory cannot be written
            eprintln!("Error: Cannot write to directory '{}'; check permissions. ({e})", cfg.net_dir.display());
            return ExitCode::FAILURE;
        }
    }
    let log = match logging::init(&cfg.log, cfg.shrink_debug_file) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!(
                "Error: Could not open debug log file {}: {e}",
                cfg.log.file.as_ref().map_or_else(String::new, |p| p.display().to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report_init_error(&format!("Cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(*cfg, Shutdown::new(), log));
    // Every server task has finished by now; do not wait for stragglers.
    runtime.shutdown_background();
    ExitCode::from(code)
}
