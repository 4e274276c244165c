//! `keygate token`: exchange a project key for a short-lived token.

use anyhow::{Context, Result};
use client_sdk::{Authenticator, ProjectKeyAuthenticator};

use crate::cli::TokenArgs;
use crate::exit::Outcome;
use crate::input::value_or_stdin;

pub(crate) fn run(args: TokenArgs) -> Result<Outcome> {
    let key = value_or_stdin(args.project_key, "project key")?;
    let runtime = super::runtime()?;
    let authenticator =
        ProjectKeyAuthenticator::new(&args.url, &args.project_id, &key).context("--url")?;
    match runtime.block_on(authenticator.get_auth_token()) {
        Ok(token) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "token": token.token, "expiresIn": token.expires_in })
                );
            } else {
                println!("{}", token.token);
            }
            Ok(Outcome::Success)
        }
        Err(error) if error.status() == Some(401) => {
            eprintln!("keygate: the server refused the project id or key");
            Ok(Outcome::Negative)
        }
        Err(error) => Err(error).context(format!("could not get a token from {}", args.url)),
    }
}
