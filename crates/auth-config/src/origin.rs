//! Where a setting's effective value came from.

use std::fmt;
use std::path::PathBuf;

/// The source of a setting's value, shown in errors and by [`Config::explain`](crate::Config::explain).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Not configured anywhere: the built-in default (which may be "not set").
    Default,
    /// A line of the configuration file. Displays as `moose.config.toml:12`.
    File {
        /// The file, as it was named (relative names stay relative).
        path: PathBuf,
        /// 1-based line of the setting's key; `None` when unknown.
        line: Option<usize>,
    },
    /// An environment variable. Displays as `env MOOSE_JWT_ISSUER`.
    Env {
        /// The variable's name.
        name: String,
    },
}

impl Origin {
    pub(crate) fn env(name: impl Into<String>) -> Self {
        Self::Env { name: name.into() }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File {
                path,
                line: Some(line),
            } => write!(f, "{}:{line}", path.display()),
            Self::File { path, line: None } => write!(f, "{}", path.display()),
            Self::Env { name } => write!(f, "env {name}"),
        }
    }
}

/// 1-based line of byte `offset` in `text` (offsets past the end count as the last line).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let head = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    head.iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_display_as_operators_read_them() {
        let file = Origin::File {
            path: "moose.config.toml".into(),
            line: Some(12),
        };
        assert_eq!(file.to_string(), "moose.config.toml:12");
        assert_eq!(
            Origin::env("MOOSE_JWT_ISSUER").to_string(),
            "env MOOSE_JWT_ISSUER"
        );
        assert_eq!(Origin::Default.to_string(), "default");
    }

    #[test]
    fn line_of_counts_newlines_before_the_offset() {
        let text = "a\nbb\nccc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 999), 3);
    }
}
