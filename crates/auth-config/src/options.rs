//! What to load: which file, which environment, which variable prefix.

use std::path::{Path, PathBuf};

use crate::Env;

/// The file looked for in the working directory when no path is given.
pub const DEFAULT_FILE_NAME: &str = "moose.config.toml";
/// The prefix of every environment variable (`MOOSE_JWT_ISSUER`, `MOOSE_JWT__SECRET`, ...).
pub const DEFAULT_ENV_PREFIX: &str = "MOOSE";

/// Where [`Config::load`](crate::Config::load) reads from.
///
/// By default: `moose.config.toml` in the working directory (a missing file is fine), then the
/// process environment with the `MOOSE` prefix.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    path: Option<PathBuf>,
    directory: Option<PathBuf>,
    file_name: String,
    env_prefix: String,
    env: Env,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            path: None,
            directory: None,
            file_name: DEFAULT_FILE_NAME.to_owned(),
            env_prefix: DEFAULT_ENV_PREFIX.to_owned(),
            env: Env::process(),
        }
    }
}

impl LoadOptions {
    /// The defaults: `./moose.config.toml`, the process environment, prefix `MOOSE`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An explicit file (`--config PATH`). Unlike the default file, it must exist.
    /// `None` keeps looking for the default file.
    #[must_use]
    pub fn with_config_path(mut self, path: Option<PathBuf>) -> Self {
        self.path = path;
        self
    }

    /// The directory to look for the default file in, instead of the working directory.
    #[must_use]
    pub fn with_directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = Some(directory.into());
        self
    }

    /// The default file's name, instead of `moose.config.toml`.
    #[must_use]
    pub fn with_file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = file_name.into();
        self
    }

    /// The environment prefix, instead of `MOOSE` (a trailing `_` is ignored).
    #[must_use]
    pub fn with_env_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix: String = prefix.into();
        self.env_prefix = prefix.trim_end_matches('_').to_owned();
        self
    }

    /// The environment to read, instead of the process's.
    #[must_use]
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The file that will be read: the explicit path, or the default name in the directory.
    #[must_use]
    pub fn file_path(&self) -> PathBuf {
        match (&self.path, &self.directory) {
            (Some(path), _) => path.clone(),
            (None, Some(directory)) => directory.join(&self.file_name),
            (None, None) => PathBuf::from(&self.file_name),
        }
    }

    /// The environment prefix, without the trailing `_`.
    #[must_use]
    pub fn env_prefix(&self) -> &str {
        &self.env_prefix
    }

    /// Whether nothing is configured at all: no explicit path, no default file, and no non-empty
    /// environment variable that keygate reads. `keygate serve` starts in development mode then.
    ///
    /// A file that exists counts even if it has no keygate section (it is a Moose project's
    /// file, and its owner should see the "open class" warnings rather than a surprise dev mode).
    #[must_use]
    pub fn is_unconfigured(&self) -> bool {
        if self.path.is_some() || file_may_exist(&self.file_path()) {
            return false;
        }
        !crate::layers::env_configures_anything(self)
    }

    pub(crate) fn path_is_explicit(&self) -> bool {
        self.path.is_some()
    }

    pub(crate) fn env(&self) -> &Env {
        &self.env
    }
}

/// `true` unless the file is certainly absent (an unreadable directory counts as "may exist", so
/// loading reports the problem instead of starting development mode).
fn file_may_exist(path: &Path) -> bool {
    path.try_exists().unwrap_or(true)
}
