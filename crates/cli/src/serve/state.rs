//! Maps `auth-config`'s settings onto `server-middleware`'s state.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use auth_config::Config;
use auth_core::jwt::JwtSettings;
use auth_core::policy::RouteClass;
use auth_core::secrecy::SecretString;
use key_store::ManagedKeys;
use server_middleware::{
    AuthState, Budgets, IdentityHeaders, Project, TokenIssuer, TrustedProxies,
};

/// The server state for `config`; `cli_admin` is `--admin-token` (highest precedence). This is
/// the one place configuration becomes a server: `serve`, its reloads and `config check` use it.
pub(crate) fn from_config(
    config: &Config,
    cli_admin: Option<SecretString>,
    managed: Option<&Arc<ManagedKeys>>,
) -> Result<AuthState> {
    let max_authorization_bytes = config.server().max_authorization_bytes;
    let issuer = match config.token_issuer() {
        Some(settings) => {
            let projects = settings
                .projects
                .iter()
                .map(|p| Project {
                    id: p.id.clone(),
                    keys: p.keys.clone(),
                })
                .collect();
            let leeway = config
                .jwt_verifier()
                .map_or(auth_core::jwt::DEFAULT_LEEWAY_SECONDS, |v| {
                    v.settings().leeway_seconds
                });
            let claims = JwtSettings {
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                leeway_seconds: leeway,
                max_token_bytes: max_authorization_bytes,
            };
            Some(
                TokenIssuer::new(settings.signing_key.clone(), projects)?
                    .with_previous_keys(settings.previous_public_keys.clone())?
                    .with_ttl(Duration::from_secs(settings.ttl_seconds))
                    .with_claims(claims),
            )
        }
        None => None,
    };
    let mut builder = AuthState::builder().policy(config.policy_parts(cli_admin));
    if let Some(managed) = managed {
        builder = builder.managed_keys(Arc::clone(managed));
    }
    if let Some(url) = config.jwks_url() {
        // Keys are fetched by the server (refreshed every 10 min, refetched on unknown kids).
        builder = builder.jwks_url(url);
    }
    let state = builder
        .max_authorization_bytes(max_authorization_bytes)
        .trusted_proxies(TrustedProxies::new(config.server().trusted_proxies.clone()))
        .routes(config.server().routes.clone())
        .identity_headers(IdentityHeaders {
            claim_headers: config.server().claim_headers.clone(),
            forward_jwt: config.server().forward_jwt,
        })
        .budgets(Budgets {
            per_client: *config.client_budget(),
            per_project: *config.project_budget(),
        })
        .token_issuer(issuer)
        .cache(*config.cache())
        .kdf(*config.kdf())
        .build()?;
    Ok(state)
}

/// The managed keys of `settings` for a server: a configured store is opened (a SQLite file
/// created) and must be reachable; the default one is used only if its file exists. The version
/// poll and last-used batches run on the current runtime.
pub(crate) async fn managed_keys(
    settings: &auth_config::KeysSettings,
) -> Result<Option<Arc<ManagedKeys>>> {
    if !settings.store_configured
        && key_store::sql::sqlite_path(&settings.store).is_none_or(|path| !path.exists())
    {
        return Ok(None);
    }
    let runtime = key_store::ManagedSettings {
        sync_interval: settings.sync_interval,
        last_used_flush: settings.last_used_flush,
        max_cached: settings.max_cached,
        ..key_store::ManagedSettings::default()
    };
    let clock = Arc::new(auth_cache::clock::SystemClock);
    let managed =
        crate::stores::open(&settings.store, settings.store_configured, runtime, clock).await?;
    managed.spawn();
    tracing::info!(
        engine = managed.engine(),
        sync_interval_ms = settings.sync_interval.as_millis(),
        "managed keys enabled"
    );
    Ok(Some(managed))
}

/// The startup log: each class's mechanisms (open classes are warned about by the handle).
pub(crate) fn log_mechanisms(config: &Config, state: &AuthState) {
    match config.file() {
        Some(path) => tracing::info!(file = %path.display(), "configuration loaded"),
        None => tracing::info!("configuration loaded from the environment only"),
    }
    let mechanisms = state.mechanisms();
    for (class, m) in [
        (RouteClass::Ingest, mechanisms.ingest),
        (RouteClass::Consumption, mechanisms.consumption),
    ] {
        let key_ids: Vec<String> = state.keys(class).ids().map(|id| id.to_string()).collect();
        tracing::info!(class = class.as_str(), keys = ?key_ids, "{class}: {}", m.describe());
    }
    if mechanisms.admin {
        tracing::info!(
            class = "admin",
            "admin: admin credential ({})",
            admin_source(state)
        );
    }
}

fn admin_source(state: &AuthState) -> &'static str {
    match state.admin() {
        auth_core::apikey::AdminCredential::Plain { source, .. } => source,
        auth_core::apikey::AdminCredential::Hashed(_) => "[authentication] admin_api_key",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use auth_config::{Env, LoadOptions};

    use super::*;

    #[test]
    fn a_jwks_url_alone_is_a_usable_jwt_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([
            (
                "MOOSE_JWT__JWKS_URL",
                "https://idp.test/.well-known/jwks.json",
            ),
            ("MOOSE_JWT_ISSUER", "https://idp.test"),
            ("MOOSE_JWT_AUDIENCE", "api"),
            ("MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS", "true"),
        ]);
        let options = LoadOptions::new().with_directory(dir.path()).with_env(env);
        let config = Config::load(&options).unwrap();

        let state = from_config(&config, None, None).unwrap();

        assert_eq!(
            state.jwks().map(server_middleware::JwksSource::url),
            Some("https://idp.test/.well-known/jwks.json")
        );
        assert!(state.jwt().unwrap().keys().is_empty());
        let ingest = state.mechanisms().ingest;
        assert!(ingest.jwt && ingest.enforce_jwt);
        assert!(state.mechanisms().consumption.jwt);
    }
}
