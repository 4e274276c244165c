//! From merged layers to a validated [`Config`]: conversions, cross-checks, `explain()` lines
//! and warnings.

use auth_cache::budget::BudgetSettings;
use auth_cache::pool::KdfSettings;
use auth_cache::verify::CacheSettings;
use auth_core::apikey::KeySet;
use auth_core::jwt::{JwtSettings, JwtVerifier, SigningKey, VerifyingKey};
use auth_core::secrecy::SecretString;

use crate::catalog::{
    ADMIN_API_KEY, CONSUMPTION_API_KEYS, INGEST_API_KEYS, ISSUER_PREVIOUS_PUBLIC_KEYS,
    ISSUER_PRIVATE_KEY, ISSUER_PROJECTS, JWT_AUDIENCE, JWT_ENFORCE_CONSUMPTION, JWT_ENFORCE_INGEST,
    JWT_ISSUER, JWT_JWKS_URL, JWT_SECRET, Setting,
};
use crate::layers::Layers;
use crate::read::{RawProject, Sourced};
use crate::{
    Config, ConfigError, ConfigWarning, Origin, Project, ServerSettings, TokenIssuerSettings,
};

mod convert;

use convert::Builder;

pub(crate) fn build(layers: &Layers) -> Result<Config, ConfigError> {
    let mut builder = Builder {
        layers,
        explained: Vec::new(),
    };
    let read = builder.read_all()?;
    let verifier = jwt_verifier(&read)?;
    check_dependencies(&read, verifier.is_some())?;
    let warnings = warnings(&read, verifier.is_some());
    let keys = |keys: Option<Sourced<KeySet>>| keys.map(|(k, _)| k).unwrap_or_default();
    let token_issuer = match (read.private_key, &read.issuer, &read.audience) {
        (Some((signing_key, _)), Some((issuer, _)), Some((audience, _))) => {
            Some(TokenIssuerSettings {
                signing_key,
                ttl_seconds: read.ttl,
                issuer: issuer.clone(),
                audience: audience.clone(),
                projects: read
                    .projects
                    .into_iter()
                    .flat_map(|(projects, _)| projects)
                    .map(|p| Project {
                        id: p.id,
                        keys: p.keys,
                    })
                    .collect(),
                previous_public_keys: read
                    .previous_public_keys
                    .map(|(keys, _)| keys)
                    .unwrap_or_default(),
            })
        }
        _ => None,
    };
    Ok(Config {
        ingest_keys: keys(read.ingest),
        consumption_keys: keys(read.consumption),
        admin_hashes: keys(read.admin_hashes),
        admin_env_token: read.admin_env_token.map(|(token, _)| token),
        jwt: verifier,
        jwks_url: read.jwks_url.map(|(url, _)| url),
        enforce_on_all_ingest_apis: read.enforce_ingest.0,
        enforce_on_all_consumptions_apis: read.enforce_consumption.0,
        token_issuer,
        cache: read.cache.0,
        kdf: read.cache.1,
        client_budget: read.limits.0,
        project_budget: read.limits.1,
        server: read.server,
        keys: read.keys,
        file: layers.file().map(|f| f.path.clone()),
        explained: builder.explained,
        warnings,
    })
}

/// Every setting as read and converted, before the cross-checks.
struct Read {
    admin_hashes: Option<Sourced<KeySet>>,
    admin_env_token: Option<Sourced<SecretString>>,
    ingest: Option<Sourced<KeySet>>,
    consumption: Option<Sourced<KeySet>>,
    secret: Option<Sourced<VerifyingKey>>,
    issuer: Option<Sourced<String>>,
    audience: Option<Sourced<String>>,
    enforce_ingest: Sourced<bool>,
    enforce_consumption: Sourced<bool>,
    leeway: u64,
    jwks_url: Option<Sourced<String>>,
    private_key: Option<Sourced<SigningKey>>,
    previous_public_keys: Option<Sourced<Vec<VerifyingKey>>>,
    ttl: u64,
    projects: Option<Sourced<Vec<RawProject>>>,
    cache: (CacheSettings, KdfSettings),
    limits: (BudgetSettings, BudgetSettings),
    server: ServerSettings,
    keys: crate::KeysSettings,
}

/// The verifier, when a key source is configured; a key source without issuer and audience is
/// an error (the key alone would accept tokens its owner signed for anyone).
fn jwt_verifier(read: &Read) -> Result<Option<JwtVerifier>, ConfigError> {
    let key_settings = [
        read.secret.as_ref().map(|(_, o)| (JWT_SECRET, o)),
        read.jwks_url.as_ref().map(|(_, o)| (JWT_JWKS_URL, o)),
        read.private_key
            .as_ref()
            .map(|(_, o)| (ISSUER_PRIVATE_KEY, o)),
    ];
    for (setting, origin) in key_settings.iter().flatten() {
        for (value, missing) in [
            (&read.issuer, "jwt.issuer"),
            (&read.audience, "jwt.audience"),
        ] {
            if value.is_none() {
                return Err(ConfigError::JwtIncomplete {
                    setting: setting.path(),
                    origin: (*origin).clone(),
                    missing,
                });
            }
        }
    }
    let (Some((issuer, _)), Some((audience, _))) = (&read.issuer, &read.audience) else {
        return Ok(None);
    };
    if key_settings.iter().all(Option::is_none) {
        return Ok(None);
    }
    // The token issuer's own key is added by the server that runs the issuer, in one place.
    let keys: Vec<VerifyingKey> = read.secret.iter().map(|(k, _)| k.clone()).collect();
    Ok(Some(JwtVerifier::new(
        keys,
        JwtSettings {
            issuer: issuer.clone(),
            audience: audience.clone(),
            leeway_seconds: read.leeway,
            // One cap for the Authorization header and the JWT it carries.
            max_token_bytes: read.server.max_authorization_bytes,
        },
    )))
}

/// Settings that need another one: enforce flags need JWT (reference §5), projects need a signing key.
fn check_dependencies(read: &Read, jwt_usable: bool) -> Result<(), ConfigError> {
    for (setting, (enforced, origin)) in [
        (JWT_ENFORCE_INGEST, &read.enforce_ingest),
        (JWT_ENFORCE_CONSUMPTION, &read.enforce_consumption),
    ] {
        if *enforced && !jwt_usable {
            return Err(ConfigError::EnforceWithoutJwt {
                setting: setting.path(),
                origin: origin.clone(),
            });
        }
    }
    if let (Some((keys, origin)), None) = (&read.previous_public_keys, &read.private_key)
        && !keys.is_empty()
    {
        return Err(ConfigError::Requires {
            setting: ISSUER_PREVIOUS_PUBLIC_KEYS.path(),
            origin: origin.clone(),
            requires: "token_issuer.private_key (the key that replaced them)",
        });
    }
    if let (Some((projects, origin)), None) = (&read.projects, &read.private_key)
        && !projects.is_empty()
    {
        return Err(ConfigError::Requires {
            setting: ISSUER_PROJECTS.path(),
            origin: origin.clone(),
            requires: "token_issuer.private_key (the key that signs the projects' tokens)",
        });
    }
    Ok(())
}

/// Legal, but probably not what was meant.
fn warnings(read: &Read, jwt_usable: bool) -> Vec<ConfigWarning> {
    let mut warnings = Vec::new();
    let mut warn = |setting: Setting, origin: &Origin, message: String| {
        warnings.push(ConfigWarning {
            setting: setting.path(),
            origin: origin.clone(),
            message,
        });
    };
    for (setting, keys, (enforced, _), flag) in [
        (
            INGEST_API_KEYS,
            &read.ingest,
            &read.enforce_ingest,
            JWT_ENFORCE_INGEST,
        ),
        (
            CONSUMPTION_API_KEYS,
            &read.consumption,
            &read.enforce_consumption,
            JWT_ENFORCE_CONSUMPTION,
        ),
    ] {
        if let Some((keys, origin)) = keys
            && *enforced
            && !keys.is_empty()
        {
            let message = format!(
                "these API keys are not accepted, because {} is true (JWT only)",
                flag.path()
            );
            warn(setting, origin, message);
        }
    }
    if !jwt_usable {
        for (setting, value) in [(JWT_ISSUER, &read.issuer), (JWT_AUDIENCE, &read.audience)] {
            if let Some((_, origin)) = value {
                let message = "no JWT key is configured (jwt.secret, jwt.jwks_url or \
                               token_issuer.private_key), so JWT is not used";
                warn(setting, origin, message.to_owned());
            }
        }
    }
    if let Some((url, origin)) = &read.jwks_url
        && url.starts_with("http://")
    {
        let message = "keys fetched over plain HTTP can be replaced in transit; use https://";
        warn(JWT_JWKS_URL, origin, message.to_owned());
    }
    if let (Some((_, token_origin)), Some((hashes, origin))) =
        (&read.admin_env_token, &read.admin_hashes)
        && !hashes.is_empty()
    {
        let message =
            format!("not used: the plain-text admin token ({token_origin}) takes precedence");
        warn(ADMIN_API_KEY, origin, message);
    }
    if let Some((_, origin)) = &read.private_key
        && read.projects.as_ref().is_none_or(|(p, _)| p.is_empty())
    {
        let message =
            "no [[token_issuer.projects]] are configured, so no client can obtain a token";
        warn(ISSUER_PRIVATE_KEY, origin, message.to_owned());
    }
    warnings
}
