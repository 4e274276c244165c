//! `keygate jwt keygen|sign|verify`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use auth_core::jwt::{JwtAlgorithm, JwtVerifier, SigningKey, generate_key_pair};
use auth_core::secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::cli::{Alg, JwtCommand, JwtSignArgs};
use crate::exit::{Outcome, usage};

pub(crate) fn run(command: JwtCommand) -> Result<Outcome> {
    match command {
        JwtCommand::Keygen { out, alg, force } => keygen(&out, alg, force),
        JwtCommand::Sign(args) => sign(&args),
        JwtCommand::Verify { config, token } => verify(config, token),
    }
}

fn keygen(out: &Path, alg: Alg, force: bool) -> Result<Outcome> {
    let algorithm = match alg {
        Alg::Rs256 => JwtAlgorithm::Rs256,
        Alg::Es256 => JwtAlgorithm::Es256,
        Alg::EdDsa => JwtAlgorithm::EdDsa,
    };
    let private_path = out.join("private.pem");
    let public_path = out.join("public.pem");
    for path in [&private_path, &public_path] {
        if path.exists() && !force {
            return Err(usage(format!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            )));
        }
    }
    fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;
    let pair = generate_key_pair(algorithm)?;
    write_private(&private_path, pair.private_pem.expose_secret())?;
    fs::write(&public_path, &pair.public_pem)
        .with_context(|| format!("could not write {}", public_path.display()))?;
    println!("wrote {} ({algorithm}, mode 0600)", private_path.display());
    println!("wrote {}", public_path.display());
    Ok(Outcome::Success)
}

/// Private keys are created readable by the owner only.
fn write_private(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))
}

fn sign(args: &JwtSignArgs) -> Result<Outcome> {
    let pem = fs::read_to_string(&args.key)
        .with_context(|| format!("could not read the key file {}", args.key.display()))?;
    let key =
        SigningKey::from_pem(&pem).with_context(|| format!("--key {}", args.key.display()))?;
    let now = auth_cache::clock::unix_now();
    let mut claims = Map::new();
    for claim in &args.claims {
        let (name, value) = claim
            .split_once('=')
            .ok_or_else(|| usage(format!("--claim {claim:?} is not NAME=VALUE")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        claims.insert(name.to_owned(), value);
    }
    claims.insert("iss".into(), args.iss.clone().into());
    claims.insert("aud".into(), args.aud.clone().into());
    if let Some(sub) = &args.sub {
        claims.insert("sub".into(), sub.clone().into());
    }
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(args.ttl).into());
    println!("{}", key.sign(&Value::Object(claims))?);
    Ok(Outcome::Success)
}

fn verify(config: Option<std::path::PathBuf>, token: Option<String>) -> Result<Outcome> {
    let config = super::config::load(&super::config::options(config))?;
    // The keys `serve` would trust: [jwt] secret, the token issuer's own key, the remote set.
    let state = crate::serve::state::from_config(&config, None, None)?;
    let verifier = state.jwt().ok_or_else(|| {
        usage(
            "no JWT verification is configured: set [jwt] secret (or jwks_url), issuer and audience \
             (or MOOSE_JWT_PUBLIC_KEY, MOOSE_JWT_ISSUER, MOOSE_JWT_AUDIENCE)",
        )
    })?;
    let verifier = match state.jwks() {
        Some(source) => with_remote_keys(verifier, source)?,
        None => verifier.clone(),
    };
    let token = crate::input::value_or_stdin(token, "JWT")?;
    match verifier.verify(token.trim(), auth_cache::clock::unix_now()) {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Value::Object(claims.json))?
            );
            Ok(Outcome::Success)
        }
        Err(reason) => {
            eprintln!("keygate: invalid token: {reason}");
            Ok(Outcome::Negative)
        }
    }
}

/// Fetches `[jwt] jwks_url` once, as the server would, and trusts its keys too.
fn with_remote_keys(
    verifier: &JwtVerifier,
    source: &server_middleware::JwksSource,
) -> Result<JwtVerifier> {
    let jwks = server_middleware::Jwks::from_source(source);
    super::runtime()?
        .block_on(jwks.refresh())
        .context("could not fetch the JWKS of [jwt] jwks_url")?;
    Ok(verifier.with_additional_keys(jwks.keys()))
}
