//! One module per subcommand.

pub(crate) mod config;
mod generate;
mod hash;
pub(crate) mod jwt;
pub(crate) mod keys;
mod remote;
mod token;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

pub(crate) fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Generate(command) => generate::run(command),
        Command::Hash(command) => hash::run(command),
        Command::Jwt(command) => jwt::run(command),
        Command::Config(command) => config::run(command),
        Command::Token(args) => token::run(args),
        Command::Remote(command) => remote::run(command),
        Command::Serve(args) => crate::serve::run(args),
        Command::Keys(args) => keys::run(args),
    }
}

/// A small runtime for the commands that talk HTTP.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("could not start the async runtime: {e}"))
}
