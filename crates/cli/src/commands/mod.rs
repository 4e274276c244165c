//! One module per subcommand.

mod config;
mod generate;
mod hash;
mod jwt;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

pub(crate) fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Generate(command) => generate::run(command),
        Command::Hash(command) => hash::run(command),
        Command::Jwt(command) => jwt::run(command),
        Command::Config(command) => config::run(command),
        Command::Serve(_) | Command::Token(_) | Command::Remote(_) => {
            Err(crate::exit::usage("this command is being built"))
        }
    }
}
