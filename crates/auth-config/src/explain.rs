//! What `keygate config check --show-origin` prints, and non-fatal findings.

use std::fmt;

use auth_core::apikey::KeySet;

use crate::Origin;

/// One effective setting: its name, a display value with secrets redacted, and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The dotted name, e.g. `jwt.issuer` (or `admin token` for `MOOSE_ADMIN_TOKEN`).
    pub setting: String,
    /// The value for display: secrets are `<redacted>`, keys are described, hashes shown by key id.
    pub value: String,
    /// Where the value came from.
    pub origin: Origin,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}  ({})", self.setting, self.value, self.origin)
    }
}

/// A configuration that loads but probably does not do what its author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The setting concerned.
    pub setting: String,
    /// Where it was set.
    pub origin: Origin,
    /// What is off.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.setting, self.origin, self.message)
    }
}

pub(crate) const REDACTED: &str = "<redacted>";
pub(crate) const NOT_SET: &str = "(not set)";

/// Stored hashes by format and key id (the id is what logs and status output show).
pub(crate) fn describe_keys(keys: &KeySet) -> String {
    if keys.is_empty() {
        return "(none)".to_owned();
    }
    keys.keys()
        .iter()
        .map(|k| format!("{}:{}", k.format(), k.id()))
        .collect::<Vec<_>>()
        .join(", ")
}
