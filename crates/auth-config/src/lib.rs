#![doc = include_str!("../README.md")]

mod build;
mod catalog;
mod config;
mod env;
mod error;
mod explain;
mod file;
mod layers;
mod options;
mod origin;
mod read;
mod scan;
mod settings;

pub use config::Config;
pub use env::Env;
pub use error::ConfigError;
pub use explain::{ConfigWarning, Explained};
pub use options::{DEFAULT_ENV_PREFIX, DEFAULT_FILE_NAME, LoadOptions};
pub use origin::Origin;
pub use settings::{KeysSettings, Project, ServerSettings, TokenIssuerSettings};
