//! One module per subcommand.

mod generate;
mod hash;
mod jwt;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

/// `jwt verify`: needs the configuration (added with the config wiring).
fn verify_jwt(_config: Option<std::path::PathBuf>, _token: Option<String>) -> Result<Outcome> {
    Err(crate::exit::usage("jwt verify is being built"))
}

pub(crate) fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Generate(command) => generate::run(command),
        Command::Hash(command) => hash::run(command),
        Command::Jwt(command) => jwt::run(command),
        Command::Serve(_) | Command::Token(_) | Command::Remote(_) | Command::Config(_) => {
            Err(crate::exit::usage("this command is being built"))
        }
    }
}
