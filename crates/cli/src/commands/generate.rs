//! `keygate generate hash-token`.

use anyhow::Result;
use auth_core::apikey::{PHC_DEFAULT_ITERATIONS, generate_moose, generate_phc};
use auth_core::secrecy::ExposeSecret;

use crate::cli::{GenerateCommand, HashTokenArgs, KeyFormat};
use crate::exit::{Outcome, usage};

pub(crate) fn run(command: GenerateCommand) -> Result<Outcome> {
    match command {
        GenerateCommand::HashToken(args) => hash_token(&args),
    }
}

fn hash_token(args: &HashTokenArgs) -> Result<Outcome> {
    let key = match (args.format, args.iterations) {
        (KeyFormat::Moose, Some(_)) => {
            return Err(usage(
                "--iterations applies to --format phc only (the moose format is fixed at 1000)",
            ));
        }
        (KeyFormat::Moose, None) => generate_moose()?,
        (KeyFormat::Phc, iterations) => generate_phc(iterations.unwrap_or(PHC_DEFAULT_ITERATIONS))?,
    };
    if args.json {
        let json = serde_json::json!({
            "api_key_hash": key.stored,
            "bearer_token": key.bearer_token.expose_secret(),
            "format": key.format.as_str(),
        });
        println!("{json}");
    } else {
        println!("ENV API Key: {}", key.stored);
        println!("Bearer Token: {}", key.bearer_token.expose_secret());
    }
    Ok(Outcome::Success)
}
