//! Typed reading of merged values: each conversion error names the setting and its origin and
//! describes the value only by its type.

use std::ops::RangeInclusive;

use auth_core::apikey::{KeySet, StoredKey};
use figment::value::{Num, Value};

use crate::catalog::{self, ISSUER_PROJECTS, PROJECT_KEYS, ROUTE_KEYS, SERVER_ROUTES, Setting};
use crate::layers::Layers;
use crate::{ConfigError, Origin};

/// A value with its origin.
pub(crate) type Sourced<T> = (T, Origin);

/// The entries of a table of text values: key, then the value with its origin.
pub(crate) type TextTable = Vec<(String, Sourced<String>)>;

/// One `[[server.routes]]` entry, as written.
pub(crate) struct RawRoute {
    pub(crate) index: usize,
    pub(crate) prefix: Sourced<String>,
    pub(crate) class: Sourced<String>,
}

/// One `[[token_issuer.projects]]` entry before it is turned into settings.
pub(crate) struct RawProject {
    pub(crate) id: String,
    pub(crate) keys: KeySet,
    pub(crate) origin: Origin,
}

impl Layers {
    /// A text setting.
    pub(crate) fn text(&self, setting: Setting) -> Result<Option<Sourced<String>>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        match found.value {
            Value::String(_, text) => Ok(Some((text, found.origin))),
            other => Err(wrong_type(setting.path(), found.origin, "a string", &other)),
        }
    }

    /// A list of text values: an array of strings, or one comma-separated string (as
    /// environment variables carry lists). Each entry comes with its origin.
    pub(crate) fn text_list(
        &self,
        setting: Setting,
    ) -> Result<Option<Vec<Sourced<String>>>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        let path = setting.path();
        match &found.value {
            Value::String(_, text) => Ok(Some(
                text.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(|entry| (entry.to_owned(), found.origin.clone()))
                    .collect(),
            )),
            Value::Array(_, items) => {
                let mut entries = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let origin = self.origin(item, &format!("{path}.{index}"));
                    let Value::String(_, text) = item else {
                        return Err(wrong_type(path.clone(), origin, "a string", item));
                    };
                    entries.push((text.trim().to_owned(), origin));
                }
                Ok(Some(entries))
            }
            other => Err(wrong_type(
                path,
                found.origin.clone(),
                "a string or an array of strings",
                other,
            )),
        }
    }

    /// A boolean: TOML `true`/`false`, or in text (environment) `true`, `false`, `yes`, `no`,
    /// `on`, `off`, `1`, `0`, in any case.
    pub(crate) fn flag(&self, setting: Setting) -> Result<Option<Sourced<bool>>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        let flag = match &found.value {
            Value::Bool(_, flag) => Some(*flag),
            Value::String(..) => found.value.to_bool_lossy(),
            _ => None,
        };
        match flag {
            Some(flag) => Ok(Some((flag, found.origin))),
            None => Err(wrong_type(
                setting.path(),
                found.origin,
                "true or false",
                &found.value,
            )),
        }
    }

    /// A whole number within `range` (`allowed` spells the range for the error).
    pub(crate) fn number(
        &self,
        setting: Setting,
        range: RangeInclusive<u64>,
        allowed: &'static str,
    ) -> Result<Option<Sourced<u64>>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        let expected = "a whole number";
        let number = match &found.value {
            Value::Num(_, n) => integer(*n),
            Value::String(_, text) => text.trim().parse::<i128>().ok(),
            _ => None,
        };
        let Some(number) = number else {
            return Err(wrong_type(
                setting.path(),
                found.origin,
                expected,
                &found.value,
            ));
        };
        match u64::try_from(number) {
            Ok(n) if range.contains(&n) => Ok(Some((n, found.origin))),
            _ => Err(ConfigError::OutOfRange {
                setting: setting.path(),
                origin: found.origin,
                value: number,
                allowed,
            }),
        }
    }

    /// A list of stored API-key hashes: a string (comma-separated) or an array of strings.
    pub(crate) fn key_set(&self, setting: Setting) -> Result<Option<Sourced<KeySet>>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        let keys = self.key_set_of(&found.value, &setting.path(), &setting.path())?;
        Ok(Some((keys, found.origin)))
    }

    /// Parses the hashes of `value` found at dotted `path`; errors name `name`.
    fn key_set_of(&self, value: &Value, path: &str, name: &str) -> Result<KeySet, ConfigError> {
        let mut keys = KeySet::new();
        let mut add = |text: &str, origin: Origin, entry: usize| {
            let key = StoredKey::parse(text).map_err(|reason| ConfigError::StoredKey {
                setting: name.to_owned(),
                origin,
                entry,
                reason,
            })?;
            keys.push(key);
            Ok::<_, ConfigError>(())
        };
        match value {
            Value::String(_, text) => {
                let origin = self.origin(value, path);
                for (index, piece) in split_key_list(text).iter().enumerate() {
                    add(piece, origin.clone(), index + 1)?;
                }
            }
            Value::Array(_, items) => {
                for (index, item) in items.iter().enumerate() {
                    let origin = self.origin(item, &format!("{path}.{index}"));
                    let Value::String(_, text) = item else {
                        return Err(wrong_type(name.to_owned(), origin, "a string", item));
                    };
                    add(text, origin, index + 1)?;
                }
            }
            other => {
                return Err(wrong_type(
                    name.to_owned(),
                    self.origin(value, path),
                    "a stored hash or an array of them",
                    other,
                ));
            }
        }
        Ok(keys)
    }

    /// The `[[server.routes]]` entries: `(prefix, class, origin)` as written; what they mean
    /// is checked by the caller.
    pub(crate) fn routes(&self) -> Result<Option<Vec<RawRoute>>, ConfigError> {
        let Some(found) = self.get(SERVER_ROUTES) else {
            return Ok(None);
        };
        let Value::Array(_, items) = &found.value else {
            return Err(wrong_type(
                SERVER_ROUTES.path(),
                found.origin,
                "an array of tables ([[server.routes]])",
                &found.value,
            ));
        };
        let mut routes = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}.{index}", SERVER_ROUTES.path());
            let name = format!("{}[{index}]", SERVER_ROUTES.path());
            let origin = self.origin(item, &path);
            let Value::Dict(_, fields) = item else {
                return Err(wrong_type(
                    name,
                    origin,
                    "a table with prefix and class",
                    item,
                ));
            };
            if let Some(key) = fields.keys().find(|k| !ROUTE_KEYS.contains(&k.as_str())) {
                let key_origin = self.origin(&fields[key.as_str()], &format!("{path}.{key}"));
                return Err(catalog::unknown_entry_key(
                    SERVER_ROUTES,
                    &ROUTE_KEYS,
                    index,
                    key,
                    key_origin,
                ));
            }
            let text = |key: &str| -> Result<Sourced<String>, ConfigError> {
                match fields.get(key) {
                    Some(value @ Value::String(_, text)) => {
                        Ok((text.clone(), self.origin(value, &format!("{path}.{key}"))))
                    }
                    Some(other) => Err(wrong_type(
                        format!("{name}.{key}"),
                        self.origin(other, &format!("{path}.{key}")),
                        "a string",
                        other,
                    )),
                    None => Err(ConfigError::InvalidValue {
                        setting: format!("{name}.{key}"),
                        origin: origin.clone(),
                        problem: "every route needs a prefix and a class",
                    }),
                }
            };
            routes.push(RawRoute {
                index,
                prefix: text("prefix")?,
                class: text("class")?,
            });
        }
        Ok(Some(routes))
    }

    /// A table of text values (`[server.claim_headers]`: claim → header name), each with its
    /// origin, in the order written.
    pub(crate) fn text_table(&self, setting: Setting) -> Result<Option<TextTable>, ConfigError> {
        let Some(found) = self.get(setting) else {
            return Ok(None);
        };
        let path = setting.path();
        let Value::Dict(_, fields) = &found.value else {
            return Err(wrong_type(path, found.origin, "a table", &found.value));
        };
        let mut entries = Vec::with_capacity(fields.len());
        for (key, value) in fields {
            let origin = self.origin(value, &format!("{path}.{key}"));
            let Value::String(_, text) = value else {
                return Err(wrong_type(
                    format!("{path}.{}", key.escape_debug()),
                    origin,
                    "a string",
                    value,
                ));
            };
            entries.push((key.clone(), (text.clone(), origin)));
        }
        Ok(Some(entries))
    }

    /// The `[[token_issuer.projects]]` entries.
    pub(crate) fn projects(&self) -> Result<Option<Sourced<Vec<RawProject>>>, ConfigError> {
        let Some(found) = self.get(ISSUER_PROJECTS) else {
            return Ok(None);
        };
        let Value::Array(_, items) = &found.value else {
            return Err(wrong_type(
                ISSUER_PROJECTS.path(),
                found.origin,
                "an array of tables ([[token_issuer.projects]])",
                &found.value,
            ));
        };
        let mut projects: Vec<RawProject> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("{}.{index}", ISSUER_PROJECTS.path());
            let name = format!("{}[{index}]", ISSUER_PROJECTS.path());
            let origin = self.origin(item, &path);
            let Value::Dict(_, fields) = item else {
                return Err(wrong_type(
                    name,
                    origin,
                    "a table with id and key_hash",
                    item,
                ));
            };
            if let Some(key) = fields.keys().find(|k| !PROJECT_KEYS.contains(&k.as_str())) {
                let key_origin = self.origin(&fields[key.as_str()], &format!("{path}.{key}"));
                return Err(catalog::unknown_entry_key(
                    ISSUER_PROJECTS,
                    &PROJECT_KEYS,
                    index,
                    key,
                    key_origin,
                ));
            }
            let id_origin = |value: &Value| self.origin(value, &format!("{path}.id"));
            let missing_id = |origin| ConfigError::InvalidValue {
                setting: format!("{name}.id"),
                origin,
                problem: "every project needs a non-empty id",
            };
            let (id, id_origin) = match fields.get("id") {
                Some(value @ Value::String(_, id)) if !id.trim().is_empty() => {
                    (id.clone(), id_origin(value))
                }
                Some(value @ Value::String(..)) => return Err(missing_id(id_origin(value))),
                None => return Err(missing_id(origin)),
                Some(other) => {
                    return Err(wrong_type(
                        format!("{name}.id"),
                        id_origin(other),
                        "a string",
                        other,
                    ));
                }
            };
            if projects.iter().any(|p| p.id == id) {
                return Err(ConfigError::InvalidValue {
                    setting: format!("{name}.id"),
                    origin: id_origin,
                    problem: "another project has the same id",
                });
            }
            let keys = match fields.get("key_hash") {
                Some(value) => self.key_set_of(
                    value,
                    &format!("{path}.key_hash"),
                    &format!("{name}.key_hash"),
                )?,
                None => KeySet::new(),
            };
            if keys.is_empty() {
                return Err(ConfigError::InvalidValue {
                    setting: format!("{name}.key_hash"),
                    origin,
                    problem: "every project needs a key_hash (a stored API-key hash)",
                });
            }
            projects.push(RawProject { id, keys, origin });
        }
        Ok(Some((projects, found.origin)))
    }
}

/// Splits a comma-separated list of stored hashes. A PHC string has a comma of its own
/// (`$pbkdf2-sha256$i=600000,l=32$...`), so a piece only starts a new hash when it begins like
/// one (`$`, or a hex digit for the 40-hex `moose` format); otherwise it continues the previous.
pub(crate) fn split_key_list(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let begins_hash =
            piece.starts_with('$') || piece.starts_with(|c: char| c.is_ascii_hexdigit());
        match keys.last_mut() {
            Some(previous) if !begins_hash => {
                previous.push(',');
                previous.push_str(piece);
            }
            _ => keys.push(piece.to_owned()),
        }
    }
    keys
}

pub(crate) fn wrong_type(
    setting: String,
    origin: Origin,
    expected: &'static str,
    found: &Value,
) -> ConfigError {
    ConfigError::WrongType {
        setting,
        origin,
        expected,
        found: type_name(found),
    }
}

/// A value's type for messages. Text is described, never quoted: it may be a secret.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(..) => "other text",
        Value::Char(..) => "a character",
        Value::Bool(..) => "a boolean",
        Value::Num(_, n) if integer(*n).is_some() => "an integer",
        Value::Num(..) => "a float",
        Value::Empty(..) => "nothing",
        Value::Dict(..) => "a table",
        Value::Array(..) => "an array",
    }
}

fn integer(n: Num) -> Option<i128> {
    n.to_i128()
        .or_else(|| n.to_u128().and_then(|u| i128::try_from(u).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_split_on_commas_but_keep_phc_strings_whole() {
        let phc = "$pbkdf2-sha256$i=600000,l=32$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA";
        let moose = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        let text = format!(" {moose} ,{phc},{phc}, ");
        assert_eq!(split_key_list(&text), vec![moose, phc, phc]);
        assert_eq!(split_key_list(phc), vec![phc]);
        assert!(split_key_list("").is_empty());
        assert!(split_key_list(" , ,").is_empty());
        // A piece that starts like nothing known stays attached, so the error names one entry.
        assert_eq!(split_key_list("zz,yy"), vec!["zz,yy"]);
    }
}
