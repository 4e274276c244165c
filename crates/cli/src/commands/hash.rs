//! `keygate hash verify`.

use anyhow::{Context, Result};
use auth_core::apikey::{KeySet, StoredKey};

use crate::cli::HashCommand;
use crate::exit::Outcome;
use crate::input::value_or_stdin;

pub(crate) fn run(command: HashCommand) -> Result<Outcome> {
    match command {
        HashCommand::Verify { hash, token } => {
            let key = StoredKey::parse(&hash).context("--hash")?;
            let token = value_or_stdin(token, "bearer token")?;
            let check = KeySet::from(vec![key]).verify(&token);
            match check.result {
                Ok(id) => {
                    println!("match (key id {id})");
                    Ok(Outcome::Success)
                }
                Err(reason) => {
                    println!("no match: {reason}");
                    Ok(Outcome::Negative)
                }
            }
        }
    }
}
