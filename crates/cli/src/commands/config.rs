//! `keygate config check` and the configuration loading every command shares.

use std::path::PathBuf;

use anyhow::Result;
use auth_config::{Config, LoadOptions};
use auth_core::policy::Mechanisms;

use crate::cli::ConfigCommand;
use crate::exit::Outcome;

/// The load options for `--config PATH` (or `./moose.config.toml`) plus the process environment.
pub(crate) fn options(path: Option<PathBuf>) -> LoadOptions {
    LoadOptions::new().with_config_path(path)
}

/// Loads the configuration and prints its warnings to stderr.
pub(crate) fn load(options: &LoadOptions) -> Result<Config> {
    let config = Config::load(options)?;
    for warning in config.warnings() {
        eprintln!("keygate: warning: {warning}");
    }
    Ok(config)
}

pub(crate) fn run(command: ConfigCommand) -> Result<Outcome> {
    let ConfigCommand::Check {
        config,
        show_origin,
    } = command;
    let options = options(config);
    let config = load(&options)?;
    match config.file() {
        Some(path) => println!("configuration OK: {} and the environment", path.display()),
        None => println!(
            "configuration OK: environment only (no {})",
            options.file_path().display()
        ),
    }
    // Checked as `serve` would build it, so what passes here also starts.
    let state = crate::serve::state::from_config(&config, None, None)?;
    print_mechanisms(state.mechanisms());
    if show_origin {
        println!();
        for setting in config.explain() {
            println!("{setting}");
        }
    }
    Ok(Outcome::Success)
}

fn print_mechanisms(mechanisms: &Mechanisms) {
    for (class, m) in [
        ("ingest", mechanisms.ingest),
        ("consumption", mechanisms.consumption),
    ] {
        println!("  {class:<12} {}", m.describe());
    }
    let admin = if mechanisms.admin {
        "admin credential"
    } else {
        "refused (no admin credential)"
    };
    println!("  {:<12} {admin}", "admin");
}
