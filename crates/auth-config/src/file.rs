//! Reading `moose.config.toml`: the known sections as figment values, plus the line of every key.
//!
//! figment's own TOML provider knows the file but not the line of a value, and cannot be limited
//! to some sections. So the whole file is first checked by a streaming scan (`scan.rs`) that
//! also finds the byte ranges of keygate's sections; only those ranges are parsed, with `toml`'s
//! spanned parser (`DeTable`), and handed to figment as a provider. Moose's own sections, however
//! large, are never held as a document.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider, Source};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::catalog::{SECTIONS, Setting, unknown_setting};
use crate::origin::line_of;
use crate::{ConfigError, Origin};

/// The keygate part of a configuration file.
#[derive(Debug, Clone)]
pub(crate) struct ConfigFile {
    pub(crate) path: PathBuf,
    /// Known sections only; Moose's other sections are not keygate's business.
    data: Dict,
    /// 1-based line of each key below a known section, by dotted path (array items by index,
    /// e.g. `token_issuer.projects.0.id`).
    lines: HashMap<String, usize>,
}

impl ConfigFile {
    /// Reads `path`. A missing file is `Ok(None)` unless `required` (an explicit `--config`).
    pub(crate) fn read(path: &Path, required: bool) -> Result<Option<Self>, ConfigError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound && !required => return Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(ConfigError::FileNotFound {
                    path: path.to_owned(),
                });
            }
            Err(reason) => {
                return Err(ConfigError::FileUnreadable {
                    path: path.to_owned(),
                    reason,
                });
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::FileNotUtf8 {
            path: path.to_owned(),
        })?;
        Self::parse(path, &text).map(Some)
    }

    /// Parses the text of a file named `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let syntax = |line: Option<usize>, message: String| ConfigError::Syntax {
            origin: Origin::File {
                path: path.to_owned(),
                line,
            },
            message,
        };
        let ranges = crate::scan::keygate_ranges(text)
            .map_err(|e| syntax(e.offset.map(|offset| line_of(text, offset)), e.message))?;
        let own = OwnText::new(text, &ranges);
        // The whole file is valid TOML; what can still fail here is a rule that needs the whole
        // document (a repeated key or table in keygate's sections).
        let document = DeTable::parse(&own.text).map_err(|e| {
            syntax(
                e.span().map(|span| own.line_of(span.start)),
                e.message().trim().to_owned(),
            )
        })?;
        let mut file = Self {
            path: path.to_owned(),
            data: Dict::new(),
            lines: HashMap::new(),
        };
        for (key, value) in document.get_ref() {
            let name = key.get_ref().as_ref();
            if SECTIONS.contains(&name) {
                file.lines
                    .insert(name.to_owned(), own.line_of(key.span().start));
                file.record_lines(&own, name, value);
                file.check_section(name, value.get_ref())?;
                file.data
                    .insert(name.to_owned(), to_figment(value.get_ref()));
            }
        }
        Ok(file)
    }

    /// A known section must be a table of known keys.
    fn check_section(&self, section: &str, value: &DeValue<'_>) -> Result<(), ConfigError> {
        let DeValue::Table(table) = value else {
            return Err(ConfigError::WrongType {
                setting: section.to_owned(),
                origin: self.origin(section),
                expected: "a table",
                found: type_name(value),
            });
        };
        for key in table.keys() {
            let key = key.get_ref();
            if Setting::find(section, key).is_none() {
                let path = format!("{section}.{key}");
                return Err(unknown_setting(section, key, self.origin(&path)));
            }
        }
        Ok(())
    }

    fn record_lines(&mut self, own: &OwnText, path: &str, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(table) => {
                for (key, item) in table {
                    let path = format!("{path}.{}", key.get_ref());
                    self.lines
                        .insert(path.clone(), own.line_of(key.span().start));
                    self.record_lines(own, &path, item);
                }
            }
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let path = format!("{path}.{index}");
                    self.lines
                        .insert(path.clone(), own.line_of(item.span().start));
                    self.record_lines(own, &path, item);
                }
            }
            _ => {}
        }
    }

    /// The origin of the value at `path` (dotted, as recorded).
    pub(crate) fn origin(&self, path: &str) -> Origin {
        Origin::File {
            path: self.path.clone(),
            line: self.lines.get(path).copied(),
        }
    }

    pub(crate) fn provider(&self) -> FileProvider {
        FileProvider {
            path: self.path.clone(),
            data: self.data.clone(),
        }
    }
}

/// keygate's sections of a file, cut out of it and joined, with what it takes to give an offset
/// in the joined text its line in the file.
struct OwnText {
    text: String,
    /// Where each range starts in `text`, and the file line it starts on.
    pieces: Vec<(usize, usize)>,
    /// Offsets of the line breaks in `text`.
    newlines: Vec<usize>,
}

impl OwnText {
    fn new(file: &str, ranges: &[std::ops::Range<usize>]) -> Self {
        let mut own = Self {
            text: String::new(),
            pieces: Vec::with_capacity(ranges.len()),
            newlines: Vec::new(),
        };
        // Lines are counted once, front to back, so the whole file costs one pass.
        let (mut counted_to, mut line) = (0, 1);
        for range in ranges {
            let Some(piece) = file.get(range.clone()) else {
                continue;
            };
            line += count_newlines(file.get(counted_to..range.start).unwrap_or_default());
            counted_to = range.start;
            own.pieces.push((own.text.len(), line));
            own.text.push_str(piece);
            // A range ends at a line break or just before the next header; keep pieces apart.
            if !piece.ends_with('\n') {
                own.text.push('\n');
            }
        }
        own.newlines = own
            .text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        own
    }

    /// 1-based line in the file of byte `offset` of the joined text.
    fn line_of(&self, offset: usize) -> usize {
        let piece = self.pieces.partition_point(|&(start, _)| start <= offset);
        let Some(&(start, line)) = piece.checked_sub(1).and_then(|i| self.pieces.get(i)) else {
            return 1;
        };
        let before = |at: usize| self.newlines.partition_point(|&n| n < at);
        line + before(offset) - before(start)
    }
}

fn count_newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// The file as a figment layer.
pub(crate) struct FileProvider {
    path: PathBuf,
    data: Dict,
}

impl Provider for FileProvider {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", Source::File(self.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// Converts a parsed TOML value. Scalars keep their TOML type so type errors can name it.
pub(crate) fn to_figment(value: &DeValue<'_>) -> Value {
    match value {
        DeValue::String(s) => Value::from(s.as_ref()),
        DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(i.to_string()),
        },
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(f.to_string()),
        },
        DeValue::Boolean(b) => Value::from(*b),
        // No setting is a date; figment has no date type, so it becomes its TOML text.
        DeValue::Datetime(d) => Value::from(d.to_string()),
        DeValue::Array(items) => Value::from(
            items
                .iter()
                .map(|item| to_figment(item.get_ref()))
                .collect::<Vec<_>>(),
        ),
        DeValue::Table(table) => Value::from(
            table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_figment(v.get_ref())))
                .collect::<Dict>(),
        ),
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[clickhouse_config]
host = "localhost"

[jwt]
issuer = "https://issuer/"
enforce_on_all_ingest_apis = true

[[token_issuer.projects]]
id = "p1"
key_hash = ["a", "b"]
"#;

    #[test]
    fn known_sections_are_kept_with_the_line_of_every_key() {
        let file = ConfigFile::parse(Path::new("moose.config.toml"), TEXT).unwrap();
        assert!(!file.data.contains_key("clickhouse_config"));
        assert_eq!(
            file.data["jwt"].find_ref("issuer").unwrap().as_str(),
            Some("https://issuer/")
        );
        assert_eq!(file.origin("jwt.issuer").to_string(), "moose.config.toml:6");
        assert_eq!(
            file.origin("jwt.enforce_on_all_ingest_apis").to_string(),
            "moose.config.toml:7"
        );
        assert_eq!(
            file.origin("token_issuer.projects.0.key_hash").to_string(),
            "moose.config.toml:11"
        );
        assert_eq!(
            file.origin("token_issuer.projects.0.key_hash.1")
                .to_string(),
            "moose.config.toml:11"
        );
    }

    #[test]
    fn syntax_errors_name_the_line_and_not_the_text() {
        let text = "[jwt]\nissuer = \"x\"\nsecret = hunter2-not-quoted\n";
        let err = ConfigFile::parse(Path::new("moose.config.toml"), text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("moose.config.toml:3: invalid TOML"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }
}
