//! `keygate`: generate and verify API keys, sign and verify JWTs, and run the auth gateway.
//!
//! Exit codes: 0 success, 1 a negative answer (no match, invalid token, request refused),
//! 2 usage or configuration error. Errors are one or two plain sentences on stderr.

mod cli;
mod commands;
mod exit;
mod input;
mod serve;
mod stores;

use clap::Parser;

/// The gateway allocates a little for every request (header maps, bodies, futures); mimalloc's
/// thread-local free lists make that cheaper than glibc's malloc (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    exit::install_panic_hook();
    let cli = cli::Cli::parse();
    exit::report(commands::run(cli))
}
