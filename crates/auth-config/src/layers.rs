//! The layers of a configuration, merged by figment: file < generic env < documented env.
//!
//! Each environment variable is its own figment provider, so every merged value's tag leads back
//! to the exact variable (or to the file, whose lines `ConfigFile` knows).

use auth_core::apikey::AdminCredential;
use auth_core::secrecy::SecretString;
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use toml::de::DeValue;

use crate::catalog::{self, EnvName, Setting, classify_env};
use crate::file::{ConfigFile, to_figment};
use crate::{ConfigError, LoadOptions, Origin};

/// The merged configuration with provenance.
pub(crate) struct Layers {
    figment: Figment,
    /// The merged data, computed once: `Figment::find_value` merges (clones) every provider's
    /// data on each call, which with 100 000 keys cost more than everything else together.
    merged: Value,
    file: Option<ConfigFile>,
    /// `MOOSE_ADMIN_TOKEN`: kept out of figment, since it has no file key and is a secret.
    pub(crate) admin_token: Option<(SecretString, Origin)>,
}

/// A value found at a path, with where it came from.
pub(crate) struct Found {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

impl Layers {
    pub(crate) fn load(options: &LoadOptions) -> Result<Self, ConfigError> {
        let file = ConfigFile::read(&options.file_path(), options.path_is_explicit())?;
        let env = EnvLayers::collect(options)?;
        let mut figment = Figment::new();
        if let Some(file) = &file {
            figment = figment.merge(file.provider());
        }
        for layer in env.generic.into_iter().chain(env.documented) {
            figment = figment.merge(layer);
        }
        let merged = Provider::data(&figment)
            .ok()
            .and_then(|mut profiles| profiles.remove(&Profile::Default))
            .unwrap_or_default();
        Ok(Self {
            merged: Value::Dict(Tag::Default, merged),
            figment,
            file,
            admin_token: env.admin_token,
        })
    }

    /// The file that was read, if any.
    pub(crate) fn file(&self) -> Option<&ConfigFile> {
        self.file.as_ref()
    }

    /// The effective value of a setting, if set anywhere.
    pub(crate) fn get(&self, setting: Setting) -> Option<Found> {
        let path = setting.path();
        let value = self.merged.find_ref(&path)?.clone();
        let origin = self.origin(&value, &path);
        Some(Found { value, origin })
    }

    /// Where `value` (found at dotted `path`) came from.
    pub(crate) fn origin(&self, value: &Value, path: &str) -> Origin {
        let source = self
            .figment
            .get_metadata(value.tag())
            .and_then(|m| m.source.as_ref());
        match (source, &self.file) {
            (Some(Source::File(_)), Some(file)) => file.origin(path),
            (Some(Source::Custom(name)), _) => Origin::env(name.clone()),
            _ => Origin::Default,
        }
    }
}

/// One environment variable as a figment layer.
struct EnvLayer {
    name: String,
    data: Dict,
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("environment variable", Source::Custom(self.name.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

struct EnvLayers {
    generic: Vec<EnvLayer>,
    documented: Vec<EnvLayer>,
    admin_token: Option<(SecretString, Origin)>,
}

impl EnvLayers {
    fn collect(options: &LoadOptions) -> Result<Self, ConfigError> {
        let mut layers = Self {
            generic: Vec::new(),
            documented: Vec::new(),
            admin_token: None,
        };
        let prefix = options.env_prefix();
        for (name, value) in options.env().vars() {
            let Some(kind) = classify_env(prefix, &name) else {
                continue;
            };
            let origin = Origin::env(name.clone());
            let setting = match &kind {
                EnvName::Documented(setting) => Some(*setting),
                EnvName::AdminToken => None,
                EnvName::Generic { section, key } => Some(
                    Setting::find(section, key)
                        .ok_or_else(|| catalog::unknown_setting(section, key, origin.clone()))?,
                ),
            };
            let Ok(value) = value.into_string() else {
                return Err(ConfigError::InvalidValue {
                    setting: setting.map_or_else(|| "admin token".to_owned(), |s| s.path()),
                    origin,
                    problem: "the value is not valid UTF-8",
                });
            };
            // An empty variable counts as unset (as compose files and CI often leave them).
            if value.is_empty() {
                continue;
            }
            let Some(setting) = setting else {
                let token = value.trim();
                if AdminCredential::plain_token_is_stored_hash(token) {
                    return Err(ConfigError::AdminTokenIsHash {
                        variable: name,
                        origin,
                    });
                }
                if !token.is_empty() {
                    layers.admin_token = Some((SecretString::from(token.to_owned()), origin));
                }
                continue;
            };
            let value = env_value(setting, value, &origin)?;
            let layer = EnvLayer {
                data: figment::util::nest(&setting.path(), value)
                    .into_dict()
                    .unwrap_or_default(),
                name,
            };
            match kind {
                EnvName::Documented(_) => layers.documented.push(layer),
                _ => layers.generic.push(layer),
            }
        }
        Ok(layers)
    }
}

/// An environment value as figment value: text, except the project list, which is TOML.
fn env_value(setting: Setting, value: String, origin: &Origin) -> Result<Value, ConfigError> {
    if !catalog::TOML_VALUED.contains(&setting) {
        return Ok(Value::from(value));
    }
    let parsed = DeValue::parse(&value).map_err(|e| ConfigError::Syntax {
        origin: origin.clone(),
        message: e.message().trim().to_owned(),
    })?;
    Ok(to_figment(parsed.get_ref()))
}

/// Whether the environment sets anything keygate reads (a non-empty relevant variable).
pub(crate) fn env_configures_anything(options: &LoadOptions) -> bool {
    options.env().vars().iter().any(|(name, value)| {
        !value.is_empty() && classify_env(options.env_prefix(), name).is_some()
    })
}
