//! `keygate remote status|reload`: a running gateway's admin API.

use anyhow::{Context, Result};
use auth_core::secrecy::ExposeSecret;

use crate::cli::{RemoteArgs, RemoteCommand};
use crate::exit::{Outcome, usage};

pub(crate) fn run(command: RemoteCommand) -> Result<Outcome> {
    let (args, reload) = match command {
        RemoteCommand::Status(args) => (args, false),
        RemoteCommand::Reload(args) => (args, true),
    };
    let token = admin_token(&args)?;
    let base = args.url.trim_end_matches('/');
    let runtime = super::runtime()?;
    let http = client_sdk::reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("could not build the HTTP client")?;
    let request = if reload {
        http.post(format!("{base}/admin/reload"))
    } else {
        http.get(format!("{base}/admin/status"))
    };
    let (status, body) = runtime
        .block_on(async {
            let response = request.bearer_auth(&token).send().await?;
            let status = response.status();
            Ok::<_, client_sdk::reqwest::Error>((status, response.text().await?))
        })
        .with_context(|| format!("could not reach {base}"))?;
    let pretty = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|json| serde_json::to_string_pretty(&json).ok())
        .unwrap_or(body);
    if status.is_success() {
        println!("{pretty}");
        Ok(Outcome::Success)
    } else {
        eprintln!("keygate: the gateway answered {status}");
        eprintln!("{pretty}");
        Ok(Outcome::Negative)
    }
}

/// `--token`, then `MOOSE_ADMIN_TOKEN`; a configured hash cannot be sent, so explain that.
fn admin_token(args: &RemoteArgs) -> Result<String> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    let config = super::config::load(&super::config::options(args.config.clone()))?;
    if let Some(token) = config.admin_env_token() {
        return Ok(token.expose_secret().to_owned());
    }
    if !config.admin_hashes().is_empty() {
        return Err(usage(
            "only a hash of the admin token is configured ([authentication] admin_api_key); \
             the plain-text token is needed: pass --token or set MOOSE_ADMIN_TOKEN",
        ));
    }
    Err(usage(
        "no admin token: pass --token or set MOOSE_ADMIN_TOKEN",
    ))
}
