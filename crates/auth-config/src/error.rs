//! The one error type of loading a configuration.

use std::path::PathBuf;

use auth_core::apikey::StoredKeyError;
use auth_core::jwt::KeyError;

use crate::Origin;

/// Why a configuration could not be loaded. Every message names the setting and where its value
/// came from, and none contains a secret: values are described (their type, a parse problem),
/// never echoed. The CLI exits with code 2 on any of these.
///
/// Each message is complete and states its reason once: a wrapped reason (an I/O error, a
/// [`KeyError`], a [`StoredKeyError`]) is part of the message and kept in a `reason` field, but
/// it is not returned by [`std::error::Error::source`], so reporters that print the source chain
/// (`anyhow`'s `{:#}`) do not repeat it. auth-core's errors follow the same rule.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An explicitly named configuration file does not exist.
    #[error("the configuration file {} does not exist", path.display())]
    FileNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The configuration file exists but cannot be read.
    #[error("cannot read the configuration file {}: {reason}", path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason (in the message; not the error's `source()`).
        reason: std::io::Error,
    },
    /// The configuration file is not UTF-8 (TOML must be).
    #[error("the configuration file {} is not valid UTF-8", path.display())]
    FileNotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// A TOML syntax error (in the file, or in a TOML-valued environment variable).
    #[error("{origin}: invalid TOML: {message}")]
    Syntax {
        /// Where, e.g. `moose.config.toml:3`.
        origin: Origin,
        /// The parser's description (it never quotes the input).
        message: String,
    },
    /// A key keygate does not know in one of its sections: most likely a typo, and silently
    /// ignoring an authentication setting would be insecure.
    #[error("unknown setting {setting} ({origin}){}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownSetting {
        /// The dotted name, e.g. `jwt.isuer`.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// What was probably meant, if known.
        hint: Option<String>,
    },
    /// A value of the wrong type, e.g. a non-boolean enforce flag.
    #[error("{setting} ({origin}) must be {expected}, found {found}")]
    WrongType {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// What is accepted.
        expected: &'static str,
        /// The type found (never the value).
        found: &'static str,
    },
    /// A number outside its allowed range.
    #[error("{setting} ({origin}) is {value}; allowed is {allowed}")]
    OutOfRange {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// The value found (numbers are never secret).
        value: i128,
        /// The allowed range, e.g. `1 to 86400`.
        allowed: &'static str,
    },
    /// A value that has the right type but cannot be used (an address, a URL, an empty id...).
    #[error("{setting} ({origin}): {problem}")]
    InvalidValue {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// What is wrong, without the value.
        problem: &'static str,
    },
    /// A stored API-key hash that parses as neither format, or names out-of-range iterations.
    #[error("{setting} ({origin}), entry {entry}: {reason}")]
    StoredKey {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// 1-based position in the list of hashes.
        entry: usize,
        /// Why it was refused (never echoes the hash; in the message, not `source()`).
        reason: StoredKeyError,
    },
    /// A PEM key that cannot be used where it is configured: not PEM, not a key, a private key
    /// where a public one is expected or the reverse, RSA under 2048 bits, an unsupported curve.
    #[error("{setting} ({origin}): {reason}")]
    Key {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// Why it was refused (never contains key material; in the message, not `source()`).
        reason: KeyError,
    },
    /// The plain-text admin token variable holds a stored API-key hash: hashes belong in
    /// `[authentication] admin_api_key`. (Used as a token, anyone who can read the stored hash
    /// could log in as admin.) The value is never shown.
    #[error(
        "{variable} holds a stored API-key hash, not a token: stored hashes go in [authentication] admin_api_key, while {variable} holds the plain-text admin token"
    )]
    AdminTokenIsHash {
        /// The variable, e.g. `MOOSE_ADMIN_TOKEN`.
        variable: String,
        /// Where it was set (`env MOOSE_ADMIN_TOKEN`).
        origin: Origin,
    },
    /// A JWT key (or the token issuer) configured without the issuer or audience it needs.
    #[error(
        "{setting} ({origin}) is set, but {missing} is not: JWT needs both jwt.issuer and jwt.audience"
    )]
    JwtIncomplete {
        /// The key setting, e.g. `jwt.secret`.
        setting: String,
        /// Where the key was set.
        origin: Origin,
        /// The missing setting.
        missing: &'static str,
    },
    /// An `enforce_on_all_*` flag without a usable JWT configuration (reference §5: a startup error).
    #[error(
        "{setting} ({origin}) requires a usable JWT configuration: jwt.secret, jwt.jwks_url or token_issuer.private_key, plus jwt.issuer and jwt.audience"
    )]
    EnforceWithoutJwt {
        /// The flag.
        setting: String,
        /// Where it was set.
        origin: Origin,
    },
    /// A setting that only makes sense together with another one that is missing.
    #[error("{setting} ({origin}) requires {requires}")]
    Requires {
        /// The dotted name.
        setting: String,
        /// Where it was set.
        origin: Origin,
        /// The missing setting.
        requires: &'static str,
    },
}

impl ConfigError {
    /// The origin the error points at, if it is about one setting.
    #[must_use]
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Self::FileNotFound { .. } | Self::FileUnreadable { .. } | Self::FileNotUtf8 { .. } => {
                None
            }
            Self::Syntax { origin, .. }
            | Self::UnknownSetting { origin, .. }
            | Self::WrongType { origin, .. }
            | Self::OutOfRange { origin, .. }
            | Self::InvalidValue { origin, .. }
            | Self::StoredKey { origin, .. }
            | Self::Key { origin, .. }
            | Self::AdminTokenIsHash { origin, .. }
            | Self::JwtIncomplete { origin, .. }
            | Self::EnforceWithoutJwt { origin, .. }
            | Self::Requires { origin, .. } => Some(origin),
        }
    }
}
